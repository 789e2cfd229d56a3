"""The latest drift check per environment, as `tfops drift` leaves it for the overview page:
in the plan store's directory and in S3 (moto's server on loopback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import Tfops
from tests.report.demo_state import SECRET
from tfops.config import StoreConfig, TfopsConfig, load_config
from tfops.masking import Masker
from tfops.records.drift import (
    RESOURCE_LIMIT,
    VALUE_LIMIT,
    DriftRecord,
    DriftRecords,
    open_drift_records,
    record_drift,
    records_from_report,
)
from tfops.records.store import LocalBlobs, S3Blobs

if TYPE_CHECKING:
    from tests.moto_server import Aws

pytest_plugins = ["tests.moto_server"]


def dev_config(sandbox: Path) -> Path:
    return sandbox.parent / "rendered" / "dev" / "app.env"


def test_each_check_replaces_the_environments_latest_record(sandbox: Path, tfops: Tfops) -> None:
    applied = tfops("-q", "apply", str(sandbox), "-e", "dev", "-e", "global", "-e", "prod",
                    "--auto-approve")  # fmt: skip
    assert applied.exit_code == 0, applied.output
    records = open_drift_records(load_config(sandbox)[0], sandbox)
    assert records.latest() == {}  # an apply is no drift check

    assert tfops("-q", "drift", str(sandbox), "-e", "dev").exit_code == 0
    first = records.latest()
    assert list(first) == ["dev"] and first["dev"].status == "clean"
    assert first["dev"].summary == "no drift" and first["dev"].trigger == "drift"

    dev_config(sandbox).write_text(dev_config(sandbox).read_text() + f"KEY={SECRET}\n")
    assert tfops("-q", "drift", str(sandbox)).exit_code == 0
    latest = records.latest()
    assert list(latest) == ["dev", "global", "prod"]
    dev = latest["dev"]
    assert dev.status == "drift" and dev.drifted and dev.checked_at > first["dev"].checked_at
    assert dev.summary.startswith("1 resource changed outside Terraform")
    (outside,) = dev.changed_outside
    assert (outside.address, outside.action) == ("localfile_file.dev_config", "update")
    assert outside.attributes[0]["name"] == "content"
    assert outside.attributes[0]["after"].endswith('KEY=***\\n"')
    assert [c.address for c in dev.planned] == ["localfile_file.dev_config"]
    assert dev.commit and latest["prod"].status == "clean"
    stored = (sandbox / ".tfops" / "plans" / "drift" / "dev.json").read_text()
    assert SECRET not in stored and json.loads(stored)["environment"] == "dev"

    assert tfops("-q", "drift", str(sandbox), "-e", "dev", "--heal").exit_code == 0
    healed = records.get("dev")
    assert healed is not None and healed.status == "healed" and healed.drifted


def test_records_in_s3(aws: Aws) -> None:
    bucket = aws.bucket()
    records = DriftRecords(S3Blobs(bucket, "team/plans"))
    records.write(DriftRecord("prod", "2026-01-01T00:00:00Z", "clean", "no drift"))
    records.write(DriftRecord("dev/eu", "2026-01-01T00:00:01Z", "drift", "1 resource"))
    keys = [o["Key"] for o in aws.s3().list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["team/plans/drift/dev%2Feu.json", "team/plans/drift/prod.json"]
    latest = records.latest()
    assert list(latest) == ["dev/eu", "prod"] and latest["dev/eu"].status == "drift"


def test_a_store_that_cant_be_written_is_a_warning(tmp_path: Path, aws: Aws) -> None:
    config = TfopsConfig(store=StoreConfig(url="s3://no-such-bucket/plans"))
    warnings: list[str] = []
    report = {"checked_at": "2026-01-01T00:00:00Z", "environments": {"dev": {"status": "clean"}}}
    record_drift(config, tmp_path, report, trigger="drift", mask=Masker(), warn=warnings.append)
    (warning,) = warnings
    assert warning.startswith("could not record the drift check for the overview page: ")
    assert "no-such-bucket" in warning


def test_what_is_not_a_record_is_ignored(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    records = DriftRecords(blobs)
    records.write(DriftRecord("dev", "2026-01-01T00:00:00Z", "clean", "no drift"))
    blobs.write("drift/prod.json", b"{cut short")
    blobs.write("drift/qa.json", json.dumps({"environment": "dev", "checked_at": "x"}).encode())
    blobs.write("drift/old/dev.json", b"{}")
    assert list(records.latest()) == ["dev"]
    assert records.get("prod") is None


def test_values_are_masked_and_trimmed() -> None:
    change = {
        "address": "terraform_data.x",
        "action": "update",
        "attributes": [{"name": "input", "before": "a" * 1000, "after": f"token {SECRET}"}],
    }
    report = {
        "repo": "environments",
        "checked_at": "2026-01-01T00:00:00Z",
        "environments": {
            "dev": {
                "status": "drift",
                "summary": "lots",
                "changed_outside_terraform": [change] * (RESOURCE_LIMIT + 3),
                "planned_changes": [change],
                "error": None,
            }
        },
    }
    (record,) = records_from_report(report, trigger="schedule", mask=Masker([r"dfp_live_\w+"]))
    assert len(record.changed_outside) == RESOURCE_LIMIT and record.resources_left_out == 3
    attribute = record.changed_outside[0].attributes[0]
    assert len(attribute["before"]) == VALUE_LIMIT and attribute["before"].endswith("…")
    assert attribute["after"] == "token ***"
