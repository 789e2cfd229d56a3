"""`terraform fmt -check -diff`: one finding per unformatted file, with its diff.

Like `terraform fmt -recursive` over what the environments use: the root's files, and
every local module directory inside the repo its selected environments load (directly
or through other modules). Examples, tests and modules nobody calls are not checked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from python_terraform import IsFlagged

from tfops.gates.base import Finding, GateContext, GateToolError
from tfops.terraform.process import Result

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
        modules = module_dirs(ctx)
        if ctx.fix:
            ctx.terraform.fmt_write()
            for directory in modules:
                ctx.terraform.run(
                    ctx.terraform.argv("fmt", _argument(ctx, directory), no_color=IsFlagged),
                    "terraform fmt",
                )
        findings = self._check(ctx, ctx.terraform.fmt_check(), {})
        for directory, users in modules.items():
            argv = ctx.terraform.argv(
                "fmt",
                _argument(ctx, directory),
                check=IsFlagged,
                diff=IsFlagged,
                no_color=IsFlagged,
                list=True,
            )
            result = ctx.terraform.run(argv, "terraform fmt", check=False, quiet=True)
            findings += self._check(ctx, result, {ctx.repo.relative(directory): users})
        return findings

    def _check(
        self, ctx: GateContext, result: Result, used_by: dict[str, tuple[str, ...]]
    ) -> list[Finding]:
        """Findings from one `fmt -check` run; `used_by`: a module directory's users."""
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
            users = next(
                (envs for d, envs in used_by.items() if relative.startswith(d + "/")), None
            )
            findings.append(
                Finding(
                    gate=self.name,
                    severity="medium",
                    rule="terraform-fmt",
                    message="not formatted the way `terraform fmt` writes it; "
                    "run `tfops check --fix` (or `terraform fmt`)\n" + diff,
                    file=relative,
                    line=int(hunk.group(1)) if hunk else 1,
                    environments=users or ctx.environments_of(relative),
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


def module_dirs(ctx: GateContext) -> dict[Path, tuple[str, ...]]:
    """The local module directories (inside the repo, outside the root's own directory
    listing) the selected environments load → the environments that load each."""
    users: dict[Path, list[str]] = {}
    for name in ctx.selected:
        for directory in ctx.repo.local_module_dirs(ctx.repo.environments[name]):
            if directory != ctx.root.path:
                users.setdefault(directory, []).append(name)
    return {d: tuple(envs) for d, envs in sorted(users.items())}


def _argument(ctx: GateContext, directory: Path) -> str:
    """The directory as terraform, running in the root, is given it (and prints it back)."""
    return Path(os.path.relpath(directory, ctx.root.path)).as_posix()
