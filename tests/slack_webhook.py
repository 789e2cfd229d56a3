"""A Slack incoming webhook on 127.0.0.1 for tests: it records what it is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Slack:
    """An incoming webhook on 127.0.0.1 that records what it is sent (or answers `status`)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.status = 200
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                slack.messages.append(json.loads(body))
                self.send_response(slack.status)
                self.end_headers()
                self.wfile.write(b"ok" if slack.status == 200 else b"invalid_token")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/s3cr3t"


@contextmanager
def slack_webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Slack]:
    """A webhook tfops is pointed at (TFOPS_SLACK_WEBHOOK_URL) for the duration."""
    hook = Slack()
    monkeypatch.setenv("TFOPS_SLACK_WEBHOOK_URL", hook.url)
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()
