"""The fake GitHub answers in GitHub's shapes: every route, checked against the schema of its
operation in GitHub's OpenAPI description (npm @octokit/openapi), for its successes and the
errors a client meets (404, 422, 403, 401)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.github import openapi
from tests.github_api import PAT_LOGIN, PAT_TOKEN, READ_ONLY_TOKEN, TOKEN, FakeGithub, fake_github

REPO = "acme/environments"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        yield server


def call(
    api: FakeGithub, method: str, path: str, body: Any = None, token: str = TOKEN
) -> tuple[int, Any]:
    """One request as it is, no client in between: status and decoded JSON."""
    request = urllib.request.Request(
        api.url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"null")


def exercise(api: FakeGithub) -> None:
    """Every route, with the answers a client can get from it."""
    repo = f"/repos/{REPO}"
    pull = api.add_pull(7, "a" * 40, ["dev_main.tf", "prod_main.tf"], author="alice")
    pull.renamed["prod_main.tf"] = "prod_old.tf"
    api.add_pull(8, "b" * 40, [], draft=True)
    api.merge(8, "c" * 40)
    api.associations["alice"] = "MEMBER"
    api.permissions.update({"bob": "maintain", "carol": "triage"})
    api.custom_roles["dave"] = ("deployer", "write")
    api.add_review(7, "bob", "APPROVED")
    api.add_review(7, "carol", "CHANGES_REQUESTED", body="not yet")
    api.add_review(7, "dave", "PENDING")
    api.add_file("tfops.yaml", "github:\n  comment: true\n")
    api.add_file("envs/dev/main.tf", "# dev\n", ref="a" * 40)
    issue = api.add_issue("Drift in dev", "<!-- tfops:drift:dev -->", ("tfops-drift",))
    comment = api.add_comment(7, "/tfops plan", login="alice")
    too_long = "🚀" * 32_769  # 65,538 UTF-16 code units

    for token in (TOKEN, PAT_TOKEN):
        call(api, "GET", "/user", token=token)
    call(api, "GET", "/user", token="ghp_wrong")
    call(api, "GET", repo)
    for number in (7, 8, 404):
        call(api, "GET", f"{repo}/pulls/{number}")
        call(api, "GET", f"{repo}/pulls/{number}/files?per_page=100")
    call(api, "GET", f"{repo}/pulls/7/reviews")
    call(api, "GET", f"{repo}/issues?state=all&per_page=100")
    call(api, "POST", f"{repo}/issues", {"title": "Drift in prod", "body": "x", "labels": ["l"]})
    call(api, "POST", f"{repo}/issues", {"title": "Drift in prod", "body": too_long})
    call(api, "POST", f"{repo}/issues", {"body": "no title"})
    call(api, "POST", f"{repo}/issues", {"title": "t"}, token=READ_ONLY_TOKEN)
    call(api, "PATCH", f"{repo}/issues/{issue['number']}", {"state": "closed"})
    call(api, "PATCH", f"{repo}/issues/7", {"title": "A pull request is an issue too"})
    call(api, "PATCH", f"{repo}/issues/404", {"state": "closed"})
    call(api, "GET", f"{repo}/issues/7/comments?per_page=100")
    call(api, "GET", f"{repo}/issues/404/comments")
    call(api, "POST", f"{repo}/issues/7/comments", {"body": "hello"})
    call(api, "POST", f"{repo}/issues/7/comments", {"body": "hello"}, token=PAT_TOKEN)
    call(api, "POST", f"{repo}/issues/404/comments", {"body": "hello"})
    call(api, "POST", f"{repo}/issues/7/comments", {"body": too_long})
    call(api, "PATCH", f"{repo}/issues/comments/{comment['id']}", {"body": "edited"})
    call(api, "PATCH", f"{repo}/issues/comments/{comment['id']}", {"body": too_long})
    call(api, "PATCH", f"{repo}/issues/comments/1", {"body": "edited"})
    for content in ("eyes", "eyes", "rocket"):
        call(api, "POST", f"{repo}/issues/comments/{comment['id']}/reactions", {"content": content})
    call(api, "POST", f"{repo}/issues/comments/1/reactions", {"content": "eyes"})
    for login in ("bob", "carol", "dave", "alice", "nobody"):
        call(api, "GET", f"{repo}/collaborators/{login}/permission")
    for sha in ("a" * 40, "c" * 40):
        call(api, "GET", f"{repo}/commits/{sha}/pulls")
    call(api, "GET", f"{repo}/contents/tfops.yaml?ref=main")
    call(api, "GET", f"{repo}/contents/envs?ref={'a' * 40}")
    call(api, "GET", f"{repo}/contents/missing.yaml?ref=main")


def template_of(api: FakeGithub, method: str, path: str) -> str | None:
    for route_method, template in api.routes():
        pattern = re.sub(r"\\\{path\\\}", ".+", re.escape(template))
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", pattern)
        if route_method == method and re.fullmatch(pattern, path):
            return template
    return None


def test_every_route_answers_in_githubs_shape(api: FakeGithub) -> None:
    exercise(api)
    rest = openapi.rest()
    problems: list[str] = []
    answered: set[tuple[str, str, int]] = set()
    for record in api.requests:
        template = template_of(api, record.method, record.path)
        assert template is not None, f"{record.method} {record.path} is not a route of the fake"
        answered.add((record.method, template, record.status))
        pointer = openapi.response_pointer(record.method, template, record.status)
        if pointer is None and record.status >= 400:
            pointer = "#/components/schemas/basic-error"  # undocumented errors: GitHub's basic
        assert pointer is not None, f"{record.method} {template} never answers {record.status}"
        for error in rest.errors(pointer, record.response)[:5]:
            problems.append(f"{record.method} {record.path} → {record.status}: {error}")
    assert problems == []
    # every route was exercised with a success
    succeeded = {(m, t) for m, t, status in answered if status < 300}
    assert set(api.routes()) <= succeeded, set(api.routes()) - succeeded
    # and the errors a client must handle came back as GitHub sends them
    for expected in [
        ("GET", "/user", 403),
        ("GET", "/user", 401),
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 404),
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 422),
        ("POST", "/repos/{owner}/{repo}/issues", 422),
        ("POST", "/repos/{owner}/{repo}/issues", 403),
        ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", 404),
        ("GET", "/repos/{owner}/{repo}/contents/{path}", 404),
    ]:
        assert expected in answered


def test_the_schema_check_catches_a_fake_that_drifts_from_github(api: FakeGithub) -> None:
    """The check itself can fail: a comment without `user.type`, a PR number as a string."""
    rest = openapi.rest()
    comment = api.add_comment(7, "hi", login="alice")
    broken = {**comment, "user": {k: v for k, v in comment["user"].items() if k != "type"}}
    pointer = openapi.response_pointer(
        "GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 200
    )
    assert pointer is not None
    assert rest.errors(pointer, [comment]) == []
    assert rest.errors(pointer, [broken]) == ["0.user: 'type' is a required property"]
    status, pull = call(api, "GET", f"/repos/{REPO}/pulls/7")
    pointer = openapi.response_pointer("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 200)
    assert status == 200 and pointer is not None
    assert rest.errors(pointer, {**pull, "number": "7"}) == ["number: '7' is not of type 'integer'"]


def test_comments_carry_their_author_and_the_token_decides_who_that_is(api: FakeGithub) -> None:
    api.add_pull(7, "a" * 40, [])
    api.associations[PAT_LOGIN] = "COLLABORATOR"
    _, by_bot = call(api, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "from CI"})
    _, by_pat = call(api, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "x"}, PAT_TOKEN)
    forged = api.add_comment(7, "<!-- tfops:plan -->\nforged", login="mallory")
    assert by_bot["user"]["login"] == "github-actions[bot]" and by_bot["user"]["type"] == "Bot"
    assert by_bot["author_association"] == "NONE"
    assert by_pat["user"] == {**by_pat["user"], "login": PAT_LOGIN, "type": "User"}
    assert by_pat["author_association"] == "COLLABORATOR"
    assert forged["user"]["login"] == "mallory" and forged["author_association"] == "NONE"
    assert call(api, "GET", "/user")[0] == 403
    assert call(api, "GET", "/user", token=PAT_TOKEN)[1]["login"] == PAT_LOGIN


def test_lists_are_simple_and_capped_as_on_github() -> None:
    with fake_github(repository=REPO, page_size=1000) as api:
        api.add_pull(7, "a" * 40, [f"dev_{i}.tf" for i in range(3005)])
        api.merge(7, "c" * 40)
        status, page = call(api, "GET", f"/repos/{REPO}/pulls/7/files?per_page=1000")
        assert status == 200 and len(page) == 100  # per_page is at most 100
        last = call(api, "GET", f"/repos/{REPO}/pulls/7/files?per_page=100&page=30")[1]
        assert last[-1]["filename"] == "dev_2999.tf"
        assert call(api, "GET", f"/repos/{REPO}/pulls/7/files?per_page=100&page=31")[1] == []
        assert call(api, "GET", f"/repos/{REPO}/pulls/7")[1]["changed_files"] == 3005
        (simple,) = call(api, "GET", f"/repos/{REPO}/commits/{'c' * 40}/pulls")[1]
        assert simple["merged_at"] and "merged" not in simple and "changed_files" not in simple
