"""Slack, for the ChatOps tests: requests signed as Slack signs them (computed here, from
Slack's description, not with tfops's code), sent to tfops's real HTTP server; and a
`response_url` receiver on 127.0.0.1 that records what tfops posts to it."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the shape of a Slack app's signing secret
TEAM = "T0TEAM"


def sign(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with `body`: v0=HMAC-SHA256(secret, "v0:{ts}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


class Receiver:
    """Slack's response URLs, on 127.0.0.1: records every POST (path, headers, JSON)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        self.location: str | None = None  # answer 302 to here instead
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._changed:
                    receiver.posts.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "json": json.loads(body),
                        }
                    )
                    receiver._changed.notify_all()
                if receiver.location:
                    self.send_response(302)
                    self.send_header("Location", receiver.location)
                    self.end_headers()
                    return
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, kind: str = "commands") -> str:
        """A fresh response URL, as Slack makes one per request."""
        return f"{self.origin}/{kind}/{TEAM}/{secrets.randbelow(10**9)}/{secrets.token_hex(8)}"

    def to(self, url: str) -> list[dict[str, Any]]:
        """What was posted to `url`."""
        path = urlsplit(url).path
        with self._changed:
            return [p["json"] for p in self.posts if p["path"] == path]

    def wait(self, url: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """The first `count` messages posted to `url`, once they are there."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.to(url)) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.to(url))} message(s) to {url}: {self.posts}"
                self._changed.wait(left)
            return self.to(url)[:count]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SlackClient:
    """Slack's side of the conversation with tfops's server at `base` (http://host:port)."""

    def __init__(self, base: str, receiver: Receiver, *, secret: str = SECRET, team: str = TEAM):
        self.base = base
        self.receiver = receiver
        self.secret = secret
        self.team = team

    def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float = 10
    ) -> tuple[int, str, float]:
        """POST exactly these bytes; (status, body, seconds it took)."""
        parts = urlsplit(self.base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        started = time.monotonic()
        try:
            connection.request("POST", path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read().decode(), time.monotonic() - started
        finally:
            connection.close()

    def command_body(self, text: str, user: str, name: str, response_url: str) -> bytes:
        return urlencode(
            {
                "token": "gIkuvaNzQIHg97ATvDxqgjtO",  # the deprecated verification token
                "team_id": self.team,
                "team_domain": "acme",
                "channel_id": "C0DEPLOY",
                "channel_name": "deployment",
                "user_id": user,
                "user_name": name,
                "command": "/tfops",
                "text": text,
                "api_app_id": "A0TFOPS",
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            }
        ).encode()

    def command(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        name: str = "alice",
        response_url: str | None = None,
        sign_with: Callable[[bytes], dict[str, str]] | None = None,
    ) -> Sent:
        url = response_url or self.receiver.url("commands")
        body = self.command_body(text, user, name, url)
        headers = (sign_with or (lambda b: sign(b, secret=self.secret)))(body)
        code, answer, seconds = self.post("/slack/commands", body, headers)
        return Sent(code, answer, seconds, url)

    def press_body(
        self, action: str, value: str, block_id: str, user: str, name: str, response_url: str
    ) -> bytes:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": self.team},
            "api_app_id": "A0TFOPS",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "container": {"type": "message", "message_ts": "1548261231.000200"},
            "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
            "team": {"id": self.team, "domain": "acme"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": "C0DEPLOY", "name": "deployment"},
            "response_url": response_url,
            "actions": [
                {
                    "action_id": action,
                    "block_id": block_id,
                    "text": {"type": "plain_text", "text": "Apply", "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": "1548426417.840180",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)}).encode()

    def press(
        self,
        button: dict[str, Any],
        block_id: str,
        *,
        user: str = "U0ALICE",
        name: str = "alice",
        value: str | None = None,
    ) -> Sent:
        """Press a button of a message tfops posted (the button's own action_id and value)."""
        url = self.receiver.url("actions")
        body = self.press_body(
            button["action_id"],
            button["value"] if value is None else value,
            block_id,
            user,
            name,
            url,
        )
        code, answer, seconds = self.post(
            "/slack/interactions", body, sign(body, secret=self.secret)
        )
        return Sent(code, answer, seconds, url)


class Sent:
    """A request sent to tfops: its answer, how long it took, and where tfops answers."""

    def __init__(self, code: int, body: str, seconds: float, response_url: str):
        self.code = code
        self.body = body
        self.seconds = seconds
        self.response_url = response_url

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def text(self) -> str:
        """Every mrkdwn text of the immediate answer, joined."""
        return message_text(self.json)


def message_text(message: dict[str, Any]) -> str:
    """Every text of a Block Kit message, joined (what a person reads)."""
    parts = []
    for block in message.get("blocks", []):
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
            elif isinstance(element.get("text"), dict):
                parts.append(element["text"]["text"])
    return "\n".join(parts)


def buttons(message: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The actions block of a message: its block_id and its buttons by action_id."""
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    return actions["block_id"], {e["action_id"]: e for e in actions["elements"]}
