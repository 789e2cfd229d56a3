"""An answer that is not what GitHub sends is a clear error naming the endpoint and the field:
never a JSONDecodeError, a KeyError or a None where a value belongs. Likewise an event payload
whose numbers are not numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.github_api import TOKEN, FakeGithub, fake_github
from tests.github_events import issue_comment_event, pull_request_event, write_event
from tfops.errors import TfopsError
from tfops.github.client import GithubClient, GithubError
from tfops.github.event import GithubEvent

REPO = "acme/environments"
PULL = f"GET /repos/{REPO}/pulls/7"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        server.add_pull(7, "a" * 40, ["dev_main.tf"])
        yield server


def client(api: FakeGithub) -> GithubClient:
    return GithubClient(api.url, TOKEN, REPO, sleep=lambda _: None)


def test_an_html_page_with_200_names_the_endpoint_and_what_came(api: FakeGithub) -> None:
    page = b"<!DOCTYPE html><html><body><h1>Sign in to your proxy</h1></body></html>"
    api.fail("GET", r"/pulls/7$", 200, body=page, content_type="text/html; charset=utf-8")
    with pytest.raises(GithubError) as failed:
        client(api).pull_request(7)
    message = str(failed.value)
    assert message.startswith(f"{PULL}: GitHub answered 200 with text/html that is not JSON")
    assert "Sign in to your proxy" in message and "check GITHUB_API_URL" in message


def test_malformed_json_names_the_endpoint(api: FakeGithub) -> None:
    api.fail("GET", r"/pulls/7/files$", 200, body=b'[{"filename": "dev_main.tf"')
    with pytest.raises(
        GithubError,
        match=r"pulls/7/files: GitHub answered 200 with application/json that is not JSON",
    ):
        client(api).pull_request_files(7)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"number": 7}, "`state` is missing"),
        ({"number": "7"}, "`number` is '7' (a string), expected an integer"),
        ({"number": True}, "`number` is true, expected an integer"),
        ([], "the answer is a list, expected an object"),
    ],
)
def test_a_pull_request_of_the_wrong_shape_names_the_field(
    api: FakeGithub, body: object, problem: str
) -> None:
    api.fail("GET", r"/pulls/7$", 200, body=json.dumps(body).encode())
    with pytest.raises(GithubError) as failed:
        client(api).pull_request(7)
    assert str(failed.value).startswith(
        f"{PULL}: GitHub's answer is not what tfops expects: {problem}"
    )


def test_a_nested_field_of_the_wrong_type_is_named_with_its_path(api: FakeGithub) -> None:
    good = json.loads(json.dumps(client(api).pull_request(7)))
    good["head"]["sha"] = None
    api.fail("GET", r"/pulls/7$", 200, body=json.dumps(good).encode())
    with pytest.raises(GithubError, match=r"`head\.sha` is null, expected a string"):
        client(api).pull_request(7)


def test_a_list_item_of_the_wrong_shape_is_named_by_its_place(api: FakeGithub) -> None:
    comments = [{"id": 1, "user": None, "html_url": "x", "created_at": "t", "updated_at": "t"}]
    comments.append({**comments[0], "user": {"login": "mallory"}})  # no id, no type
    api.fail("GET", r"/issues/7/comments$", 200, body=json.dumps(comments).encode())
    with pytest.raises(GithubError, match=r"issues/7/comments: .*`\[1\]\.user\.id` is missing"):
        list(client(api).issue_comments(7))


def test_checked_answers_keep_every_field_github_sent(api: FakeGithub) -> None:
    pull = client(api).pull_request(7)
    assert pull["head"]["sha"] == "a" * 40
    assert pull["_links"]["html"]["href"].endswith("/pull/7")  # type: ignore[typeddict-item]


# ---- the event payload ---------------------------------------------------------------------
def event(tmp_path: Path, payload: dict[str, object]) -> GithubEvent:
    path = write_event(tmp_path, payload)
    return GithubEvent.from_environ(
        {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(path)}
    )


@pytest.mark.parametrize("number", ["7", 7.5, True, None, -3, {"n": 7}])
def test_a_pull_request_number_that_is_not_an_integer_is_named(
    tmp_path: Path, number: object
) -> None:
    payload = pull_request_event(7, "a" * 40)
    payload["pull_request"]["number"] = number
    parsed = event(tmp_path, payload)
    if number is None:
        assert parsed.pr_number is None  # no number: not a pull request event
        return
    with pytest.raises(TfopsError) as failed:
        parsed.pr_number  # noqa: B018
    text = str(failed.value)
    assert text.startswith(f"{tmp_path / 'event.json'}: the event payload's `pull_request.number`")
    assert "not a positive integer" in text


def test_an_issue_number_that_is_not_an_integer_is_named(tmp_path: Path) -> None:
    payload = issue_comment_event(7, 99, "/tfops plan", login="alice")
    payload["issue"]["number"] = "7; rm -rf /"
    with pytest.raises(TfopsError, match=r"`issue\.number` is \"7; rm -rf /\", not a positive"):
        event(tmp_path, payload).pr_number  # noqa: B018
    payload["issue"]["number"] = 7
    assert event(tmp_path, payload).pr_number == 7
    payload["comment"]["id"] = "99"
    with pytest.raises(TfopsError, match=r"`comment\.id` is \"99\", not a positive integer"):
        event(tmp_path, payload).comment_id  # noqa: B018


def test_a_head_sha_that_is_not_a_string_is_named(tmp_path: Path) -> None:
    payload = pull_request_event(7, "a" * 40)
    assert event(tmp_path, payload).head_sha == "a" * 40
    payload["pull_request"]["head"]["sha"] = {"$ne": ""}
    with pytest.raises(
        TfopsError, match=r"`pull_request\.head\.sha` is \{\"\$ne\": \"\"\}, not a commit"
    ):
        event(tmp_path, payload).head_sha  # noqa: B018
