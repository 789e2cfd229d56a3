"""The `/tfops …` command language of pull request comments.

    /tfops plan [-e ENV]...    /tfops apply -e ENV    /tfops unlock -e ENV    /tfops help

Only the comment's first line is read. Environment names are validated before anything
else sees them (they reach workflow outputs and log lines), and nothing of an invalid
command is echoed back but its first line, capped and shown as code.
"""

from __future__ import annotations

from dataclasses import dataclass

from tfops.config import ENVIRONMENT_NAME

PREFIX = "/tfops"
VERBS = ("plan", "apply", "unlock", "help")
ONE_ENVIRONMENT = ("apply", "unlock")
MAX_LINE = 1000  # a first line longer than this is not a command anyone typed


class CommandError(ValueError):
    """A `/tfops` comment tfops can't run as written."""


@dataclass(frozen=True)
class Command:
    verb: str
    environments: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join([PREFIX, self.verb, *(f"-e {e}" for e in self.environments)])


def first_line(body: str) -> str:
    stripped = body.strip()
    return stripped.splitlines()[0] if stripped else ""


def parse_command(body: str) -> Command | None:
    """The command on the comment's first line; None when the comment is not a command."""
    line = first_line(body)
    words = line.split()
    if not words or words[0] != PREFIX:
        return None
    if len(line) > MAX_LINE:
        raise CommandError(f"the command line is {len(line)} characters long")
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
            raise CommandError(f"unexpected {arg!r}; environments are given as -e ENV")
        index += 1
    bad = [e for e in envs if not ENVIRONMENT_NAME.fullmatch(e)]
    if bad:
        raise CommandError(f"{bad[0]!r} is not an environment name")
    if verb == "help" and envs:
        raise CommandError("help takes no environment")
    if verb in ONE_ENVIRONMENT and len(envs) != 1:
        raise CommandError(f"{verb} needs exactly one environment, as in {PREFIX} {verb} -e ENV")
    return Command(verb, tuple(dict.fromkeys(envs)))
