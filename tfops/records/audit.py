"""The audit log: one JSON line per apply, kept next to the plans, never lost.

Where `store.url` is a directory the log is one file, `<store>/audit.jsonl`, appended to
(one `write` per line, so concurrent appliers don't interleave). S3 has no append, so there
each entry is its own object, `<prefix>/audit/<YYYY-MM-DD>/<time>-<environment>-<id>.jsonl`,
holding one line; listing the day prefixes gives the log back in order.

An entry the store can't take is kept in `.tfops/audit-pending/` and written on the next
run (AuditLog): the apply it records has happened, whatever happens to the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tfops.config import TfopsConfig
from tfops.errors import TfopsError
from tfops.records.store import Blobs, LocalBlobs, full_disk_hint, store_blobs

LOG_FILE = "audit.jsonl"
S3_PREFIX = "audit/"
PENDING_DIR = "audit-pending"


@dataclass(frozen=True)
class AuditEntry:
    who: str
    when: str  # ISO 8601 UTC, when the apply started
    repo: str
    commit: str
    pr: int | None
    environment: str
    plan_sha256: str | None  # of the plan file applied (or refused)
    result: str  # a pipeline Outcome: applied, no-changes, refused, declined, failed, …
    duration_seconds: float
    trigger: str = "manual"  # manual | merge | comment | dispatch
    terraform_version: str = ""
    detail: str = ""  # what differed, or why it failed (masked)
    run_url: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class AuditNotWritten(TfopsError):
    """The store could not take audit entries; each was kept in the local spool instead
    (`kept`; empty when even that failed, and then the message holds the entries).

    Raised after the infrastructure changed, so a caller says both: `after("applied")` is
    "applied; the audit record … could not be written …; kept in …; it will be written on
    the next run".
    """

    def __init__(self, entries: list[AuditEntry], location: str, cause: str, kept: list[Path]):
        envs = ", ".join(sorted({e.environment for e in entries}))
        plural = "s" if len(entries) > 1 else ""
        message = f"the audit record{plural} of {envs} could not be written to {location} ({cause})"
        if kept:
            folder = kept[0].parent
            message += (
                f"; kept in {folder}; {'they' if plural else 'it'} will be written on the next run"
            )
            hint = None
        else:
            message += "; it could not be kept locally either, so here it is"
            hint = "add these lines to the audit log by hand: " + " ".join(
                e.to_json() for e in entries
            )
        super().__init__(message, hint=hint)
        self.entries = entries
        self.kept = kept

    def after(self, result: str) -> str:
        """The line to show once `result` ("applied") happened anyway."""
        return f"{result}; {self}"


class AuditLog:
    """The audit log in the plan store, with a local spool for entries the store refused.

    An entry is never lost: when the store can't take it (S3 unreachable, disk full) it is
    written to `pending` (`.tfops/audit-pending/`, one file per entry) and AuditNotWritten
    is raised; every later append or read writes the spooled entries first, oldest first.
    """

    def __init__(self, blobs: Blobs, pending: Path | None = None):
        self.blobs = blobs
        self.pending_dir = pending

    @property
    def location(self) -> str:
        if isinstance(self.blobs, LocalBlobs):
            return str(self.blobs.base / LOG_FILE)
        return f"{self.blobs.location}/{S3_PREFIX}"

    def append(self, entry: AuditEntry) -> None:
        """Write `entry`; AuditNotWritten when only the spool has it."""
        self.append_all([entry])

    def append_all(self, entries: list[AuditEntry]) -> None:
        """Write every entry (one failing doesn't stop the others from being tried or
        kept); AuditNotWritten names all that only the spool has."""
        self.flush_pending()
        failed: list[AuditEntry] = []
        cause = ""
        for entry in entries:
            try:
                self._write(entry)
            except (TfopsError, OSError) as exc:
                failed.append(entry)
                cause = cause or _reason(exc)
        if failed:
            kept = [path for path in (self._keep(entry) for entry in failed) if path]
            raise AuditNotWritten(failed, self.location, cause, kept)

    def pending(self) -> list[tuple[Path, AuditEntry]]:
        """Entries waiting in the spool, oldest first."""
        if self.pending_dir is None or not self.pending_dir.is_dir():
            return []
        found = []
        for path in sorted(self.pending_dir.glob("*.jsonl")):
            try:
                found.append((path, AuditEntry.from_dict(json.loads(path.read_text("utf-8")))))
            except (OSError, ValueError, TypeError):
                continue  # cut short by a crash while it was kept; the next keep redoes it
        return sorted(found, key=lambda item: item[1].when)

    def flush_pending(self) -> list[AuditEntry]:
        """Write the spooled entries to the store, oldest first; returns those written.
        Stops at the first the store refuses (the rest wait for the next run)."""
        written = []
        for path, entry in self.pending():
            try:
                self._write(entry)
            except (TfopsError, OSError):
                break
            path.unlink(missing_ok=True)
            written.append(entry)
        return written

    def _keep(self, entry: AuditEntry) -> Path | None:
        if self.pending_dir is None:
            return None
        stamp = entry.when.replace(":", "").replace("-", "")
        path = self.pending_dir / f"{stamp}-{entry.environment}-{uuid.uuid4().hex[:8]}.jsonl"
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            self.pending_dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(entry.to_json() + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return None
        return path

    def _write(self, entry: AuditEntry) -> None:
        line = (entry.to_json() + "\n").encode()
        if isinstance(self.blobs, LocalBlobs):
            _append_line(self.blobs.base / LOG_FILE, line)
            return
        day = entry.when[:10]
        stamp = entry.when.replace(":", "").replace("-", "")
        name = f"{S3_PREFIX}{day}/{stamp}-{entry.environment}-{uuid.uuid4().hex[:8]}.jsonl"
        self.blobs.write(name, line)

    def entries(self, *, environment: str | None = None) -> list[AuditEntry]:
        """Every entry, oldest first (optionally of one environment), spooled ones too."""
        self.flush_pending()
        if isinstance(self.blobs, LocalBlobs):
            data = self.blobs.read(LOG_FILE) or b""
            lines = data.decode().splitlines()
        else:
            lines = []
            for name in self.blobs.list(S3_PREFIX):
                blob = self.blobs.read(name)
                lines += blob.decode().splitlines() if blob else []
        entries = [entry for _, entry in self.pending()]
        for line in lines:
            if not line.strip():
                continue
            try:
                entries.append(AuditEntry.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: skip it, keep the rest
        return sorted(
            (e for e in entries if environment is None or e.environment == environment),
            key=lambda e: e.when,
        )


def _append_line(path: Path, line: bytes) -> None:
    """Append one line whole or not at all: under an flock (concurrent appliers), after a
    newline if a crash left the last line unfinished, and cut back on a failed write (a
    full disk) so the next line doesn't glue onto half of this one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _store_error(exc, path) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise _store_error(exc, path) from None
    finally:
        os.close(fd)


def _store_error(exc: OSError, path: Path) -> TfopsError:
    return TfopsError(
        f"cannot write the audit log {path}: {exc.strerror or exc}",
        where="tfops.yaml: store.url",
        hint=full_disk_hint(exc),
    )


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, TfopsError) else str(exc)


def open_audit(config: TfopsConfig, repo_root: Path) -> AuditLog:
    # The spool sits in the repo's work directory (repo.environments.WORK_DIR, ".tfops"),
    # which tfops keeps out of git.
    return AuditLog(store_blobs(config, repo_root), pending=repo_root / ".tfops" / PENDING_DIR)


def now_iso(*, precise: bool = False) -> str:
    """Now in ISO 8601 UTC, to the second (for people) or the microsecond (for ordering)."""
    spec = "microseconds" if precise else "seconds"
    return datetime.now(UTC).isoformat(timespec=spec).replace("+00:00", "Z")
