"""Gates: cheapest first, fail fast. Each adapter implements `tfops.gates.base.Gate`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable

from tfops.config import GatesConfig
from tfops.errors import Interrupted, TfopsError
from tfops.gates.base import Finding, Gate, GateContext, GateResult, GateToolError, Status
from tfops.gates.checkov import CheckovGate
from tfops.gates.fmt import FmtGate
from tfops.gates.pins import PinsGate
from tfops.gates.tflint import TflintGate
from tfops.gates.tfsec import TfsecGate
from tfops.gates.trivy import TrivyGate
from tfops.gates.validate import ValidateGate

ORDER = ("fmt", "pins", "validate", "tflint", "tfsec", "checkov", "trivy")


def registry() -> dict[str, Gate]:
    """Every gate adapter by name (ORDER decides the order they run in)."""
    gates: list[Gate] = [
        FmtGate(),
        PinsGate(),
        ValidateGate(),
        TflintGate(),
        TfsecGate(),
        CheckovGate(),
        TrivyGate(),
    ]
    return {gate.name: gate for gate in gates}


def enabled_gates(config: GatesConfig, only: Iterable[str] = ()) -> list[str]:
    """The gates to run, in order: those enabled in config, or exactly those named in `only`."""
    wanted = set(only)
    available = registry()
    return [
        name
        for name in ORDER
        if name in available and (name in wanted if wanted else config.get(name).enabled)
    ]


def run_gate(gate: Gate, ctx: GateContext) -> GateResult:
    """Run one gate: skipped when its tool is missing, error when the tool misbehaves."""
    started = time.monotonic()
    root = ctx.root_name
    if gate.tool and shutil.which(gate.tool) is None:
        status: Status = "failed" if ctx.config.required else "skipped"
        return GateResult(
            gate.name,
            status,
            detail=f"{gate.tool} is not installed — {gate.install_hint}",
            root=root,
        )
    try:
        findings = gate.run(ctx)
    except GateToolError as exc:
        return GateResult(
            gate.name,
            "error",
            detail=f"{exc}\n{exc.output.strip()}".strip(),
            seconds=time.monotonic() - started,
            root=root,
        )
    except Interrupted:
        raise
    except TfopsError as exc:  # e.g. a file that doesn't parse: this gate could not run
        return GateResult(
            gate.name, "error", detail=str(exc), seconds=time.monotonic() - started, root=root
        )
    ignored = set(ctx.config.ignore)
    findings = [f for f in findings if f.rule not in ignored]
    failed = any(f.fails(ctx.config.fail_on) for f in findings)
    return GateResult(
        gate.name,
        "failed" if failed else "passed",
        findings,
        seconds=time.monotonic() - started,
        root=root,
    )


def run_gates(
    names: list[str],
    context_for: Callable[[str], GateContext],
    *,
    keep_going: bool = False,
    on_result: Callable[[GateResult], None] | None = None,
) -> list[GateResult]:
    """Run gates in order; stop after the first that fails unless `keep_going`."""
    gates = registry()
    results = []
    for name in names:
        result = run_gate(gates[name], context_for(name))
        results.append(result)
        if on_result:
            on_result(result)
        if not result.ok and not keep_going:
            break
    return results


__all__ = [
    "ORDER",
    "Finding",
    "Gate",
    "GateContext",
    "GateResult",
    "enabled_gates",
    "registry",
    "run_gate",
    "run_gates",
]
