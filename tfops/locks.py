"""One lock per environment, so two pull requests or two applies never trample one environment.

A pull request takes the lock of every environment it plans (holder `pr-N`, no pid) and
keeps it until it merges or closes. Every apply takes it too (holder `apply-<id>`, with the
pid and host of the run, and a lease that a background thread renews). The apply that
follows a merge takes the lock over from its own PR (`take_over="pr-N"`).

Two backends behind one protocol:
- file (`locks.backend: file`, default): one JSON file per environment under `locks.path`,
  created with O_EXCL; every read-modify-write holds an flock on a guard file.
- dynamodb (`locks.backend: dynamodb`, `locks.table`): one item per environment, keyed
  `LockID = "tfops:<env>"`, written with conditional PutItem/DeleteItem. The key is the
  one Terraform's S3 backend uses for its state lock table, so that table can be shared.

A lock is stale — and taken over with a warning — when it belongs to a run (it has a pid)
whose process is gone on this host, or whose lease expired (the run died elsewhere). A PR
lock has neither and is never stale: `tfops unlock -e ENV` breaks it.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote

from tfops.config import TfopsConfig
from tfops.errors import ConfigError, TfopsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

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
        now = utc_now()
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
        return text + ")"

    def stale_reason(self, now: datetime | None = None) -> str | None:
        """Why this lock belongs to a dead run, or None while its holder may be alive."""
        if self.pid is None:
            return None
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return f"process {self.pid} on {self.host} is gone"
        if self.expires and (now or utc_now()) > parse_iso(self.expires):
            return f"its lease expired at {self.expires} (the run stopped renewing it)"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LockHeld(TfopsError):
    """The environment is locked by someone else; `info` says by whom and since when."""

    def __init__(self, info: LockInfo):
        super().__init__(
            f"{info.environment} is {info.describe()}",
            hint=(
                f"wait for #{info.pr} to merge or close"
                if info.is_pr_lock
                else "wait for that run to finish"
            )
            + f", or break the lock with `tfops unlock -e {info.environment}` if you are sure",
        )
        self.info = info


class LockBackend(Protocol):
    def acquire(
        self,
        environment: str,
        holder: LockHolder,
        wait_seconds: float = 0,
        *,
        take_over: str | None = None,
    ) -> LockInfo:
        """Take the lock (or refresh it when `holder` already has it); raise LockHeld.

        `take_over` names a holder id whose lock this holder may take (the merge's PR).
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
        take_over: str | None = None,
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
            if take_over is not None and current.holder_id == take_over:
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


class DynamoLocks(_CompareAndSwap):
    """Locks as items of a DynamoDB table whose hash key is `LockID` (a string)."""

    def __init__(
        self,
        table: str,
        client: DynamoDBClient | None = None,
        *,
        warn: Warn | None = None,
        lease_seconds: float = 0,
    ):
        from tfops.aws import dynamodb_client

        self.table = table
        self.client = client or dynamodb_client()
        self.warn = warn or _stderr_warning
        self.lease_seconds = lease_seconds or LEASE_SECONDS

    @staticmethod
    def _key(environment: str) -> dict[str, AttributeValueTypeDef]:
        return {"LockID": {"S": KEY_PREFIX + environment}}

    def _item(self, info: LockInfo) -> dict[str, AttributeValueTypeDef]:
        item: dict[str, AttributeValueTypeDef] = dict(self._key(info.environment))
        for name, value in info.to_dict().items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
        return item

    @staticmethod
    def _info(item: dict[str, Any]) -> LockInfo:
        data: dict[str, Any] = {}
        for name, value in item.items():
            if name == "LockID":
                continue
            data[name] = int(value["N"]) if "N" in value else value.get("S")
        return LockInfo.from_dict(data)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        from tfops.aws import aws_error, error_code

        try:
            yield
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise ConfigError(
                    f"the DynamoDB lock table {self.table!r} does not exist",
                    where="tfops.yaml: locks.table",
                    hint=f"create it with a string hash key LockID: aws dynamodb create-table "
                    f"--table-name {self.table} --attribute-definitions "
                    "AttributeName=LockID,AttributeType=S --key-schema "
                    "AttributeName=LockID,KeyType=HASH --billing-mode PAY_PER_REQUEST",
                ) from None
            raise aws_error(exc, what, where="tfops.yaml: locks.table") from None
        except BotoCoreError as exc:
            raise aws_error(exc, what, where="tfops.yaml: locks.table") from None

    def _conditional(self, call: Callable[[], object], what: str) -> bool:
        from botocore.exceptions import ClientError

        from tfops.aws import error_code

        with self._errors(what):
            try:
                call()
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def _create(self, environment: str, info: LockInfo) -> bool:
        return self._conditional(
            lambda: self.client.put_item(
                TableName=self.table,
                Item=self._item(info),
                ConditionExpression="attribute_not_exists(LockID)",
            ),
            f"locking {environment}",
        )

    def _replace(self, environment: str, expected: LockInfo, info: LockInfo) -> bool:
        return self._conditional(
            lambda: self.client.put_item(
                TableName=self.table,
                Item=self._item(info),
                ConditionExpression="holder_id = :holder AND since = :since",
                ExpressionAttributeValues={
                    ":holder": {"S": expected.holder_id},
                    ":since": {"S": expected.since},
                },
            ),
            f"locking {environment}",
        )

    def get(self, environment: str) -> LockInfo | None:
        with self._errors(f"reading the lock of {environment}"):
            response = self.client.get_item(
                TableName=self.table, Key=self._key(environment), ConsistentRead=True
            )
        item = response.get("Item")
        return self._info(item) if item else None

    def release(self, environment: str, holder_id: str) -> None:
        self._conditional(
            lambda: self.client.delete_item(
                TableName=self.table,
                Key=self._key(environment),
                ConditionExpression="holder_id = :holder",
                ExpressionAttributeValues={":holder": {"S": holder_id}},
            ),
            f"unlocking {environment}",
        )

    def break_lock(self, environment: str) -> LockInfo | None:
        with self._errors(f"breaking the lock of {environment}"):
            response = self.client.delete_item(
                TableName=self.table, Key=self._key(environment), ReturnValues="ALL_OLD"
            )
        old = response.get("Attributes")
        return self._info(old) if old else None

    def all(self) -> list[LockInfo]:
        infos: list[LockInfo] = []
        with self._errors("listing locks"):
            pages = self.client.get_paginator("scan").paginate(
                TableName=self.table,
                FilterExpression="begins_with(LockID, :prefix)",
                ExpressionAttributeValues={":prefix": {"S": KEY_PREFIX}},
                ConsistentRead=True,
            )
            for page in pages:
                infos += [self._info(item) for item in page.get("Items", [])]
        return sorted(infos, key=lambda i: i.environment)


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


class _Renewer:
    """Renews a run's leases in the background while it holds its locks."""

    def __init__(self, backend: LockBackend, environments: list[str], holder: LockHolder):
        self.backend = backend
        self.environments = environments
        self.holder = holder
        self.stopped = threading.Event()
        lease = float(getattr(backend, "lease_seconds", LEASE_SECONDS))
        self.interval = max(lease / 4, 0.5)
        self.thread = threading.Thread(target=self._loop, name="tfops-lock-renewer", daemon=True)

    def start(self) -> None:
        if self.holder.pid is not None:
            self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            for environment in self.environments:
                with contextlib.suppress(TfopsError):
                    self.backend.refresh(environment, self.holder)

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)


@contextmanager
def held(
    backend: LockBackend,
    environments: Sequence[str],
    holder: LockHolder,
    *,
    wait_seconds: float = 0,
    take_over: str | None = None,
    hand_back: bool = False,
    warn: Warn | None = None,
) -> Iterator[list[LockInfo]]:
    """Hold the locks of `environments` for the body; always released on the way out.

    Locks are taken in sorted order (no deadlock between two runs wanting the same set)
    and released in `finally` with signals deferred, so an exception, Ctrl-C or SIGTERM
    (which `tfops.process` first forwards to terraform, waiting for it to stop) never
    leaves them behind. With `hand_back`, a lock taken over from `take_over` goes back to
    it instead of being released (an apply from a still-open PR).
    """
    names = sorted(set(environments))
    taken: list[LockInfo] = []
    previous: dict[str, LockInfo] = {}
    renewer = _Renewer(backend, names, holder)
    try:
        for name in names:
            if hand_back and take_over is not None:
                before = backend.get(name)
                if before is not None and before.holder_id == take_over:
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
