"""The language of `/tfops` in Slack: what people type in a deployment channel.

    /tfops plan ENV        /tfops apply ENV   (also: deploy ENV, deploy to ENV)
    /tfops status [ENV]    /tfops drift [ENV]    /tfops unlock ENV    /tfops help

Words are case-insensitive, and an environment may be named by a common long form:
"Deploy production" deploys `prod` when the repo has a `prod` (and no `production`).
Nothing typed is trusted: environment words must look like environment names before
anything else sees them, and an error quotes at most a short word back.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

VERBS = {
    "plan": "plan",
    "apply": "apply",
    "deploy": "apply",
    "status": "status",
    "drift": "drift",
    "unlock": "unlock",
    "help": "help",
}
NEEDS_ENVIRONMENT = ("plan", "apply", "unlock")
MAY_NAME_ENVIRONMENT = ("status", "drift")
# Names people use for the same environment. A word resolves to the repo's environment of
# its group only when exactly one of the group is in the repo.
ALIASES = (
    ("prod", "production", "prd"),
    ("dev", "development", "develop"),
    ("staging", "stage", "stg"),
    ("test", "testing", "tst"),
    ("uat", "acceptance"),
    ("preprod", "pre-prod", "pre-production", "preproduction"),
    ("sandbox", "sbx"),
    ("int", "integration"),
    ("qa", "quality"),
)
ENVIRONMENT_WORD = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAX_TEXT = 200  # nobody types a longer command
QUOTED = 40  # characters of a bad word quoted back


class ChatCommandError(ValueError):
    """Text that is not a command tfops runs; the message says what would be."""


@dataclass(frozen=True)
class ChatCommand:
    verb: str  # plan | apply | status | drift | unlock | help
    environment: str | None = None  # as typed, lower-cased; `resolve` names the repo's
    typed: str = ""  # the verb as typed ("deploy")

    @property
    def text(self) -> str:
        return " ".join(w for w in ("/tfops", self.typed or self.verb, self.environment) if w)


def parse(text: str) -> ChatCommand:
    """`text` after `/tfops` as a command; an empty text asks for help."""
    if len(text) > MAX_TEXT:
        raise ChatCommandError(f"that is {len(text)} characters; a command is a few words")
    words = [w.strip(".,!?;:\"'`*_~").lower() for w in text.split()]
    words = [w for w in words if w]
    if not words:
        return ChatCommand("help")
    typed, rest = words[0], words[1:]
    verb = VERBS.get(typed)
    if verb is None:
        raise ChatCommandError(f"there is no command {_quote(typed)}")
    if verb == "apply" and rest[:1] == ["to"]:
        rest = rest[1:]  # "deploy to production"
    if rest[:1] in (["-e"], ["--env"]):
        rest = rest[1:]  # as in pull request comments: "apply -e prod"
    if len(rest) > 1:
        raise ChatCommandError(f"unexpected {_quote(rest[1])}: {_usage(verb, typed)}")
    environment = rest[0] if rest else None
    if environment is not None and verb not in (*NEEDS_ENVIRONMENT, *MAY_NAME_ENVIRONMENT):
        raise ChatCommandError(f"{typed} takes no environment")
    if environment is None and verb in NEEDS_ENVIRONMENT:
        raise ChatCommandError(f"{typed} needs an environment: {_usage(verb, typed)}")
    if environment is not None and not ENVIRONMENT_WORD.fullmatch(environment):
        raise ChatCommandError(f"{_quote(environment)} is not an environment name")
    return ChatCommand(verb, environment, typed)


def resolve(word: str, environments: Collection[str]) -> str:
    """The repo's environment `word` names: itself, or the one of its alias group."""
    if word in environments:
        return word
    group = next((g for g in ALIASES if word in g), ())
    candidates = [name for name in environments if name in group]
    if len(candidates) == 1:
        return candidates[0]
    known = ", ".join(sorted(environments)) or "none"
    if candidates:
        raise ChatCommandError(
            f"{_quote(word)} could be {' or '.join(candidates)}; name one of: {known}"
        )
    raise ChatCommandError(f"there is no environment {_quote(word)}; the environments: {known}")


def _usage(verb: str, typed: str) -> str:
    if verb in NEEDS_ENVIRONMENT:
        return f"/tfops {typed} ENV"
    if verb in MAY_NAME_ENVIRONMENT:
        return f"/tfops {typed} [ENV]"
    return f"/tfops {typed}"


def _quote(word: str) -> str:
    return repr(word if len(word) <= QUOTED else word[: QUOTED - 1] + "…")
