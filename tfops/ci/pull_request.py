"""`pull_request` events: gates and plan of what the pull request affects, one sticky comment.

opened / synchronize / reopened / ready_for_review: plan the affected environments, keep
the plans for the merge, take the environments' locks (drafts are planned but take none),
and update tfops's comment. converted_to_draft and closed: release the PR's locks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from tfops import __version__
from tfops.ci.context import CiContext
from tfops.ci.trust import Trusted, trusted_session
from tfops.errors import ExitCode, TfopsError
from tfops.github.client import MAX_PR_FILES
from tfops.github.errors import FileListTruncated, GithubError, GithubForbidden
from tfops.github.event import GithubEvent
from tfops.github.identity import authored_by, own_login
from tfops.modules.inventory import build_inventory
from tfops.pipeline.review import lock_pr_environments, record_pr_plans, release_pr_environments
from tfops.pipeline.session import RootRun, Session
from tfops.render import Report
from tfops.render.annotations import workflow_commands
from tfops.render.comment import COMMENT_BUDGET, SUMMARY_BUDGET, marker, render_report
from tfops.render.output import write_report
from tfops.terraform import process

PLAN_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")
RELEASE_ACTIONS = ("closed", "converted_to_draft")


def handle(ctx: CiContext) -> ExitCode:
    number, action = ctx.event.pr_number, ctx.event.action
    if number is None:
        raise TfopsError("the pull_request event has no pull request number", where="event")
    if action == "closed" and ctx.event.pull_request.get("merged"):
        ctx.console.info(
            f"Pull request #{number} was merged: its locks stay until apply on merge has "
            "applied it (the push to the default branch releases them)."
        )
        return ExitCode.OK
    if action in RELEASE_ACTIONS:
        trusted = trusted_session(ctx)
        released = release_pr_environments(trusted.session, number)
        what = {"closed": "closed", "converted_to_draft": "turned into a draft"}[action]
        ctx.console.info(
            f"Pull request #{number} was {what}: released the locks of "
            f"{', '.join(released) or 'no environment'}."
        )
        return ExitCode.OK
    if action not in PLAN_ACTIONS:
        ctx.console.info(
            f"pull_request {action!r}: nothing to do (tfops plans on {', '.join(PLAN_ACTIONS)})."
        )
        return ExitCode.OK
    pull = ctx.event.pull_request
    return plan_pull_request(
        ctx, number, head_sha=ctx.event.head_sha, pull=pull, draft=bool(pull.get("draft"))
    )


def plan_pull_request(
    ctx: CiContext,
    number: int,
    *,
    head_sha: str | None,
    pull: Mapping[str, Any],
    draft: bool,
    requested: tuple[str, ...] = (),
    trusted: Trusted | None = None,
) -> ExitCode:
    """Gates and plan of the environments PR `number` affects (or exactly `requested`)."""
    trusted = trusted or trusted_session(ctx)
    session = trusted.session
    if ctx.event.token:
        session.masker.add_values([ctx.event.token])
    notes: list[str] = []
    if requested:
        names = [e.name for e in session.select(requested)]
        why = "as requested"
    else:
        changed, note = changed_files(ctx, number, pull)
        if note:
            notes.append(note)
        names = (
            session.repo.affected_environments(changed)
            if changed is not None
            else list(session.repo.environments)
        )
        if ctx.environments:
            wanted = {e.name for e in session.select(ctx.environments)}
            names = [n for n in names if n in wanted]
        why = (
            f"affected by the {len(changed)} changed file(s) in {session.repo.root.name}"
            if changed is not None
            else "(every environment: the changed files could not all be listed)"
        )
    ctx.console.step(
        f"Pull request #{number}: {', '.join(names) or 'no environment'} {why}"
        + (f" (terraform {session.binary.version})" if names else "")
    )
    envs = session.select(names) if names else []
    runs = session.run_roots(
        session.roots_for(envs), names, gates=ctx.gates, parallelism=ctx.parallelism
    )
    report = session.report(runs, names)
    report.notes += notes
    keep_for_merge(session, runs, number, head_sha, names, report, draft=draft)
    report.commit = head_sha or report.commit
    report.run_url = ctx.event.run_url
    pinned_modules(session, names, report)
    if trusted.changed:
        report.notes.append(
            "This pull request changes settings that decide who may do what: "
            + ", ".join(f"`{s}`" for s in trusted.changed)
            + f". They take effect after it merges; this plan used {trusted.source}'s."
        )
    if not names:
        report.notes.append("No environment is affected by the files this pull request changes.")
    key = ":".join(p for p in (ctx.checkout_prefix().rstrip("/"), ",".join(requested)) if p)
    publish(ctx, session, report, number, marker(key), names)
    for run in runs:
        run.discard()
    if report.gates_failed:
        ctx.console.error("gates failed; not planned. The findings are in the report.")
        return ExitCode.GATES_FAILED
    if report.summary.errored:
        ctx.console.error("terraform plan failed; its error is in the report.")
        return ExitCode.ERROR
    return ExitCode.OK


def changed_files(
    ctx: CiContext, number: int, pull: Mapping[str, Any]
) -> tuple[list[str] | None, str | None]:
    """The files the PR changes, relative to the environments repo; None when they can't all
    be known (then every environment is planned: never less than the PR touches)."""
    try:
        return ctx.repo_files(ctx.client().pull_request_files(number)), None
    except FileListTruncated:
        pass
    base = str((pull.get("base") or {}).get("sha") or "")
    head = str((pull.get("head") or {}).get("sha") or "")
    diffed = process.run(
        ["git", "diff", "--name-only", "--no-renames", "--relative", f"{base}...{head}"],
        cwd=ctx.path,
    )
    if base and head and diffed.returncode == 0:
        names = diffed.stdout.split()
        return names, (
            f"GitHub lists at most {MAX_PR_FILES:,} files of a pull request; tfops read the "
            f"{len(names):,} changed files from git instead."
        )
    return None, (
        f"GitHub lists at most {MAX_PR_FILES:,} files of a pull request and the base commit is "
        "not in this checkout (`fetch-depth: 0` helps), so tfops planned every environment."
    )


def keep_for_merge(
    session: Session,
    runs: list[RootRun],
    number: int,
    head_sha: str | None,
    names: list[str],
    report: Report,
    *,
    draft: bool,
) -> None:
    """Keep the reviewed plans for apply on merge, and take the PR's environment locks
    (a draft takes none: it is not up for review yet)."""
    planned = [n for n in names if report.summary.environments.get(n) and not report.gates_failed]
    if head_sha and planned:
        record_pr_plans(session, runs, number, head_sha, planned)
    if draft:
        report.notes.append(
            "This pull request is a draft: it is planned, but takes no environment locks and "
            "can't be applied until it is ready for review."
        )
        return
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
    """Edit tfops's own comment in place or create it. Only a comment tfops wrote counts:
    anyone can post a comment carrying the marker, and edit it later into a forged plan."""
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
    mine = authored_by(own_login(client, session.config.github.bot_login))
    existing = next(
        (
            c
            for c in client.issue_comments(number)
            if (c.get("body") or "").startswith(key) and mine(c)
        ),
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
