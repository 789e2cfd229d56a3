"""The plan store and the audit log, in a directory and in S3 (moto's server on loopback)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import Tfops
from tests.helpers import init_repo
from tfops.config import StoreConfig, TfopsConfig
from tfops.errors import ConfigError, TfopsError
from tfops.records.audit import AuditEntry, AuditLog, open_audit
from tfops.records.store import (
    IntegrityError,
    LocalPlanStore,
    PlanKey,
    PlanStore,
    S3PlanStore,
    open_store,
    parse_age,
    sha256,
)

if TYPE_CHECKING:
    from tests.moto_server import Aws

pytest_plugins = ["tests.moto_server"]

PLAN_BYTES = b"PK\x03\x04 a terraform plan file is a zip archive"
PLAN_JSON = {"format_version": "1.2", "resource_changes": [{"address": "terraform_data.x"}]}


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PlanStore:
    if request.param == "local":
        return LocalPlanStore(tmp_path / "plans")
    aws: Aws = request.getfixturevalue("aws")
    return S3PlanStore(aws.bucket(), "tfops/plans")  # endpoint from AWS_ENDPOINT_URL


def key(env: str = "prod", pr: int | None = 12, commit: str = "a" * 40) -> PlanKey:
    return PlanKey("acme/environments", pr, commit, env, "plan")


def test_a_plan_is_kept_with_its_json_and_metadata(store: PlanStore) -> None:
    record = store.put(
        key(), PLAN_BYTES, PLAN_JSON, terraform_version="1.11.4", root="environments", who="ci"
    )
    assert (record.repo, record.pr, record.commit, record.environment) == (
        "acme/environments",
        12,
        "a" * 40,
        "prod",
    )
    assert record.terraform_version == "1.11.4"
    assert record.sha256 == sha256(PLAN_BYTES)
    assert abs(record.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    stored = store.get(key())
    assert stored.planfile == PLAN_BYTES
    assert stored.plan_json == PLAN_JSON
    assert stored.record == record


def test_reading_verifies_the_sha256(store: PlanStore) -> None:
    store.put(key(), PLAN_BYTES, PLAN_JSON, terraform_version="1.11.4")
    store.blobs.write(key().prefix + ".tfplan", PLAN_BYTES + b" tampered")
    with pytest.raises(IntegrityError) as info:
        store.get(key())
    message = str(info.value)
    assert "the stored plan file for the plan of prod at aaaaaaaaaaaa (#12)" in message
    assert "does not match the sha256 recorded" in message
    assert f"recorded {sha256(PLAN_BYTES)[:16]}" in message
    assert "plan the pull request again" in message


def test_a_changed_plan_json_is_refused_too(store: PlanStore) -> None:
    store.put(key(), PLAN_BYTES, PLAN_JSON, terraform_version="1.11.4")
    store.blobs.write(key().prefix + ".json", json.dumps({"resource_changes": []}).encode())
    with pytest.raises(IntegrityError, match="stored plan JSON"):
        store.get(key())


def test_a_missing_plan_is_a_clear_error(store: PlanStore) -> None:
    with pytest.raises(
        TfopsError, match=r"no stored plan: the plan of dev at aaaaaaaaaaaa \(#12\)"
    ):
        store.get(key("dev"))


def test_records_are_listed_and_filtered(store: PlanStore) -> None:
    store.put(key("dev", commit="1" * 40), b"1", {}, terraform_version="1.11.4")
    store.put(key("prod", commit="1" * 40), b"2", {}, terraform_version="1.11.4")
    store.put(key("dev", pr=13), b"3", {}, terraform_version="1.11.4")
    store.put(key("dev", commit="2" * 40), b"4", {}, terraform_version="1.11.4")
    applied = PlanKey("acme/environments", None, "3" * 40, "dev", "apply")
    store.put(applied, b"5", {}, terraform_version="1.11.4")
    assert len(store.records()) == 5
    assert [r.sha256 for r in store.records(repo="acme/environments", pr=12)] == [
        sha256(b"1"),
        sha256(b"2"),
        sha256(b"4"),
    ]  # oldest first
    assert store.latest("acme/environments", 12, "dev").commit == "2" * 40  # type: ignore[union-attr]
    assert {r.sha256 for r in store.records(environment="dev", kind="plan")} == {
        sha256(b"1"),
        sha256(b"3"),
        sha256(b"4"),
    }
    assert [r.key for r in store.records(kind="apply")] == [applied]


def test_prune_deletes_only_old_plans(store: PlanStore) -> None:
    store.put(key("dev"), b"old", {}, terraform_version="1.11.4")
    store.put(key("prod"), b"old", {}, terraform_version="1.11.4")
    later = datetime.now(UTC) + timedelta(days=31)
    assert store.prune(timedelta(days=30), now=later, dry_run=True) != []
    assert len(store.records()) == 2
    assert store.prune(timedelta(days=30)) == []  # nothing is 30 days old yet
    pruned = store.prune(timedelta(days=30), now=later)
    assert sorted(r.environment for r in pruned) == ["dev", "prod"]
    assert store.records() == []
    assert store.blobs.list("") == []


def test_the_store_follows_the_config(tmp_path: Path, aws: Aws) -> None:
    local = open_store(TfopsConfig(), tmp_path)
    assert local.location == str(tmp_path / ".tfops/plans")
    bucket = aws.bucket()
    s3 = open_store(TfopsConfig(store=StoreConfig(url=f"s3://{bucket}/team/plans")), tmp_path)
    s3.put(key(), PLAN_BYTES, PLAN_JSON, terraform_version="1.11.4")
    listed = aws.s3().list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        f"team/plans/acme/environments/pr-12/{'a' * 40}/prod/plan{suffix}"
        for suffix in (".json", ".meta.json", ".tfplan")
    ]
    with pytest.raises(ConfigError) as info:
        open_store(TfopsConfig(store=StoreConfig(url="s3://no-such-bucket/x")), tmp_path).put(
            key(), b"x", {}, terraform_version="1"
        )
    assert info.value.where == "tfops.yaml: store.url"
    assert "bucket 'no-such-bucket' does not exist" in str(info.value)
    with pytest.raises(ConfigError, match="unsupported plan store"):
        open_store(TfopsConfig(store=StoreConfig(url="gs://bucket")), tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))],
)
def test_ages(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


def test_a_bad_age_says_what_is_allowed() -> None:
    with pytest.raises(TfopsError, match="use a number and a unit: 90m, 12h, 30d, 2w"):
        parse_age("thirty days")


AuditFactory = Callable[[], AuditLog]


@pytest.fixture(params=["local", "s3"])
def audit_config(request: pytest.FixtureRequest, tmp_path: Path) -> TfopsConfig:
    if request.param == "local":
        return TfopsConfig()
    aws: Aws = request.getfixturevalue("aws")
    return TfopsConfig(store=StoreConfig(url=f"s3://{aws.bucket()}/plans"))


def entry(env: str, when: str, result: str = "applied") -> AuditEntry:
    return AuditEntry(
        who="alice",
        when=when,
        repo="acme/environments",
        commit="c" * 40,
        pr=7,
        environment=env,
        plan_sha256="f" * 64,
        result=result,  # type: ignore[arg-type]
        duration_seconds=12.5,
        trigger="merge",
    )


def test_the_audit_log_keeps_one_line_per_apply(audit_config: TfopsConfig, tmp_path: Path) -> None:
    log = open_audit(audit_config, tmp_path)
    log.append(entry("dev", "2025-01-02T10:00:00Z"))
    log.append(entry("prod", "2025-01-01T09:00:00Z", "refused"))
    log.append(entry("dev", "2025-01-03T08:00:00Z", "failed"))
    assert [(e.environment, e.result) for e in log.entries()] == [
        ("prod", "refused"),
        ("dev", "applied"),
        ("dev", "failed"),
    ]
    assert [e.when for e in log.entries(environment="dev")] == [
        "2025-01-02T10:00:00Z",
        "2025-01-03T08:00:00Z",
    ]
    if audit_config.store.url == ".tfops/plans":
        lines = (tmp_path / ".tfops/plans/audit.jsonl").read_text().splitlines()
        assert len(lines) == 3 and json.loads(lines[0])["environment"] == "dev"


def test_tfops_plans_and_audit_commands(
    tmp_path: Path, tfops: Tfops, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = aws.bucket()
    repo = init_repo(
        tmp_path / "environments",
        {
            "tfops.yaml": f"store:\n  url: s3://{bucket}/plans\n",
            "dev_app.tf": 'resource "terraform_data" "dev" {}\n',
        },
    )
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/environments")
    store = open_store(TfopsConfig(store=StoreConfig(url=f"s3://{bucket}/plans")), repo)
    store.put(key("dev"), b"new", {}, terraform_version="1.11.4")
    old = store.put(key("prod"), b"old", {}, terraform_version="1.11.4")
    aged = {**old.to_dict(), "created": "2020-01-01T00:00:00Z"}
    store.blobs.write(old.key.prefix + ".meta.json", json.dumps(aged).encode())

    listed = tfops("plans", "list", str(repo))
    assert listed.exit_code == 0, listed.output
    assert "2020-01-01T00:00:00Z  plan   #12    aaaaaaaaaaaa  prod" in listed.stdout
    assert json.loads(tfops("plans", "list", str(repo), "--format", "json").stdout)[0]["pr"] == 12

    pruned = tfops("plans", "prune", str(repo), "--older-than", "30d")
    assert pruned.exit_code == 0, pruned.output
    assert f"Deleted 1 plan(s) older than 30d from s3://{bucket}/plans." in pruned.stdout
    assert [r.environment for r in store.records()] == ["dev"]
    bad = tfops("plans", "prune", str(repo), "--older-than", "soon")
    assert bad.exit_code == 1 and "'soon' is not an age" in bad.stderr

    assert "No applies recorded" in tfops("audit", str(repo)).stdout
    open_audit(TfopsConfig(store=StoreConfig(url=f"s3://{bucket}/plans")), repo).append(
        entry("dev", "2025-01-02T10:00:00Z")
    )
    text = tfops("audit", str(repo)).stdout
    assert "2025-01-02T10:00:00Z  dev          applied     alice" in text
    lines = tfops("audit", str(repo), "--format", "json", "-e", "dev").stdout.splitlines()
    assert json.loads(lines[0])["plan_sha256"] == "f" * 64
