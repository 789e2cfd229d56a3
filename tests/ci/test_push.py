"""Apply on merge from a push event, when pushes come in bunches: a lost run and a batch.

Actions cancels a pending run when a newer one joins the concurrency group, and a merge
queue lands several pull requests in one push. tfops applies every pull request merged
since the environment's last apply — from its own audit log, not from the event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.actions import REPOSITORY, Actions
from tests.conftest import Tfops
from tests.github_api import FakeGithub
from tests.helpers import commit, git
from tests.repos import (
    audit_lines,
    lock_files,
    make_repo,
    merge,
    resource,
    state_inputs,
)


def push_event(before: str, after: str) -> dict[str, Any]:
    return {"ref": "refs/heads/main", "before": before, "after": after, "repository": REPOSITORY}


def started(tmp_path: Path, tfops: Tfops) -> tuple[Path, str]:
    """dev applied at main's first commit: the last apply tfops knows of."""
    repo = make_repo(tmp_path / "environments", resource("app", "v1"), resource("app", "p1"))
    applied = tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates")
    assert applied.exit_code == 0, applied.output
    return repo, git(repo, "rev-parse", "HEAD")


def two_reviewed_prs(repo: Path, api: FakeGithub, base: str) -> tuple[str, str]:
    """#1 changes dev's app; #2, branched before #1 merged, adds a resource to dev. Both
    planned the way `tfops ci` plans a pull request (dev's lock is #1's; #2 waits)."""
    git(repo, "checkout", "-q", "-b", "one", base)
    head1 = commit(repo, {"envs/dev/main.tf": resource("app", "v2")}, "PR #1")
    git(repo, "checkout", "-q", "-b", "two", base)
    commit(repo, {"envs/dev/extra.tf": resource("extra", "e1")}, "PR #2")
    git(repo, "checkout", "-q", "main")
    api.add_pull(1, head1, ["envs/dev/main.tf"])
    head2 = git(repo, "rev-parse", "two")
    api.add_pull(2, head2, ["envs/dev/extra.tf"])
    return head1, head2


def plan_on_pr(actions: Actions, repo: Path, number: int, head: str) -> None:
    git(repo, "checkout", "-q", head)
    result = actions.run(
        "pull_request",
        {
            "action": "opened",
            "number": number,
            "pull_request": {
                "number": number,
                "state": "open",
                "draft": False,
                "head": {"sha": head, "repo": {"full_name": REPOSITORY["full_name"]}},
                "base": {"ref": "main", "repo": {"full_name": REPOSITORY["full_name"]}},
            },
            "repository": REPOSITORY,
        },
        repo,
        "--no-gates",
    )
    git(repo, "checkout", "-q", "main")
    assert result.exit_code == 0, result.output


def test_a_lost_push_run_is_caught_up_by_the_next_one(
    tmp_path: Path, tfops: Tfops, actions: Actions, api: FakeGithub
) -> None:
    repo, base = started(tmp_path, tfops)
    head1, head2 = two_reviewed_prs(repo, api, base)
    plan_on_pr(actions, repo, 1, head1)
    plan_on_pr(actions, repo, 2, head2)
    assert "dev is locked by #1" in api.comments_on(2)[-1]["body"]
    api.pulls[1].merge_sha = merge(repo, "one", 1)  # its push run is cancelled: never runs
    api.pulls[2].merge_sha = after = merge(repo, "two", 2)

    result = actions.run("push", push_event(api.pulls[1].merge_sha, after), repo, "--no-gates")

    assert result.exit_code == 0, result.output
    assert "dev: applied (1 to add, 1 to change, 0 to destroy)" in result.stdout
    assert state_inputs(repo / "envs/dev") == {
        "terraform_data.app": "v2",
        "terraform_data.extra": "e1",
    }
    for number in (1, 2):  # both hear about it, both locks are gone
        body = api.comments_on(number)[-1]["body"]
        assert body.startswith("### ✅ tfops apply on merge of #1, #2")
    assert lock_files(repo) == []
    last = audit_lines(repo)[-1]
    assert (last["environment"], last["result"], last["commit"]) == ("dev", "applied", after)
    # the next push starts from there: nothing left to apply
    again = actions.run("push", push_event(after, after), repo, "--no-gates")
    assert again.exit_code == 0 and "since the last apply needs applying" in again.stderr


def test_a_merge_queue_batch_of_squash_merges_is_applied_together(
    tmp_path: Path, tfops: Tfops, actions: Actions, api: FakeGithub
) -> None:
    repo, base = started(tmp_path, tfops)
    head1, head2 = two_reviewed_prs(repo, api, base)
    plan_on_pr(actions, repo, 1, head1)
    plan_on_pr(actions, repo, 2, head2)
    squash1 = commit(repo, {"envs/dev/main.tf": resource("app", "v2")}, "One (#1)")
    squash2 = commit(repo, {"envs/dev/extra.tf": resource("extra", "e1")}, "Two (#2)")
    api.pulls[1].merge_sha, api.pulls[2].merge_sha = squash1, squash2

    result = actions.run("push", push_event(base, squash2), repo, "--no-gates")

    assert result.exit_code == 0, result.output
    assert "dev: applied" in result.stdout
    assert state_inputs(repo / "envs/dev")["terraform_data.extra"] == "e1"
    assert api.calls("GET", rf"/commits/{squash1}/pulls$")


def test_an_unreviewed_change_in_the_batch_refuses_and_names_every_pr(
    tmp_path: Path, tfops: Tfops, actions: Actions, api: FakeGithub
) -> None:
    repo, base = started(tmp_path, tfops)
    head1, head2 = two_reviewed_prs(repo, api, base)
    plan_on_pr(actions, repo, 1, head1)
    plan_on_pr(actions, repo, 2, head2)
    api.pulls[1].merge_sha = merge(repo, "one", 1)
    commit(repo, {"envs/dev/sneaky.tf": resource("sneaky", "s")}, "pushed straight to main")
    api.pulls[2].merge_sha = after = merge(repo, "two", 2)

    result = actions.run("push", push_event(api.pulls[1].merge_sha, after), repo, "--no-gates")

    assert result.exit_code == 1
    assert "terraform_data.sneaky: only in the new plan (create); never reviewed" in result.stdout
    assert "Nothing was applied to dev; #1, #2 stay pending until it is" in result.stdout
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v1"}
    for number in (1, 2):
        assert "| dev | ⛔ refused |" in api.comments_on(number)[-1]["body"]
    assert audit_lines(repo)[-1]["result"] == "refused"
    assert lock_files(repo) == ["dev.json"]  # dev is behind: #1 keeps its lock
    # a fix-forward merge compares everything pending again, and applies it
    git(repo, "rm", "-q", "envs/dev/sneaky.tf")
    fixed = commit(repo, {}, "Remove the unreviewed resource (#3)")
    git(repo, "checkout", "-q", "-b", "three", f"{fixed}^")
    git(repo, "checkout", "-q", "main")
    api.add_pull(3, fixed, ["envs/dev/sneaky.tf"]).merge_sha = fixed
    plan_on_pr(actions, repo, 3, fixed)
    again = actions.run("push", push_event(after, fixed), repo, "--no-gates")
    assert again.exit_code == 0, again.output
    assert state_inputs(repo / "envs/dev") == {
        "terraform_data.app": "v2",
        "terraform_data.extra": "e1",
    }
    assert lock_files(repo) == []
