"""`tfops release TAG`: test a release candidate's commit and tag it as the release."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tfops.commands.module import report
from tfops.commands.options import path_argument, sarif_option
from tfops.errors import ExitCode, TfopsError
from tfops.modules.release import ReleaseOutcome, release

if TYPE_CHECKING:
    from tfops.commands.options import CliState as State


@click.command("release")
@click.argument("tag")
@path_argument
@click.option("--push", is_flag=True, help="Push the release tag to the remote.")
@click.option("--remote", default="origin", show_default=True, help="The remote --push uses.")
@click.option("--sign", is_flag=True, help="Sign the tag (git tag -s: gpg or ssh signing).")
@click.option("--dry-run", is_flag=True, help="Check and show the tag message; tag nothing.")
@sarif_option("Also write the module check's findings as SARIF 2.1.0 to FILE.")
@click.pass_obj
def release_command(
    state: State,
    tag: str,
    path: Path,
    push: bool,
    remote: str,
    sign: bool,
    dry_run: bool,
    sarif_file: Path | None,
) -> None:
    """Release candidate TAG (v1.2.0-rc1): check every module at its commit, in a clean
    worktree, and when all pass create the annotated release tag (v1.2.0) on that commit.
    """
    outcome = release(
        path, tag, state.console, push=push, sign=sign, dry_run=dry_run, remote=remote
    )
    candidate = outcome.candidate
    if outcome.check is not None:
        report(
            outcome.check,
            path,
            output_format="text",
            sarif_file=sarif_file,
            console=state.console,
            out=sys.stdout,
            color=state.color,
        )
    if outcome.already_released:
        click.echo(f"{candidate.release} already exists on {candidate.commit[:12]}: released.")
    elif outcome.refused:
        click.echo(
            f"\nNot released: {candidate.tag} fails the module check; nothing was tagged.\n  "
            + "\n  ".join(outcome.failures()),
            err=True,
        )
        sys.exit(ExitCode.GATES_FAILED)
    elif dry_run:
        click.echo(f"\nDry run: would tag {candidate.release} on {candidate.commit} with:\n")
        click.echo(outcome.message)
    elif outcome.tagged:
        click.echo(_released(outcome))
    if outcome.push_error:
        raise TfopsError(
            f"could not push {candidate.release} to {remote}: {outcome.push_error}",
            hint="nothing is tagged; fix the remote (or its permissions) and run again"
            if not outcome.already_released
            else f"the tag exists here; push it yourself: git push {remote} {candidate.release}",
        )
    if outcome.pushed:
        click.echo(f"Pushed {candidate.release} to {remote}.")


def _released(outcome: ReleaseOutcome) -> str:
    candidate, check = outcome.candidate, outcome.check
    assert check is not None
    runs = [r for m in check.modules if m.tests for r in m.tests.runs]
    tested = f", {len(runs)} test run(s) passed" if runs else ", no tests"
    return (
        f"\nReleased {candidate.release} on {candidate.commit[:12]} (candidate {candidate.tag}): "
        f"{len(check.modules)} module(s) checked{tested}."
    )
