"""Answers posted to a Slack request's `response_url`, and nowhere else.

A `response_url` arrives inside the request, so it is checked before anything is sent to
it: https://hooks.slack.com/commands/… or /actions/… only (Slack's own), never a
redirect onwards, no credentials and no header but the content type — a payload that
named another host (an internal service, a cloud metadata address) would otherwise get
tfops's plans POSTed to it. Tests point `TFOPS_SLACK_RESPONSE_ORIGIN` at a receiver on
loopback (`http://127.0.0.1:PORT`): it replaces Slack's origin, it does not add to it.
A response_url is a bearer capability for its channel, so logs name only its host.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tfops import __version__

SLACK_ORIGIN = "https://hooks.slack.com"
ORIGIN_ENV = "TFOPS_SLACK_RESPONSE_ORIGIN"
PATHS = ("/commands/", "/actions/")
TIMEOUT_SECONDS = 10.0

Warn = Callable[[str], None]
Mask = Callable[[Any], Any]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an error: the answer goes to Slack's URL or nowhere


def allowed_origin() -> str:
    return (os.environ.get(ORIGIN_ENV) or SLACK_ORIGIN).rstrip("/")


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    shown = "" if port in (None, default) else f":{port}"
    return f"{parts.scheme}://{parts.hostname}{shown}"


def url_problem(url: str) -> str | None:
    """Why tfops will not post to `url`; None when it is Slack's response URL."""
    allowed = allowed_origin()
    origin = _origin(url)
    if origin is None or origin != _origin(allowed):
        return f"the response_url is not on {allowed}"
    parts = urlsplit(url)
    odd = ".." in parts.path or "%" in parts.path or parts.query or parts.fragment
    if not parts.path.startswith(PATHS) or odd:
        return f"the response_url is not a Slack response URL ({allowed}/commands/… or /actions/…)"
    return None


class Responder:
    """Posts messages (Block Kit JSON) to response URLs, in the order they were sent, from a
    thread of its own: whoever sends is never held up by Slack. Failures are warnings."""

    def __init__(self, warn: Warn, mask: Mask, *, timeout: float = TIMEOUT_SECONDS):
        self.warn = warn
        self.mask = mask
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects())
        self._queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()

    def send(self, url: str, message: dict[str, Any]) -> None:
        """Queue `message` for `url` (masked when it is posted)."""
        with self._start:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="tfops-slack-answers", daemon=True
                )
                self._worker.start()
        self._queue.put((url, message))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued message was posted (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _work(self) -> None:
        while True:
            url, message = self._queue.get()
            try:
                self.post(url, message)
            except Exception as exc:  # never let one message stop the others
                self.warn(f"could not post to Slack: {type(exc).__name__}")
            finally:
                self._queue.task_done()

    def post(self, url: str, message: dict[str, Any]) -> bool:
        """POST `message`, masked, to `url`; True when Slack took it."""
        problem = url_problem(url)
        where = _origin(url) or "an unusable URL"
        if problem is not None:
            self.warn(f"not answering Slack: {problem}")
            return False
        data = json.dumps(self.mask(message)).encode()
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", "application/json; charset=utf-8")
        request.add_header("User-Agent", f"tfops/{__version__}")
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                answer.read(4096)
            return True
        except urllib.error.HTTPError as exc:
            said = exc.read(200).decode("utf-8", "replace").strip()
            self.warn(f"Slack's response URL at {where} answered {exc.code}: {said[:200]}")
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            self.warn(f"could not post to Slack's response URL at {where}: {reason}")
        return False
