"""`tfops apply -e ENV`: plan, show, confirm, apply exactly that plan (`tfops.pipeline`).

`tfops apply --merged [--pr N]` is apply on merge, as `tfops ci` does it on a push.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from tfops import gitutil
from tfops.commands.options import environments_option, no_gates_option, path_argument
from tfops.console import Console
from tfops.errors import ExitCode, TfopsError
from tfops.pipeline.apply import Approval, Change, Planned, apply_change, by_policy
from tfops.pipeline.merge import ExplicitHistory, History, MergedPR, apply_merged, resolve_commit
from tfops.pipeline.outcome import Outcome
from tfops.pipeline.records import Records
from tfops.pipeline.session import Session
from tfops.records.locks import LockHolder
from tfops.render.output import write_report


def run(
    path: Path,
    *,
    environments: tuple[str, ...],
    auto_approve: bool,
    gates: bool,
    console: Console,
    out: TextIO,
    color: bool,
) -> ExitCode:
    if not environments:
        raise TfopsError("say which environment to apply", hint="tfops apply -e ENV")
    session = Session.open(path, console)
    envs = session.select(environments)
    names = [e.name for e in envs]
    if not auto_approve and not sys.stdin.isatty():
        raise TfopsError(
            "refusing to apply without confirmation: stdin is not a terminal",
            hint="pass --auto-approve in automation",
        )
    commit = gitutil.head_commit(session.repo.root) or "uncommitted"
    records = Records.open(session)
    holder = LockHolder.for_run()

    def show(planned: Planned) -> None:
        report = session.report([planned.run], planned.environments)
        report.notes = [planned.note] if planned.note else []
        write_report(report, "text", out, color=color, masker=session.masker)

    approve = by_policy() if auto_approve else _ask
    for root in session.roots_for(envs):
        in_root = sorted(n for n in names if n in root.environments)
        change = Change(root, in_root, "manual", commit, holder, gates=gates)
        outcome = apply_change(session, records, change, approve, on_planned=show)
        if outcome.outcome is Outcome.APPLIED:
            for name in in_root:
                console.info(f"Applied {name}: {outcome.changes.get(name, '')}.")
        elif outcome.outcome is Outcome.NO_CHANGES:
            console.info(f"No changes in {', '.join(in_root)}. Nothing to apply.")
        elif outcome.outcome is Outcome.DECLINED:
            console.info("Not applied.")
        elif outcome.outcome is Outcome.GATES_FAILED:
            console.error("gates failed; not applied.")
        elif outcome.outcome is Outcome.FAILED and not outcome.plan_sha256:
            console.error("terraform plan failed; not applied.")  # its error is in the report
        else:
            console.error(outcome.detail)
        if not outcome.ok:
            return outcome.outcome.exit_code
    return ExitCode.OK


def _ask(planned: Planned) -> Approval:
    envs = ", ".join(planned.environments)
    if click.confirm(f"Apply these changes to {envs}?", default=False, err=True):
        return Approval.grant()
    return Approval.decline("declined at the prompt")


def run_merged(
    path: Path,
    *,
    pr: int | None,
    commit: str | None,
    head: str | None,
    environments: tuple[str, ...],
    gates: bool,
    console: Console,
    out: TextIO,
) -> ExitCode:
    session = Session.open(path, console)
    commit = resolve_commit(session, commit or "HEAD")
    history: History
    if pr is None:
        from tfops.ci.push import GithubHistory
        from tfops.github.event import GithubEvent

        history = GithubHistory(GithubEvent.from_environ().client())
    else:
        history = ExplicitHistory(MergedPR(pr, head, commit))
    result = apply_merged(session, commit, history, environments=environments, gates=gates)
    if not result.prs:
        console.info(
            f"{commit[:12]} merged no pull request since the last apply, so nothing was "
            "reviewed: nothing applied (pass --pr N if GitHub does not know the pull request)."
        )
    out.write(session.masker(result.text()))
    out.flush()
    return result.exit_code


@click.command("apply")
@path_argument
@environments_option()
@click.option("--auto-approve", is_flag=True, help="Apply without asking (for automation).")
@no_gates_option("Apply without running the gates first.")
@click.option(
    "--merged",
    is_flag=True,
    help="Apply on merge: apply what the merged pull requests reviewed, if the plan at this "
    "commit matches it.",
)
@click.option("--pr", type=click.IntRange(min=1), help="The merged pull request (--merged).")
@click.option(
    "--commit", metavar="SHA", help="The merge commit (--merged); default: the checked-out HEAD."
)
@click.option(
    "--head", metavar="SHA", help="The PR's last commit (--merged): its plan must be the one kept."
)
@click.pass_context
def apply_command(
    ctx: click.Context,
    path: Path,
    environments: tuple[str, ...],
    auto_approve: bool,
    no_gates: bool,
    merged: bool,
    pr: int | None,
    commit: str | None,
    head: str | None,
) -> None:
    """Plan ENV, show the plan, and apply it after confirmation.

    With --merged: apply on merge. The plan at the merge commit must match the plans
    reviewed on the pull requests merged since the last apply, or nothing is applied.
    """
    console = ctx.obj.console
    if merged:
        sys.exit(
            run_merged(
                path,
                pr=pr,
                commit=commit,
                head=head,
                environments=environments,
                gates=not no_gates,
                console=console,
                out=sys.stdout,
            )
        )
    if pr is not None or commit or head:
        raise TfopsError("--pr, --commit and --head go with --merged", hint="tfops apply --merged")
    sys.exit(
        run(
            path,
            environments=environments,
            auto_approve=auto_approve,
            gates=not no_gates,
            console=console,
            out=sys.stdout,
            color=ctx.obj.color,
        )
    )
