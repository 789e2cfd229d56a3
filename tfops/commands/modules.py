"""`tfops modules`: which release each environment runs; `tfops modules lock`: record them.

`tfops modules [PATH]` is `tfops modules list [PATH]`: the group runs `list` when its
first argument is not a subcommand, so a PATH and the `lock` subcommand both work.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tfops.errors import ExitCode, TfopsError
from tfops.modules.calls import module_calls
from tfops.modules.inventory import Inventory, ModuleStatus, build_inventory
from tfops.modules.lock import LockFile, lock_path
from tfops.modules.resolve import Resolver
from tfops.pipeline.session import Session
from tfops.render.markdown import render_template
from tfops.repo.environments import Environment

if TYPE_CHECKING:
    from tfops.commands.options import CliState as State

DEFAULT_COMMAND = "list"


class _ListByDefault(click.Group):
    """`tfops modules [PATH] [OPTIONS]` means `tfops modules list [PATH] [OPTIONS]`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


def _path_argument(function: Any) -> Any:
    return click.argument(
        "path", type=click.Path(file_okay=False, path_type=Path), default=".", required=False
    )(function)


def _env_option(function: Any) -> Any:
    return click.option(
        "-e",
        "--env",
        "environments",
        multiple=True,
        metavar="ENV",
        help="Environment (repeatable).",
    )(function)


@click.group("modules", cls=_ListByDefault)
def modules_command() -> None:
    """Modules per environment: ref, commit, newest release, how far behind.

    \b
    tfops modules [PATH] [-e ENV] [--outdated] [--format text|json|markdown]
    tfops modules lock [PATH] [-e ENV]
    """


@modules_command.command(DEFAULT_COMMAND)
@_path_argument
@_env_option
@click.option("--outdated", is_flag=True, help="Only modules with a newer release.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.pass_obj
def list_command(
    state: State, path: Path, environments: tuple[str, ...], outdated: bool, output_format: str
) -> None:
    """Every module of every environment (the default subcommand)."""
    session = Session.open(path, state.console)
    envs = session.select(environments)
    inventory = build_inventory(session.repo, envs, session.lister, history=True, registry=True)
    rows = [r for r in inventory.rows if not outdated or (r.releases_behind or 0) > 0]
    if output_format == "json":
        text = json.dumps(
            {
                "repo": session.repo.root.name,
                "modules": [
                    {**asdict(r), "follows": inventory.follows.get((r.environment, r.name))}
                    for r in rows
                ],
                "notes": inventory.notes,
                "errors": inventory.errors,
            },
            indent=2,
        )
        text += "\n"
    elif output_format == "markdown":
        text = render_template(
            "modules.md.j2",
            repo=session.repo.root.name,
            environments=_by_environment(rows),
            notes=inventory.notes,
            errors=inventory.errors,
            outdated=outdated,
            ref_label=lambda row: ref_label(row, inventory),
        )
    else:
        text = render_text(rows, inventory, outdated=outdated)
    sys.stdout.write(session.masker(text))
    for note in inventory.notes:
        state.console.note(f"note: {note}")
    if inventory.errors:
        for error in inventory.errors:
            state.console.error(error)
        sys.exit(ExitCode.ERROR)


@modules_command.command("lock")
@_path_argument
@_env_option
@click.pass_obj
def lock_command(state: State, path: Path, environments: tuple[str, ...]) -> None:
    """Record the commit of every pinned module's ref in tfops.lock.json."""
    session = Session.open(path, state.console)
    repo = session.repo
    envs = _pinned(session.select(environments), explicit=bool(environments))
    calls = [call for env in envs for call in module_calls(repo, env, nested=True)]
    resolved = Resolver(repo, session.lister).resolve(calls)
    broken = [m for m in resolved if m.kind in ("error", "unknown")]
    if broken:
        lines = [
            str(m.error) if m.error else f"{m.call.where(repo)}: ref {m.ref!r} does not exist"
            for m in broken
        ]
        raise TfopsError(
            "cannot lock: " + "\n".join(lines),
            hint="fix these refs (or the repository access), then lock again",
        )
    lock = LockFile.read(lock_path(repo))
    changes = lock.update(resolved, [e.name for e in envs])
    lock.write()
    name = repo.relative(lock.path)
    for change in changes:
        click.echo(f"{name}: {change.describe()}")
    count = sum(len(entries) for entries in lock.modules.values())
    if not changes:
        click.echo(f"{name} is up to date ({count} locked module(s)).")
    for module in resolved:
        if module.kind in ("floating", "branch"):
            what = "floats" if module.kind == "floating" else f"follows branch {module.ref!r}"
            state.console.warn(
                f"{module.call.where(repo)}: {module.call.name} {what}; not locked "
                "(the pins gate reports it)"
            )


def _pinned(envs: list[Environment], *, explicit: bool) -> list[Environment]:
    floating = [e.name for e in envs if not e.pinned]
    if explicit and floating:
        raise TfopsError(
            f"{', '.join(floating)} is not pinned; the lock holds pinned environments only",
            hint="set `pinned: true` for it under `environments:` in tfops.yaml",
        )
    return [e for e in envs if e.pinned]


def _by_environment(rows: list[ModuleStatus]) -> dict[str, list[ModuleStatus]]:
    grouped: dict[str, list[ModuleStatus]] = {}
    for row in rows:
        grouped.setdefault(row.environment, []).append(row)
    return grouped


def ref_label(row: ModuleStatus, inventory: Inventory) -> str:
    """The ref as written; for a module without one, what it floats on."""
    if row.kind == "registry":
        return row.ref or "no version"
    if row.ref is not None:
        return row.ref
    follows = inventory.follows.get((row.environment, row.name))
    if follows:
        return f"floating ({follows})"
    return "local path" if row.kind == "local" and row.commit is None else "floating"


def render_text(rows: list[ModuleStatus], inventory: Inventory, *, outdated: bool) -> str:
    if not rows:
        return "No modules with a newer release.\n" if outdated else "No module calls.\n"
    out: list[str] = []
    header = ("MODULE", "REF", "COMMIT", "NEWEST", "BEHIND", "SOURCE")
    for env, env_rows in _by_environment(rows).items():
        table = [header] + [
            (
                r.name,
                ref_label(r, inventory),
                r.commit[:12] if r.commit else "-",
                r.newest_release or "-",
                _behind(r),
                f"{r.source}  ({r.file}:{r.line})",
            )
            for r in env_rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        if out:
            out.append("")
        out.append(f"{env} ({'pinned' if env_rows[0].pinned else 'floating allowed'})")
        for cells in table:
            padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
            out.append("  " + "  ".join([*padded, cells[-1]]).rstrip())
    return "\n".join(out) + "\n"


def _behind(row: ModuleStatus) -> str:
    parts = []
    if row.releases_behind is not None:
        parts.append(f"{row.releases_behind} release{'s' if row.releases_behind != 1 else ''}")
    if row.commits_behind is not None:
        parts.append(f"{row.commits_behind} commit{'s' if row.commits_behind != 1 else ''}")
    return ", ".join(parts) or "-"
