"""`tfops audit`: who applied what, when, from which commit and PR, and how it went."""

from __future__ import annotations

from pathlib import Path

import click

from tfops.commands.options import path_argument
from tfops.records.audit import AuditEntry, open_audit
from tfops.repo.environments import EnvironmentsRepo


def _row(entry: AuditEntry) -> str:
    pr = f"#{entry.pr}" if entry.pr is not None else "-"
    sha = (entry.plan_sha256 or "-")[:12]
    when = entry.when[:19] + "Z"  # to the second
    return (
        f"{when:<20}  {entry.environment:<12} {entry.result:<11} {entry.who:<16} "
        f"{entry.commit[:12]:<12} {pr:<6} {entry.trigger:<8} {entry.duration_seconds:>7.1f}s  "
        f"plan {sha}"
    )


@click.command("audit")
@path_argument
@click.option("-e", "--env", "environment", metavar="ENV", help="Only this environment.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N entries.")
def audit_command(
    path: Path, environment: str | None, output_format: str, limit: int | None
) -> None:
    """List the audit log of applies, oldest first."""
    repo = EnvironmentsRepo(path)
    log = open_audit(repo.config, repo.root)
    entries = log.entries(environment=environment)
    if limit:
        entries = entries[-limit:]
    if output_format == "json":
        for entry in entries:
            click.echo(entry.to_json())
    elif entries:
        click.echo(
            f"{'when':<20}  {'environment':<12} {'result':<11} {'who':<16} {'commit':<12} "
            f"{'pr':<6} {'trigger':<8} {'duration':>8}  plan"
        )
        click.echo("\n".join(_row(e) for e in entries))
    else:
        click.echo(f"No applies recorded in {log.location}.")
