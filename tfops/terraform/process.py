"""Run external tools with live output, a timeout, and signals passed on.

Children run in their own process group, so a Ctrl-C in the terminal reaches tfops
only; tfops forwards exactly one SIGINT per signal it receives to every running child.
Terraform treats the first SIGINT as "stop gracefully and release the state lock" and a
second as "stop now", so a user pressing Ctrl-C twice gets Terraform's own behaviour.
SIGTERM (CI cancelling a job) is forwarded as SIGINT too.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Protocol

from tfops.errors import Interrupted, TfopsError

KILL_GRACE_SECONDS = 120.0


class Sink(Protocol):
    def line(self, text: str, *, stderr: bool = False) -> None: ...
    def heartbeat(self, what: str, elapsed: float) -> None: ...
    def heartbeat_interval(self) -> float: ...


class NullSink:
    def line(self, text: str, *, stderr: bool = False) -> None:
        pass

    def heartbeat(self, what: str, elapsed: float) -> None:
        pass

    def heartbeat_interval(self) -> float:
        return 3600.0


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class _Forwarder:
    """Process-wide registry of running children and the signal state."""

    def __init__(self) -> None:
        self.children: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()
        self.signalled: int | None = None
        self.installed = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = signum
        with self.lock:
            children = list(self.children)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGINT)
        if not children:
            raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


FORWARDER = _Forwarder()


@contextmanager
def forward_signals() -> Iterator[None]:
    """Install the SIGINT/SIGTERM handlers for the duration of a command (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or FORWARDER.installed:
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, FORWARDER.handle)
    FORWARDER.installed = True
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        FORWARDER.installed = False
        FORWARDER.signalled = None


def check_interrupted() -> None:
    if FORWARDER.signalled is not None:
        raise Interrupted(f"interrupted by {signal.Signals(FORWARDER.signalled).name}")


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    sink: Sink | None = None,
    timeout: float | None = None,
    what: str = "",
    stdin_text: str | None = None,
) -> Result:
    """Run a command, streaming its lines to `sink`, and return everything it printed."""
    check_interrupted()
    sink = sink or NullSink()
    started = time.monotonic()
    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise TfopsError(f"{argv[0]} not found", hint=f"install {Path(argv[0]).name}") from None
    except PermissionError:
        raise TfopsError(f"{argv[0]} is not executable") from None
    with FORWARDER.lock:
        FORWARDER.children.add(child)
    lines: queue.Queue[tuple[bool, str | None]] = queue.Queue()
    readers = [
        threading.Thread(target=_pump, args=(child.stdout, False, lines), daemon=True),
        threading.Thread(target=_pump, args=(child.stderr, True, lines), daemon=True),
    ]
    for reader in readers:
        reader.start()
    if stdin_text is not None and child.stdin is not None:
        child.stdin.write(stdin_text.encode())
        child.stdin.close()
    out: list[str] = []
    err: list[str] = []
    open_streams = 2
    next_beat = started + sink.heartbeat_interval()
    timed_out_at: float | None = None
    try:
        while open_streams:
            try:
                is_err, text = lines.get(timeout=0.2)
            except queue.Empty:
                now = time.monotonic()
                if now >= next_beat:
                    sink.heartbeat(what or Path(argv[0]).name, now - started)
                    next_beat = now + sink.heartbeat_interval()
                if timeout and timed_out_at is None and now - started > timeout:
                    timed_out_at = now
                    child.send_signal(signal.SIGINT)
                elif timed_out_at and now - timed_out_at > KILL_GRACE_SECONDS:
                    child.kill()
                continue
            if text is None:
                open_streams -= 1
                continue
            (err if is_err else out).append(text)
            sink.line(text, stderr=is_err)
        child.wait()
    finally:
        with FORWARDER.lock:
            FORWARDER.children.discard(child)
        if child.poll() is None:  # we are unwinding from an exception: don't orphan it
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
    result = Result(
        tuple(argv), child.returncode, "".join(out), "".join(err), time.monotonic() - started
    )
    check_interrupted()
    if timed_out_at is not None:
        raise TfopsError(
            f"{what or argv[0]} timed out after {timeout:.0f}s and was interrupted",
            hint="raise terraform.timeout_minutes in tfops.yaml if this step is legitimately slow",
        )
    return result


def _pump(stream: object, is_err: bool, lines: queue.Queue[tuple[bool, str | None]]) -> None:
    assert stream is not None
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        lines.put((is_err, raw.decode("utf-8", errors="replace")))
    lines.put((is_err, None))


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env
