"""The watcher's HTTP endpoints: `GET /` (the overview page) beside `/healthz` and
`/status`, nothing else; answering while the service (or the page) is busy; and the page
served by a real `tfops watch --listen` while terraform applies."""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import commit, git
from tests.watch.test_reconciler import WatchProcess, processes  # noqa: F401  (a fixture)
from tfops.config import load_config
from tfops.records.audit import AuditEntry, open_audit
from tfops.report import overview
from tfops.report.overview import OverviewPage
from tfops.server.health import HealthServer


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def exact(server: HealthServer, target: str) -> tuple[int, str]:
    """GET with exactly this request target (urllib would normalise it)."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", target)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., HealthServer]]:
    servers: list[HealthServer] = []

    def start(page: Callable[[], str] | None = None) -> HealthServer:
        server = HealthServer("127.0.0.1", 0, lambda: {"ok": True}, lambda: None, page).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_the_page_is_served_at_root_and_nothing_else(
    serve: Callable[..., HealthServer],
) -> None:
    server = serve(lambda: "<!doctype html><p>overview</p>")
    code, headers, body = fetch(server.url + "/")
    assert (code, body) == (200, "<!doctype html><p>overview</p>\n")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert fetch(server.url + "/?refresh=1")[0] == 200
    assert fetch(server.url + "/healthz")[2] == "ok\n"
    for target in ("/index.html", "/..", "/%2e%2e/", "/healthz/x", "/status.json", "*"):
        code, body = exact(server, target)
        assert (code, body) == (404, "not found: try /, /healthz or /status\n"), target
    assert fetch(server.url + "/", method="POST")[0] == 501
    assert fetch(server.url + "/", method="PUT")[0] == 501

    without = serve()
    assert fetch(without.url + "/")[:1] == (404,)
    assert fetch(without.url + "/")[2] == "not found: try /healthz or /status\n"


def test_a_page_that_fails_is_a_500_and_the_server_carries_on(
    serve: Callable[..., HealthServer],
) -> None:
    def broken() -> str:
        raise RuntimeError("secret detail")

    server = serve(broken)
    code, _, body = fetch(server.url + "/")
    assert code == 500 and "secret detail" not in body
    assert fetch(server.url + "/healthz")[0] == 200


def test_health_answers_while_the_page_is_slow_and_a_client_stalls(
    serve: Callable[..., HealthServer],
) -> None:
    release = threading.Event()

    def slow_page() -> str:
        release.wait(30)
        return "page"

    server = serve(slow_page)
    host, port = server.url.removeprefix("http://").split(":")
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(b"GET / HTT")  # and nothing more
    answers: list[int] = []
    waiting = threading.Thread(target=lambda: answers.append(fetch(server.url + "/")[0]))
    waiting.start()
    try:
        started = time.monotonic()
        assert fetch(server.url + "/healthz")[0] == 200
        assert fetch(server.url + "/status")[0] == 200
        assert time.monotonic() - started < 5 and answers == []
    finally:
        release.set()
        waiting.join(10)
        stalled.close()
    assert answers == [200]


def test_the_static_part_is_kept_until_the_key_changes(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[Path] = []
    gather = overview.gather_static

    def counting(root: Path) -> overview.Static:
        builds.append(root)
        return gather(root)

    monkeypatch.setattr(overview, "gather_static", counting)
    key = ["a"]
    page = OverviewPage(sandbox, key=lambda: key[0])
    assert "No applies recorded yet." in page.html()
    config, _ = load_config(sandbox)
    entry = AuditEntry(
        "alice", "2026-01-01T00:00:00.000001Z", "environments", "f" * 40, None, "dev", None,
        "failed", 1.0, detail="boom",
    )  # fmt: skip
    open_audit(config, sandbox).append(entry)
    html = page.html()
    assert "alice" in html and "boom" in html  # records are read on every request
    assert len(builds) == 1
    key[0] = "b"
    page.html()
    assert len(builds) == 2

    default = OverviewPage(sandbox)  # keyed by the checkout's commit
    default.html()
    default.html()
    commit(sandbox, {"README.md": "new\n"}, "a commit")
    default.html()
    assert len(builds) == 4

    missing = OverviewPage(sandbox.parent / "not-yet")
    assert "is not checked out yet" in missing.html()


def test_the_watcher_serves_the_page_while_terraform_applies(
    sandbox: Path,
    tfops: Tfops,
    tmp_path: Path,
    processes: list[WatchProcess],  # noqa: F811
) -> None:
    state_dir = tmp_path / "watch-state"
    once = tfops("-q", "watch", str(sandbox), "--once", "--state-dir", str(state_dir),
                 "--drift-interval", "0")  # fmt: skip
    assert once.exit_code == 0, once.output
    started = tmp_path / "provisioner-started"
    slow = (
        'resource "terraform_data" "dev_slow" {\n  input = "slow"\n'
        '  provisioner "local-exec" {\n'
        f'    command = "touch {started} && sleep 60"\n'
        "  }\n}\n"
    )
    sha = commit(sandbox, {"dev_slow.tf": slow}, "a slow resource")
    watcher = WatchProcess(str(sandbox), "--state-dir", str(state_dir), "--interval", "1",
                           "--drift-interval", "0", "--listen", "127.0.0.1:0")  # fmt: skip
    processes.append(watcher)
    assert f"Overview on {watcher.url}/, health on {watcher.url}/healthz" in watcher.output
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and watcher.proc.poll() is None, watcher.output
        time.sleep(0.05)
    assert watcher.status()["activity"] == "applying dev"

    began = time.monotonic()
    code, headers, page = fetch(watcher.url + "/")
    assert code == 200 and time.monotonic() - began < 10
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>tfops · environments</title>" in page
    assert f"<code>{sha[:12]}</code>" in page  # the commit being applied is checked out
    assert 'aria-label="Environment prod"' in page and "v1.1.0" in page
    assert ">watch</td>" in page  # the first pass's applies, from the audit log
    assert "locked</span> by" in page  # dev is locked by the running apply
    assert fetch(watcher.url + "/healthz")[:1] == (200,)

    assert watcher.stop(signal.SIGTERM) == 130, watcher.output
    assert git(sandbox, "rev-parse", "HEAD") == sha
