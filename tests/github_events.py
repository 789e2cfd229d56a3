"""Actions event payloads (what GITHUB_EVENT_PATH holds) for the events tfops handles.

Each builder returns the whole webhook payload GitHub sends, checked against GitHub's
webhook descriptions (npm @octokit/openapi-webhooks) in `tests/github/test_events.py`, so a
handler tested with them meets the fields, types and nulls of the real thing. `schedule` is
not a webhook (Actions makes its payload: the cron line, the repository and the workflow).

    write_event(tmp_path, pull_request_event(7, head_sha))  # -> the path for GITHUB_EVENT_PATH
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import github_objects as gh
from tests.github_objects import GITHUB, PullState, Urls

REPOSITORY = "acme/environments"


def pull_request_event(
    number: int,
    head_sha: str,
    action: str = "opened",
    *,
    repository: str = REPOSITORY,
    author: str = "octocat",
    base_ref: str = "main",
    base_sha: str = "0b5e" * 10,
    head_ref: str = "feature",
    head_repo: str | None = "",
    draft: bool = False,
    merge_sha: str | None = None,
    files: int = 1,
    sender: str | None = None,
    urls: Urls = GITHUB,
) -> dict[str, Any]:
    """A `pull_request` event: opened, synchronize, reopened, closed (merged when
    `merge_sha` is given), ready_for_review, …; `head_repo` names a fork ("" = the repo)."""
    pull = PullState(
        number,
        head_sha,
        [f"file_{i}.tf" for i in range(files)],
        merge_sha=merge_sha,
        state="closed" if action == "closed" else "open",
        draft=draft,
        author=author,
        head_ref=head_ref,
        base_ref=base_ref,
        base_sha=base_sha,
        head_repo=head_repo,
    )
    payload = {
        "action": action,
        "number": number,
        "pull_request": {
            **gh.pull_request(pull, repository, urls, full=True, association="CONTRIBUTOR"),
            "allow_auto_merge": False,
            "allow_update_branch": False,
            "delete_branch_on_merge": False,
            "merge_commit_message": "PR_TITLE",
            "merge_commit_title": "MERGE_MESSAGE",
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "use_squash_pr_title_as_default": False,
        },
        "repository": _repository(repository, urls),
        "sender": gh.user(sender or author, urls),
    }
    if action == "synchronize":
        payload["before"] = gh.fake_sha(head_sha + "-before")
        payload["after"] = head_sha
    return payload


def issue_comment_event(
    number: int,
    comment_id: int,
    body: str,
    *,
    login: str,
    association: str = "NONE",
    on_pull_request: bool = True,
    repository: str = REPOSITORY,
    urls: Urls = GITHUB,
) -> dict[str, Any]:
    """An `issue_comment` `created` event: `login` commented `body` on PR (or issue) `number`."""
    issue = gh.issue(
        number,
        repository,
        urls,
        title=f"Change #{number}",
        body=None,
        author="octocat",
        association="CONTRIBUTOR",
        pull_request=on_pull_request,
    )
    issue |= {
        "performed_via_github_app": None,
        "reactions": _reactions(issue["url"]),
        "timeline_url": issue["url"] + "/timeline",
    }
    comment = gh.issue_comment(
        comment_id, number, repository, urls, body=body, author=login, association=association
    )
    comment["reactions"] = _reactions(comment["url"])
    return {
        "action": "created",
        "issue": issue,
        "comment": comment,
        "repository": _repository(repository, urls),
        "sender": gh.user(login, urls),
    }


def push_event(
    after: str,
    before: str = "0" * 40,
    *,
    ref: str = "refs/heads/main",
    repository: str = REPOSITORY,
    default_branch: str = "main",
    pusher: str = "octocat",
    message: str = "Merge pull request",
    urls: Urls = GITHUB,
) -> dict[str, Any]:
    """A `push` event: `ref` moved from `before` to `after` (one commit listed)."""
    commit = {
        "id": after,
        "tree_id": gh.fake_sha(after + "-tree"),
        "distinct": True,
        "message": message,
        "timestamp": "2024-05-30T12:00:00Z",
        "url": f"{urls.web}/{repository}/commit/{after}",
        "author": {"name": pusher, "email": f"{pusher}@example.test", "username": pusher},
        "committer": {"name": "GitHub", "email": "noreply@github.test", "username": "web-flow"},
        "added": [],
        "removed": [],
        "modified": ["dev_main.tf"],
    }
    repo = _repository(repository, urls, default_branch=default_branch)
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == "0" * 40,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{urls.web}/{repository}/compare/{before[:12]}...{after[:12]}",
        "commits": [commit],
        "head_commit": commit,
        "repository": {**repo, "stargazers": 0, "master_branch": default_branch},
        "pusher": {"name": pusher, "email": f"{pusher}@example.test"},
        "sender": gh.user(pusher, urls),
    }


def workflow_dispatch_event(
    inputs: dict[str, Any] | None = None,
    *,
    ref: str = "refs/heads/main",
    workflow: str = ".github/workflows/drift.yml",
    repository: str = REPOSITORY,
    sender: str = "octocat",
    urls: Urls = GITHUB,
) -> dict[str, Any]:
    return {
        "inputs": inputs or None,
        "ref": ref,
        "repository": _repository(repository, urls),
        "sender": gh.user(sender, urls),
        "workflow": workflow,
    }


def schedule_event(
    cron: str = "17 * * * *",
    *,
    workflow: str = ".github/workflows/drift.yml",
    repository: str = REPOSITORY,
    urls: Urls = GITHUB,
) -> dict[str, Any]:
    """What Actions writes for a `schedule` run (not a webhook: no description to check)."""
    return {"schedule": cron, "repository": _repository(repository, urls), "workflow": workflow}


def write_event(directory: Path, payload: dict[str, Any], name: str = "event.json") -> Path:
    """Write `payload` where GITHUB_EVENT_PATH can point."""
    path = directory / name
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def _repository(full_name: str, urls: Urls, *, default_branch: str = "main") -> dict[str, Any]:
    """A repository as webhooks carry it (repository-webhooks)."""
    repo = gh.repository(full_name, urls, default_branch=default_branch)
    return {
        **repo,
        "owner": gh.user(full_name.split("/")[0], urls, kind="Organization"),
        "allow_merge_commit": True,
        "allow_rebase_merge": True,
        "allow_squash_merge": True,
        "allow_auto_merge": False,
        "delete_branch_on_merge": False,
    }


def _reactions(url: str) -> dict[str, Any]:
    counts = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
    return {"url": url + "/reactions", "total_count": 0, **dict.fromkeys(counts, 0)}
