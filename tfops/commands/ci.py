"""`tfops ci`: the one entrypoint for GitHub Actions. It reads the event and does what it means.

- pull_request: gates and plan of the environments the PR affects; the sticky PR comment,
  the job summary, step outputs and annotations;
- issue_comment: a `/tfops …` command (`tfops.commands.chatops`);
- push: apply on merge (`tfops.commands.merge`);
- schedule, workflow_dispatch: drift detection and healing (`tfops.commands.drift`);
- anything else: nothing, said plainly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import click

from tfops import __version__, gitutil
from tfops.commands.options import (
    environments_option,
    no_gates_option,
    parallelism_option,
    path_argument,
)
from tfops.commands.plan import report_for, write_report
from tfops.console import Console
from tfops.errors import ExitCode, TfopsError
from tfops.github.client import GithubClient, GithubError, GithubForbidden
from tfops.github.event import GithubEvent
from tfops.modules.inventory import build_inventory
from tfops.pipeline.session import RootRun, Session
from tfops.render import Report
from tfops.render.annotations import workflow_commands
from tfops.render.comment import COMMENT_BUDGET, SUMMARY_BUDGET, marker, render_report

PLAN_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")


@dataclass
class CiContext:
    """One `tfops ci` run: the event, the environments repo, and the options given."""

    event: GithubEvent
    path: Path
    environments: tuple[str, ...] = ()
    parallelism: int = 2
    gates: bool = True
    heal: bool = False  # schedule / workflow_dispatch: heal every drifted environment
    console: Console = field(default_factory=Console)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    _client: GithubClient | None = None

    def client(self) -> GithubClient:
        if self._client is None:
            self._client = self.event.client()
        return self._client

    def checkout_prefix(self) -> str:
        """Where the environments repo sits in the checkout: "" at the top, else "infra/"."""
        repo = gitutil.open_repo(self.path)
        top = (
            Path(repo.working_tree_dir) if repo and repo.working_tree_dir else self.event.workspace
        )
        if top is None:
            return ""
        try:
            relative = self.path.resolve().relative_to(top.resolve()).as_posix()
        except ValueError:
            return ""
        return "" if relative == "." else relative + "/"

    def repo_files(self, changed: list[str]) -> list[str]:
        """Paths relative to the repository → relative to the environments repo (others dropped)."""
        prefix = self.checkout_prefix()
        return [name[len(prefix) :] for name in changed if name.startswith(prefix)]


Handler = Callable[[CiContext], ExitCode]


def on_push(ctx: CiContext) -> ExitCode:
    """A push to the default branch is a merge: apply what the pull request reviewed."""
    from tfops.commands import merge

    return merge.handle_event(ctx)


def on_schedule(ctx: CiContext) -> ExitCode:
    """A schedule (or a manual workflow_dispatch): check for drift, heal where asked."""
    from tfops.commands import drift

    return drift.handle_event(ctx)


def on_comment(ctx: CiContext) -> ExitCode:
    from tfops.commands import chatops

    return chatops.handle(ctx)


# ---- pull requests -----------------------------------------------------------------------
def on_pull_request(ctx: CiContext) -> ExitCode:
    number, action = ctx.event.pr_number, ctx.event.action
    if number is None:
        raise TfopsError("the pull_request event has no pull request number", where="event")
    if action == "closed":
        from tfops.commands.merge import release_pr_environments

        released = release_pr_environments(Session.open(ctx.path, ctx.console), number)
        merged = (
            "merged" if (ctx.event.payload.get("pull_request") or {}).get("merged") else "closed"
        )
        ctx.console.info(
            f"Pull request #{number} was {merged}: released the locks of "
            f"{', '.join(released) or 'no environment'}."
        )
        return ExitCode.OK
    if action not in PLAN_ACTIONS:
        ctx.console.info(
            f"pull_request {action!r}: nothing to do (tfops plans on {', '.join(PLAN_ACTIONS)})."
        )
        return ExitCode.OK
    return plan_pull_request(ctx, number, head_sha=ctx.event.head_sha)


def plan_pull_request(
    ctx: CiContext,
    number: int,
    *,
    head_sha: str | None,
    requested: tuple[str, ...] = (),
    session: Session | None = None,
) -> ExitCode:
    """Gates and plan of the environments PR `number` affects (or exactly `requested`)."""
    session = session or Session.open(ctx.path, ctx.console)
    if ctx.event.token:
        session.masker.add_values([ctx.event.token])
    client = ctx.client()
    if requested:
        names = [e.name for e in session.select(requested)]
        why = "as requested"
    else:
        changed = ctx.repo_files(client.pull_request_files(number))
        names = session.repo.affected_environments(changed)
        if ctx.environments:
            wanted = {e.name for e in session.select(ctx.environments)}
            names = [n for n in names if n in wanted]
        why = f"affected by the {len(changed)} changed file(s) in {session.repo.root.name}"
    ctx.console.step(
        f"Pull request #{number}: {', '.join(names) or 'no environment'} {why}"
        + (f" (terraform {session.binary.version})" if names else "")
    )
    envs = session.select(names) if names else []
    runs = session.run_roots(
        session.roots_for(envs), names, gates=ctx.gates, parallelism=ctx.parallelism
    )
    report = report_for(session, runs, names)
    keep_for_merge(session, runs, number, head_sha, names, report)
    report.commit = head_sha or report.commit
    report.run_url = ctx.event.run_url
    pinned_modules(session, names, report)
    if not names:
        report.notes.append("No environment is affected by the files this pull request changes.")
    key = ":".join(p for p in (ctx.checkout_prefix().rstrip("/"), ",".join(requested)) if p)
    publish(ctx, session, report, number, marker(key), names)
    if report.gates_failed:
        ctx.console.error("gates failed; not planned. The findings are in the report.")
        return ExitCode.GATES_FAILED
    if report.summary.errored:
        ctx.console.error("terraform plan failed; its error is in the report.")
        return ExitCode.ERROR
    return ExitCode.OK


def keep_for_merge(
    session: Session,
    runs: list[RootRun],
    number: int,
    head_sha: str | None,
    names: list[str],
    report: Report,
) -> None:
    """Keep the reviewed plans for apply on merge, and take the PR's environment locks."""
    from tfops.commands.merge import lock_pr_environments, record_pr_plans

    planned = [n for n in names if report.summary.environments.get(n) and not report.gates_failed]
    if head_sha and planned:
        record_pr_plans(session, runs, number, head_sha, planned)
    _, refused = lock_pr_environments(session, number, names)
    for held in refused:
        report.notes.append(
            f"{held.info.environment} is {held.info.describe()}: "
            "it can't be applied from this PR until that lock is released."
        )


def pinned_modules(session: Session, names: list[str], report: Report) -> None:
    """The module rows of the pinned environments planned, with their refs, into `report`."""
    pinned = [session.repo.environments[n] for n in names if session.repo.environments[n].pinned]
    if not pinned:
        return
    try:
        found = build_inventory(session.repo, pinned, session.lister)
    except TfopsError as exc:
        report.notes.append(f"The pinned modules could not be listed: {exc.message}")
        return
    report.modules = [row for row in found.rows if row.pinned]
    report.notes.extend(found.errors)


def publish(
    ctx: CiContext, session: Session, report: Report, number: int, key: str, names: list[str]
) -> None:
    """Log, annotations, the sticky comment, the job summary and the step outputs."""
    write_report(report, "text", ctx.out, color=False, masker=session.masker)
    for line in workflow_commands(report.gates, ctx.checkout_prefix()):
        ctx.out.write(session.masker(line) + "\n")
    ctx.out.flush()
    failure: GithubError | None = None
    if not session.config.github.comment:
        ctx.console.info("Not commenting on the pull request: github.comment is false.")
    else:
        try:
            url = upsert_comment(ctx, session, report, number, key)
            ctx.console.info(f"The tfops comment is up to date: {url}")
        except GithubForbidden as exc:
            ctx.console.warn(f"could not comment on the pull request: {exc}")
            report.notes.append(
                "tfops posted no PR comment: the workflow's token may not write to this pull "
                "request (pull requests from forks get a read-only GITHUB_TOKEN). "
                "The full report is here."
            )
        except GithubError as exc:
            failure = exc
            report.notes.append(f"tfops could not post its PR comment: {exc.message}")
    write_summary(ctx.event, report, session.masker)
    write_outputs(ctx.event, report, names)
    if failure is not None:
        raise failure


def upsert_comment(ctx: CiContext, session: Session, report: Report, number: int, key: str) -> str:
    """Edit tfops's comment in place (found by its hidden marker) or create it."""
    client = ctx.client()
    where = "the job summary of " + (
        f"[this workflow run]({report.run_url})" if report.run_url else "this workflow run"
    )
    body = render_report(
        report,
        budget=COMMENT_BUDGET,
        full_plan_at=where,
        marker=key,
        footer=f"tfops {__version__} · updated on every push · comment <code>/tfops help</code> "
        "for commands",
        mask=session.masker,
    )
    existing = next(
        (c for c in client.issue_comments(number) if (c.get("body") or "").startswith(key)),
        None,
    )
    if existing is not None:
        try:
            return str(client.update_comment(int(existing["id"]), body).get("html_url", ""))
        except GithubError as exc:
            if exc.status != 404:  # deleted meanwhile: post a new one
                raise
    return str(client.create_comment(number, body).get("html_url", ""))


def write_summary(event: GithubEvent, report: Report, mask: Callable[[str], str]) -> None:
    if event.step_summary is None:
        return
    where = f"[the workflow run's log]({report.run_url})" if report.run_url else "the run's log"
    text = render_report(report, budget=SUMMARY_BUDGET, full_plan_at=where, mask=mask)
    with event.step_summary.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def write_outputs(event: GithubEvent, report: Report, names: list[str]) -> None:
    """`has_changes`, `changes_<env>`, `environments` (JSON) and `gates_passed`."""
    if event.output is None:
        return
    envs = report.summary.environments
    lines = [
        f"has_changes={_flag(report.summary.has_changes)}",
        f"environments={json.dumps(names)}",
        f"gates_passed={_flag(not report.gates_failed)}",
        *(f"changes_{n}={_flag(n in envs and envs[n].has_changes)}" for n in names),
    ]
    with event.output.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))


def _flag(value: bool) -> str:
    return "true" if value else "false"


# ---- dispatch: one handler per event ---------------------------------------------------
HANDLERS: dict[str, Handler] = {
    "pull_request": on_pull_request,
    "issue_comment": on_comment,
    "push": on_push,
    "schedule": on_schedule,
    "workflow_dispatch": on_schedule,
}


def run(ctx: CiContext) -> ExitCode:
    handler = HANDLERS.get(ctx.event.name)
    if handler is None:
        ctx.console.info(
            f"tfops ci has nothing to do for {ctx.event.name!r} events "
            f"(it handles {', '.join(HANDLERS)})."
        )
        return ExitCode.OK
    return handler(ctx)


# ---- the command -------------------------------------------------------------------------
@click.command("ci")
@path_argument
@environments_option("Only these environments.")
@no_gates_option()
@click.option(
    "--heal",
    is_flag=True,
    help="schedule, workflow_dispatch: heal every drifted environment (else `heal: true` ones).",
)
@parallelism_option
@click.pass_context
def ci_command(
    click_ctx: click.Context,
    path: Path,
    environments: tuple[str, ...],
    no_gates: bool,
    heal: bool,
    parallelism: int,
) -> None:
    """Run in GitHub Actions: plan and comment on PRs, run /tfops commands, hand over the rest."""
    console: Console = click_ctx.obj.console
    ctx = CiContext(
        event=GithubEvent.from_environ(),
        path=path,
        environments=environments,
        parallelism=parallelism,
        gates=not no_gates,
        heal=heal,
        console=console,
        out=sys.stdout,
    )
    sys.exit(run(ctx))
