"""Opening the configured backend, holding a lock for a run, and pull request locks."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tfops.children import CHILDREN
from tfops.config import TfopsConfig
from tfops.errors import ConfigError, TfopsError

if TYPE_CHECKING:
    pass

from tfops.records.locks.dynamodb import DynamoLocks
from tfops.records.locks.file import FileLocks
from tfops.records.locks.model import (
    LEASE_SECONDS,
    LockBackend,
    LockHeld,
    LockHolder,
    LockInfo,
    Warn,
    _stderr_warning,
    deferred_signals,
)


def open_locks(config: TfopsConfig, repo_root: Path, *, warn: Warn | None = None) -> LockBackend:
    """The lock backend tfops.yaml chooses (`locks:`)."""
    if config.locks.backend == "dynamodb":
        if not config.locks.table:
            raise ConfigError(
                "locks.backend is dynamodb but no table is named",
                where="tfops.yaml: locks.table",
                hint="set locks.table to a DynamoDB table with a string hash key LockID",
            )
        return DynamoLocks(config.locks.table, warn=warn)
    return FileLocks(repo_root / config.locks.path, warn=warn)


# ---- holding locks for a run ----------------------------------------------------------


class _Renewer:
    """Renews a run's leases in the background while it holds its locks, and writes them
    again at once when the run starts or reaps a child: the lock then names the terraform
    that must not lose it if tfops dies first."""

    def __init__(self, backend: LockBackend, environments: list[str], holder: LockHolder):
        self.backend = backend
        self.environments = environments
        self.holder = holder
        self.stopped = threading.Event()
        self.wake = threading.Event()
        self.unsubscribe: Callable[[], None] = lambda: None
        lease = float(getattr(backend, "lease_seconds", LEASE_SECONDS))
        self.interval = max(lease / 4, 0.5)
        self.thread = threading.Thread(target=self._loop, name="tfops-lock-renewer", daemon=True)

    def start(self) -> None:
        if self.holder.pid is not None:
            self.unsubscribe = CHILDREN.subscribe(self.wake.set)
            self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            self.wake.wait(self.interval)
            self.wake.clear()
            if self.stopped.is_set():
                return
            for environment in self.environments:
                with contextlib.suppress(TfopsError):
                    self.backend.refresh(environment, self.holder)

    def stop(self) -> None:
        self.unsubscribe()
        self.stopped.set()
        self.wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)


@contextmanager
def held(
    backend: LockBackend,
    environments: Sequence[str],
    holder: LockHolder,
    *,
    wait_seconds: float = 0,
    take_over: AbstractSet[str] = frozenset(),
    hand_back: bool = False,
    warn: Warn | None = None,
) -> Iterator[list[LockInfo]]:
    """Hold the locks of `environments` for the body; always released on the way out.

    Locks are taken in sorted order (no deadlock between two runs wanting the same set)
    and released in `finally` with signals deferred, so an exception, Ctrl-C or SIGTERM
    (which `tfops.process` first forwards to terraform, waiting for it to stop) never
    leaves them behind. With `hand_back`, a lock taken over from one of `take_over` goes back to
    it instead of being released (an apply from a still-open PR).
    """
    names = sorted(set(environments))
    taken: list[LockInfo] = []
    previous: dict[str, LockInfo] = {}
    renewer = _Renewer(backend, names, holder)
    try:
        for name in names:
            if hand_back and take_over:
                before = backend.get(name)
                if before is not None and before.holder_id in take_over:
                    previous[name] = before
            # An interrupt while waiting is fine: `finally` releases whatever is ours.
            taken.append(
                backend.acquire(name, holder, wait_seconds=wait_seconds, take_over=take_over)
            )
        renewer.start()
        yield taken
    finally:
        renewer.stop()
        with deferred_signals():
            for name in names:
                try:
                    if name in previous:
                        backend.restore(name, holder.holder_id, previous[name])
                    else:
                        backend.release(name, holder.holder_id)
                except TfopsError as exc:
                    (warn or _stderr_warning)(f"could not release the lock of {name}: {exc}")


# ---- breaking a lock by hand ----------------------------------------------------------


class LockInUse(TfopsError):
    """`tfops unlock` refused: the run holding the lock is alive (or, elsewhere, renewing)."""

    def __init__(self, info: LockInfo):
        alive = info.holder_alive()
        state = "that run is still running" if alive else "its lease is still being renewed"
        if not alive and info.expires:
            state += f" (until {info.expires})"
        super().__init__(
            f"not unlocking {info.environment}: it is {info.describe()}, and {state}",
            hint="wait for the run to finish (its lock goes with it); if you are sure it is "
            f"not running any more, `tfops unlock -e {info.environment} --force`",
        )
        self.info = info


def unlock(backend: LockBackend, environment: str, *, force: bool = False) -> LockInfo | None:
    """Break `environment`'s lock by hand; returns what it was (None: it was not locked).

    A PR's lock and a dead run's are broken. A run's lock whose holder is alive — its
    tfops or a terraform it started, on this host; a lease still renewed, elsewhere — is
    refused with LockInUse unless `force`: breaking it would let a second apply in while
    the first is still changing the environment.
    """
    current = backend.get(environment)
    if current is None:
        return None
    if force:
        return backend.break_lock(environment) or current
    if current.pid is not None and current.stale_reason() is None:
        raise LockInUse(current)
    backend.release(environment, current.holder_id)  # only if nobody took it meanwhile
    if backend.get(environment) is not None:
        raise TfopsError(
            f"the lock of {environment} changed hands while it was being released; "
            "nothing was released",
            hint=f"tfops unlock --list, then tfops unlock -e {environment} again",
        )
    return current


# ---- pull request locks ---------------------------------------------------------------


def lock_for_pr(
    backend: LockBackend,
    environments: Sequence[str],
    pr: int,
    *,
    who: str | None = None,
    run_url: str | None = None,
) -> tuple[list[LockInfo], list[LockHeld]]:
    """Lock every environment a PR plans. Returns (locks now held by the PR, refusals).

    A refusal's `info.describe()` is "locked by #N (…)" for the PR comment. Planning may
    go on for an environment locked elsewhere; applying it will wait or fail.
    """
    holder = LockHolder.for_pr(pr, who=who, run_url=run_url)
    held_now: list[LockInfo] = []
    refused: list[LockHeld] = []
    for name in sorted(set(environments)):
        try:
            held_now.append(backend.acquire(name, holder))
        except LockHeld as exc:
            refused.append(exc)
    return held_now, refused


def release_pr_locks(backend: LockBackend, pr: int) -> list[str]:
    """Release every lock PR `pr` holds (it merged or closed); the environments released."""
    released = []
    for info in backend.all():
        if info.holder_id == f"pr-{pr}":
            backend.release(info.environment, info.holder_id)
            released.append(info.environment)
    return released
