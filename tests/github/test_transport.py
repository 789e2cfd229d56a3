"""Every exchange ends by its deadline, and the token never leaves the API's origin."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.github_api import TOKEN, FakeGithub, fake_github
from tfops.github.client import GithubClient, GithubError

REPO = "acme/environments"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        server.add_pull(7, "a" * 40, ["dev_main.tf"])
        yield server


@pytest.fixture
def elsewhere() -> Iterator[FakeGithub]:
    """Another origin (same host, another port), recording what reaches it."""
    with fake_github(repository=REPO) as server:
        yield server


def client(api: FakeGithub, **options: float) -> GithubClient:
    return GithubClient(api.url, TOKEN, REPO, sleep=lambda _: None, **options)  # type: ignore[arg-type]


# ---- redirects -----------------------------------------------------------------------------
def test_urllib_on_its_own_sends_the_token_to_wherever_a_redirect_points(
    api: FakeGithub, elsewhere: FakeGithub
) -> None:
    """Why tfops has its own redirect handling: urllib copies Authorization across origins."""
    api.fail("GET", r"/pulls/7$", 302, headers={"Location": f"{elsewhere.url}/steal"})
    request = urllib.request.Request(f"{api.url}/repos/{REPO}/pulls/7")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=5)
    assert elsewhere.requests[0].headers.get("Authorization") == f"Bearer {TOKEN}"


def test_a_redirect_to_another_origin_goes_there_without_the_token(
    api: FakeGithub, elsewhere: FakeGithub
) -> None:
    location = f"{elsewhere.url}/repos/{REPO}/pulls/7"
    api.fail("GET", r"/pulls/7$", 302, headers={"Location": location})
    with pytest.raises(GithubError) as failed:
        client(api).pull_request(7)
    assert failed.value.status == 401  # the other origin did not get a token to accept
    (arrived,) = elsewhere.requests
    assert "Authorization" not in arrived.headers and TOKEN not in json.dumps(arrived.headers)


def test_a_write_is_never_redirected_to_another_origin(
    api: FakeGithub, elsewhere: FakeGithub
) -> None:
    location = f"{elsewhere.url}/repos/{REPO}/issues/7/comments"
    api.fail("POST", r"/issues/7/comments$", 307, headers={"Location": location})
    with pytest.raises(GithubError, match="redirected the POST to another origin"):
        client(api).create_comment(7, "hello")
    assert elsewhere.requests == [] and api.comments_on(7) == []


def test_a_redirect_off_http_is_not_followed(api: FakeGithub) -> None:
    api.fail("GET", r"/pulls/7$", 302, headers={"Location": "ftp://127.0.0.1/pub"})
    with pytest.raises(GithubError, match="tfops follows only http and https"):
        client(api).pull_request(7)


def test_a_renamed_repository_keeps_working_through_githubs_redirects(api: FakeGithub) -> None:
    api.renamed_from = "acme/old-environments"
    old = GithubClient(api.url, TOKEN, "acme/old-environments", sleep=lambda _: None)

    assert old.pull_request(7)["head"]["sha"] == "a" * 40  # 301, token kept on the same origin
    comment = old.create_comment(7, "still here")  # 307 keeps the method and the body
    old.update_comment(comment["id"], "edited")

    assert [c["body"] for c in api.comments_on(7)] == ["edited"]
    moved = [r for r in api.requests if r.path.startswith("/repositories/")]
    assert [r.method for r in moved] == ["GET", "POST", "PATCH"]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in moved)


def test_a_next_page_on_another_origin_is_refused(api: FakeGithub, elsewhere: FakeGithub) -> None:
    link = f'<{elsewhere.url}/repos/{REPO}/pulls/7/files?page=2>; rel="next"'
    api.fail("GET", r"/pulls/7/files$", 200, headers={"Link": link}, body=b"[]")
    with pytest.raises(GithubError, match="tfops sends its token only to the API"):
        client(api).pull_request_files(7)
    assert elsewhere.requests == []


# ---- deadlines -----------------------------------------------------------------------------
def test_an_answer_dribbled_slower_than_the_deadline_is_abandoned(api: FakeGithub) -> None:
    """Each byte comes well within the socket timeout, so only a deadline can end it."""
    api.fail("GET", r"/pulls/7$", 200, body=b'{"number": 7}' * 20, dribble=0.3, times=10)
    started = time.monotonic()
    with pytest.raises(GithubError) as failed:
        client(api, timeout=1.5, deadline=4).pull_request(7)
    elapsed = time.monotonic() - started
    assert "no complete answer within" in str(failed.value) and failed.value.status == 0
    assert 3.5 <= elapsed < 6  # the call's deadline, over its attempts
    assert 2 <= len(api.calls("GET", r"/pulls/7$")) <= 4


def test_a_server_that_dribbles_its_status_line_is_abandoned_too() -> None:
    with dribbling_status_line() as url:
        started = time.monotonic()
        with pytest.raises(GithubError, match=r"no complete answer within 1\.5s"):
            GithubClient(url, TOKEN, REPO, max_retries=0, timeout=1.5).repository()
        assert time.monotonic() - started < 4


class _Dribbler(threading.Thread):
    """Accepts connections and sends "HTTP/1.1 200 OK…" one byte every 0.3 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}":
                    if self.stopped.wait(0.3):
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break


class dribbling_status_line:
    def __enter__(self) -> str:
        self.thread = _Dribbler()
        self.thread.start()
        host, port = self.thread.server.getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *_: object) -> None:
        self.thread.stopped.set()
        self.thread.join(5)
        self.thread.server.close()
