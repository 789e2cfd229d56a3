"""The event payload builders (tests/github_events.py) build what GitHub sends: each is
checked against GitHub's webhook description (npm @octokit/openapi-webhooks), and
GithubEvent reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import github_events as events
from tests.github import openapi
from tfops.github.event import GithubEvent

HEAD = "a" * 40
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "opened": ("pull-request-opened", events.pull_request_event(7, HEAD)),
    "synchronize": ("pull-request-synchronize", events.pull_request_event(7, HEAD, "synchronize")),
    "reopened": ("pull-request-reopened", events.pull_request_event(7, HEAD, "reopened")),
    "from a fork": (
        "pull-request-opened",
        events.pull_request_event(7, HEAD, head_repo="mallory/environments", author="mallory"),
    ),
    "draft": ("pull-request-opened", events.pull_request_event(7, HEAD, draft=True)),
    "ready": (
        "pull-request-ready-for-review",
        events.pull_request_event(7, HEAD, "ready_for_review"),
    ),
    "closed": ("pull-request-closed", events.pull_request_event(7, HEAD, "closed")),
    "merged": (
        "pull-request-closed",
        events.pull_request_event(7, HEAD, "closed", merge_sha="c" * 40),
    ),
    "comment on a PR": (
        "issue-comment-created",
        events.issue_comment_event(
            7, 99, "/tfops apply -e dev", login="alice", association="MEMBER"
        ),
    ),
    "comment on an issue": (
        "issue-comment-created",
        events.issue_comment_event(9, 98, "/tfops plan", login="bob", on_pull_request=False),
    ),
    "push": ("push", events.push_event("c" * 40, "d" * 40)),
    "first push": ("push", events.push_event("c" * 40)),
    "dispatch": ("workflow-dispatch", events.workflow_dispatch_event({"heal": "true"})),
    "dispatch without inputs": ("workflow-dispatch", events.workflow_dispatch_event()),
}


@pytest.mark.parametrize("case", CASES)
def test_payloads_match_githubs_webhook_description(case: str) -> None:
    webhook, payload = CASES[case]
    pointer = openapi.webhooks().spec["webhooks"][webhook]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    assert openapi.webhooks().errors(pointer, payload) == []


def test_the_check_catches_a_payload_github_would_not_send() -> None:
    payload = events.pull_request_event(7, HEAD)
    payload["pull_request"]["head"]["sha"] = None
    del payload["sender"]["type"]
    assert openapi.webhooks().errors(
        "#/components/schemas/webhook-pull-request-opened", payload
    ) == [
        "pull_request.head.sha: None is not of type 'string'",
        "sender: 'type' is a required property",
    ]


def test_schedule_carries_the_cron_line_and_a_webhook_repository() -> None:
    payload = events.schedule_event("17 * * * *")
    assert payload["schedule"] == "17 * * * *"
    schema = "#/components/schemas/repository-webhooks"
    assert openapi.webhooks().errors(schema, payload["repository"]) == []


def read(tmp_path: Path, name: str, payload: dict[str, Any]) -> GithubEvent:
    path = events.write_event(tmp_path, payload)
    env = {
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": events.REPOSITORY,
    }
    return GithubEvent.from_environ(env)


def test_github_event_reads_the_payloads(tmp_path: Path) -> None:
    opened = read(tmp_path, "pull_request", CASES["synchronize"][1])
    assert (opened.action, opened.pr_number, opened.head_sha) == ("synchronize", 7, HEAD)
    comment = read(tmp_path, "issue_comment", CASES["comment on a PR"][1])
    assert comment.pr_number == 7 and comment.comment["user"]["login"] == "alice"
    assert comment.comment["author_association"] == "MEMBER"
    on_issue = read(tmp_path, "issue_comment", CASES["comment on an issue"][1])
    assert on_issue.pr_number is None  # not a pull request: nothing to plan
    push = read(tmp_path, "push", CASES["push"][1])
    assert push.pr_number is None and push.payload["repository"]["default_branch"] == "main"
