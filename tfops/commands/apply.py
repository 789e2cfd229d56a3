"""`tfops apply -e ENV`: plan, show, confirm, apply exactly that plan file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from tfops.commands.plan import report_for, write_report
from tfops.console import Console
from tfops.errors import ExitCode, TfopsError
from tfops.session import Session


def run(
    path: Path,
    *,
    environments: tuple[str, ...],
    auto_approve: bool,
    gates: bool,
    console: Console,
    out: TextIO,
    color: bool,
) -> ExitCode:
    if not environments:
        raise TfopsError("say which environment to apply", hint="tfops apply -e ENV")
    session = Session.open(path, console)
    envs = session.select(environments)
    names = [e.name for e in envs]
    if not auto_approve and not sys.stdin.isatty():
        raise TfopsError(
            "refusing to apply without confirmation: stdin is not a terminal",
            hint="pass --auto-approve in automation",
        )
    exit_code = ExitCode.OK
    for root in session.roots_for(envs):
        targets: list[str] = []
        in_root = [n for n in names if n in root.environments]
        notes = []
        if set(in_root) != set(root.environments):
            targets = [
                a
                for n in in_root
                for a in session.repo.target_addresses(session.repo.environments[n])
            ]
            notes.append(
                f"{', '.join(in_root)} shares a Terraform root and state with "
                f"{', '.join(sorted(set(root.environments) - set(in_root)))}: tfops plans and "
                f"applies it alone with -target for its {len(targets)} block(s) "
                f"({', '.join(targets)}). Terraform warns about -target below; that is expected."
            )
            for note in notes:
                console.warn(note)
            if not targets:
                console.info(
                    f"{', '.join(in_root)} declares no resources or modules; nothing to apply."
                )
                continue
        run = session.run_root(root, in_root, gates=gates, targets=targets)
        report = report_for(session, [run], in_root)
        report.notes = notes
        write_report(report, "text", out, color=color, masker=session.masker)
        if not run.gates_ok:
            console.error("gates failed; not applied.")
            return ExitCode.GATES_FAILED
        if run.error or run.summary is None or run.planfile is None:
            console.error("terraform plan failed; not applied.")
            return ExitCode.ERROR
        if not run.summary.has_changes:
            console.info(f"No changes in {', '.join(in_root)}. Nothing to apply.")
            continue
        if not auto_approve and not click.confirm(
            f"Apply these changes to {', '.join(in_root)}?", default=False, err=True
        ):
            console.info("Not applied.")
            return ExitCode.ERROR
        console.step(f"Applying {', '.join(in_root)}")
        session.terraform(root, console.sink(session.label(root))).apply(run.planfile)
        for name in in_root:
            console.info(f"Applied {name}: {run.summary.environment(name).counts.phrase()}.")
    return exit_code
