"""`terraform fmt -check -diff`: one finding per unformatted file, with its diff."""

from __future__ import annotations

import re

from tfops.gates.base import Finding, GateContext, GateToolError

_HUNK = re.compile(r"^@@ -(\d+)")


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
