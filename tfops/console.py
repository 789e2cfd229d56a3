"""Live progress on stderr: step headers, streamed tool output, heartbeats, warnings.

stdout is kept for reports (`--format json` must be parseable), so everything here goes
to stderr. Output is masked. Parallel steps get a buffered sink that prints its lines as
one group when the step ends, so environments don't interleave.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from typing import TextIO

from tfops.masking import Masker

HEARTBEAT_SECONDS_TTY = 1.0
HEARTBEAT_SECONDS_LOG = 30.0

# What a terminal acts on instead of showing: C0 controls but tab and newline, DEL, C1
# controls, and the bidirectional overrides that make text read differently than it is.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe to write to a terminal: controls from user files shown as `\\x1b`.

    A `.tf` file (or a PR's) can hold ESC and BEL; echoed raw in an error message they
    would retitle the window, clear the screen or hide the following lines.
    """
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_escaped, text.replace("\r\n", "\n"))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class Console:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        verbose: bool = True,
        color: bool | None = None,
        masker: Masker | None = None,
    ):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.color = self.is_tty and "NO_COLOR" not in os.environ if color is None else color
        self.masker = masker or Masker()
        self._lock = threading.Lock()
        self._status_shown = False

    # ---- plain messages ------------------------------------------------------------
    def _write(self, text: str, style: str = "") -> None:
        """Write a line: masked, controls escaped, and only then styled (our own ESC codes)."""
        shown = self._style(self.clean(text), style) if style else self.clean(text)
        with self._lock:
            if self._status_shown:
                self.stream.write("\r\x1b[2K")
                self._status_shown = False
            self.stream.write(shown + "\n")
            self.stream.flush()

    def clean(self, text: str) -> str:
        """`text` as it may be shown: secrets masked, terminal controls escaped."""
        return printable(self.masker(text))

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def info(self, text: str) -> None:
        self._write(text)

    def step(self, text: str) -> None:
        self._write(f"==> {text}", "1")

    def note(self, text: str) -> None:
        self._write(text, "2")

    def warn(self, text: str) -> None:
        self._write(f"warning: {text}", "33")

    def error(self, text: str) -> None:
        self._write(f"error: {text}", "31;1")

    # ---- tool output ---------------------------------------------------------------
    def sink(self, label: str, *, buffered: bool = False) -> OutputSink:
        return OutputSink(self, label, buffered=buffered)

    def status(self, text: str) -> None:
        """A transient line on a terminal (overwritten), a plain line in logs."""
        with self._lock:
            if self.is_tty:
                self.stream.write("\r\x1b[2K" + self._style(self.clean(text), "2"))
                self._status_shown = True
            else:
                self.stream.write(self.clean(text) + "\n")
            self.stream.flush()

    def clear_status(self) -> None:
        with self._lock:
            if self._status_shown:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
                self._status_shown = False


class OutputSink:
    """Receives a tool's output lines: streams them (or buffers them) and keeps them."""

    def __init__(self, console: Console, label: str, *, buffered: bool):
        self.console = console
        self.label = label
        self.buffered = buffered
        self._pending: list[str] = []
        self.last_line = ""

    def line(self, text: str, *, stderr: bool = False) -> None:
        text = text.rstrip("\n")
        if text.strip():
            self.last_line = text.strip()
        if not self.console.verbose and not stderr:
            return
        rendered = f"  {self.label} | {text}" if self.label else f"  {text}"
        if self.buffered:
            self._pending.append(rendered)
        else:
            self.console._write(rendered)

    def heartbeat(self, what: str, elapsed: float) -> None:
        detail = f" — {self.last_line[:80]}" if self.last_line else ""
        self.console.status(f"  … {what} ({self.label}) {elapsed:.0f}s{detail}")

    def heartbeat_interval(self) -> float:
        return HEARTBEAT_SECONDS_TTY if self.console.is_tty else HEARTBEAT_SECONDS_LOG

    def flush(self) -> None:
        self.console.clear_status()
        if self._pending:
            self.console._write("\n".join(self._pending))
            self._pending.clear()


class HeldSink:
    """A sink whose lines wait until a verdict: `release()` passes them (and every later
    one) on, `drop()` discards them (and every later one).

    Terraform plans while the fmt gate still runs beside it; what the plan prints is
    shown only once fmt has passed, so a run that fmt fails shows what it showed when
    fmt ran first: the gate's findings and no plan.
    """

    def __init__(self, sink: OutputSink):
        self.sink = sink
        self._lock = threading.Lock()
        self._held: list[tuple[str, bool]] | None = []  # None once released or dropped
        self._dropped = False

    def line(self, text: str, *, stderr: bool = False) -> None:
        with self._lock:
            if self._dropped:
                return
            if self._held is not None:
                self._held.append((text, stderr))
                return
        self.sink.line(text, stderr=stderr)

    def heartbeat(self, what: str, elapsed: float) -> None:
        if not self._dropped:
            self.sink.heartbeat(what, elapsed)

    def heartbeat_interval(self) -> float:
        return self.sink.heartbeat_interval()

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held or [], None
            for text, stderr in held:  # under the lock: later lines wait their turn
                self.sink.line(text, stderr=stderr)

    def drop(self) -> None:
        with self._lock:
            self._held, self._dropped = None, True
