"""`tfops plan`: gates, plan, and a per-environment report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from tfops import gitutil
from tfops.commands.check import annotate
from tfops.console import Console
from tfops.errors import ExitCode
from tfops.pipeline.session import RootRun, Session, merged_summary
from tfops.render import Report
from tfops.render.as_json import dumps
from tfops.render.markdown import render_markdown
from tfops.render.text import TextRenderer


def report_for(session: Session, runs: list[RootRun], envs: list[str]) -> Report:
    return Report(
        repo=session.repo.root.name,
        summary=merged_summary(runs, envs),
        gates=[g for run in runs for g in run.gates],
        commit=gitutil.head_commit(session.repo.root),
    )


def write_report(
    report: Report,
    output_format: str,
    out: TextIO,
    *,
    color: bool,
    masker: Callable[[str], str],
) -> None:
    """The report in `output_format`, masked: JSON and Markdown mask each value before they
    escape it, then the whole text is masked once more."""
    if output_format == "json":
        text = dumps(report.to_dict(), masker)
    elif output_format == "markdown":
        text = render_markdown(report, mask=masker)
    else:
        text = TextRenderer(color=color).render(report)
    out.write(masker(text))
    out.flush()


def run(
    path: Path,
    *,
    environments: tuple[str, ...],
    changed_since: str | None,
    output_format: str,
    detailed_exitcode: bool,
    gates: bool,
    parallelism: int,
    console: Console,
    out: TextIO,
    color: bool,
) -> ExitCode:
    session = Session.open(path, console)
    envs = session.select(environments, changed_since)
    if not envs:
        console.info(
            f"No environment is affected by changes since {changed_since}; nothing to plan."
        )
        if output_format == "json":
            out.write(json.dumps({"has_changes": False, "environments": {}}) + "\n")
        return ExitCode.OK
    names = [e.name for e in envs]
    roots = session.roots_for(envs)
    console.step(
        f"Planning {', '.join(names)} in {session.repo.root.name} "
        f"({session.repo.layout} layout, terraform {session.binary.version})"
    )
    runs = session.run_roots(roots, names, gates=gates, parallelism=parallelism)
    report = report_for(session, runs, names)
    write_report(report, output_format, out, color=color, masker=session.masker)
    annotate(report.gates, session, out if output_format == "text" else console.stream)
    if report.gates_failed:
        console.error("gates failed; not planned. Fix the findings above (or run with --no-gates).")
        return ExitCode.GATES_FAILED
    if report.summary.errored:
        console.error("terraform plan failed; its diagnostics are above.")
        return ExitCode.ERROR
    if detailed_exitcode and report.summary.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK
