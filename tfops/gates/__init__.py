"""Gates: cheapest first, fail fast. Each adapter implements `tfops.gates.base.Gate`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable

from tfops.config import GatesConfig
from tfops.gates.base import Finding, Gate, GateContext, GateResult, GateToolError, Status
from tfops.gates.fmt import FmtGate
from tfops.gates.validate import ValidateGate

ORDER = ("fmt", "pins", "validate", "tflint", "tfsec", "checkov", "trivy")


def registry() -> dict[str, Gate]:
    """Every gate adapter by name."""
    return {"fmt": FmtGate(), "validate": ValidateGate()}


def enabled_gates(config: GatesConfig, only: Iterable[str] = ()) -> list[str]:
    wanted = set(only)
    available = registry()
    return [
        name
        for name in ORDER
        if name in available and config.get(name).enabled and (not wanted or name in wanted)
    ]


def run_gate(gate: Gate, ctx: GateContext) -> GateResult:
    """Run one gate: skipped when its tool is missing, error when the tool misbehaves."""
    started = time.monotonic()
    root = ctx.repo.relative(ctx.root.path)
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
