"""`terraform fmt -check -diff`: one finding per unformatted file, with its diff."""

from __future__ import annotations

import re

from tfops.gates.base import Finding, GateContext, GateToolError

_HUNK = re.compile(r"^@@ -(\d+)")
# terraform's human diagnostics: "Error: Invalid expression" … "  on main.tf line 2, in …"
_DIAGNOSTIC = re.compile(
    r"^Error: (?P<summary>.+)\n\s*\n\s+on (?P<file>.+?) line (?P<line>\d+)", re.MULTILINE
)


class FmtGate:
    name = "fmt"
    tool: str | None = None
    install_hint = ""

    def run(self, ctx: GateContext) -> list[Finding]:
        if ctx.fix:
            ctx.terraform.fmt_write()
        result = ctx.terraform.fmt_check()
        if result.returncode == 0:
            return []
        if result.returncode != 3:
            syntax = self._syntax_errors(ctx, result.stderr)
            if syntax:
                return syntax
            raise GateToolError("terraform fmt could not read the files", result.output)
        findings = []
        for name, diff in split_diffs(result.stdout).items():
            relative = ctx.relative(name)
            hunk = next((m for ln in diff.splitlines() if (m := _HUNK.match(ln))), None)
            findings.append(
                Finding(
                    gate=self.name,
                    severity="medium",
                    rule="terraform-fmt",
                    message="not formatted the way `terraform fmt` writes it; "
                    "run `tfops check --fix` (or `terraform fmt`)\n" + diff,
                    file=relative,
                    line=int(hunk.group(1)) if hunk else 1,
                    environments=ctx.environments_of(relative),
                )
            )
        return findings

    def _syntax_errors(self, ctx: GateContext, stderr: str) -> list[Finding]:
        """fmt parses every file, so a syntax error surfaces here first, with its location."""
        findings = []
        for match in _DIAGNOSTIC.finditer(stderr):
            relative = ctx.relative(match["file"])
            findings.append(
                Finding(
                    gate=self.name,
                    severity="high",
                    rule="terraform-syntax",
                    message=f"syntax error: {match['summary'].strip()}",
                    file=relative,
                    line=int(match["line"]),
                    environments=ctx.environments_of(relative),
                )
            )
        return findings


def split_diffs(output: str) -> dict[str, str]:
    """`fmt -list=true -diff` prints each file name and then its unified diff."""
    diffs: dict[str, list[str]] = {}
    current: str | None = None
    lines = output.splitlines()
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following.startswith("--- old/") or (
            line
            and not line.startswith(("---", "+++", "@@", " ", "+", "-", "\\"))
            and line.endswith((".tf", ".tfvars", ".tf.json"))
        ):
            current = line.strip()
            diffs.setdefault(current, [])
        elif current is not None:
            diffs[current].append(line)
    return {name: "\n".join(body).strip("\n") for name, body in diffs.items()}
