"""A small HTTP endpoint for a long-running tfops: `GET /healthz` and `GET /status`.

`/healthz` answers 200 "ok" while the service is alive and 503 with the reason when it is
stuck (for a liveness probe); `/status` answers the service's status as JSON. It runs
http.server in a daemon thread: it never holds the service up, and dies with it.
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
    def __init__(self, host: str, port: int, status: Status, health: Health):
        self._status = status
        self._health = health
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
                else:
                    self._send(404, "text/plain", "not found: try /healthz or /status")

            def _send(self, code: int, kind: str, text: str) -> None:
                body = (text + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
