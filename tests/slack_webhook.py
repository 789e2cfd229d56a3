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
        self.refused: list[tuple[dict[str, Any], str]] = []  # and why
        self.status = 200
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message = json.loads(body)
                problem = invalid_blocks(message.get("blocks"))
                if problem:  # Slack answers 400 and says no more than this
                    slack.refused.append((message, problem))
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(b"invalid_blocks")
                    return
                slack.messages.append(message)
                self.send_response(slack.status)
                self.end_headers()
                self.wfile.write(b"ok" if slack.status == 200 else b"invalid_token")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/s3cr3t"


# Block Kit's documented limits (docs.slack.dev/reference/block-kit/blocks), and the total
# near which Slack answers msg_blocks_too_long (about 13,000 characters, not documented).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_TOTAL_TEXT = 13_000


def invalid_blocks(blocks: Any) -> str | None:
    """Why Slack would refuse these blocks, or None."""
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return f"more than {MAX_BLOCKS} blocks"
    total = 0
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or len(text["text"]) > MAX_HEADER_TEXT:
                return f"block {index}: a header is plain text of at most {MAX_HEADER_TEXT}"
            total += len(text["text"])
        elif kind == "section":
            text = block["text"]
            if text.get("type") not in ("mrkdwn", "plain_text") or not text.get("text"):
                return f"block {index}: a section needs text"
            if len(text["text"]) > MAX_SECTION_TEXT:
                return f"block {index}: section text over {MAX_SECTION_TEXT} characters"
            total += len(text["text"])
        elif kind == "context":
            elements = block["elements"]
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                return f"block {index}: a context has 1 to {MAX_CONTEXT_ELEMENTS} elements"
            total += sum(len(e["text"]) for e in elements)
        elif kind != "divider":
            return f"block {index}: type {kind!r} is not one tfops sends"
    if total > MAX_TOTAL_TEXT:
        return "msg_blocks_too_long"
    return None


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
