"""One HTTP exchange with GitHub's API: bounded in time, and credentials that stay home.

Two things urllib does not do on its own:

- **A deadline for the whole exchange.** A socket timeout bounds each read, not the
  exchange: an API (or a proxy) that sends one byte every 10 s never trips a 30 s timeout and
  holds `tfops ci` for as long as it likes. Here a watchdog shuts the connection's socket when
  the exchange's deadline passes, whatever it is doing then (connecting, TLS, headers, body).
- **No token on another origin.** urllib's redirect handler copies every header, the
  `Authorization` header included, to wherever `Location` points. Here the token is an
  "unredirected" header, added back only when a redirect stays on the API's origin (scheme,
  host and port): a GET that is sent elsewhere goes without it. A write is followed only to the
  same origin and only on 307/308, which keep the method and body (GitHub answers 307 to a
  write on a renamed repository); urllib would turn a redirected POST into a GET.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 32 * 1024 * 1024  # GitHub's largest answers tfops reads are ~2 MB
_READS = ("GET", "HEAD")


@dataclass(frozen=True)
class Answer:
    """GitHub's answer, whatever its status."""

    status: int
    headers: Message
    body: bytes


class TransportError(Exception):
    """No complete answer came back.

    `sent`: the request may have reached GitHub, so a write may have taken effect.
    `retryable`: trying again may help (a timeout, a reset) or not (a refused redirect).
    """

    def __init__(self, reason: str, *, sent: bool, retryable: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.sent = sent
        self.retryable = retryable


Origin = tuple[str, str, int | None]


def origin(url: str) -> Origin:
    """Scheme, host and port, as browsers compare them."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return (
        scheme,
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(scheme),
    )


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    authorization: str,
    deadline: float,
) -> Answer:
    """One request and its whole answer within `deadline` seconds, following redirects."""
    watchdog = _Watchdog(deadline)
    opener = urllib.request.OpenerDirector()  # HTTP(S) only: no file:, ftp: or data: handlers
    for handler in (
        urllib.request.ProxyHandler(),  # HTTPS_PROXY / NO_PROXY, as runners behind one set
        _HTTPHandler(watchdog.watch),
        _HTTPSHandler(watchdog.watch),
        urllib.request.HTTPDefaultErrorHandler(),
        _Redirects(origin(url), authorization),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    request.add_unredirected_header("Authorization", authorization)
    try:
        try:
            with opener.open(request, timeout=deadline) as response:
                answer = Answer(response.status, response.headers, _read(response))
        except urllib.error.HTTPError as error:  # a status of 400 or more: still an answer
            with error:
                answer = Answer(error.code, error.headers, _read(error))
        if watchdog.expired:  # a read cut short by the watchdog returns what it had
            raise OSError("deadline")
        return answer
    except TransportError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as error:
        if watchdog.expired:
            raise TransportError(f"no complete answer within {deadline:g}s", sent=True) from None
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        not_sent = isinstance(reason, ConnectionRefusedError | socket.gaierror)
        raise TransportError(str(reason) or type(reason).__name__, sent=not not_sent) from None
    finally:
        watchdog.stop()


def _read(response: Any) -> bytes:
    """The whole body, or an error: a body shorter than its Content-Length is cut short."""
    data: bytes = response.read(MAX_ANSWER_BYTES + 1)
    if len(data) > MAX_ANSWER_BYTES:
        raise TransportError(
            f"the answer is larger than {MAX_ANSWER_BYTES // 2**20} MiB", sent=True, retryable=False
        )
    length = (response.headers.get("Content-Length") or "").strip()
    if length.isdigit() and len(data) < int(length):
        raise http.client.IncompleteRead(data, int(length) - len(data))
    return data


class _Watchdog:
    """Shuts every socket of one exchange when its deadline passes.

    It keeps a duplicate of each socket's descriptor: shutdown acts on the connection behind
    all its descriptors, and a duplicate outlives the original being wrapped in TLS.
    """

    def __init__(self, seconds: float):
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        duplicate = sock.dup()
        with self._lock:
            self._sockets.append(duplicate)
            expired = self.expired
        if expired:
            _shut(duplicate)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _watched(
    connection_class: type[http.client.HTTPConnection], watch: Callable[[socket.socket], None]
) -> Callable[..., http.client.HTTPConnection]:
    """A connection factory whose sockets `watch` sees as soon as they exist."""

    def connect(host: str, **options: Any) -> http.client.HTTPConnection:
        connection = connection_class(host, **options)
        create = connection._create_connection  # type: ignore[attr-defined]

        def create_and_watch(*args: Any, **kwargs: Any) -> socket.socket:
            sock: socket.socket = create(*args, **kwargs)
            watch(sock)
            return sock

        connection._create_connection = create_and_watch  # type: ignore[attr-defined]
        return connection

    return connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watch: Callable[[socket.socket], None]):
        super().__init__()
        self._connect = _watched(http.client.HTTPConnection, watch)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connect, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watch: Callable[[socket.socket], None]):
        super().__init__()
        self._connect = _watched(http.client.HTTPSConnection, watch)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connect, req, context=self._context)  # type: ignore[attr-defined]


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects; the token goes only where the API is."""

    def __init__(self, home: Origin, authorization: str):
        super().__init__()
        self._home = home
        self._authorization = authorization

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        method = req.get_method()
        home = origin(newurl) == self._home
        if origin(newurl)[0] not in ("http", "https"):
            raise TransportError(
                f"GitHub redirected the {method} to a {origin(newurl)[0]}: URL; tfops follows "
                "only http and https",
                sent=False,
                retryable=False,
            )
        if method in _READS:
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
        elif code in (307, 308) and home:
            new = urllib.request.Request(
                newurl,
                data=req.data,
                headers=dict(req.headers),
                method=method,
                origin_req_host=req.origin_req_host,
                unverifiable=True,
            )
        else:
            where = "another origin" if not home else f"{code}, which would drop the body"
            raise TransportError(
                f"GitHub redirected the {method} to {where} ({_origin_text(newurl)}); "
                "tfops follows a write only to the API's own origin, with a 307 or 308",
                sent=False,
                retryable=False,
            )
        if new is not None and home:
            new.add_unredirected_header("Authorization", self._authorization)
        return new


def _origin_text(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"
