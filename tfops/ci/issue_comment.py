"""`issue_comment` events: `/tfops` commands in pull request comments.

tfops acknowledges a command with 👀 and reports with 🚀 or 😕 and a reply. Every command
but help runs the pull request's code with the workflow's secrets, so before anything runs:
the pull request must be open and not from a fork (unless the default branch allows
forks), the commenter must have write access by GitHub's permission API, and the workflow
must have checked out the pull request's head. `/tfops apply` also needs the default
branch's `github.apply_requirements`, applies only a plan equal to the plan tfops showed
for the current head — and refuses when that head was planned after the command was
posted, since the commenter can't have seen it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tfops import gitutil
from tfops.ci.authorize import (
    apply_problems,
    permission_problem,
    pull_request_problem,
)
from tfops.ci.commands import Command, CommandError, first_line, parse_command
from tfops.ci.context import CiContext
from tfops.ci.pull_request import plan_pull_request
from tfops.ci.trust import Trusted, read_default_branch_config, trusted_session
from tfops.errors import ExitCode, TfopsError
from tfops.github.body import BODY_LIMIT, utf16_length
from tfops.github.client import GithubClient
from tfops.pipeline.apply import Change, Planned, apply_change
from tfops.pipeline.merge import MergedPR, reviewed_approver
from tfops.pipeline.outcome import Outcome
from tfops.pipeline.records import Records
from tfops.records.locks import LockHolder, LockInUse, unlock
from tfops.render.markdown import render_template
from tfops.render.output import write_report

OUTPUT_BUDGET = 40_000  # UTF-16 units of output quoted in a reply; the rest is the log


@dataclass
class Reply:
    code: ExitCode
    message: str = ""
    output: str = ""


@dataclass(frozen=True)
class Asked:
    """A command that passed every check, ready to run: who asked what on which head."""

    ctx: CiContext
    trusted: Trusted
    client: GithubClient
    pull: Mapping[str, Any]
    head: str
    command: Command
    comment: dict[str, Any]

    @property
    def number(self) -> int:
        return int(self.pull["number"])


def handle(ctx: CiContext) -> ExitCode:
    """Run the `/tfops` command of an issue_comment event, if there is one."""
    event, console = ctx.event, ctx.console
    comment = event.comment
    number = event.pr_number
    if event.action != "created":
        console.info(f"issue_comment {event.action!r}: tfops only reads new comments.")
        return ExitCode.OK
    if number is None:
        console.info("The comment is on an issue, not a pull request: nothing to do.")
        return ExitCode.OK
    if (comment.get("user") or {}).get("type") == "Bot":
        console.info("The comment is from a bot: nothing to do.")
        return ExitCode.OK
    comment_id = event.comment_id
    if comment_id is None:
        raise TfopsError("the issue_comment event has no comment.id", where="event")
    body = str(comment.get("body") or "")
    login = str((comment.get("user") or {}).get("login") or "someone")
    try:
        command = parse_command(body)
    except CommandError as exc:
        client = ctx.client()
        client.add_reaction(comment_id, "confused")
        reply(client, number, "invalid", login=login, command=first_line(body), problem=str(exc))
        console.info(f"Not a valid tfops command: {exc}")
        return ExitCode.OK
    if command is None:
        console.info("The comment is not a /tfops command: nothing to do.")
        return ExitCode.OK
    client = ctx.client()
    console.step(f"{command.text} from @{login} on pull request #{number}")
    client.add_reaction(comment_id, "eyes")
    if command.verb == "help":
        reply(client, number, "help", login=login)
        return ExitCode.OK
    # Who asked and on what, before anything of the pull request's checkout is read.
    rules = read_default_branch_config(ctx, ctx.default_branch())
    pull = client.pull_request(number)
    association = str(comment.get("author_association") or "NONE")
    problem = (
        pull_request_problem(pull, fork_commands=rules.github.fork_commands)
        or permission_problem(client, login, association)
        or _binding_problem(ctx, command)
    )
    if problem is not None:
        console.warn(f"not running {command.text} for @{login}: {problem}.")
        client.add_reaction(comment_id, "confused")
        reply(client, number, "refused", login=login, verb=command.verb, problem=problem)
        return ExitCode.OK
    trusted = trusted_session(ctx, trusted_config=rules)
    session = trusted.session
    if event.token:
        session.masker.add_values([event.token])
    try:
        head = _checked_out_head(ctx, pull, number)
        asked = Asked(ctx, trusted, client, pull, head, command, comment)
        result = RUNNERS[command.verb](asked)
    except TfopsError as exc:
        result = Reply(ExitCode(exc.exit_code), str(exc))
    client.add_reaction(comment_id, "rocket" if result.code == ExitCode.OK else "confused")
    if command.verb != "plan" or result.code not in (ExitCode.OK, ExitCode.GATES_FAILED):
        reply(
            client,
            number,
            "result",
            ok=result.code == ExitCode.OK,
            verb=command.verb,
            environments=command.environments,
            commit=gitutil.head_commit(session.repo.root),
            run_url=event.run_url,
            message=session.masker(result.message),
            output=_capped(session.masker(result.output)),
            mask=session.masker,
        )
    return result.code


def _binding_problem(ctx: CiContext, command: Command) -> str | None:
    """An apply runs only in the job bound to its environment (`tfops ci -e ENV`, in a job
    with `environment: ENV`), so GitHub's environment protection always stands in front."""
    if command.verb != "apply" or command.environments[0] in ctx.environments:
        return None
    return (
        f"can't run in this job: applying {command.environments[0]} runs only in the job of "
        "that GitHub environment (`tfops ci -e ENV`; see .github/examples/commands.yml)"
    )


def _checked_out_head(ctx: CiContext, pull: Mapping[str, Any], number: int) -> str:
    """The PR's head commit, after making sure that is what the workflow checked out."""
    head = str((pull.get("head") or {}).get("sha") or "")
    checked_out = gitutil.head_commit(ctx.path)
    if not head or checked_out != head:
        raise TfopsError(
            f"the workflow checked out {str(checked_out)[:12]}, not the head of pull request "
            f"#{number} ({head[:12]}): it may have moved since",
            hint=f"check out `refs/pull/{number}/head` (see .github/examples/commands.yml), "
            "and comment again",
        )
    return head


def _plan(asked: Asked) -> Reply:
    code = plan_pull_request(
        asked.ctx,
        asked.number,
        head_sha=asked.head,
        pull=asked.pull,
        draft=bool(asked.pull.get("draft")),
        requested=asked.command.environments,
        trusted=asked.trusted,
    )
    return Reply(code)


def _apply(asked: Asked) -> Reply:
    session, number, head = asked.trusted.session, asked.number, asked.head
    requirements = session.config.github.apply_requirements
    problems = apply_problems(asked.client, asked.pull, requirements)
    if problems:
        return Reply(
            ExitCode.ERROR,
            f"#{number} can't be applied before merge: " + "; ".join(problems) + ".",
        )
    (env,) = asked.command.environments
    session.select([env])
    records = Records.open(session)
    kept = records.store.records(repo=records.repo, pr=number, environment=env, kind="plan")
    of_head = [r for r in kept if r.commit == head]
    if not of_head:
        return Reply(
            ExitCode.ERROR,
            f"tfops has shown no plan of {env} for the head {head[:12]} of #{number}, so there "
            f"is nothing reviewed to apply. Comment `/tfops plan -e {env}`, read the plan, and "
            "ask again.",
        )
    posted = _when(asked.comment.get("created_at"))
    if posted is None:
        raise TfopsError("the issue_comment event has no comment.created_at", where="event")
    if all(r.created_at > posted for r in of_head):
        return Reply(
            ExitCode.ERROR,
            f"the head {head[:12]} of #{number} was first planned after this command was "
            "posted: the pull request moved since, and you can't have seen that plan. Read the "
            "new plan and ask again.",
        )
    record = of_head[-1]
    reviewed = {env: [records.store.get(record.key).plan_json]}
    prs_of = {env: [MergedPR(number, head, head)]}
    login = str((asked.comment.get("user") or {}).get("login") or "")
    out = io.StringIO()

    def show(planned: Planned) -> None:
        report = session.report([planned.run], planned.environments)
        report.notes = [planned.note] if planned.note else []
        write_report(report, "text", out, color=False, masker=session.masker)

    text: list[str] = []
    code = ExitCode.OK
    for root in session.roots_for(session.select([env])):
        change = Change(
            root,
            [env],
            "comment",
            head,
            LockHolder.for_run(pr=number, who=login or None),
            pr=number,
            gates=asked.ctx.gates,
            take_over=frozenset({f"pr-{number}"}),
            hand_back=True,
            check_worktree=False,
        )
        outcome = apply_change(
            session,
            records,
            change,
            reviewed_approver(session, reviewed, prs_of, now=f"the plan of {head[:12]} now"),
            on_planned=show,
        )
        if outcome.outcome is Outcome.APPLIED:
            text.append(f"Applied {env}: {outcome.changes.get(env, '')}.")
        elif outcome.outcome is Outcome.NO_CHANGES:
            text.append(f"No changes in {env}. Nothing to apply.")
        else:
            text.append(f"{env}: {outcome.outcome}. {outcome.detail}")
            code = outcome.outcome.exit_code
    return Reply(code, "\n".join(text), out.getvalue())


def _unlock(asked: Asked) -> Reply:
    session = asked.trusted.session
    (env,) = asked.command.environments
    session.select([env])
    try:
        released = unlock(Records.open(session).locks, env)
    except LockInUse as exc:  # an apply is running: breaking its lock would let another in
        return Reply(ExitCode.ERROR, exc.message)
    if released is None:
        return Reply(ExitCode.OK, f"{env} was not locked.")
    return Reply(ExitCode.OK, f"Released the lock on {env}: {released.describe()}.")


RUNNERS = {"plan": _plan, "apply": _apply, "unlock": _unlock}


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def reply(client: GithubClient, number: int, kind: str, **context: Any) -> None:
    body = render_template("command.md.j2", kind=kind, **context)
    if utf16_length(body) > BODY_LIMIT and context.get("output"):
        context["output"] = _capped(str(context["output"]), OUTPUT_BUDGET // 4)
        body = render_template("command.md.j2", kind=kind, **context)
    client.create_comment(number, body)


def _capped(text: str, budget: int = OUTPUT_BUDGET) -> str:
    """The end of `text` within `budget` UTF-16 units (the end has the outcome)."""
    if utf16_length(text) <= budget:
        return text
    kept = text[-budget // 2 :]
    while utf16_length(kept) > budget - 2:
        kept = kept[len(kept) // 10 :]
    return "…\n" + kept
