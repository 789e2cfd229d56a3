"""`tfops unlock -e ENV`: break an environment's lock (e.g. after a run was killed).

A lock held by a run that is still alive — its tfops, or a terraform it started — is not
broken without `--force` (see `tfops.records.locks.unlock`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from tfops.commands.options import environments_option, path_argument
from tfops.errors import TfopsError
from tfops.records.locks import LockInfo, open_locks, unlock
from tfops.repo.environments import EnvironmentsRepo


def _row(info: LockInfo) -> str:
    return f"{info.environment}: {info.describe()}"


@click.command("unlock")
@path_argument
@environments_option()
@click.option("--list", "list_only", is_flag=True, help="Only show who holds which lock.")
@click.option(
    "--force", is_flag=True, help="Break the lock even while the run holding it is alive."
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def unlock_command(
    path: Path, environments: tuple[str, ...], list_only: bool, force: bool, output_format: str
) -> None:
    """Release the lock of ENV, or list the locks (--list)."""
    repo = EnvironmentsRepo(path)
    locks = open_locks(repo.config, repo.root)
    if list_only:
        held = locks.all()
        if output_format == "json":
            click.echo(json.dumps([i.to_dict() for i in held], indent=2))
        else:
            click.echo("\n".join(_row(i) for i in held) if held else "No environment is locked.")
        return
    if not environments:
        raise TfopsError("say which lock to release", hint="tfops unlock -e ENV (or --list)")
    for name in [e.name for e in repo.select(environments)]:
        released = unlock(locks, name, force=force)
        if released is None:
            click.echo(f"{name} was not locked.")
        else:
            click.echo(f"Released the lock of {name}, which was {released.describe()}.")
