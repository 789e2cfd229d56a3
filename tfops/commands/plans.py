"""`tfops plans list` and `tfops plans prune --older-than 30d`: the plan store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast, get_args

import click

from tfops.commands.options import path_argument
from tfops.records.store import Kind, PlanRecord, open_store, parse_age
from tfops.repo.environments import EnvironmentsRepo


def _row(record: PlanRecord) -> str:
    pr = f"#{record.pr}" if record.pr is not None else "-"
    return (
        f"{record.created}  {record.kind:<5}  {pr:<6} {record.commit[:12]}  "
        f"{record.environment:<12} terraform {record.terraform_version:<8} {record.sha256[:12]}"
    )


@click.group("plans")
def plans_command() -> None:
    """The plan store: plans kept for pull requests, and plans applied."""


@plans_command.command("list")
@path_argument
@click.option("--pr", type=int, help="Only this pull request's plans.")
@click.option("-e", "--env", "environment", metavar="ENV", help="Only this environment.")
@click.option(
    "--kind",
    type=click.Choice(get_args(Kind)),
    help="plan: reviewed on a PR; apply: applied; chat: shown in Slack.",
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def plans_list(
    path: Path, pr: int | None, environment: str | None, kind: str | None, output_format: str
) -> None:
    """List stored plans, oldest first."""
    repo = EnvironmentsRepo(path)
    store = open_store(repo.config, repo.root)
    records = store.records(
        pr=pr,
        environment=environment,
        kind=cast(Kind, kind) if kind else None,
    )
    if output_format == "json":
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
    elif records:
        click.echo("\n".join(_row(r) for r in records))
    else:
        click.echo(f"No plans in {store.location}.")


@plans_command.command("prune")
@path_argument
@click.option("--older-than", "older_than", required=True, metavar="AGE", help="e.g. 30d, 12h, 2w")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
def plans_prune(path: Path, older_than: str, dry_run: bool) -> None:
    """Delete stored plans older than AGE (the audit log is kept)."""
    age = parse_age(older_than)
    repo = EnvironmentsRepo(path)
    store = open_store(repo.config, repo.root)
    pruned = store.prune(age, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    for record in pruned:
        click.echo(f"{verb} {_row(record)}")
    click.echo(f"{verb} {len(pruned)} plan(s) older than {older_than} from {store.location}.")
