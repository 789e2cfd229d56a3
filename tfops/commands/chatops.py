"""`/tfops …` commands in pull request comments, run by `tfops ci` on issue_comment events.

    /tfops plan [-e ENV]...    /tfops apply -e ENV    /tfops unlock -e ENV    /tfops help

tfops acknowledges a command with a 👀 reaction, and reports the outcome with 🚀 or 😕 and,
where there is something to say, a reply. `plan`, `apply` and `unlock` run the PR's code
with the workflow's secrets, so they need write access: the commenter's association is in
`github.apply_roles`, or the permission API says write, maintain or admin.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from tfops import gitutil
from tfops.commands import apply as apply_command
from tfops.commands.ci import CiContext, plan_pull_request
from tfops.errors import ExitCode, TfopsError
from tfops.github.client import GithubClient
from tfops.pipeline.session import Session
from tfops.render.markdown import render_template

PREFIX = "/tfops"
VERBS = ("plan", "apply", "unlock", "help")
ONE_ENVIRONMENT = ("apply", "unlock")
WRITE_PERMISSIONS = ("admin", "maintain", "write")
MAX_OUTPUT_CHARS = 50_000
_ENV_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class CommandError(ValueError):
    """A `/tfops` comment tfops can't run as written."""


@dataclass(frozen=True)
class Command:
    verb: str
    environments: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join([PREFIX, self.verb, *(f"-e {e}" for e in self.environments)])


def parse_command(body: str) -> Command | None:
    """The command on the comment's first line; None when the comment is not a command."""
    first = body.strip().splitlines()[0] if body.strip() else ""
    words = first.split()
    if not words or words[0] != PREFIX:
        return None
    if len(words) == 1:
        return Command("help")
    verb, args = words[1], words[2:]
    if verb not in VERBS:
        raise CommandError(f"there is no command {verb!r}; use one of {', '.join(VERBS)}")
    envs: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-e", "--env"):
            index += 1
            if index == len(args):
                raise CommandError(f"{arg} needs an environment name")
            envs.append(args[index])
        elif arg.startswith("--env="):
            envs.append(arg.removeprefix("--env="))
        elif arg.startswith("-e") and len(arg) > 2:
            envs.append(arg[2:])
        else:
            raise CommandError(f"unexpected {arg!r}; environments are given as `-e ENV`")
        index += 1
    bad = [e for e in envs if not _ENV_NAME.fullmatch(e)]
    if bad:
        raise CommandError(f"{bad[0]!r} is not an environment name")
    if verb == "help" and envs:
        raise CommandError("help takes no environment")
    if verb in ONE_ENVIRONMENT and len(envs) != 1:
        raise CommandError(f"{verb} needs exactly one environment: `{PREFIX} {verb} -e ENV`")
    return Command(verb, tuple(envs))


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
    body = str(comment.get("body") or "")
    login = str((comment.get("user") or {}).get("login") or "someone")
    try:
        command = parse_command(body)
    except CommandError as exc:
        client = ctx.client()
        client.add_reaction(int(comment["id"]), "confused")
        first_line = body.strip().splitlines()[0]
        reply(client, number, "invalid", login=login, command=first_line, problem=str(exc))
        console.info(f"Not a valid tfops command: {exc}")
        return ExitCode.OK
    if command is None:
        console.info("The comment is not a /tfops command: nothing to do.")
        return ExitCode.OK
    client = ctx.client()
    comment_id = int(comment["id"])
    console.step(f"{command.text} from @{login} on pull request #{number}")
    client.add_reaction(comment_id, "eyes")
    if command.verb == "help":
        reply(client, number, "help", login=login)
        return ExitCode.OK
    session = Session.open(ctx.path, ctx.console)
    if ctx.event.token:
        session.masker.add_values([ctx.event.token])
    association = str(comment.get("author_association") or "NONE")
    permission = _permission(client, session, login, association)
    if permission is not None:
        console.warn(f"@{login} may not run {command.text} ({permission} access).")
        client.add_reaction(comment_id, "confused")
        reply(
            client,
            number,
            "refused",
            login=login,
            verb=command.verb,
            permission=permission,
            association=association,
        )
        return ExitCode.OK
    code, message, output = RUNNERS[command.verb](ctx, session, client, number, command)
    client.add_reaction(comment_id, "rocket" if code == ExitCode.OK else "confused")
    if command.verb != "plan" or code not in (ExitCode.OK, ExitCode.GATES_FAILED):
        reply(
            client,
            number,
            "result",
            ok=code == ExitCode.OK,
            verb=command.verb,
            environments=command.environments,
            commit=gitutil.head_commit(session.repo.root),
            run_url=event.run_url,
            message=session.masker(message),
            output=_capped(session.masker(output)),
        )
    return code


def _permission(client: GithubClient, session: Session, login: str, association: str) -> str | None:
    """None when `login` may run write commands; else the access they have."""
    if association in session.config.github.apply_roles:
        return None
    permission = client.permission(login)
    return None if permission in WRITE_PERMISSIONS else permission


Outcome = tuple[ExitCode, str, str]  # exit code, message, captured output


def _checked_out(session: Session, client: GithubClient, number: int) -> str:
    """The PR's head commit, after making sure that is what the workflow checked out."""
    pull = client.pull_request(number)
    head = str((pull.get("head") or {}).get("sha") or "")
    repo = gitutil.open_repo(session.repo.root)
    commit = repo.head.commit if repo is not None else None
    if commit is None or head not in (commit.hexsha, *(p.hexsha for p in commit.parents)):
        raise TfopsError(
            f"the workflow checked out {commit.hexsha[:12] if commit else 'no commit'}, "
            f"not the head of pull request #{number} ({head[:12]})",
            hint=f"check out `refs/pull/{number}/head` (see .github/examples/commands.yml)",
        )
    return head


def _plan(
    ctx: CiContext, session: Session, client: GithubClient, number: int, command: Command
) -> Outcome:
    try:
        head = _checked_out(session, client, number)
        code = plan_pull_request(
            ctx, number, head_sha=head, requested=command.environments, session=session
        )
    except TfopsError as exc:
        return ExitCode(exc.exit_code), str(exc), ""
    return code, "", ""


def _apply(
    ctx: CiContext, session: Session, client: GithubClient, number: int, command: Command
) -> Outcome:
    out = io.StringIO()
    try:
        _checked_out(session, client, number)
        code = apply_command.run(
            ctx.path,
            environments=command.environments,
            auto_approve=True,
            gates=ctx.gates,
            console=ctx.console,
            out=out,
            color=False,
            pr=number,
            trigger="comment",
        )
    except TfopsError as exc:
        return ExitCode(exc.exit_code), str(exc), out.getvalue()
    message = "" if code == ExitCode.OK else "See the output below and the workflow run's log."
    return code, message, out.getvalue()


def _unlock(
    ctx: CiContext, session: Session, client: GithubClient, number: int, command: Command
) -> Outcome:
    from tfops.records.locks import open_locks

    (env,) = command.environments
    try:
        session.select([env])
        released = open_locks(session.config, session.repo.root).break_lock(env)
    except TfopsError as exc:
        return ExitCode(exc.exit_code), str(exc), ""
    if released is None:
        return ExitCode.OK, f"{env} was not locked.", ""
    return ExitCode.OK, f"Released the lock on {env}: {released.describe()}.", ""


RUNNERS = {"plan": _plan, "apply": _apply, "unlock": _unlock}


def reply(client: GithubClient, number: int, kind: str, **context: Any) -> None:
    client.create_comment(number, render_template("command.md.j2", kind=kind, **context))


def _capped(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return "…\n" + text[-MAX_OUTPUT_CHARS:]
