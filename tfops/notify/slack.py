"""Slack incoming webhooks: one POST of a text message. A failure is a warning, never fatal:
a notification that can't be sent must not stop a drift check or a heal."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from tfops import __version__

TIMEOUT_SECONDS = 10.0


def post_slack(
    url: str,
    text: str,
    *,
    warn: Callable[[str], None],
    timeout: float = TIMEOUT_SECONDS,
) -> bool:
    """Post `text` (Slack mrkdwn) to an incoming webhook; True when Slack took it."""
    data = json.dumps({"text": text}).encode()
    where = _where(url)  # the webhook URL is a secret: name only its host
    try:
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", f"tfops/{__version__}")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
        return True
    except urllib.error.HTTPError as exc:
        said = exc.read().decode("utf-8", "replace").strip()[:200]
        warn(f"Slack webhook at {where} answered {exc.code}" + (f" ({said})" if said else ""))
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        warn(f"could not post to the Slack webhook at {where}: {reason}")
    return False


def _where(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the configured URL"
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"
