"""`tfops ci`: one entrypoint for GitHub Actions; the event says what to do.

- pull_request: gates and plan of what the pull request affects, the sticky comment;
- issue_comment: a `/tfops …` command;
- push to the default branch: apply on merge;
- schedule, workflow_dispatch: drift checks (and heals where the default branch says so);
- anything else: nothing, said plainly.
"""

from __future__ import annotations

from collections.abc import Callable

from tfops.ci import issue_comment, pull_request, push, schedule
from tfops.ci.commands import Command, CommandError, parse_command
from tfops.ci.context import CiContext
from tfops.errors import ExitCode

Handler = Callable[[CiContext], ExitCode]

HANDLERS: dict[str, Handler] = {
    "pull_request": pull_request.handle,
    "issue_comment": issue_comment.handle,
    "push": push.handle,
    "schedule": schedule.handle,
    "workflow_dispatch": schedule.handle,
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


def route(ctx: CiContext) -> ExitCode:
    """For a workflow's first job: which `/tfops` command a comment holds, as step outputs
    `command` (plan|apply|unlock|help|none) and `environment`, so the apply job can run in
    that environment's GitHub environment and concurrency group. Only routing: the job that
    runs the command checks who asked, and everything else, again."""
    command = None
    if ctx.event.name == "issue_comment" and ctx.event.action == "created":
        try:
            command = parse_command(str(ctx.event.comment.get("body") or ""))
        except CommandError:  # the command job replies what was not understood
            command = Command("help")
    verb = command.verb if command else "none"
    environment = command.environments[0] if command and len(command.environments) == 1 else ""
    ctx.console.info(f"command={verb} environment={environment or '-'}")
    if ctx.event.output is not None:
        with ctx.event.output.open("a", encoding="utf-8") as handle:
            handle.write(f"command={verb}\nenvironment={environment}\n")
    return ExitCode.OK
