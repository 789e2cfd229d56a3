"""`tfops module check`: build ("prepare") a module repo — gates and tests on every module.

Findings go where `tfops check` sends them: the terminal (or `--format json`), a SARIF
file for code scanning (`--sarif`), and workflow-command annotations inside Actions.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from tfops import gitutil
from tfops.commands.options import path_argument, sarif_option
from tfops.console import Console
from tfops.errors import ExitCode
from tfops.gates.tftest import RunStatus
from tfops.modules.check import ModuleCheck, check_modules
from tfops.modules.discovery import ModuleRepo
from tfops.plan.model import PlanSummary
from tfops.render import Report
from tfops.render.annotations import workflow_commands
from tfops.render.sarif import sarif
from tfops.render.text import TextRenderer

if TYPE_CHECKING:
    from tfops.commands.options import CliState as State

RUN_WORDS: tuple[tuple[RunStatus, str], ...] = (
    ("pass", "passed"),
    ("fail", "failed"),
    ("error", "errored"),
)


@click.group("module")
def module_group() -> None:
    """Module repos: check (and `tfops release`) the modules environments use."""


@module_group.command("check")
@path_argument
@click.option(
    "--module",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this module, by name or path (repeatable); default: every module.",
)
@click.option("--all", "keep_going", is_flag=True, help="Run every step even after one fails.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Modules checked at once.",
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@sarif_option()
@click.pass_obj
def check_command(
    state: State,
    path: Path,
    names: tuple[str, ...],
    keep_going: bool,
    parallelism: int,
    output_format: str,
    sarif_file: Path | None,
) -> None:
    """Run fmt, validate, the linters and `terraform test` on each module under PATH."""
    repo = ModuleRepo(path)
    modules = repo.select(names)
    check = check_modules(
        repo, modules, state.console, keep_going=keep_going, parallelism=parallelism
    )
    report(
        check,
        repo.root,
        output_format=output_format,
        sarif_file=sarif_file,
        console=state.console,
        out=sys.stdout,
        color=state.color,
    )
    if not check.ok:
        state.console.error("module check failed; the findings are above.")
        sys.exit(ExitCode.GATES_FAILED)


def report(
    check: ModuleCheck,
    root: Path,
    *,
    output_format: str,
    sarif_file: Path | None,
    console: Console,
    out: TextIO,
    color: bool,
    checkout: Path | None = None,
) -> None:
    """The report on `out`, SARIF to `sarif_file`, annotations in Actions.

    `checkout` is the git checkout whose paths GitHub shows (default: the one holding
    `root`); `tfops release` checks a temporary copy but reports the caller's paths.
    """
    masker = console.masker
    if output_format == "json":
        out.write(masker(json.dumps(check.to_dict(), indent=2)) + "\n")
    else:
        text = TextRenderer(color=color).render(
            Report(
                repo=check.repo,
                summary=PlanSummary(format_version="", terraform_version=check.terraform_version),
                gates=check.gates,
                commit=check.commit,
            )
        )
        out.write(masker(text) + summary_line(check) + "\n")
    out.flush()
    prefix = checkout_prefix(root, checkout)
    if sarif_file is not None:
        document = sarif(check.gates, prefix)
        sarif_file.write_text(masker(json.dumps(document, indent=2)) + "\n", encoding="utf-8")
        console.note(f"SARIF written to {sarif_file}")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        lines = workflow_commands(check.gates, prefix)
        stream = out if output_format == "text" else console.stream
        if lines:
            stream.write(masker("\n".join(lines)) + "\n")
            stream.flush()


def summary_line(check: ModuleCheck) -> str:
    passed = sum(1 for m in check.modules if m.ok)
    failed = len(check.modules) - passed
    findings = sum(len(g.findings) for g in check.gates)
    parts = [f"{passed} passed"] + ([f"{failed} failed"] if failed else [])
    line = f"\nModules: {', '.join(parts)} · {findings} finding(s)"
    reports = [m.tests for m in check.modules if m.tests is not None]
    if reports:
        runs = sum(len(r.runs) for r in reports)
        counts = {word: sum(r.count(status) for r in reports) for status, word in RUN_WORDS}
        shown = ", ".join(f"{n} {word}" for word, n in counts.items() if n)
        line += f" · {runs} test run(s): {shown or 'none completed'}"
    return line


def checkout_prefix(root: Path, checkout: Path | None = None) -> str:
    """Where `root` sits in its git checkout: GitHub's paths (SARIF, annotations) start there."""
    if checkout is None:
        found = gitutil.checkout(root)
        if found is None:
            return ""
        checkout = found[0]
    inside = os.path.relpath(root.resolve(), checkout.resolve())
    return "" if inside == "." else Path(inside).as_posix() + "/"
