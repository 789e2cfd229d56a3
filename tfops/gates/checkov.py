"""checkov `-o json`: one finding per failed check.

checkov prints one report object per framework (a list when several ran, a bare summary
when nothing was scanned). Without a Prisma Cloud API key it knows no severities; those
findings count as medium. `--skip-download` keeps it from calling Prisma Cloud then.
"""

from __future__ import annotations

import os
from pathlib import Path
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


class CheckovGate:
    name = "checkov"
    tool: str | None = "checkov"
    install_hint = "install it: pip install checkov (https://www.checkov.io)"

    def argv(self, ctx: GateContext) -> list[str]:
        argv = ["checkov", "-d", ".", "-o", "json", "--quiet", "--compact"]
        argv += ["--framework", "terraform", "--skip-path", OVERRIDE_FILE]
        if not os.environ.get("BC_API_KEY"):
            argv.append("--skip-download")
        return argv + list(ctx.config.args)  # later options win: config can override ours

    def run(self, ctx: GateContext) -> list[Finding]:
        report, result = run_tool(ctx, self.argv(ctx))
        reports = report if isinstance(report, list) else [report]
        if not all(isinstance(r, dict) and ("results" in r or "failed" in r) for r in reports):
            raise GateToolError("checkov printed JSON that is not its report", tool_output(result))
        return [
            self._finding(ctx, check)
            for r in reports
            for check in (r.get("results") or {}).get("failed_checks") or []
            if not ctx.ignores(check.get("check_id"), check.get("bc_check_id"))
        ]

    def _finding(self, ctx: GateContext, check: dict[str, Any]) -> Finding:
        path, lines = _located(check)
        relative = ctx.relative(path) if path else None
        message = str(check.get("check_name", "")).strip()
        if check.get("resource"):
            message += f" ({check['resource']})"
        caller = check.get("caller_file_path")
        if relative and _outside(relative) and caller:
            # inside a module from another repo: point at the module call in this one
            message += f"\nin module code at {relative}:{lines[0]}"
            relative = ctx.relative(caller)
            lines = check.get("caller_file_line_range") or [None, None]
        return Finding(
            gate=self.name,
            severity=severity_of(check.get("severity")),
            rule=str(check.get("check_id") or "checkov"),
            message=message,
            file=relative,
            line=lines[0],
            end_line=lines[-1],
            link=check.get("guideline") or None,
            environments=ctx.environments_of(relative),
        )


def _located(check: dict[str, Any]) -> tuple[str | None, list[Any]]:
    """The file (the absolute path when it exists here: exact) and its line range."""
    absolute = check.get("file_abs_path")
    path = absolute if absolute and Path(absolute).is_file() else check.get("file_path")
    return path, check.get("file_line_range") or [None, None]


def _outside(relative: str) -> bool:
    return relative.startswith(("/", "../"))
