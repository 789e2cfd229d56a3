"""`tfops report`: what is deployed where — one HTML page to look at and share, or JSON."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tfops.commands.options import path_argument
from tfops.errors import ExitCode, TfopsError
from tfops.render.html import when
from tfops.report.overview import EnvironmentView, Overview, build_overview

if TYPE_CHECKING:
    from tfops.commands.options import CliState as State


@click.command("report")
@path_argument
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the overview page to FILE (one self-contained HTML file).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "html"]),
    help="Print the overview on stdout. Default: text, unless --html is given.",
)
@click.pass_obj
def report_command(
    state: State, path: Path, html_file: Path | None, output_format: str | None
) -> None:
    """The overview: per environment its modules and how far behind they are, the last
    applies, the last drift check, the locks held and the open pull request plans."""
    overview = build_overview(path)
    if html_file is not None:
        write_file(html_file, overview.html())
        state.console.info(f"Wrote {html_file} ({summary(overview)}).")
    shown = output_format or (None if html_file is not None else "text")
    if shown == "json":
        sys.stdout.write(overview.json())
    elif shown == "html":
        sys.stdout.write(overview.html())
    elif shown == "text":
        sys.stdout.write(render_text(overview))
    for note in overview.notes:
        state.console.note(f"note: {note}")
    if overview.errors:
        for error in overview.errors:
            state.console.error(error)
        sys.exit(ExitCode.ERROR)


def write_file(path: Path, text: str) -> None:
    """Whole or not at all: a reader (a web server, an upload step) never sees half a page."""
    if path.parent and not path.parent.is_dir():
        raise TfopsError(f"{path}: the directory {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def summary(overview: Overview) -> str:
    modules = sum(len(env.modules) for env in overview.environments)
    behind = sum(env.outdated for env in overview.environments)
    return f"{len(overview.environments)} environment(s), {modules} module(s)" + (
        f", {behind} behind a release" if behind else ""
    )


def render_text(overview: Overview) -> str:
    head = f"tfops · {overview.repo}"
    if overview.commit:
        head += f" @ {overview.commit[:12]}"
    lines = [head + f" · {when(overview.generated_at)}"]
    for env in overview.environments:
        lines.append(_environment_line(env))
    lines.append(f"{summary(overview)}; the page has the details: tfops report --html FILE")
    return "\n".join(lines) + "\n"


def _environment_line(env: EnvironmentView) -> str:
    apply = env.last_apply
    last = (
        f"{apply.result} {when(apply.when)} by {apply.who} ({apply.commit[:12]})"
        if apply
        else "never applied"
    )
    drift = f"drift: {env.drift.status} ({when(env.drift.checked_at)})" if env.drift else "drift: -"
    lock = f"locked by {env.lock.who}" if env.lock else "unlocked"
    behind = f", {env.outdated} behind a release" if env.outdated else ""
    pinned = "pinned" if env.pinned else "floating"
    return (
        f"  {env.name}: {pinned}, apply {env.apply_mode}; {last}; {drift}; {lock}; "
        f"{len(env.modules)} module(s){behind}"
    )
