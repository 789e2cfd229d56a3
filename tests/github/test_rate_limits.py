"""Rate limits are waited out as GitHub documents, each wait bounded by `max_wait`.

Primary: `x-ratelimit-remaining: 0` until `x-ratelimit-reset`. Secondary: a 403 or 429 that
says so; `Retry-After` when given, else at least a minute, longer each time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from tests.github_api import TOKEN, FakeGithub, fake_github
from tfops.github.client import GithubClient, GithubError, GithubForbidden

REPO = "acme/environments"
FILES = r"/pulls/7/files$"
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        server.add_pull(7, "a" * 40, ["dev_main.tf"])
        yield server


class Waits(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(api: FakeGithub, waits: Waits, max_wait: float = 600) -> GithubClient:
    return GithubClient(api.url, TOKEN, REPO, max_wait=max_wait, sleep=waits)


def test_retry_after_in_seconds_or_as_a_date(api: FakeGithub) -> None:
    api.fail("GET", FILES, 429, headers={"Retry-After": "7"})
    api.fail(
        "GET",
        FILES,
        403,
        headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)},
        message=SECONDARY,
    )
    waits = Waits()
    assert client(api, waits).pull_request_files(7) == ["dev_main.tf"]
    assert waits[0] == 7 and 27 <= waits[1] <= 30


def test_an_exhausted_primary_limit_waits_for_the_reset(api: FakeGithub) -> None:
    reset = str(int(time.time()) + 40)
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    api.fail("GET", FILES, 403, headers=headers, message="API rate limit exceeded for installation")
    waits = Waits()
    client(api, waits).pull_request_files(7)
    assert len(waits) == 1 and 38 <= waits[0] <= 42


def test_a_secondary_limit_without_a_hint_waits_a_minute_then_longer(api: FakeGithub) -> None:
    api.fail("GET", FILES, 403, message=SECONDARY, times=2)
    api.fail(
        "POST",
        r"/issues/7/comments$",
        429,
        message="You have triggered an abuse detection mechanism.",
    )
    waits = Waits()
    github = client(api, waits)
    github.pull_request_files(7)
    github.create_comment(7, "hi")
    assert waits == [60.0, 120.0, 60.0]
    assert len(api.calls("POST", r"/issues/7/comments$")) == 2  # refused, so sent again


def test_a_wait_longer_than_max_wait_is_an_error_that_says_so(api: FakeGithub) -> None:
    api.fail("GET", FILES, 403, message=SECONDARY)
    waits = Waits()
    with pytest.raises(GithubError, match=r"asks tfops to wait 60s, longer than it waits \(10s\)"):
        client(api, waits, max_wait=10).pull_request_files(7)
    assert waits == [] and len(api.calls("GET", FILES)) == 1


def test_a_403_that_is_not_a_rate_limit_is_not_retried(api: FakeGithub) -> None:
    api.fail("GET", FILES, 403, message="Resource not accessible by integration")
    waits = Waits()
    with pytest.raises(GithubForbidden, match="Resource not accessible by integration"):
        client(api, waits).pull_request_files(7)
    assert waits == [] and len(api.calls("GET", FILES)) == 1
