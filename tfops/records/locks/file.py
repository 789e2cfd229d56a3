"""Locks as files under `locks.path`: O_EXCL creation, an flock around every change."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    pass

from tfops.records.locks.model import (
    _EPOCH,
    LEASE_SECONDS,
    LockInfo,
    Warn,
    _CompareAndSwap,
    _stderr_warning,
    deferred_signals,
    iso,
    utc_now,
)


class FileLocks(_CompareAndSwap):
    """Lock files in a directory: `<env>.json`, guarded by `<env>.guard` (flock)."""

    def __init__(self, directory: Path, *, warn: Warn | None = None, lease_seconds: float = 0):
        self.directory = directory
        self.warn = warn or _stderr_warning
        self.lease_seconds = lease_seconds or LEASE_SECONDS

    def _path(self, environment: str) -> Path:
        return self.directory / f"{quote(environment, safe='')}.json"

    @contextmanager
    def _guard(self, environment: str) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        guard = self.directory / f"{quote(environment, safe='')}.guard"
        with deferred_signals(), guard.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self, environment: str) -> LockInfo | None:
        path = self._path(environment)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return LockInfo.from_dict(json.loads(text))
        except (ValueError, TypeError):
            # Only a run killed between create and write leaves this (writes are guarded).
            return LockInfo(
                environment, "unreadable", "unknown", iso(utc_now()), pid=0, expires=_EPOCH
            )

    def _write_new(self, environment: str, info: LockInfo) -> bool:
        try:
            fd = os.open(self._path(environment), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info.to_dict(), handle, indent=2)
        return True

    def _create(self, environment: str, info: LockInfo) -> bool:
        with self._guard(environment):
            return self._write_new(environment, info)

    def _replace(self, environment: str, expected: LockInfo, info: LockInfo) -> bool:
        with self._guard(environment):
            current = self._read(environment)
            if current is None or (current.holder_id, current.since) != (
                expected.holder_id,
                expected.since,
            ):
                return False
            tmp = self._path(environment).with_suffix(f".{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps(info.to_dict(), indent=2), encoding="utf-8")
            os.replace(tmp, self._path(environment))
            return True

    def get(self, environment: str) -> LockInfo | None:
        with self._guard(environment):
            return self._read(environment)

    def release(self, environment: str, holder_id: str) -> None:
        with self._guard(environment):
            current = self._read(environment)
            if current is not None and current.holder_id == holder_id:
                self._path(environment).unlink(missing_ok=True)

    def break_lock(self, environment: str) -> LockInfo | None:
        with self._guard(environment):
            current = self._read(environment)
            self._path(environment).unlink(missing_ok=True)
            return current

    def all(self) -> list[LockInfo]:
        if not self.directory.is_dir():
            return []
        infos = [self.get(unquote(p.stem)) for p in sorted(self.directory.glob("*.json"))]
        return [i for i in infos if i is not None]
