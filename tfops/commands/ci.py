"""`tfops ci`: run in GitHub Actions; the event decides what happens (`tfops.ci.dispatch`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tfops.ci.context import CiContext
from tfops.ci.dispatch import route, run
from tfops.commands.options import (
    environments_option,
    no_gates_option,
    parallelism_option,
    path_argument,
)
from tfops.console import Console
from tfops.github.event import GithubEvent


@click.command("ci")
@path_argument
@environments_option("Only these environments.")
@no_gates_option()
@click.option(
    "--heal",
    is_flag=True,
    help="schedule, workflow_dispatch: heal every drifted environment (else `heal: true` ones).",
)
@click.option(
    "--no-heal",
    is_flag=True,
    help="schedule, workflow_dispatch: only check, whatever the heal input or `heal: true` say.",
)
@click.option(
    "--route",
    "route_only",
    is_flag=True,
    help="issue_comment: only write the /tfops command and its environment as step outputs.",
)
@parallelism_option
@click.pass_context
def ci_command(
    click_ctx: click.Context,
    path: Path,
    environments: tuple[str, ...],
    no_gates: bool,
    heal: bool,
    no_heal: bool,
    route_only: bool,
    parallelism: int,
) -> None:
    """Run in GitHub Actions: plan and comment on PRs, run /tfops commands, apply on merge."""
    if heal and no_heal:
        raise click.UsageError("--heal and --no-heal contradict each other")
    console: Console = click_ctx.obj.console
    ctx = CiContext(
        event=GithubEvent.from_environ(),
        path=path,
        environments=environments,
        parallelism=parallelism,
        gates=not no_gates,
        heal="all" if heal else ("none" if no_heal else "configured"),
        console=console,
        out=sys.stdout,
    )
    sys.exit(route(ctx) if route_only else run(ctx))
