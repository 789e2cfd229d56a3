"""tflint `--format=json`: one finding per issue; tflint's own errors are a gate error."""

from __future__ import annotations

from typing import Any

from tfops.config import Severity
from tfops.gates.base import Finding, GateContext, GateToolError, run_tool, tool_output

SEVERITIES: dict[str, Severity] = {"error": "high", "warning": "medium", "notice": "low"}
# Rules of the bundled terraform ruleset print no link; their docs live at a stable place.
TERRAFORM_RULE_DOCS = (
    "https://github.com/terraform-linters/tflint-ruleset-terraform/blob/main/docs/rules/{}.md"
)


class TflintGate:
    name = "tflint"
    tool: str | None = "tflint"
    install_hint = "install it: https://github.com/terraform-linters/tflint#installation"

    def run(self, ctx: GateContext) -> list[Finding]:
        report, result = run_tool(ctx, ["tflint", "--format=json", *ctx.config.args])
        if not isinstance(report, dict) or not isinstance(report.get("issues"), list):
            raise GateToolError("tflint printed JSON without an `issues` list", tool_output(result))
        if report.get("errors"):
            errors = "\n".join(_error_text(e) for e in report["errors"])
            raise GateToolError("tflint could not inspect the configuration", errors)
        return [self._finding(ctx, issue) for issue in report["issues"]]

    def _finding(self, ctx: GateContext, issue: dict[str, Any]) -> Finding:
        rule = issue.get("rule") or {}
        name = str(rule.get("name", "tflint"))
        span = issue.get("range") or {}
        relative = ctx.relative(span["filename"]) if span.get("filename") else None
        message = str(issue.get("message", "")).strip()
        callers = issue.get("callers") or []
        if len(callers) > 1:  # module inspection: the last caller is where it really is
            origin = callers[-1]
            where = f"{ctx.relative(origin['filename'])}:{origin['start']['line']}"
            message += f" (in module code at {where})"
        link = rule.get("link") or (
            TERRAFORM_RULE_DOCS.format(name) if name.startswith("terraform_") else None
        )
        return Finding(
            gate=self.name,
            severity=SEVERITIES.get(str(rule.get("severity", "")).lower(), "medium"),
            rule=name,
            message=message,
            file=relative,
            line=(span.get("start") or {}).get("line"),
            end_line=(span.get("end") or {}).get("line"),
            link=link,
            environments=ctx.environments_of(relative),
        )


def _error_text(error: dict[str, Any]) -> str:
    span = error.get("range") or {}
    line = (span.get("start") or {}).get("line")
    where = f"{span['filename']}:{line}: " if span.get("filename") else ""
    return f"{where}{error.get('message', error)}"
