"""Slack's requests to tfops: verified exactly as Slack specifies, then handed to the app.

    POST /slack/commands        a slash command (`/tfops deploy prod`), form-encoded
    POST /slack/interactions    a button pressed in a message tfops posted (`payload`, JSON)

Slack signs every request with the app's signing secret: `X-Slack-Signature` is `v0=` and
the hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}`. A request is accepted
only when that signature matches (compared in constant time), its timestamp is within five
minutes of now, its signature was not seen before (the same request twice is a replay),
and — with `slack.team_id` — it comes from that workspace. Anything else is 401 and nothing
is done: nothing of the body is parsed before the signature holds. Without a signing secret
the endpoints are off (404).

Slack waits 3 seconds for an answer, so the app answers at once (an ack or a short answer)
and posts the rest to the request's `response_url` later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from tfops.config import SLACK_USER_ID
from tfops.server.health import Answer, PostRoute

VERSION = "v0"
MAX_AGE_SECONDS = 5 * 60  # a request signed longer ago (or ahead) than this is refused
MAX_FIELDS = 64
MAX_TEXT = 4000  # a slash command's text; Slack's own limit is near this
REFUSALS_LOG_SECONDS = 60.0  # refused requests are logged at most once a minute

COMMANDS_PATH = "/slack/commands"
INTERACTIONS_PATH = "/slack/interactions"
UNAUTHORIZED = Answer(401, "invalid or expired request signature")


@dataclass(frozen=True)
class SlashCommand:
    """A verified `/tfops TEXT` from Slack."""

    team_id: str
    user_id: str
    user_name: str
    channel_id: str
    command: str
    text: str
    response_url: str


@dataclass(frozen=True)
class ButtonPress:
    """A verified press of a button in a message tfops posted (`block_actions`)."""

    team_id: str
    user_id: str
    user_name: str
    action_id: str
    block_id: str
    value: str
    response_url: str


class SlackApp(Protocol):
    """What answers Slack: the chat commands (`tfops.chatops`)."""

    def signing_secret(self) -> str | None: ...
    def team_id(self) -> str | None: ...
    def command(self, command: SlashCommand) -> Answer: ...
    def press(self, press: ButtonPress) -> Answer: ...
    def warn(self, message: str) -> None: ...


class BadRequest(ValueError):
    """A signed request whose content is not what Slack sends."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` Slack sends for `body` signed at `timestamp`."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verification_problem(
    secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> str | None:
    """Why the request is not one Slack signed with `secret` just now; None when it is."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    sent = headers.get("x-slack-signature", "")
    if not timestamp or not sent:
        return "the request is not signed"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "the request timestamp is not a number"
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "the request timestamp is more than 5 minutes away (a replay, or a wrong clock)"
    expected = signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, sent.encode("latin-1", "replace")):
        return "the request signature does not match the signing secret"
    return None


class _Seen:
    """Signatures accepted in the last few minutes: a request accepted twice is a replay."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def first_time(self, sent: str, timestamp: int, now: float) -> bool:
        with self._lock:
            if len(self._until) > 256:
                self._until = {s: t for s, t in self._until.items() if t > now}
            if self._until.get(sent, 0.0) > now:
                return False
            self._until[sent] = timestamp + MAX_AGE_SECONDS + 1
            return True


class SlackEndpoints:
    """The two POST routes, each verified before the app sees anything."""

    def __init__(self, app: SlackApp, *, now: Callable[[], float] = time.time):
        self.app = app
        self.now = now
        self._seen = _Seen()
        self._refusals: list[str] = []
        self._logged_at = 0.0
        self._log_lock = threading.Lock()

    def routes(self) -> dict[str, PostRoute]:
        return {COMMANDS_PATH: self.commands, INTERACTIONS_PATH: self.interactions}

    def commands(self, headers: Mapping[str, str], body: bytes) -> Answer:
        return self._handle(headers, body, self._command)

    def interactions(self, headers: Mapping[str, str], body: bytes) -> Answer:
        return self._handle(headers, body, self._interaction)

    # ---- verification ------------------------------------------------------------------
    def _handle(
        self,
        headers: Mapping[str, str],
        body: bytes,
        then: Callable[[dict[str, str]], Answer],
    ) -> Answer:
        secret = self.app.signing_secret()
        if not secret:
            return Answer(404, "not found: Slack commands are off (no signing secret is set)")
        now = self.now()
        problem = verification_problem(secret, headers, body, now)
        if problem is None:
            sent = headers["x-slack-signature"]
            if not self._seen.first_time(sent, int(headers["x-slack-request-timestamp"]), now):
                problem = "the request was sent before (a replay)"
        if problem is not None:
            self._refuse(problem)
            return UNAUTHORIZED
        try:
            form = _form(headers, body)
            return then(form)
        except BadRequest as exc:
            self._refuse(f"a signed request that is not Slack's: {exc}")
            return Answer(400, "not a Slack request tfops understands")
        except Exception as exc:  # a bug: Slack gets a 500, the log says what
            self.app.warn(f"a Slack request failed inside tfops: {type(exc).__name__}: {exc}")
            return Answer(500, "internal error")

    def _team_allowed(self, team: str) -> bool:
        wanted = self.app.team_id()
        if wanted is None or wanted == team:
            return True
        self._refuse(f"a request from Slack workspace {team!r}, not slack.team_id {wanted!r}")
        return False

    def _refuse(self, why: str) -> None:
        """Log refusals, at most once a minute: a flood of bad requests must not flood the log."""
        with self._log_lock:
            self._refusals.append(why)
            now = time.monotonic()
            if now - self._logged_at < REFUSALS_LOG_SECONDS and self._logged_at:
                return
            refusals, self._refusals, self._logged_at = self._refusals, [], now
        more = f" (and {len(refusals) - 1} more refused since)" if len(refusals) > 1 else ""
        self.app.warn(f"refused a Slack request: {refusals[0]}{more}")

    # ---- the two kinds of request ------------------------------------------------------
    def _command(self, form: dict[str, str]) -> Answer:
        command = SlashCommand(
            team_id=_field(form, "team_id"),
            user_id=_user(form.get("user_id")),
            user_name=_field(form, "user_name", required=False),
            channel_id=_field(form, "channel_id", required=False),
            command=_field(form, "command"),
            text=_field(form, "text", required=False, limit=MAX_TEXT),
            response_url=_field(form, "response_url", limit=1000),
        )
        if not self._team_allowed(command.team_id):
            return UNAUTHORIZED
        return self.app.command(command)

    def _interaction(self, form: dict[str, str]) -> Answer:
        try:
            payload = json.loads(_field(form, "payload", limit=60_000))
        except ValueError:
            raise BadRequest("payload is not JSON") from None
        if not isinstance(payload, dict):
            raise BadRequest("payload is not an object")
        user = _object(payload, "user")
        team = payload.get("team")
        team_id = _text(team.get("id") if isinstance(team, dict) else user.get("team_id"))
        if not self._team_allowed(team_id):
            return UNAUTHORIZED
        if payload.get("type") != "block_actions":
            return Answer(200)  # a shortcut or a view: nothing tfops offers
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise BadRequest("block_actions without actions")
        action = actions[0]
        press = ButtonPress(
            team_id=team_id,
            user_id=_user(user.get("id")),
            user_name=_text(user.get("username") or user.get("name")),
            action_id=_text(action.get("action_id"), 255),
            block_id=_text(action.get("block_id"), 255),
            value=_text(action.get("value"), 2000),
            response_url=_text(payload.get("response_url"), 1000),
        )
        if not press.response_url:
            raise BadRequest("no response_url")
        return self.app.press(press)


def _form(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest(f"the content type is {kind or 'missing'}, not a form")
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not a form") from None
    if any(len(values) != 1 for values in fields.values()):
        raise BadRequest("a form field is given twice")
    return {name: values[0] for name, values in fields.items()}


def _field(form: dict[str, str], name: str, *, required: bool = True, limit: int = 255) -> str:
    value = form.get(name, "")
    if required and not value:
        raise BadRequest(f"no {name}")
    if len(value) > limit:
        raise BadRequest(f"{name} is over {limit} characters")
    return value


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise BadRequest(f"no {name}")
    return value


def _text(value: Any, limit: int = 255) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest("a field is not a short string")
    return value


def _user(value: Any) -> str:
    if not isinstance(value, str) or not SLACK_USER_ID.fullmatch(value):
        raise BadRequest("the user is not a Slack user ID")
    return value
