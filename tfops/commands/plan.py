"""`tfops plan`: gates, plan, and a per-environment report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from tfops.console import Console
from tfops.errors import ExitCode
from tfops.pipeline.session import Session

# What this command needs once terraform has planned: imported while it plans.
AFTER_PLAN = ("tfops.render.output", "tfops.render.text", "tfops.render.annotations")


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
    session.needed_after_plan += AFTER_PLAN
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
    from tfops.render.annotations import annotate
    from tfops.render.output import write_report

    report = session.report(runs, names)
    write_report(report, output_format, out, color=color, masker=session.masker)
    annotate(
        report.gates,
        session.repo.root,
        out if output_format == "text" else console.stream,
        session.masker,
    )
    if report.gates_failed:
        console.error("gates failed; not planned. Fix the findings above (or run with --no-gates).")
        return ExitCode.GATES_FAILED
    if report.summary.errored:
        console.error("terraform plan failed; its diagnostics are above.")
        return ExitCode.ERROR
    if detailed_exitcode and report.summary.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK
