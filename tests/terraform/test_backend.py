"""End to end on moto's server: Terraform's S3 backend with DynamoDB state locking, tfops's
plan store in S3 and its environment locks in the same DynamoDB table.

Runs on the Terraform on PATH (1.6+ backend syntax) and on Terraform 1.0 (the old one),
with the backend arguments rendered by `tfops.backend` for the version in use.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import Tfops
from tests.helpers import finish, git, init_repo, start_tfops, wait_for
from tests.provider_helpers import TerraformBin, require_terraform_1_0, require_terraform_on_path
from tests.repos import merge, open_pr
from tfops.provider.mirror import install_mirror
from tfops.terraform.backend import S3Backend, render_s3_backend, s3_backend_settings

if TYPE_CHECKING:
    from tests.moto_server import Aws

pytest_plugins = ["tests.moto_server"]

MAIN_TF = """terraform {
  backend "s3" {}
  required_providers {
    localfile = {
      source  = "tfops/localfile"
      version = "0.1.0"
    }
  }
}

resource "localfile_file" "motd" {
  path    = "motd.txt"
  content = "%s"
%s}
"""
SLOW = '  provisioner "local-exec" {\n    command = "sleep 60"\n  }\n'
STATE_KEY = "envs/dev/terraform.tfstate"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(
    params=[require_terraform_on_path, require_terraform_1_0], ids=["terraform-on-path", "1.0"]
)
def terraform(request: pytest.FixtureRequest) -> TerraformBin:
    finder: Callable[[], TerraformBin] = request.param
    return finder()


def test_backend_arguments_follow_the_terraform_version() -> None:
    backend = S3Backend("b", "k", "eu-west-1", "locks", endpoint="http://127.0.0.1:1")
    old = s3_backend_settings("1.5.7", backend)
    assert old["endpoint"] == old["dynamodb_endpoint"] == "http://127.0.0.1:1"
    assert old["force_path_style"] is True and "endpoints" not in old
    new = s3_backend_settings("1.6.0", backend)
    assert new["endpoints"] == {"s3": "http://127.0.0.1:1", "dynamodb": "http://127.0.0.1:1"}
    assert new["use_path_style"] is True and new["skip_requesting_account_id"] is True
    assert "endpoint" not in new and "force_path_style" not in new
    with pytest.raises(ValueError, match=r"use_lockfile needs Terraform 1\.10"):
        s3_backend_settings("1.9.0", S3Backend("b", "k", "r", use_lockfile=True))
    plain = s3_backend_settings("1.11.0", S3Backend("b", "k", "r", use_lockfile=True))
    assert plain == {"bucket": "b", "key": "k", "region": "r", "use_lockfile": True}


def make_repo(path: Path, aws: Aws, terraform: TerraformBin, bucket: str, table: str) -> Path:
    backend = S3Backend(bucket, STATE_KEY, "us-east-1", table, endpoint=aws.endpoint)
    yaml = f"""terraform:
  binary: {terraform.path}
store:
  url: s3://{bucket}/tfops
locks:
  backend: dynamodb
  table: {table}
environments:
  dev:
    backend_config: [backend.hcl]
"""
    return init_repo(
        path,
        {
            ".gitignore": ".terraform/\n.terraform.lock.hcl\n*.txt\n",
            "tfops.yaml": yaml,
            "envs/dev/main.tf": MAIN_TF % ("v1", ""),
            "envs/dev/backend.hcl": render_s3_backend(terraform.version, backend),
        },
    )


def lock_ids(aws: Aws, table: str) -> set[str]:
    items = aws.dynamodb().scan(TableName=table, ConsistentRead=True)["Items"]
    return {str(item["LockID"]["S"]) for item in items}


def state(aws: Aws, bucket: str) -> dict[str, Any]:
    body = aws.s3().get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read()
    data: dict[str, Any] = json.loads(body)
    return data


def test_apply_on_merge_with_s3_state_and_dynamodb_locks(
    tmp_path: Path,
    aws: Aws,
    terraform: TerraformBin,
    mirror: Path,
    tfops: Tfops,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(mirror))
    bucket, table = aws.bucket(), aws.lock_table()  # one table: Terraform's and tfops's locks
    repo = make_repo(tmp_path / "environments", aws, terraform, bucket, table)
    head = open_pr(repo, "feature", {"envs/dev/main.tf": MAIN_TF % ("v2", "")}, 12, ["dev"])
    assert lock_ids(aws, table) == {"tfops:dev"}  # the PR holds dev
    merged = merge(repo, "feature", 12)

    result = tfops("apply", str(repo), "--merged", "--pr", "12", "--head", head, "--no-gates")
    assert result.exit_code == 0, result.output
    assert "dev: applied (1 to add, 0 to change, 0 to destroy)" in result.stdout
    assert (repo / "envs/dev/motd.txt").read_text() == "v2"
    resources = state(aws, bucket)["resources"]
    assert resources[0]["instances"][0]["attributes"]["content"] == "v2"
    assert state(aws, bucket)["terraform_version"] == terraform.version
    # terraform wrote its state digest; no lock is left, neither terraform's nor tfops's
    assert lock_ids(aws, table) == {f"{bucket}/{STATE_KEY}-md5"}

    keys = {o["Key"] for o in aws.s3().list_objects_v2(Bucket=bucket)["Contents"]}
    kept = f"tfops/environments/pr-12/{head}/dev/plan"
    applied = f"tfops/environments/pr-12/{merged}/dev/apply"
    assert {f"{kept}.tfplan", f"{kept}.meta.json", f"{applied}.tfplan"} <= keys
    meta = json.loads(aws.s3().get_object(Bucket=bucket, Key=f"{applied}.meta.json")["Body"].read())
    assert meta["terraform_version"] == terraform.version
    assert any(k.startswith("tfops/audit/") for k in keys)
    audit = tfops("audit", str(repo), "--format", "json")
    (line,) = [json.loads(x) for x in audit.stdout.splitlines()]
    assert (line["result"], line["plan_sha256"], line["commit"]) == (
        "applied",
        meta["sha256"],
        merged,
    )


def test_sigterm_releases_terraforms_state_lock_and_tfops_lock_in_dynamodb(
    tmp_path: Path, aws: Aws, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terraform = require_terraform_on_path()
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(mirror))
    bucket, table = aws.bucket(), aws.lock_table()
    repo = make_repo(tmp_path / "environments", aws, terraform, bucket, table)
    open_pr(repo, "feature", {"envs/dev/main.tf": MAIN_TF % ("v2", SLOW)}, 5, ["dev"])
    merge(repo, "feature", 5)
    seen: list[str] = []
    child = start_tfops("apply", str(repo), "--merged", "--pr", "5", "--no-gates")
    wait_for(child, "Executing:", seen)
    during = lock_ids(aws, table)
    assert {"tfops:dev", f"{bucket}/{STATE_KEY}"} <= during  # both locks are held
    child.send_signal(signal.SIGTERM)
    output = finish(child, seen)
    assert child.returncode == 130, output
    assert "Gracefully shutting down" in output
    deadline = time.monotonic() + 10
    while lock_ids(aws, table) != {f"{bucket}/{STATE_KEY}-md5"} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lock_ids(aws, table) == {f"{bucket}/{STATE_KEY}-md5"}
    assert git(repo, "status", "--porcelain") == ""  # nothing of tfops's shows up in git
