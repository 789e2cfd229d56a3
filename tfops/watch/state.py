"""What `tfops watch` remembers between passes and restarts (state.json), and its options."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tfops.console import Console

STATE_VERSION = 1
MAX_BACKOFF_SECONDS = 900.0
RETRIED = (
    "failed",
    "gates-failed",
    "refused",
    "interrupted",
)  # results retried with the next change


# ---- options and state -----------------------------------------------------------------


@dataclass(frozen=True)
class WatchOptions:
    repo: str  # URL or path of the environments repo
    branch: str = "main"
    path: str = ""  # the environments' directory inside REPO
    interval: float = 60.0  # seconds between fetches
    drift_interval: float | None = None  # minutes; None: drift.interval_minutes; 0: off
    heal: bool = False  # heal every drifted environment (else those with `heal: true`)
    once: bool = False
    listen: tuple[str, int] | None = None
    state_dir: Path | None = None
    gates: bool = True


def default_state_dir(repo: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    digest = hashlib.sha256(normalise_repo(repo).encode()).hexdigest()[:16]
    return Path(base) / "tfops" / "watch" / digest


def normalise_repo(repo: str) -> str:
    """A local path as an absolute path (so it can be cloned from anywhere); URLs as given."""
    if "://" not in repo and not _scp_like(repo) and Path(repo).expanduser().exists():
        return str(Path(repo).expanduser().resolve())
    return repo


def _scp_like(repo: str) -> bool:
    head = repo.split("/", 1)[0]
    return ":" in head and "@" in head


@dataclass
class RunRecord:
    """The last run of one environment."""

    trigger: str  # initial | commit | module | retry | heal
    reason: str  # "commit 1a2b3c4d5e6f", "module repo modules moved to …"
    commit: str
    result: str  # applied | no-changes | planned | refused | failed | interrupted
    at: str
    seconds: float = 0.0
    changes: str = ""
    detail: str = ""


@dataclass
class FetchState:
    failures: int = 0
    last_error: str | None = None
    next_at: float = 0.0  # epoch seconds: no fetch before (backoff)
    last_ok_at: str | None = None


@dataclass
class WatchState:
    """What the watcher remembers across restarts (`state.json`, written atomically)."""

    repo: str = ""
    branch: str = ""
    seen: str | None = None  # the branch's head at the last fetch
    commit: str | None = None  # the last commit reconciled
    broken: str | None = None  # a commit skipped because its configuration can't be read
    broken_error: str | None = None
    modules: dict[str, str] = field(default_factory=dict)  # module repo → commit reconciled
    runs: dict[str, RunRecord] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    fetch: FetchState = field(default_factory=FetchState)
    ticks: int = 0
    last_tick_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatchState:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["runs"] = {name: RunRecord(**run) for name, run in (data.get("runs") or {}).items()}
        values["fetch"] = FetchState(**(data.get("fetch") or {}))
        return cls(**values)

    @classmethod
    def load(cls, path: Path, console: Console) -> WatchState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            console.warn(f"{path} is unreadable ({exc}); starting afresh")
            return cls()
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            console.warn(f"{path} is from another tfops version; starting afresh")
            return cls()
        try:
            return cls.from_dict(data)
        except TypeError as exc:
            console.warn(f"{path} does not hold a watcher's state ({exc}); starting afresh")
            return cls()

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def retry(self) -> list[str]:
        return sorted(
            n for n, r in self.runs.items() if r.result in RETRIED and r.trigger != "heal"
        )


def backoff_seconds(failures: int, interval: float) -> float:
    """interval, 2×, 4×, … after consecutive failed fetches; at most 15 minutes (or interval)."""
    delay: float = interval * 2 ** max(failures - 1, 0)
    return min(delay, max(MAX_BACKOFF_SECONDS, interval))
