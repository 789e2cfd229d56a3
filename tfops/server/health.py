"""A small HTTP endpoint for a long-running tfops: `GET /healthz`, `GET /status`, `GET /`,
and the POST routes it is given (the Slack endpoints, `server/slack.py`).

`/healthz` answers 200 "ok" while the service is alive and 503 with the reason when it is
stuck (for a liveness probe); `/status` answers the service's status as JSON; `/`, when a
page callback is given, answers an HTML page (the watcher's overview). Nothing else is
served: any other path is 404, any other method 501. It runs http.server in a daemon
thread, one thread per request: it never holds the service up (a plan running in the
service doesn't hold it up either), and dies with it.

Nobody can hold it up either: a client that sends nothing for `REQUEST_TIMEOUT` seconds is
dropped, a request body must arrive whole within that time, a body over `MAX_BODY` bytes
is refused (413) before it is read, and at most `MAX_CONNECTIONS` requests are served at
once — more are closed at once rather than queued behind the slow ones.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tfops.errors import TfopsError

Status = Callable[[], dict[str, Any]]
Health = Callable[[], str | None]  # None when healthy, else why not
Page = Callable[[], str]  # an HTML page, made for each request

REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request (and its body)
MAX_BODY = 64 * 1024  # bytes: more is refused with 413, unread
MAX_CONNECTIONS = 64  # requests served at once; more are closed at once


@dataclass(frozen=True)
class Answer:
    """What a POST route answers."""

    code: int
    body: str = ""
    content_type: str = "text/plain"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, code: int = 200) -> Answer:
        return cls(code, json.dumps(data), "application/json")


# A POST route: the request's headers (names in lower case) and its raw body → the answer.
PostRoute = Callable[[Mapping[str, str], bytes], Answer]

# The page is the service's own, self-contained: it loads and runs nothing, is never framed.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT` (host 127.0.0.1); `[::1]:PORT` for IPv6."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise TfopsError(
            f"--listen {value!r} is not HOST:PORT",
            hint="e.g. --listen 127.0.0.1:8080, or --listen 0.0.0.0:8080 in a container",
        )
    return host, int(port)


class _Server(ThreadingHTTPServer):
    """One thread per request, at most `slots` of them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], slots: int):
        self._slots = threading.BoundedSemaphore(slots)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # busy: the client may try again
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        status: Status,
        health: Health,
        page: Page | None = None,
        posts: Mapping[str, PostRoute] | None = None,
        *,
        max_connections: int = MAX_CONNECTIONS,
    ):
        self._status = status
        self._health = health
        self._page = page
        self._posts = dict(posts or {})
        try:
            self._server = _Server((host, port), self._handler(), max_connections)
        except OSError as exc:
            raise TfopsError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="choose another --listen port, or stop what is using it",
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="tfops-health", daemon=True
        )

    @property
    def url(self) -> str:
        address, port = self._server.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = REQUEST_TIMEOUT

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would drown the service's own log

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    problem = server._health()
                    self._send(503 if problem else 200, "text/plain", problem or "ok")
                elif path == "/status":
                    text = json.dumps(server._status(), indent=2, sort_keys=True)
                    self._send(200, "application/json", text)
                elif path == "/" and server._page is not None:
                    try:
                        page = server._page()
                    except Exception:  # the page's own errors are pages; this is a bug
                        self._send(500, "text/plain", "the page could not be made; see /status")
                        return
                    self._send(200, "text/html", page, PAGE_HEADERS)
                else:
                    routes = "/, /healthz or /status" if server._page else "/healthz or /status"
                    self._send(404, "text/plain", f"not found: try {routes}")

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                route = server._posts.get(path)
                if route is None:
                    if path in ("/", "/healthz", "/status"):
                        self._send(501, "text/plain", "only GET is served here")
                    else:
                        self._send(404, "text/plain", "not found")
                    return
                body = self._body()
                if body is None:
                    return
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    answer = route(headers, body)
                except Exception:  # a route's bug: the route logs its own errors
                    self._send(500, "text/plain", "internal error")
                    return
                self._send(answer.code, answer.content_type, answer.body, dict(answer.headers))

            def _body(self) -> bytes | None:
                """The request body, whole, within REQUEST_TIMEOUT; None once refused."""
                self.close_connection = True  # never read a second request after a body
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    self._send(411, "text/plain", "send the body with a Content-Length")
                    return None
                length = self.headers.get("Content-Length")
                if length is None or not length.isdigit() or not length.isascii():
                    self._send(411, "text/plain", "a Content-Length is required")
                    return None
                size = int(length)
                if size > MAX_BODY:
                    self._send(413, "text/plain", f"the body is over {MAX_BODY} bytes")
                    return None
                deadline = time.monotonic() + REQUEST_TIMEOUT
                chunks: list[bytes] = []
                remaining = size
                try:
                    while remaining:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise TimeoutError
                        self.connection.settimeout(left)
                        chunk = self.rfile.read1(remaining)
                        if not chunk:
                            return None  # the client went away
                        chunks.append(chunk)
                        remaining -= len(chunk)
                except TimeoutError:
                    self._send(408, "text/plain", "the body took too long")
                    return None
                finally:
                    self.connection.settimeout(REQUEST_TIMEOUT)
                return b"".join(chunks)

            def _send(
                self, code: int, kind: str, text: str, headers: dict[str, str] | None = None
            ) -> None:
                body = (text + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler
