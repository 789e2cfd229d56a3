"""The plan store: every plan tfops makes for a pull request, and every plan it applies.

A record is keyed by repo, PR, commit, environment and kind ("plan" — reviewed on a PR —,
"chat" — shown in Slack with an Apply button — or "apply" — what was applied) and holds
three objects:

    <base>/<owner>/<repo>/pr-<N>/<commit>/<environment>/<kind>.tfplan     the plan file
    <base>/<owner>/<repo>/pr-<N>/<commit>/<environment>/<kind>.json       `terraform show -json`
    <base>/<owner>/<repo>/pr-<N>/<commit>/<environment>/<kind>.meta.json  PlanRecord

(`pr-none` when there is no PR). `<base>` is `store.url`: a directory (relative to the
repo, default `.tfops/plans`) or `s3://bucket/prefix`. The metadata carries the sha256 of
the plan file and of the JSON; reading verifies both, so a plan changed after review is
refused. Plan JSON can hold sensitive values in clear, as state does: protect the store
like state.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from tfops.config import TfopsConfig
from tfops.errors import ConfigError, TfopsError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Kind = Literal["plan", "apply", "chat"]
META_SUFFIX = ".meta.json"


class IntegrityError(TfopsError):
    """A stored plan's bytes don't match the sha256 recorded when it was stored."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_iso(moment: datetime | None = None) -> str:
    """ISO 8601 UTC to the microsecond: records made in one millisecond still sort in order."""
    return (
        (moment or datetime.now(UTC))
        .astimezone(UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def repo_name(root: Path) -> str:
    """owner/name in GitHub Actions; the directory's name elsewhere."""
    return os.environ.get("GITHUB_REPOSITORY") or root.resolve().name


@dataclass(frozen=True)
class PlanKey:
    repo: str
    pr: int | None
    commit: str
    environment: str
    kind: Kind = "plan"

    @property
    def prefix(self) -> str:
        pr = f"pr-{self.pr}" if self.pr is not None else "pr-none"
        return f"{self.repo}/{pr}/{self.commit}/{self.environment}/{self.kind}"

    def describe(self) -> str:
        pr = f"#{self.pr}" if self.pr is not None else "no PR"
        return f"the {self.kind} of {self.environment} at {self.commit[:12]} ({pr})"


@dataclass(frozen=True)
class PlanRecord:
    """The metadata stored with a plan."""

    repo: str
    pr: int | None
    commit: str
    environment: str
    kind: Kind
    terraform_version: str
    created: str  # ISO 8601 UTC
    sha256: str  # of the plan file
    json_sha256: str  # of the plan JSON as stored
    root: str = ""  # the Terraform root's label
    targets: list[str] = field(default_factory=list)
    has_changes: bool = True
    who: str = ""
    run_url: str | None = None

    @property
    def key(self) -> PlanKey:
        return PlanKey(self.repo, self.pr, self.commit, self.environment, self.kind)

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created.replace("Z", "+00:00"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class StoredPlan:
    record: PlanRecord
    planfile: bytes
    plan_json: dict[str, Any]


class Blobs(Protocol):
    """Where the store's objects live: paths are '/'-separated, relative to the base."""

    location: str

    def read(self, path: str) -> bytes | None: ...
    def write(self, path: str, data: bytes) -> None: ...
    def delete(self, path: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...


class LocalBlobs:
    def __init__(self, base: Path):
        self.base = base
        self.location = str(base)

    def read(self, path: str) -> bytes | None:
        try:
            return (self.base / path).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, path: str, data: bytes) -> None:
        """Write whole or not at all: a temporary file renamed into place, removed again
        when the write fails (a full disk must not fill up with `*.tmp`)."""
        target = self.base / path
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise TfopsError(
                f"cannot write {target} in the plan store {self.location}: {exc.strerror or exc}",
                where="tfops.yaml: store.url",
                hint=full_disk_hint(exc),
            ) from None

    def delete(self, path: str) -> None:
        target = self.base / path
        target.unlink(missing_ok=True)
        parent = target.parent
        while parent != self.base and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def list(self, prefix: str) -> list[str]:
        start = self.base / prefix if prefix else self.base
        if not start.is_dir():
            return []
        return sorted(
            p.relative_to(self.base).as_posix()
            for p in start.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")
        )


class S3Blobs:
    def __init__(self, bucket: str, prefix: str, client: S3Client | None = None):
        from tfops.records.aws import s3_client

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = client or s3_client()

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        from tfops.records.aws import aws_error, error_code

        try:
            yield
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":
                raise ConfigError(
                    f"the plan store bucket {self.bucket!r} does not exist",
                    where="tfops.yaml: store.url",
                    hint=f"create it (aws s3 mb s3://{self.bucket}) or fix store.url",
                ) from None
            raise aws_error(exc, what, where="tfops.yaml: store.url") from None
        except BotoCoreError as exc:
            raise aws_error(exc, what, where="tfops.yaml: store.url") from None

    def read(self, path: str) -> bytes | None:
        from botocore.exceptions import ClientError

        from tfops.records.aws import error_code

        with self._errors(f"reading {self.location}/{path}"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
            except ClientError as exc:
                if error_code(exc) in ("NoSuchKey", "404"):
                    return None
                raise
            return response["Body"].read()

    def write(self, path: str, data: bytes) -> None:
        with self._errors(f"writing {self.location}/{path}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(path), Body=data)

    def delete(self, path: str) -> None:
        with self._errors(f"deleting {self.location}/{path}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path))

    def list(self, prefix: str) -> list[str]:
        start = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        with self._errors(f"listing {self.location}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            ):
                keys += [obj["Key"][strip:] for obj in page.get("Contents", []) if "Key" in obj]
        return sorted(keys)


class PlanStore:
    """Plan records over a Blobs location (a directory, or an S3 prefix)."""

    def __init__(self, blobs: Blobs):
        self.blobs = blobs

    @property
    def location(self) -> str:
        return self.blobs.location

    def put(
        self,
        key: PlanKey,
        planfile: bytes,
        plan_json: dict[str, Any],
        *,
        terraform_version: str,
        root: str = "",
        targets: list[str] | None = None,
        has_changes: bool = True,
        who: str = "",
        run_url: str | None = None,
    ) -> PlanRecord:
        json_bytes = json.dumps(plan_json, separators=(",", ":")).encode()
        record = PlanRecord(
            repo=key.repo,
            pr=key.pr,
            commit=key.commit,
            environment=key.environment,
            kind=key.kind,
            terraform_version=terraform_version,
            created=utc_iso(),
            sha256=sha256(planfile),
            json_sha256=sha256(json_bytes),
            root=root,
            targets=list(targets or []),
            has_changes=has_changes,
            who=who,
            run_url=run_url,
        )
        objects = (
            (f"{key.prefix}.tfplan", planfile),
            (f"{key.prefix}.json", json_bytes),
            # metadata last: a record is listed only once its plan is complete
            (key.prefix + META_SUFFIX, json.dumps(record.to_dict(), indent=2).encode()),
        )
        written: list[str] = []
        try:
            for path, data in objects:
                self.blobs.write(path, data)
                written.append(path)
        except TfopsError:
            for path in written:  # no half record left behind
                with contextlib.suppress(TfopsError, OSError):
                    self.blobs.delete(path)
            raise
        return record

    def record(self, key: PlanKey) -> PlanRecord | None:
        data = self.blobs.read(key.prefix + META_SUFFIX)
        return PlanRecord.from_dict(json.loads(data)) if data is not None else None

    def get(self, key: PlanKey) -> StoredPlan:
        """The plan and its JSON, verified against the sha256 recorded with them."""
        record = self.record(key)
        if record is None:
            raise TfopsError(
                f"no stored plan: {key.describe()}", where=f"{self.location}/{key.prefix}"
            )
        planfile = self.blobs.read(f"{key.prefix}.tfplan")
        json_bytes = self.blobs.read(f"{key.prefix}.json")
        for name, data, expected in (
            ("plan file", planfile, record.sha256),
            ("plan JSON", json_bytes, record.json_sha256),
        ):
            actual = sha256(data) if data is not None else "(missing)"
            if actual != expected:
                raise IntegrityError(
                    f"the stored {name} for {key.describe()} does not match the sha256 recorded "
                    f"when it was stored (recorded {expected[:16]}…, read {actual[:16]}…): "
                    "it was changed or damaged after review, so tfops will not use it",
                    where=f"{self.location}/{key.prefix}",
                    hint="plan the pull request again to store a fresh plan",
                )
        assert planfile is not None and json_bytes is not None
        return StoredPlan(record, planfile, json.loads(json_bytes))

    def records(
        self,
        *,
        repo: str | None = None,
        pr: int | None = None,
        environment: str | None = None,
        kind: Kind | None = None,
    ) -> list[PlanRecord]:
        """Stored records, oldest first, filtered by what is given."""
        prefix = ""
        if repo is not None:
            prefix = f"{repo}/" + (f"pr-{pr}/" if pr is not None else "")
        found = []
        for path in self.blobs.list(prefix):
            if not path.endswith(META_SUFFIX):
                continue
            data = self.blobs.read(path)
            if data is None:
                continue
            try:
                record = PlanRecord.from_dict(json.loads(data))
            except (ValueError, TypeError):
                continue  # not ours
            if (
                (pr is None or record.pr == pr)
                and (environment is None or record.environment == environment)
                and (kind is None or record.kind == kind)
            ):
                found.append(record)
        return sorted(found, key=lambda r: (r.created, r.environment))

    def latest(
        self, repo: str, pr: int, environment: str, kind: Kind = "plan"
    ) -> PlanRecord | None:
        records = self.records(repo=repo, pr=pr, environment=environment, kind=kind)
        return records[-1] if records else None

    def delete(self, key: PlanKey) -> None:
        for suffix in (META_SUFFIX, ".tfplan", ".json"):
            self.blobs.delete(key.prefix + suffix)

    def prune(
        self, older_than: timedelta, *, now: datetime | None = None, dry_run: bool = False
    ) -> list[PlanRecord]:
        """Delete records created before now - older_than; returns them."""
        cutoff = (now or datetime.now(UTC)) - older_than
        old = [r for r in self.records() if r.created_at < cutoff]
        if not dry_run:
            for record in old:
                self.delete(record.key)
        return old


class LocalPlanStore(PlanStore):
    def __init__(self, base: Path):
        super().__init__(LocalBlobs(base))


class S3PlanStore(PlanStore):
    def __init__(self, bucket: str, prefix: str = "", client: S3Client | None = None):
        super().__init__(S3Blobs(bucket, prefix, client))


def full_disk_hint(exc: OSError) -> str | None:
    """What to do about a write the file system refused for want of room, else None."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free space on that file system, or point store.url at one with room"
    return None


def parse_s3_url(url: str) -> tuple[str, str]:
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError(
            f"{url!r} names no bucket",
            where="tfops.yaml: store.url",
            hint="use s3://bucket/prefix",
        )
    return bucket, prefix.strip("/")


def store_blobs(config: TfopsConfig, repo_root: Path) -> Blobs:
    url = config.store.url
    if url.startswith("s3://"):
        return S3Blobs(*parse_s3_url(url))
    if "://" in url:
        raise ConfigError(
            f"unsupported plan store {url!r}",
            where="tfops.yaml: store.url",
            hint="use a directory or s3://bucket/prefix",
        )
    return LocalBlobs(repo_root / Path(url).expanduser())


def open_store(config: TfopsConfig, repo_root: Path) -> PlanStore:
    """The plan store tfops.yaml chooses (`store.url`)."""
    return PlanStore(store_blobs(config, repo_root))


def parse_age(text: str) -> timedelta:
    """ "30d", "12h", "90m", "2w" → a timedelta, with a clear error otherwise."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    value, unit = text[:-1].strip(), text[-1:].lower()
    if unit not in units or not value.isdigit():
        raise TfopsError(
            f"{text!r} is not an age",
            hint="use a number and a unit: 90m, 12h, 30d, 2w",
        )
    return timedelta(**{units[unit]: int(value)})
