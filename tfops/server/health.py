"""A small HTTP endpoint for a long-running tfops: `GET /healthz`, `GET /status`, `GET /`.

`/healthz` answers 200 "ok" while the service is alive and 503 with the reason when it is
stuck (for a liveness probe); `/status` answers the service's status as JSON; `/`, when a
page callback is given, answers an HTML page (the watcher's overview). Nothing else is
served: any other path is 404, any other method 501. It runs http.server in a daemon
thread, one thread per request: it never holds the service up (a plan running in the
service doesn't hold it up either), and dies with it. A client that sends nothing for
`REQUEST_TIMEOUT` seconds is dropped, so slow clients can't pile up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tfops.errors import TfopsError

Status = Callable[[], dict[str, Any]]
Health = Callable[[], str | None]  # None when healthy, else why not
Page = Callable[[], str]  # an HTML page, made for each request

REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request
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


class HealthServer:
    def __init__(
        self, host: str, port: int, status: Status, health: Health, page: Page | None = None
    ):
        self._status = status
        self._health = health
        self._page = page
        try:
            self._server = ThreadingHTTPServer((host, port), self._handler())
        except OSError as exc:
            raise TfopsError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="choose another --listen port, or stop what is using it",
            ) from None
        self._server.daemon_threads = True
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
