"""The Slack endpoints on a real HTTP server on loopback: every request verified as Slack
specifies before anything is done, bodies over 64 KB refused, and no slow or malformed
client holding up the others. The app behind them records what reached it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest

from tests.server.test_health import fetch
from tests.slack_app import SECRET, TEAM, Receiver, SlackClient, sign
from tfops.server import health
from tfops.server.health import Answer, HealthServer
from tfops.server.slack import ButtonPress, SlackEndpoints, SlashCommand


class App:
    """What the endpoints hand verified requests to; it answers like tfops's does."""

    def __init__(self) -> None:
        self.secret: str | None = SECRET
        self.team: str | None = None
        self.commands: list[SlashCommand] = []
        self.presses: list[ButtonPress] = []
        self.refusals: list[str] = []
        self.hold: threading.Event | None = None  # block command() until set

    def signing_secret(self) -> str | None:
        return self.secret

    def team_id(self) -> str | None:
        return self.team

    def command(self, command: SlashCommand) -> Answer:
        if self.hold is not None:
            self.hold.wait(30)
        self.commands.append(command)
        return Answer.json({"response_type": "ephemeral", "text": f"got {command.text}"})

    def press(self, press: ButtonPress) -> Answer:
        self.presses.append(press)
        return Answer(200)

    def warn(self, message: str) -> None:
        self.refusals.append(message)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def served(receiver: Receiver) -> Iterator[Callable[..., tuple[App, SlackClient, HealthServer]]]:
    servers: list[HealthServer] = []

    def start(**options: int) -> tuple[App, SlackClient, HealthServer]:
        app = App()
        server = HealthServer(
            "127.0.0.1",
            0,
            lambda: {"ok": True},
            lambda: None,
            posts=SlackEndpoints(app).routes(),
            **options,
        ).start()
        servers.append(server)
        return app, SlackClient(server.url, receiver), server

    yield start
    for server in servers:
        server.stop()


def test_a_signed_command_reaches_the_app(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    app, slack, _ = served()
    sent = slack.command("deploy production", user="U0ALICE", name="alice")
    assert sent.code == 200 and sent.json == {
        "response_type": "ephemeral",
        "text": "got deploy production",
    }
    (command,) = app.commands
    assert (command.user_id, command.user_name, command.team_id) == ("U0ALICE", "alice", TEAM)
    assert command.response_url == sent.response_url and command.command == "/tfops"
    assert app.refusals == []


@pytest.mark.parametrize(
    "signed",
    [
        pytest.param(lambda body: sign(body, secret="not-the-secret"), id="wrong secret"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 301), id="5 min old"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) + 301), id="5 min ahead"),
        pytest.param(lambda body: sign(body + b"&text=apply+prod"), id="tampered body"),
        pytest.param(lambda body: {**sign(body), "X-Slack-Signature": ""}, id="no signature"),
        pytest.param(
            lambda body: {**sign(body), "X-Slack-Request-Timestamp": "1e9"}, id="odd timestamp"
        ),
        pytest.param(
            lambda body: {**sign(body), "X-Slack-Signature": sign(body)["X-Slack-Signature"][:-1]},
            id="cut signature",
        ),
        pytest.param(
            lambda body: {
                **sign(body),
                "X-Slack-Signature": "v1=" + sign(body)["X-Slack-Signature"][3:],
            },
            id="other version",
        ),
    ],
)
def test_anything_not_signed_by_slack_just_now_is_401_and_nothing_is_done(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
    signed: Callable[[bytes], dict[str, str]],
) -> None:
    app, slack, _ = served()
    sent = slack.command("apply prod", sign_with=signed)
    assert (sent.code, sent.body) == (401, "invalid or expired request signature\n")
    body = slack.press_body("tfops_apply", "x", "tfops_plan:prod", "U0ALICE", "alice", "u")
    code, _, _ = slack.post("/slack/interactions", body, signed(body))
    assert code == 401
    assert app.commands == [] and app.presses == []
    assert app.refusals and app.refusals[0].startswith("refused a Slack request: ")


def test_a_request_seen_before_is_a_replay(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    app, slack, _ = served()
    body = slack.command_body("apply prod", "U0ALICE", "alice", "https://hooks.slack.com/x")
    headers = sign(body)
    assert slack.post("/slack/commands", body, headers)[0] == 200
    assert slack.post("/slack/commands", body, headers)[0] == 401  # within the 5 minutes
    assert len(app.commands) == 1
    assert app.refusals == ["refused a Slack request: the request was sent before (a replay)"]


def test_refusals_are_logged_once_a_minute_at_most(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    app, slack, _ = served()
    for _ in range(5):
        slack.command("help", sign_with=lambda body: sign(body, secret="guess"))
    assert len(app.refusals) == 1  # a flood of bad requests must not flood the log


def test_the_workspace_pin(served: Callable[..., tuple[App, SlackClient, HealthServer]]) -> None:
    app, slack, _ = served()
    app.team = "T0OTHER"
    assert slack.command("status").code == 401
    body = slack.press_body("tfops_apply", "x", "tfops_plan:prod", "U0ALICE", "alice", "u")
    assert slack.post("/slack/interactions", body, sign(body))[0] == 401
    assert app.commands == [] and app.presses == []
    assert "not slack.team_id 'T0OTHER'" in app.refusals[0]
    app.team = TEAM
    assert slack.command("status").code == 200


def test_without_a_signing_secret_the_endpoints_are_off(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    app, slack, _ = served()
    app.secret = None
    sent = slack.command("status")
    assert sent.code == 404 and "no signing secret" in sent.body
    assert app.commands == []


def test_a_button_press_reaches_the_app_typed(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    app, slack, _ = served()
    sent = slack.press(
        {"action_id": "tfops_apply", "value": "plan-id"},
        "tfops_plan:prod",
        user="U0BOB",
        name="bob",
    )
    assert (sent.code, sent.body) == (200, "\n")
    (press,) = app.presses
    assert (press.action_id, press.value, press.block_id) == (
        "tfops_apply",
        "plan-id",
        "tfops_plan:prod",
    )
    assert (press.user_id, press.user_name, press.response_url) == (
        "U0BOB",
        "bob",
        sent.response_url,
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"payload=%7Bnot+json", "payload is not JSON"),
        (urlencode({"payload": "[1]"}).encode(), "payload is not an object"),
        (
            urlencode(
                {
                    "payload": json.dumps(
                        {"type": "block_actions", "user": {"id": "alice"}, "actions": [{}]}
                    )
                }
            ).encode(),
            "the user is not a Slack user ID",
        ),
        (b"payload=%7B%7D&payload=%7B%7D", "a form field is given twice"),
        (b"\xff\xfe", "the body is not a form"),
    ],
)
def test_a_signed_body_that_is_not_slacks_is_400(
    served: Callable[..., tuple[App, SlackClient, HealthServer]], body: bytes, why: str
) -> None:
    app, slack, _ = served()
    code, text, _ = slack.post("/slack/interactions", body, sign(body))
    assert (code, text) == (400, "not a Slack request tfops understands\n")
    assert app.presses == [] and why in app.refusals[0]


def test_oversized_chunked_and_unsized_bodies_are_refused_unread(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    app, slack, server = served()
    big = b"text=" + b"a" * (64 * 1024)
    code, text, _ = slack.post("/slack/commands", big, sign(big))
    assert (code, text) == (413, "the body is over 65536 bytes\n")
    host, port = server.url.removeprefix("http://").split(":")
    for request, expected in (
        (b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n", b" 413 "),
        (
            b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            b" 411 ",
        ),
        (b"POST /slack/commands HTTP/1.1\r\nHost: x\r\n\r\n", b" 411 "),
    ):
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(request)
            assert expected in raw.recv(200)
    assert app.commands == []
    assert fetch(server.url + "/healthz")[0] == 200


def test_unknown_paths_are_404_and_get_routes_refuse_post(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    _, slack, server = served()
    body = slack.command_body("help", "U0ALICE", "alice", "u")
    for path in ("/slack", "/slack/commands/", "/slack/events", "/SLACK/COMMANDS", "/"):
        code, _, _ = slack.post(path, body, sign(body))
        assert code == (501 if path == "/" else 404), path
    assert fetch(server.url + "/slack/commands")[0] == 404  # GET: nothing there


def test_a_slow_client_holds_up_nobody(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "REQUEST_TIMEOUT", 2.0)
    app, slack, server = served()
    host, port = server.url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)), timeout=10)
    slow.sendall(b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ntext=")
    stalled = socket.create_connection((host, int(port)), timeout=10)
    stalled.sendall(b"POST /slack/comm")  # and nothing more
    try:
        sent = slack.command("status")
        assert sent.code == 200 and sent.seconds < 1
        assert fetch(server.url + "/healthz")[0] == 200
        started = time.monotonic()
        assert b" 408 " in slow.recv(200)  # its body never came whole: dropped
        assert time.monotonic() - started < 5
    finally:
        slow.close()
        stalled.close()
    assert [c.text for c in app.commands] == ["status"]


def test_a_request_drip_fed_byte_by_byte_is_cut_off(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "REQUEST_TIMEOUT", 1.5)
    app, slack, server = served()
    body = slack.command_body("apply prod", "U0ALICE", "alice", "u")
    head = "".join(f"{k}: {v}\r\n" for k, v in sign(body).items())
    request = (
        f"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head}\r\n"
    ).encode() + body
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as drip:
        drip.sendall(request[: request.index(b"\r\n\r\n") + 4])
        started = time.monotonic()
        answer = b""
        for byte in body:  # one byte every 0.4 s: each read is in time, the whole is not
            try:
                drip.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.4)
            if time.monotonic() - started > 4:
                break
        answer = drip.recv(200)
    assert b" 408 " in answer
    assert app.commands == []


def test_a_slow_answer_holds_up_nobody(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    app, slack, server = served()
    app.hold = threading.Event()
    answers: list[int] = []
    waiting = threading.Thread(target=lambda: answers.append(slack.command("help").code))
    waiting.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert fetch(server.url + "/healthz")[0] == 200
        assert fetch(server.url + "/status")[0] == 200
        assert time.monotonic() - started < 2 and answers == []
    finally:
        app.hold.set()
        waiting.join(10)
    assert answers == [200]


def test_more_connections_than_slots_are_closed_not_queued(
    served: Callable[..., tuple[App, SlackClient, HealthServer]],
) -> None:
    _, _, server = served(max_connections=2)
    host, port = server.url.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.2)
        with socket.create_connection((host, int(port)), timeout=5) as third:
            third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert third.recv(100) == b""  # closed at once, not left waiting
    finally:
        for connection in idle:
            connection.close()
    time.sleep(0.2)
    assert fetch(server.url + "/healthz")[0] == 200
