"""`tfops matrix`: the affected environments as a `strategy.matrix`, to fan out across runners.

    {"include": [{"environment": "dev", "root": "."}, {"environment": "prod", "root": "."}]}

Changed files come from `--files`, `--changed-since REF`, or, in a pull_request workflow
with a token, from the pull request itself. On a push (apply on merge), the `apply: auto`
environments with merged work since their last apply. Without any of these every
environment is in.
The JSON goes to stdout and, in Actions, to the step output `matrix`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from tfops.commands.options import environments_option, path_argument
from tfops.console import Console
from tfops.github.event import GithubEvent
from tfops.pipeline.session import Session


def matrix(
    path: Path,
    *,
    environments: tuple[str, ...],
    changed_since: str | None,
    files: tuple[str, ...],
    console: Console,
) -> dict[str, list[dict[str, str]]]:
    session = Session.open(path, console)
    repo = session.repo
    names = [e.name for e in session.select(environments, changed_since)]
    changed: list[str] | None = list(files) if files else None
    if changed is None and not changed_since and _pull_request_event():
        from tfops.ci.context import CiContext
        from tfops.ci.pull_request import changed_files

        event = GithubEvent.from_environ()
        if event.pr_number is not None:
            ctx = CiContext(event=event, path=path, console=console)
            changed, note = changed_files(ctx, event.pr_number, event.pull_request)
            if note:
                console.warn(note)
    if changed is not None:
        affected = set(repo.affected_environments(changed))
        names = [n for n in names if n in affected]
    elif not changed_since and _push_event():
        from tfops.ci.push import GithubHistory
        from tfops.pipeline.merge import environments_to_apply

        client = GithubEvent.from_environ().client()
        pending = set(environments_to_apply(session, "HEAD", GithubHistory(client)))
        names = [n for n in names if n in pending]
    return {
        "include": [
            {"environment": name, "root": repo.relative(repo.environments[name].root)}
            for name in names
        ]
    }


def _push_event() -> bool:
    """A push to the default branch: only the environments apply on merge will change."""
    return os.environ.get("GITHUB_EVENT_NAME") == "push" and bool(os.environ.get("GITHUB_TOKEN"))


def _pull_request_event() -> bool:
    return os.environ.get("GITHUB_EVENT_NAME") == "pull_request" and bool(
        os.environ.get("GITHUB_TOKEN")
    )


@click.command("matrix")
@path_argument
@environments_option("Only these environments.")
@click.option("--changed-since", metavar="REF", help="Only environments affected since REF.")
@click.option("--files", "files", multiple=True, metavar="FILE", help="Changed files (repeatable).")
@click.pass_context
def matrix_command(
    click_ctx: click.Context,
    path: Path,
    environments: tuple[str, ...],
    changed_since: str | None,
    files: tuple[str, ...],
) -> None:
    """Print the affected environments as JSON for a GitHub Actions strategy.matrix."""
    console: Console = click_ctx.obj.console
    result = matrix(
        path,
        environments=environments,
        changed_since=changed_since,
        files=files,
        console=console,
    )
    text = json.dumps(result, separators=(",", ":"))
    click.echo(text)
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"matrix={text}\n")
    console.info(
        f"{len(result['include'])} environment(s): "
        + (", ".join(item["environment"] for item in result["include"]) or "none")
    )
