"""One lock per environment, so two pull requests or two applies never trample one environment.

A pull request takes the lock of every environment it plans (holder `pr-N`, no pid) and
keeps it until it merges or closes. Every apply takes it too (holder `apply-<id>`, with the
pid and host of the run, and a lease that a background thread renews). The apply that
follows a merge takes the lock over from its own PR (`take_over={"pr-N"}`).

Two backends behind one protocol:
- file (`locks.backend: file`, default): one JSON file per environment under `locks.path`,
  created with O_EXCL; every read-modify-write holds an flock on a guard file.
- dynamodb (`locks.backend: dynamodb`, `locks.table`): one item per environment, keyed
  `LockID = "tfops:<env>"`, written with conditional PutItem/DeleteItem. The key is the
  one Terraform's S3 backend uses for its state lock table, so that table can be shared.

A lock is stale — and taken over with a warning — when it belongs to a run (it has a pid)
whose process is gone on this host, or whose lease expired (the run died elsewhere). The
lock also lists the processes the run started (terraform): on its host it is never stale
while one of them runs, even with its tfops killed. A PR lock has neither and is never
stale: `tfops unlock -e ENV` breaks it (`unlock` refuses a live run's lock unless forced).
"""

from tfops.records.locks.dynamodb import DynamoLocks
from tfops.records.locks.file import FileLocks
from tfops.records.locks.holding import (
    LockInUse,
    held,
    lock_for_pr,
    open_locks,
    release_pr_locks,
    unlock,
)
from tfops.records.locks.model import LockBackend, LockHeld, LockHolder, LockInfo

__all__ = [
    "DynamoLocks",
    "FileLocks",
    "LockBackend",
    "LockHeld",
    "LockHolder",
    "LockInUse",
    "LockInfo",
    "held",
    "lock_for_pr",
    "open_locks",
    "release_pr_locks",
    "unlock",
]
