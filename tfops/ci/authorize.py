"""Who may run what on a pull request, and what an apply before merge needs.

Only GitHub's collaborator permission API grants: `admin`, `maintain` and `write` (a custom
role reports the permission of its base role). A comment's `author_association` says how
someone relates to the repository, not what they may do — it is used only to refuse
without asking. An apply before merge also needs the open, non-draft pull request to meet
the default branch's `github.apply_requirements` on its current head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfops.github.client import GithubClient
from tfops.github.shapes import Review

WRITE_PERMISSIONS = ("admin", "maintain", "write")
# Associations that can't come with write access: refused without asking the API.
NEVER_WRITE = ("NONE", "FIRST_TIMER", "FIRST_TIME_CONTRIBUTOR", "MANNEQUIN")


def permission_problem(client: GithubClient, login: str, association: str) -> str | None:
    """None when `login` has write access; else why not, to finish "`/tfops apply` …"."""
    if association in NEVER_WRITE:
        access = "no access (you are not a collaborator)"
    else:
        permission = client.permission(login)
        if permission in WRITE_PERMISSIONS:
            return None
        access = f"{permission} access"
    return f"needs write access to this repository, and you have {access}"


def pull_request_problem(pull: Mapping[str, Any], *, fork_commands: bool) -> str | None:
    """Why no command may run on this pull request at all, or None."""
    if pull.get("state") != "open":
        merged = " and merged" if pull.get("merged") else ""
        return f"can't run: the pull request is closed{merged}, and tfops acts only on open ones"
    head_repo = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
    base_repo = ((pull.get("base") or {}).get("repo") or {}).get("full_name")
    if head_repo != base_repo and not fork_commands:
        fork = head_repo or "a deleted repository"
        return (
            f"can't run: the pull request comes from a fork ({fork}), whose code would run "
            "with this repository's secrets (`github.fork_commands: true` on the default "
            "branch allows it)"
        )
    return None


def apply_problems(
    client: GithubClient,
    pull: Mapping[str, Any],
    requirements: Sequence[str],
) -> list[str]:
    """What keeps this open pull request from being applied before merge."""
    problems = []
    number = int(pull["number"])
    head = str((pull.get("head") or {}).get("sha") or "")
    if pull.get("draft"):
        problems.append("it is a draft: mark it ready for review first")
    if "approved" in requirements and not _approved(client, number, pull, head):
        problems.append(
            f"it needs an approving review of its current head {head[:12]} by someone other "
            "than its author who has write access"
        )
    if "mergeable" in requirements:
        state = pull.get("mergeable_state")
        if pull.get("mergeable") is not True or state not in ("clean", "has_hooks", "unstable"):
            problems.append(
                f"GitHub does not consider it mergeable (mergeable_state: {state or 'unknown'}): "
                "required checks and branch protection must pass"
            )
    return problems


def _approved(client: GithubClient, number: int, pull: Mapping[str, Any], head: str) -> bool:
    author = str((pull.get("user") or {}).get("login") or "")
    latest: dict[str, Review] = {}
    for review in client.pull_request_reviews(number):
        user = review["user"]
        login = user["login"] if user else ""
        if review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[login] = review  # oldest first: each reviewer's last word counts
    for login, review in latest.items():
        if (
            review.get("state") == "APPROVED"
            and review.get("commit_id") == head
            and login
            and login != author
            and client.permission(login) in WRITE_PERMISSIONS
        ):
            return True
    return False
