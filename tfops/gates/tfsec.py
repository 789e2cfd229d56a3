"""tfsec `--format json`: one finding per failed check.

tfsec is deprecated upstream in favour of trivy (the `trivy` gate); it still works and
many teams still run it. Rules are known by two ids (`AVD-AWS-0131` and
`aws-ec2-enable-at-rest-encryption`); `ignore` accepts either.
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

FAILED = 0  # tfsec's result status: 0 failed, 1 passed (--include-passed), 2 ignored


class TfsecGate:
    name = "tfsec"
    tool: str | None = "tfsec"
    install_hint = "install it: https://github.com/aquasecurity/tfsec#installation"

    def run(self, ctx: GateContext) -> list[Finding]:
        report, result = run_tool(ctx, ["tfsec", ".", "--format", "json", *ctx.config.args])
        if not isinstance(report, dict) or "results" not in report:
            raise GateToolError("tfsec printed JSON without `results`", tool_output(result))
        return [
            self._finding(ctx, item)
            for item in report["results"] or []  # tfsec prints `null` when clean
            if item.get("status", FAILED) == FAILED
            and not ctx.ignores(item.get("rule_id"), item.get("long_id"))
        ]

    def _finding(self, ctx: GateContext, item: dict[str, Any]) -> Finding:
        location = item.get("location") or {}
        relative = ctx.relative(location["filename"]) if location.get("filename") else None
        message = str(item.get("description") or item.get("rule_description") or "").strip()
        if item.get("resource"):
            message += f" ({item['resource']})"
        if item.get("resolution"):
            message += f"\nfix: {item['resolution']}"
        links = item.get("links") or []
        return Finding(
            gate=self.name,
            severity=severity_of(item.get("severity")),
            rule=str(item.get("long_id") or item.get("rule_id") or "tfsec"),
            message=message,
            file=relative,
            line=location.get("start_line") or None,
            end_line=location.get("end_line") or None,
            link=links[0] if links else None,
            environments=ctx.environments_of(relative),
        )
