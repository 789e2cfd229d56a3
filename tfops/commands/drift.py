"""`tfops drift`: does the infrastructure still match the repo? `--heal` puts it back.

The check and the heal are `tfops.pipeline.heal`; Slack hears about drift when
TFOPS_SLACK_WEBHOOK_URL is set. In GitHub Actions, `tfops ci` on a schedule does the same
and keeps one issue per environment (`tfops.ci.schedule`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from tfops.commands.options import environments_option, path_argument
from tfops.console import Console
from tfops.errors import ExitCode
from tfops.notify.drift import notify_slack
from tfops.pipeline.drift import DriftReport
from tfops.pipeline.heal import check, heal_rule
from tfops.pipeline.session import Session


def write_report(
    report: DriftReport, output_format: str, out: TextIO, *, color: bool, mask: Callable[[str], str]
) -> None:
    if output_format == "json":
        text = report.json(mask)
    elif output_format == "markdown":
        text = report.markdown(mask=mask)
    else:
        text = report.text(color=color)
    out.write(mask(text))
    out.flush()


# ---- the command -----------------------------------------------------------------------


def run(
    path: Path,
    *,
    environments: tuple[str, ...],
    heal: bool,
    output_format: str,
    detailed_exitcode: bool,
    console: Console,
    out: TextIO,
    color: bool,
) -> ExitCode:
    session = Session.open(path, console)
    names = [e.name for e in session.select(environments)]
    console.step(
        f"Checking {', '.join(names)} in {session.repo.root.name} for drift "
        f"(terraform {session.binary.version})"
    )
    report = check(session, names, heal=heal_rule(session, heal), trigger="drift")
    write_report(report, output_format, out, color=color, mask=session.masker)
    notify_slack(report, report.drifted + report.errored, masker=session.masker, console=console)
    if report.errored:
        console.error("the drift check failed; terraform's error is above.")
        return ExitCode.ERROR
    if report.heal_failed:
        return ExitCode.ERROR
    if report.drifted:
        healed = [e.name for e in report.drifted if e.healed]
        left = [e.name for e in report.drifted if not e.healed]
        console.info(
            "Drift found"
            + (f"; healed {', '.join(healed)}" if healed else "")
            + (f"; left as is: {', '.join(left)} (heal with --heal)" if left else "")
            + "."
        )
    if detailed_exitcode and report.drifted:
        return ExitCode.CHANGES
    return ExitCode.OK


@click.command("drift")
@path_argument
@environments_option()
@click.option("--heal", is_flag=True, help="Apply the drifted environments back to the repo.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0: no drift, 2: drift found, 1: error."
)
@click.pass_context
def drift_command(
    ctx: click.Context,
    path: Path,
    environments: tuple[str, ...],
    heal: bool,
    output_format: str,
    detailed_exitcode: bool,
) -> None:
    """Check whether the infrastructure still matches the repo; --heal puts it back.

    A plan of the checkout that should be empty: resources changed outside Terraform and
    what Terraform would change are drift. Environments with `heal: true` in tfops.yaml
    are always healed.
    """
    sys.exit(
        run(
            path,
            environments=environments,
            heal=heal,
            output_format=output_format,
            detailed_exitcode=detailed_exitcode,
            console=ctx.obj.console,
            out=sys.stdout,
            color=ctx.obj.color,
        )
    )
