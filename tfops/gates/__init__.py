"""Gates: cheapest first, fail fast. Each adapter implements `tfops.gates.base.Gate`.

An adapter's module is imported when its gate runs: a plan imports the linters' adapters
in the thread that runs them beside terraform, not before terraform starts.
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable, Iterable

from tfops.config import GatesConfig
from tfops.errors import Interrupted, TfopsError
from tfops.gates.base import Finding, Gate, GateContext, GateResult, GateToolError, Status

ORDER = ("fmt", "pins", "validate", "tflint", "tfsec", "checkov", "trivy")
ADAPTERS = {  # gate → its adapter class, "module:attribute"
    "fmt": "tfops.gates.fmt:FmtGate",
    "pins": "tfops.gates.pins:PinsGate",
    "validate": "tfops.gates.validate:ValidateGate",
    "tflint": "tfops.gates.tflint:TflintGate",
    "tfsec": "tfops.gates.tfsec:TfsecGate",
    "checkov": "tfops.gates.checkov:CheckovGate",
    "trivy": "tfops.gates.trivy:TrivyGate",
}


def adapter(name: str) -> Gate:
    """The adapter of one gate."""
    module, attribute = ADAPTERS[name].split(":")
    gate: Gate = getattr(importlib.import_module(module), attribute)()
    return gate


def registry() -> dict[str, Gate]:
    """Every gate adapter by name (ORDER decides the order they run in)."""
    return {name: adapter(name) for name in ADAPTERS}


def enabled_gates(config: GatesConfig, only: Iterable[str] = ()) -> list[str]:
    """The gates to run, in order: those enabled in config, or exactly those named in `only`."""
    wanted = set(only)
    available = ADAPTERS
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
    results = []
    for name in names:
        result = run_gate(adapter(name), context_for(name))
        results.append(result)
        if on_result:
            on_result(result)
        if not result.ok and not keep_going:
            break
    return results


__all__ = [
    "ADAPTERS",
    "ORDER",
    "Finding",
    "Gate",
    "GateContext",
    "GateResult",
    "adapter",
    "enabled_gates",
    "registry",
    "run_gate",
    "run_gates",
]
