"""The processes this tfops has started and that are still running.

`tfops.terraform.process` adds and removes them; the environment locks record them
(`tfops.records.locks`), so a lock whose tfops was killed is not taken over while the
terraform it started still runs. A pid alone could be reused by another process once that
terraform ends, so each child also carries its start time (Linux: `/proc/PID/stat`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Child:
    pid: int
    command: str  # the executable's name: "terraform"
    started: int | None = None  # clock ticks after boot the process started at (Linux)

    def alive(self) -> bool:
        """Whether this very process still runs (not another one that got its pid)."""
        if not pid_alive(self.pid):
            return False
        return self.started is None or start_ticks(self.pid) in (None, self.started)

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid})"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"pid": self.pid, "command": self.command}
        if self.started is not None:
            data["started"] = self.started
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Child:
        started = data.get("started")
        return cls(int(data["pid"]), str(data.get("command", "")), _int_or_none(started))


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether some process has `pid` (ours or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks after boot (field 22 of /proc/PID/stat); None where
    there is no /proc. The command name (field 2) may hold spaces and parentheses, so the
    fields are counted from its closing parenthesis."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, Child] = {}
        self._listeners: list[Callable[[], None]] = []

    def add(self, pid: int, command: str) -> Child:
        child = Child(pid, command, start_ticks(pid))
        with self._lock:
            self._running[pid] = child
        self._changed()
        return child

    def remove(self, pid: int) -> None:
        with self._lock:
            self._running.pop(pid, None)
        self._changed()

    def running(self) -> tuple[Child, ...]:
        with self._lock:
            return tuple(sorted(self._running.values(), key=lambda c: c.pid))

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` (from the thread that started or reaped a child) on every change;
        returns the function that unsubscribes it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _changed(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


CHILDREN = _Registry()
