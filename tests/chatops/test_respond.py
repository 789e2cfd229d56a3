"""Answers go to Slack's response URL and nowhere else: a hostile response_url can't make
tfops POST its plans to another host, and nothing secret travels with them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.slack_app import SECRET, Receiver
from tfops.chatops.respond import Responder, url_problem


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/commands/T0/1/abc",
        "https://hooks.slack.com/actions/T0/1/abc",
        "https://hooks.slack.com:443/commands/T0/1/abc",
        "https://HOOKS.slack.com/commands/T0/1/abc",
    ],
)
def test_slacks_response_urls_are_answered(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFOPS_SLACK_RESPONSE_ORIGIN", raising=False)
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/commands/T0/1/abc",  # not https
        "https://hooks.slack.com.evil.example/commands/T0/1/abc",
        "https://evil.example/hooks.slack.com/commands/T0/1/abc",
        "https://hooks.slack.com@evil.example/commands/T0/1/abc",
        "https://user:pw@hooks.slack.com/commands/T0/1/abc",
        "https://hooks.slack.com:8443/commands/T0/1/abc",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/commands/T0/1/abc",
        "https://hooks.slack.com/services/T0/B0/webhook",  # a webhook, not a response URL
        "https://hooks.slack.com/commands/../services/T0/B0/x",
        "https://hooks.slack.com/commands/%2e%2e/services/T0/B0/x",
        "https://hooks.slack.com/commands/T0/1/x?redirect=https://evil.example",
        "https://hooks.slack.com:99999/commands/T0",
        "file:///etc/passwd",
        "",
    ],
)
def test_anything_else_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFOPS_SLACK_RESPONSE_ORIGIN", raising=False)
    assert url_problem(url) is not None


def test_a_test_origin_replaces_slacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFOPS_SLACK_RESPONSE_ORIGIN", "http://127.0.0.1:8123")
    assert url_problem("http://127.0.0.1:8123/commands/T0/1/x") is None
    assert url_problem("http://127.0.0.1:8124/commands/T0/1/x") is not None
    assert url_problem("https://hooks.slack.com/commands/T0/1/x") is not None


def test_posts_carry_the_message_masked_and_no_credentials(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFOPS_SLACK_RESPONSE_ORIGIN", receiver.origin)
    warnings: list[str] = []
    responder = Responder(
        warnings.append, lambda m: {**m, "text": m["text"].replace(SECRET, "***")}
    )
    url = receiver.url()
    responder.send(url, {"text": f"the secret is {SECRET}"})
    assert responder.flush()
    (post,) = receiver.posts
    assert post["json"] == {"text": "the secret is ***"}
    assert post["headers"]["content-type"] == "application/json; charset=utf-8"
    assert not {"authorization", "cookie"} & set(post["headers"])
    assert warnings == []


def test_a_redirect_is_not_followed(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = Receiver()
    try:
        monkeypatch.setenv("TFOPS_SLACK_RESPONSE_ORIGIN", receiver.origin)
        receiver.location = elsewhere.url()
        warnings: list[str] = []
        responder = Responder(warnings.append, lambda m: m)
        assert responder.post(receiver.url(), {"text": "plan"}) is False
        assert len(receiver.posts) == 1 and elsewhere.posts == []
        assert warnings and "answered 302" in warnings[0]
        assert receiver.origin in warnings[0] and "/commands/" not in warnings[0]  # a capability
    finally:
        elsewhere.close()


def test_a_url_that_is_not_slacks_is_never_contacted(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TFOPS_SLACK_RESPONSE_ORIGIN", raising=False)
    warnings: list[str] = []
    responder = Responder(warnings.append, lambda m: m)
    assert responder.post(receiver.url(), {"text": "plan"}) is False
    assert receiver.posts == []
    assert warnings == ["not answering Slack: the response_url is not on https://hooks.slack.com"]
