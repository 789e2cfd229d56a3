"""`tfops watch REPO`: run the reconciler (`tfops.watch`) as a long-running service."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tfops.commands.options import no_gates_option
from tfops.server.health import parse_listen
from tfops.watch import Watcher, WatchOptions


@click.command("watch")
@click.argument("repo", metavar="REPO")
@click.option("--branch", default="main", show_default=True, help="The branch to follow.")
@click.option(
    "--path", "subdir", default="", metavar="SUBDIR", help="The environments' directory in REPO."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    default=60,
    show_default=True,
    help="Seconds between fetches.",
)
@click.option(
    "--drift-interval",
    type=click.FloatRange(min=0),
    metavar="MIN",
    help="Minutes between drift checks; 0: none. Default: drift.interval_minutes.",
)
@click.option(
    "--heal",
    is_flag=True,
    help="Heal drifted `apply: auto` environments too (`heal: true` ones always are).",
)
@click.option("--once", is_flag=True, help="One pass, then exit (1 if anything failed).")
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Serve GET /healthz, /status and / (the overview page); with the Slack signing "
    "secret set (TFOPS_SLACK_SIGNING_SECRET), Slack's POST /slack/commands and "
    "/slack/interactions too.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Clones and state. Default: $XDG_STATE_HOME/tfops/watch/<hash of REPO>.",
)
@no_gates_option("Apply new commits without running the gates.")
@click.pass_context
def watch_command(
    ctx: click.Context,
    repo: str,
    branch: str,
    subdir: str,
    interval: float,
    drift_interval: float | None,
    heal: bool,
    once: bool,
    listen: str | None,
    state_dir: Path | None,
    no_gates: bool,
) -> None:
    """Follow REPO (a URL or path) and reconcile: apply what lands on the branch.

    New commits are gated, planned and applied to the environments they affect that have
    `apply: auto` (`apply: manual` ones are planned only); a new commit on a module repo a
    floating environment uses (`../modules/x`, no ref) re-applies that environment. Drift
    is checked on its own schedule and healed where configured.
    """
    options = WatchOptions(
        repo=repo,
        branch=branch,
        path=subdir.strip("/"),
        interval=interval,
        drift_interval=drift_interval,
        heal=heal,
        once=once,
        listen=parse_listen(listen) if listen else None,
        state_dir=state_dir,
        gates=not no_gates,
    )
    sys.exit(Watcher(options, ctx.obj.console).run())
