"""trivy `config --format json`: one finding per failed misconfiguration check.

trivy is tfsec's successor; its checks carry the same AVD ids. It exits 0 whatever it
finds (unless told `--exit-code`), so the report alone decides. `ignore` accepts the
check's `ID` or `AVDID`.
"""

from __future__ import annotations

from typing import Any

from tfops.gates.base import (
    Finding,
    GateContext,
    GateToolError,
    run_tool,
    severity_of,
    tool_output,
)
from tfops.repo.environments import OVERRIDE_FILE


class TrivyGate:
    name = "trivy"
    tool: str | None = "trivy"
    install_hint = "install it: https://trivy.dev/latest/getting-started/installation/"

    def run(self, ctx: GateContext) -> list[Finding]:
        argv = ["trivy", "config", "--format", "json", "--quiet", "--skip-files", OVERRIDE_FILE]
        report, result = run_tool(ctx, [*argv, *ctx.config.args, "."])
        if not isinstance(report, dict) or "SchemaVersion" not in report:
            raise GateToolError("trivy printed JSON that is not its report", tool_output(result))
        return [
            self._finding(ctx, target.get("Target", ""), check)
            for target in report.get("Results") or []
            for check in target.get("Misconfigurations") or []
            if check.get("Status", "FAIL") == "FAIL"
            and not ctx.ignores(check.get("ID"), check.get("AVDID"))
        ]

    def _finding(self, ctx: GateContext, target: str, check: dict[str, Any]) -> Finding:
        cause = check.get("CauseMetadata") or {}
        relative = ctx.relative(target) if target else None
        lines = (cause.get("StartLine") or None, cause.get("EndLine") or None)
        message = str(check.get("Message") or check.get("Title") or "").strip()
        if cause.get("Resource"):
            message += f" ({cause['Resource']})"
        callers = [o for o in cause.get("Occurrences") or [] if o.get("Filename")]
        if relative and relative.startswith(("/", "../", "git::")) and callers:
            # inside a module from another repo: point at the module call in this one
            message += f"\nin module code at {target}:{lines[0]}"
            call = callers[-1]
            relative = ctx.relative(call["Filename"])
            location = call.get("Location") or {}
            lines = (location.get("StartLine"), location.get("EndLine"))
        if check.get("Resolution"):
            message += f"\nfix: {check['Resolution']}"
        return Finding(
            gate=self.name,
            severity=severity_of(check.get("Severity")),
            rule=str(check.get("ID") or check.get("AVDID") or "trivy"),
            message=message,
            file=relative,
            line=lines[0],
            end_line=lines[1],
            link=check.get("PrimaryURL") or None,
            environments=ctx.environments_of(relative),
        )
