"""A real `tfops watch` in this process, listening on loopback with Slack commands on:
a small environments repo (real git, real terraform), Slack's signed requests, and a
response_url receiver. Jobs run when a test says so (`chat.run_jobs()`), as the watcher's
loop runs them between passes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.repos import audit_lines, make_repo, resource, state_inputs
from tests.slack_app import SECRET, Receiver, SlackClient
from tfops.console import Console
from tfops.server.health import HealthServer
from tfops.watch import Watcher, WatchOptions

YAML = """environments:
  dev: {}
  prod:
    apply: manual
slack:
  appliers:
    dev: [U0ALICE, U0BOB]
    prod: [U0ALICE]
"""


@dataclass
class Chat:
    repo: Path
    watcher: Watcher
    server: HealthServer
    slack: SlackClient
    receiver: Receiver
    log: io.StringIO

    @property
    def clone(self) -> Path:
        return self.watcher.root

    def run_jobs(self) -> None:
        """What the loop does between passes: run the queued jobs; then their answers."""
        self.watcher.run_jobs()
        assert self.watcher.chat is not None
        assert self.watcher.chat.responder.flush()

    def later(self, minutes: float) -> None:
        """Let `minutes` pass for the chat commands."""
        assert self.watcher.chat is not None
        now = self.watcher.chat.now
        self.watcher.chat.now = lambda: now() + minutes * 60

    def prod(self) -> Any:
        return state_inputs(self.clone / "envs" / "prod").get("terraform_data.prod")

    def audit(self, **match: Any) -> list[dict[str, Any]]:
        lines = audit_lines(self.clone)
        return [line for line in lines if all(line.get(k) == v for k, v in match.items())]


@pytest.fixture
def start_chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], Chat]]:
    """A watcher of `repo`, after its first pass, listening with Slack commands on."""
    receiver = Receiver()
    monkeypatch.setenv("TFOPS_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("TFOPS_SLACK_RESPONSE_ORIGIN", receiver.origin)
    servers: list[HealthServer] = []

    def start(repo: Path) -> Chat:
        log = io.StringIO()
        options = WatchOptions(
            str(repo),
            state_dir=tmp_path / "state",
            interval=1,
            drift_interval=0,
            listen=("127.0.0.1", 0),
        )
        watcher = Watcher(options, Console(log, verbose=False))
        watcher.state_dir.mkdir()
        assert watcher.tick(), log.getvalue()  # the first pass: dev applied, prod planned
        server = watcher.serve()
        assert server is not None
        servers.append(server)
        return Chat(repo, watcher, server, SlackClient(server.url, receiver), receiver, log)

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
        receiver.close()


@pytest.fixture
def chat(tmp_path: Path, start_chat: Callable[[Path], Chat]) -> Chat:
    """A small directory-layout repo: dev (apply: auto) and prod (apply: manual)."""
    dev, prod = resource("dev", "one"), resource("prod", "one")
    return start_chat(make_repo(tmp_path / "environments", dev, prod, YAML))
