"""The audit line survives a store that fails after the apply (issue 13 #3): S3 gone, a
full disk. Real parts: moto's S3 server on loopback, stopped and started again; a tiny
tmpfs filled to the last byte."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tfops.errors import TfopsError
from tfops.records.audit import AuditEntry, AuditLog, AuditNotWritten
from tfops.records.store import LocalBlobs, PlanKey, PlanStore, S3Blobs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytest_plugins = ["tests.moto_server"]


def entry(environment: str, when: str) -> AuditEntry:
    return AuditEntry(
        who="alice",
        when=when,
        repo="acme/envs",
        commit="c0ffee",
        pr=7,
        environment=environment,
        plan_sha256="ab" * 32,
        result="applied",
        duration_seconds=1.0,
    )


# ---- S3 unreachable --------------------------------------------------------------------


class StoppableS3:
    """moto's server on a fixed loopback port that can go away and come back with its data
    (moto keeps its state in this process)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = None
        self.start()

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.stop()

    def client(self) -> S3Client:
        import boto3
        from botocore.config import Config

        client: S3Client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )
        return client


@pytest.fixture
def s3() -> Iterator[StoppableS3]:
    server = StoppableS3()
    yield server
    server.stop()


def test_an_entry_the_store_cannot_take_is_kept_and_written_on_the_next_run(
    s3: StoppableS3, tmp_path: Path
) -> None:
    client = s3.client()
    client.create_bucket(Bucket="audit")
    spool = tmp_path / ".tfops" / "audit-pending"
    log = AuditLog(S3Blobs("audit", "envs", client), pending=spool)
    log.append(entry("dev", "2026-01-01T10:00:00.000001Z"))

    s3.stop()  # S3 goes away between the apply and its audit line
    with pytest.raises(AuditNotWritten) as info:
        log.append(entry("prod", "2026-01-01T10:05:00.000001Z"))
    said = info.value.after("applied")
    assert said.startswith(
        "applied; the audit record of prod could not be written to s3://audit/envs/audit/ ("
    )
    assert "cannot reach http://127.0.0.1:" in said
    assert f"; kept in {spool}; it will be written on the next run" in said
    assert [e.environment for _, e in log.pending()] == ["prod"]

    s3.start()
    next_run = AuditLog(S3Blobs("audit", "envs", s3.client()), pending=spool)
    next_run.append(entry("dev", "2026-01-01T11:00:00.000001Z"))
    assert [(e.environment, e.when[11:16]) for e in next_run.entries()] == [
        ("dev", "10:00"),
        ("prod", "10:05"),
        ("dev", "11:00"),
    ]
    assert list(spool.iterdir()) == []


def test_every_entry_of_a_batch_is_kept_when_the_first_fails(
    s3: StoppableS3, tmp_path: Path
) -> None:
    s3.client().create_bucket(Bucket="audit")
    log = AuditLog(S3Blobs("audit", "", s3.client()), pending=tmp_path / "spool")
    s3.stop()
    with pytest.raises(AuditNotWritten) as info:
        log.append_all(
            [entry("dev", "2026-01-01T10:00:00Z"), entry("prod", "2026-01-01T10:00:00Z")]
        )
    assert str(info.value).startswith("the audit records of dev, prod could not be written")
    assert "they will be written on the next run" in str(info.value)
    assert sorted(e.environment for _, e in log.pending()) == ["dev", "prod"]
    s3.start()


# ---- a full disk -----------------------------------------------------------------------


def fill(path: Path) -> None:
    """Write to `path` until the file system has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, filled to the last byte; yields the filler file (delete it for room)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        filler = mount_point / "filler"
        fill(filler)
        yield filler
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_full_disk_names_the_store_and_leaves_no_temporary_file(
    full_disk: Path, tmp_path: Path
) -> None:
    store_dir = full_disk.parent / "plans"
    store = PlanStore(LocalBlobs(store_dir))
    key = PlanKey("acme/envs", 7, "c0ffee", "prod")
    with pytest.raises(TfopsError) as info:
        store.put(key, b"p" * 100_000, {"format_version": "1.2"}, terraform_version="1.11.4")
    message = str(info.value)
    assert message.startswith(f"tfops.yaml: store.url: cannot write {store_dir}/acme/envs/")
    assert f"in the plan store {store_dir}: No space left on device" in message
    assert "free space on that file system" in message
    leftovers = [p.name for p in store_dir.rglob("*") if p.is_file()]
    assert leftovers == []  # neither `*.tmp` nor half a record

    full_disk.unlink()  # room again: the store works
    store.put(key, b"p" * 100, {"format_version": "1.2"}, terraform_version="1.11.4")
    assert store.get(key).planfile == b"p" * 100


def test_the_audit_log_on_a_full_disk_is_not_cut_and_the_entry_is_kept(
    full_disk: Path, tmp_path: Path
) -> None:
    store_dir = full_disk.parent / "plans"
    store_dir.mkdir()
    spool = tmp_path / ".tfops" / "audit-pending"
    full_disk.unlink()
    log = AuditLog(LocalBlobs(store_dir), pending=spool)
    log.append(entry("dev", "2026-01-01T10:00:00Z"))
    before = (store_dir / "audit.jsonl").read_bytes()
    fill(full_disk)  # the disk fills up again
    with pytest.raises(AuditNotWritten) as info:
        # longer than what is left of the file's last page: it needs a new one
        log.append(replace(entry("prod", "2026-01-01T10:05:00Z"), detail="d" * 6000))
    assert "No space left on device" in str(info.value)
    assert (store_dir / "audit.jsonl").read_bytes() == before  # no half line
    full_disk.unlink()
    log.append(entry("stage", "2026-01-01T10:10:00Z"))
    lines = (store_dir / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["environment"] for line in lines] == ["dev", "prod", "stage"]


def test_when_even_the_spool_is_full_the_entry_is_in_the_message(full_disk: Path) -> None:
    log = AuditLog(LocalBlobs(full_disk.parent / "plans"), pending=full_disk.parent / "spool")
    with pytest.raises(AuditNotWritten) as info:
        log.append(entry("prod", "2026-01-01T10:05:00Z"))
    assert info.value.kept == []
    assert "could not be kept locally either" in str(info.value)
    assert entry("prod", "2026-01-01T10:05:00Z").to_json() in str(info.value)
    assert not os.path.exists(full_disk.parent / "spool") or not list(
        (full_disk.parent / "spool").iterdir()
    )
