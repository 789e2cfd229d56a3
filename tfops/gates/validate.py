"""`terraform validate -json` (after `init -backend=false`, or the plan's own init).

`terraform plan` runs the same validation before it plans. After a plan that succeeded
and printed no warning, in a root without test files, validate would find nothing
(`GateContext.validated_by_plan`, decided by the session), so it doesn't run."""

from __future__ import annotations

from typing import Any

from tfops.config import Severity
from tfops.errors import TerraformError
from tfops.gates.base import Finding, GateContext, GateToolError

SEVERITIES: dict[str, Severity] = {"error": "high", "warning": "low"}


class ValidateGate:
    name = "validate"
    tool: str | None = None
    install_hint = ""

    def run(self, ctx: GateContext) -> list[Finding]:
        if ctx.validated_by_plan:
            return []
        try:
            ctx.ensure_init()
        except TerraformError as exc:
            # a configuration that doesn't parse fails init; validate says where, per file
            report = ctx.terraform.validate_json()
            located = [
                d
                for d in report.get("diagnostics") or []
                if d.get("severity") == "error" and d.get("range")
            ]
            if located and all(str(d.get("summary")) in exc.diagnostics for d in located):
                return self._diagnostics(ctx, report)
            return [
                Finding(
                    gate=self.name,
                    severity="high",
                    rule="terraform-init",
                    message=f"terraform init failed:\n{exc.diagnostics.strip()}",
                    environments=ctx.root.environments,
                )
            ]
        return self._diagnostics(ctx, ctx.terraform.validate_json())

    def _diagnostics(self, ctx: GateContext, report: dict[str, Any]) -> list[Finding]:
        if "diagnostics" not in report:
            raise GateToolError(
                "terraform validate -json printed an unexpected report", str(report)
            )
        return [self._finding(ctx, d) for d in report["diagnostics"]]

    def _finding(self, ctx: GateContext, diagnostic: dict[str, Any]) -> Finding:
        span = diagnostic.get("range") or {}
        relative = ctx.relative(span["filename"]) if span.get("filename") else None
        summary = str(diagnostic.get("summary", "")).strip()
        detail = str(diagnostic.get("detail", "")).strip()
        return Finding(
            gate=self.name,
            severity=SEVERITIES.get(str(diagnostic.get("severity")), "high"),
            rule="terraform-validate",
            message=f"{summary}: {detail}" if detail else summary,
            file=relative,
            line=(span.get("start") or {}).get("line"),
            end_line=(span.get("end") or {}).get("line"),
            environments=ctx.environments_of(relative),
        )
