"""`/tfops` commands as a hostile contributor would try them.

What grants power comes from the default branch, never from the pull request; only the
permission API grants write; closed, draft, fork and moved pull requests are refused; and
nothing a commenter writes is echoed back live.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from tests.actions import Actions, comment_event, pr_event, tfops_comments
from tests.github_api import FakeGithub
from tests.helpers import commit, git

EVIL_CONFIG = """version: 1
environments:
  global: {}
  dev: {}
  prod:
    pinned: false
    apply: auto
terraform:
  binary: {script}
github:
  apply_requirements: []
  fork_commands: true
mask:
  - dfp_live_[0-9a-f]+
"""
EVIL_SCRIPT = '#!/bin/sh\ntouch "$(dirname "$0")/PWNED"\nexec terraform "$@"\n'


def on_branch(repo: Path, files: dict[str, str], message: str = "PR") -> str:
    """A pull request's head: a commit on a branch; main stays where it was."""
    git(repo, "checkout", "-q", "-b", f"pr-{abs(hash(message)) % 10_000}")
    sha = commit(repo, files, message)
    return sha


def run_comment(
    actions: Actions,
    api: FakeGithub,
    repo: Path,
    number: int,
    body: str,
    login: str,
    association: str = "COLLABORATOR",
    *args: str,
) -> tuple[Any, str]:
    posted = api.add_comment(number, body, login=login)
    result = actions.run(
        "issue_comment",
        comment_event(number, posted["id"], body, login, association),
        repo,
        *args,
    )
    reply = api.comments_on(number)[-1]["body"]
    return result, reply


def test_a_pull_request_cannot_grant_itself_a_terraform_binary_or_looser_rules(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    script = sandbox / "evil.sh"
    config = EVIL_CONFIG.replace("{script}", str(script))
    head = on_branch(sandbox, {"tfops.yaml": config, "evil.sh": EVIL_SCRIPT}, "evil")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    api.add_pull(31, head, ["tfops.yaml", "evil.sh"])
    api.permissions["alice"] = "write"

    result, _ = run_comment(actions, api, sandbox, 31, "/tfops plan", "alice")

    assert result.exit_code == 0, result.output
    assert not (sandbox / "PWNED").exists()  # main's terraform.binary, not the PR's
    (plan,) = tfops_comments(api, 31)
    body = plan["body"]
    assert "changes settings that decide who may do what" in body
    for setting in ("terraform.binary", "github.apply_requirements", "environments.prod.apply"):
        assert f"`{setting}`" in body
    assert "They take effect after it merges; this plan used main's." in body
    # prod stays pinned on this run: the PR's `pinned: false` does not count yet
    assert "#### Pinned modules" in body


def test_an_association_is_not_a_permission(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    api.add_pull(32, git(sandbox, "rev-parse", "HEAD"), ["dev_dns.tf"])
    api.permissions.update(member="triage", reader="read")
    for login, association in (("member", "MEMBER"), ("reader", "OWNER")):
        result, reply = run_comment(
            actions, api, sandbox, 32, "/tfops apply -e dev", login, association, "-e", "dev"
        )
        assert result.exit_code == 0, result.output
        assert reply.startswith(f"Sorry @{login}, `/tfops apply` needs write access")
        assert api.calls("GET", rf"/collaborators/{login}/permission$")
    assert not (sandbox / "terraform.tfstate").exists()


def test_a_custom_role_based_on_write_may_run_commands(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    api.add_pull(33, git(sandbox, "rev-parse", "HEAD"), ["dev_dns.tf"])
    api.permissions["deployer"] = "write"  # the fake answers role_name = permission
    result, _ = run_comment(actions, api, sandbox, 33, "/tfops plan -e dev", "deployer")
    assert result.exit_code == 0, result.output
    assert tfops_comments(api, 33)


@pytest.mark.parametrize("state", ["closed", "merged"])
def test_a_closed_pull_request_runs_nothing(
    sandbox: Path, actions: Actions, api: FakeGithub, state: str
) -> None:
    pull = api.add_pull(34, git(sandbox, "rev-parse", "HEAD"), ["dev_dns.tf"])
    pull.state = "closed"
    if state == "merged":
        pull.merge_sha = pull.head_sha
    api.permissions["alice"] = "admin"
    result, reply = run_comment(
        actions, api, sandbox, 34, "/tfops apply -e dev", "alice", "OWNER", "-e", "dev"
    )
    assert result.exit_code == 0
    assert "the pull request is closed" in reply
    assert not (sandbox / "terraform.tfstate").exists()


def test_a_draft_is_planned_without_locks_and_never_applied(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    pull = api.add_pull(35, sha, ["dev_dns.tf"])
    pull.draft = True
    event = pr_event(35, sha)
    event["pull_request"]["draft"] = True
    planned = actions.run("pull_request", event, sandbox)
    assert planned.exit_code == 0, planned.output
    assert (
        "is a draft: it is planned, but takes no environment locks"
        in (tfops_comments(api, 35)[0]["body"])
    )
    assert not list((sandbox / ".tfops/locks").glob("*.json"))

    api.permissions.update(alice="admin", bob="write")
    api.add_review(pull.number, "bob")
    result, reply = run_comment(
        actions, api, sandbox, 35, "/tfops apply -e dev", "alice", "OWNER", "-e", "dev"
    )
    assert result.exit_code == 1
    assert "it is a draft: mark it ready for review first" in reply
    assert not (sandbox / "terraform.tfstate").exists()


@pytest.mark.parametrize(
    "review",
    ["none", "by the author", "of an older head", "by a reader", "changes requested after"],
)
def test_apply_before_merge_needs_an_approval_of_the_head_by_another_writer(
    sandbox: Path, actions: Actions, api: FakeGithub, review: str
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    pull = api.add_pull(36, sha, ["global_monitoring.tf"])
    pull.author = "alice"
    api.permissions.update(alice="admin", bob="write", rita="read")
    assert actions.run("pull_request", pr_event(36, sha), sandbox).exit_code == 0
    if review == "by the author":
        api.add_review(pull.number, "alice")
    elif review == "of an older head":
        api.add_review(pull.number, "bob", commit_id="a" * 40)
    elif review == "by a reader":
        api.add_review(pull.number, "rita")
    elif review == "changes requested after":
        api.add_review(pull.number, "bob")
        api.add_review(pull.number, "bob", "CHANGES_REQUESTED")

    result, reply = run_comment(
        actions, api, sandbox, 36, "/tfops apply -e global", "alice", "OWNER", "-e", "global"
    )

    assert result.exit_code == 1, result.output
    assert "needs an approving review of its current head" in reply
    assert not (sandbox / "terraform.tfstate").exists()


def test_a_head_planned_after_the_command_was_posted_is_not_applied(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    first = git(sandbox, "rev-parse", "HEAD")
    pull = api.add_pull(37, first, ["global_monitoring.tf"])
    api.permissions.update(alice="admin", bob="write")
    assert actions.run("pull_request", pr_event(37, first), sandbox).exit_code == 0
    posted = api.add_comment(37, "/tfops apply -e global", login="alice")
    # ... and before the command's run starts, the author pushes and it is planned
    second = commit(sandbox, {"global_artifacts.tf": "# moved on\n"}, "pushed after")
    pull.head_sha = second
    assert actions.run("pull_request", pr_event(37, second, "synchronize"), sandbox).exit_code == 0
    api.add_review(pull.number, "bob")

    event = comment_event(37, posted["id"], posted["body"], "alice", "OWNER")
    event["comment"]["created_at"] = posted["created_at"]
    result = actions.run("issue_comment", event, sandbox, "-e", "global")

    assert result.exit_code == 1
    reply = api.comments_on(37)[-1]["body"]
    assert "was first planned after this command was posted" in reply
    assert not (sandbox / "terraform.tfstate").exists()


def test_commands_on_a_fork_are_refused_unless_main_allows_them(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    pull = api.add_pull(38, git(sandbox, "rev-parse", "HEAD"), ["dev_dns.tf"])
    pull.head_repo = "mallory/environments"
    api.permissions["alice"] = "admin"
    result, reply = run_comment(actions, api, sandbox, 38, "/tfops plan", "alice", "OWNER")
    assert result.exit_code == 0
    assert "comes from a fork (mallory/environments)" in reply
    assert not tfops_comments(api, 38)

    (sandbox / "tfops.yaml").write_text(
        (sandbox / "tfops.yaml").read_text() + "github:\n  fork_commands: true\n"
    )
    commit(sandbox, {}, "allow forks")  # on main: trusted
    pull.head_sha = git(sandbox, "rev-parse", "HEAD")
    result, _ = run_comment(actions, api, sandbox, 38, "/tfops plan", "alice", "OWNER")
    assert result.exit_code == 0, result.output
    assert tfops_comments(api, 38)


def test_an_apply_runs_only_in_the_job_of_its_environment(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    api.add_pull(39, git(sandbox, "rev-parse", "HEAD"), ["dev_dns.tf"])
    api.permissions["alice"] = "admin"
    result, reply = run_comment(actions, api, sandbox, 39, "/tfops apply -e prod", "alice")
    assert result.exit_code == 0
    assert "applying prod runs only in the job of that GitHub environment" in reply


def test_an_invalid_command_is_echoed_inert_and_short(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    api.add_pull(40, git(sandbox, "rev-parse", "HEAD"), [])
    body = "/tfops dance @acme/admins [free money](https://evil.test) <img src=x> " + "🦆" * 200_000
    result, reply = run_comment(actions, api, sandbox, 40, body, "eve", "NONE")
    assert result.exit_code == 0, result.output
    shown = body[:199] + "…"
    line = next(r for r in reply.splitlines() if "did not understand" in r)
    # quoted as inline code: GitHub renders no mention, link or HTML inside it
    assert line == (
        f"@eve, tfops did not understand `{shown}`: the command line is {len(body)} characters long"
    )
    assert len(reply.encode("utf-16-le")) // 2 < 5_000
