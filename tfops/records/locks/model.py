"""Who holds an environment's lock, and the protocol every lock backend implements."""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Protocol

from tfops.children import CHILDREN, Child, pid_alive
from tfops.errors import TfopsError

LEASE_SECONDS = 600.0  # a run's lock not renewed for this long belongs to a dead run
POLL_SECONDS = 1.0
KEY_PREFIX = "tfops:"
_EPOCH = "1970-01-01T00:00:00Z"

Warn = Callable[[str], None]


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime, *, precise: bool = False) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if precise else "seconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def current_user() -> str:
    """Who is acting: the GitHub actor in Actions, else the local user."""
    if os.environ.get("GITHUB_ACTOR"):
        return os.environ["GITHUB_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def current_run_url() -> str | None:
    """The GitHub Actions run URL when running in Actions."""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repo, run_id = os.environ.get("GITHUB_REPOSITORY"), os.environ.get("GITHUB_RUN_ID")
    return f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None


@dataclass(frozen=True)
class LockHolder:
    """Who wants a lock. A run (pid set) can go stale; a pull request cannot."""

    holder_id: str
    who: str
    pr: int | None = None
    run_url: str | None = None
    pid: int | None = None
    host: str = field(default_factory=socket.gethostname)

    @classmethod
    def for_pr(cls, pr: int, *, who: str | None = None, run_url: str | None = None) -> LockHolder:
        return cls(f"pr-{pr}", who or current_user(), pr, run_url or current_run_url())

    @classmethod
    def for_run(
        cls,
        *,
        kind: str = "apply",
        pr: int | None = None,
        who: str | None = None,
        run_url: str | None = None,
    ) -> LockHolder:
        return cls(
            f"{kind}-{uuid.uuid4().hex[:12]}",
            who or current_user(),
            pr,
            run_url or current_run_url(),
            pid=os.getpid(),
        )

    def lock(self, environment: str, *, since: str | None = None, lease: float) -> LockInfo:
        """The lock as this holder writes it now: with the lease renewed and, for a run of
        this process, the children it has running (terraform), which must not lose their
        lock if this process dies before they do."""
        now = utc_now()
        children = CHILDREN.running() if self.pid == os.getpid() else ()
        return LockInfo(
            environment=environment,
            holder_id=self.holder_id,
            who=self.who,
            since=since or iso(now),
            pr=self.pr,
            host=self.host,
            pid=self.pid,
            run_url=self.run_url,
            expires=iso(now + timedelta(seconds=lease), precise=True)
            if self.pid is not None
            else None,
            children=children,
        )


@dataclass(frozen=True)
class LockInfo:
    environment: str
    holder_id: str  # "pr-12" or "apply-<id>"
    who: str
    since: str  # ISO 8601 UTC
    pr: int | None = None
    host: str = ""
    pid: int | None = None
    run_url: str | None = None
    expires: str | None = None  # runs only: the lease, renewed while the run is alive
    children: tuple[Child, ...] = ()  # runs only: processes it runs (terraform)

    @property
    def is_pr_lock(self) -> bool:
        return self.pid is None and self.pr is not None

    def describe(self) -> str:
        """ "locked by #12 (alice, since …)" — the words a PR comment shows."""
        if self.is_pr_lock:
            return f"locked by #{self.pr} ({self.who}, since {self.since})"
        where = f"pid {self.pid} on {self.host}" if self.pid is not None else self.host
        text = f"locked by {self.who}'s run {self.holder_id} ({where}, since {self.since}"
        if self.pr is not None:
            text += f", for #{self.pr}"
        if self.run_url:
            text += f", {self.run_url}"
        text += ")"
        if self.on_this_host and self.pid is not None and not pid_alive(self.pid):
            running = self.running_children()
            if running:
                names = ", ".join(c.describe() for c in running)
                verb = "is" if len(running) == 1 else "are"
                text += f"; that tfops is gone, but {names}, which it started, {verb} still running"
        return text

    @property
    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()

    def running_children(self) -> list[Child]:
        """The children recorded with the lock that still run (only knowable on its host)."""
        return [c for c in self.children if c.alive()] if self.on_this_host else []

    def holder_alive(self) -> bool | None:
        """Whether the run holding this lock still runs: True/False on its own host, None
        elsewhere (where only its lease tells)."""
        if self.pid is None:
            return None
        if not self.on_this_host:
            return None
        return pid_alive(self.pid) or bool(self.running_children())

    def stale_reason(self, now: datetime | None = None) -> str | None:
        """Why this lock belongs to a dead run, or None while its holder may be alive.

        On the lock's own host a run is alive while its tfops or any terraform it started
        runs, whatever the lease says: a tfops killed mid-apply leaves a terraform that
        must finish before anyone else touches the environment.
        """
        if self.pid is None:
            return None
        if self.on_this_host:
            if self.running_children():
                return None
            if not pid_alive(self.pid):
                ended = ", ".join(c.describe() for c in self.children)
                return f"process {self.pid} on {self.host} is gone" + (
                    f", and so is {ended}" if ended else ""
                )
        if self.expires and (now or utc_now()) > parse_iso(self.expires):
            return f"its lease expired at {self.expires} (the run stopped renewing it)"
        return None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None and k != "children"}
        if self.children:
            data["children"] = [c.to_dict() for c in self.children]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        children = values.pop("children", ())
        if isinstance(children, str):  # DynamoDB keeps the list as a JSON string
            try:
                children = json.loads(children or "[]")
            except ValueError:
                children = ()
        if not isinstance(children, list | tuple):
            children = ()
        values["children"] = tuple(
            Child.from_dict(c) for c in children if isinstance(c, dict) and "pid" in c
        )
        return cls(**values)


class LockHeld(TfopsError):
    """The environment is locked by someone else; `info` says by whom and since when."""

    def __init__(self, info: LockInfo):
        super().__init__(
            f"{info.environment} is {info.describe()}",
            hint=(
                f"wait for #{info.pr} to merge or close, or break the lock with "
                f"`tfops unlock -e {info.environment}` if you are sure"
                if info.is_pr_lock
                else "wait for that run to finish; if you are sure it is not running "
                f"(a dead runner whose lease has not expired yet), "
                f"`tfops unlock -e {info.environment} --force`"
            ),
        )
        self.info = info


class LockBackend(Protocol):
    def acquire(
        self,
        environment: str,
        holder: LockHolder,
        wait_seconds: float = 0,
        *,
        take_over: AbstractSet[str] = frozenset(),
    ) -> LockInfo:
        """Take the lock (or refresh it when `holder` already has it); raise LockHeld.

        `take_over` names holder ids whose lock this holder may take (the merged PRs).
        """
        ...

    def release(self, environment: str, holder_id: str) -> None:
        """Release the lock if `holder_id` holds it; otherwise do nothing."""
        ...

    def get(self, environment: str) -> LockInfo | None: ...

    def break_lock(self, environment: str) -> LockInfo | None:
        """Remove the lock whoever holds it; returns what it was."""
        ...

    def all(self) -> list[LockInfo]: ...

    def refresh(self, environment: str, holder: LockHolder) -> bool:
        """Renew `holder`'s lease; False when the lock is no longer theirs."""
        ...

    def restore(self, environment: str, holder_id: str, previous: LockInfo) -> None:
        """Hand a lock `holder_id` holds back to its previous holder."""
        ...


class _CompareAndSwap:
    """The lock algorithm over three atomic primitives each backend implements."""

    lease_seconds: float
    warn: Warn

    def _create(self, environment: str, info: LockInfo) -> bool:
        raise NotImplementedError

    def _replace(self, environment: str, expected: LockInfo, info: LockInfo) -> bool:
        raise NotImplementedError

    def get(self, environment: str) -> LockInfo | None:
        raise NotImplementedError

    def acquire(
        self,
        environment: str,
        holder: LockHolder,
        wait_seconds: float = 0,
        *,
        take_over: AbstractSet[str] = frozenset(),
    ) -> LockInfo:
        deadline = time.monotonic() + wait_seconds
        waiting = False
        while True:
            info = holder.lock(environment, lease=self.lease_seconds)
            if self._create(environment, info):
                return info
            current = self.get(environment)
            if current is None:
                continue  # released in between: try again
            if current.holder_id == holder.holder_id:
                refreshed = replace(info, since=current.since)
                if self._replace(environment, current, refreshed):
                    return refreshed
                continue
            if current.holder_id in take_over:
                if self._replace(environment, current, info):
                    return info
                continue
            reason = current.stale_reason()
            if reason is not None:
                if self._replace(environment, current, info):
                    self.warn(
                        f"took over the lock of {environment} from {current.holder_id} "
                        f"({current.who}, since {current.since}): {reason}"
                    )
                    return info
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockHeld(current)
            if not waiting:
                waiting = True
                self.warn(
                    f"{environment} is {current.describe()}; waiting up to "
                    f"{wait_seconds:.0f}s for it"
                )
            time.sleep(min(POLL_SECONDS, remaining))

    def refresh(self, environment: str, holder: LockHolder) -> bool:
        current = self.get(environment)
        if current is None or current.holder_id != holder.holder_id:
            return False
        info = holder.lock(environment, since=current.since, lease=self.lease_seconds)
        return self._replace(environment, current, info)

    def restore(self, environment: str, holder_id: str, previous: LockInfo) -> None:
        current = self.get(environment)
        if current is not None and current.holder_id == holder_id:
            self._replace(environment, current, previous)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while a lock changes hands, then deliver them.

    Without this a signal landing between "lock file created" and "lock file written"
    (or in the middle of a release) could leave a lock held by a dead run.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, record)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in pending:
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)
