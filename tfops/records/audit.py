"""The audit log: one JSON line per apply, kept next to the plans.

Where `store.url` is a directory the log is one file, `<store>/audit.jsonl`, appended to
(one `write` per line, so concurrent appliers don't interleave). S3 has no append, so there
each entry is its own object, `<prefix>/audit/<YYYY-MM-DD>/<time>-<environment>-<id>.jsonl`,
holding one line; listing the day prefixes gives the log back in order.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tfops.config import TfopsConfig
from tfops.records.store import Blobs, LocalBlobs, store_blobs

LOG_FILE = "audit.jsonl"
S3_PREFIX = "audit/"


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


class AuditLog:
    def __init__(self, blobs: Blobs):
        self.blobs = blobs

    @property
    def location(self) -> str:
        if isinstance(self.blobs, LocalBlobs):
            return str(self.blobs.base / LOG_FILE)
        return f"{self.blobs.location}/{S3_PREFIX}"

    def append(self, entry: AuditEntry) -> None:
        line = (entry.to_json() + "\n").encode()
        if isinstance(self.blobs, LocalBlobs):
            path = self.blobs.base / LOG_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            return
        day = entry.when[:10]
        stamp = entry.when.replace(":", "").replace("-", "")
        name = f"{S3_PREFIX}{day}/{stamp}-{entry.environment}-{uuid.uuid4().hex[:8]}.jsonl"
        self.blobs.write(name, line)

    def entries(self, *, environment: str | None = None) -> list[AuditEntry]:
        """Every entry, oldest first (optionally of one environment)."""
        if isinstance(self.blobs, LocalBlobs):
            data = self.blobs.read(LOG_FILE) or b""
            lines = data.decode().splitlines()
        else:
            lines = []
            for name in self.blobs.list(S3_PREFIX):
                blob = self.blobs.read(name)
                lines += blob.decode().splitlines() if blob else []
        entries = []
        for line in lines:
            if not line.strip():
                continue
            try:
                entry = AuditEntry.from_dict(json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: skip it, keep the rest
            if environment is None or entry.environment == environment:
                entries.append(entry)
        return sorted(entries, key=lambda e: e.when)


def open_audit(config: TfopsConfig, repo_root: Path) -> AuditLog:
    return AuditLog(store_blobs(config, repo_root))


def now_iso(*, precise: bool = False) -> str:
    """Now in ISO 8601 UTC, to the second (for people) or the microsecond (for ordering)."""
    spec = "microseconds" if precise else "seconds"
    return datetime.now(UTC).isoformat(timespec=spec).replace("+00:00", "Z")
