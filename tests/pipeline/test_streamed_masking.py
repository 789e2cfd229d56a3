"""terraform's own streamed output never shows a value state or the plan marks sensitive,
even one Terraform prints unmarked (issue 13 #4): `terraform_data`'s prior `output`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import Tfops
from tests.helpers import write_files
from tfops.config import TerraformConfig
from tfops.masking import escaped_forms
from tfops.terraform.backend import S3Backend, render_s3_backend
from tfops.terraform.runner import Terraform, find_terraform

if TYPE_CHECKING:
    from tests.moto_server import Aws

pytest_plugins = ["tests.moto_server"]

ROOT = """variable "secret" {
  type      = string
  sensitive = true
}

resource "terraform_data" "x" {
  input = var.secret
}

output "token" {
  value     = var.secret
  sensitive = true
}
"""
OLD = 'old-pa"ss-für'
NEW = 'new-pa"ss-zwei'


def tfvars(value: str) -> str:
    return f"secret = {json.dumps(value, ensure_ascii=False)}\n"


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_prior_value_terraform_prints_unmarked_is_masked_in_the_log(
    tmp_path: Path, tfops: Tfops, backend: str, request: pytest.FixtureRequest
) -> None:
    files = {"main.tf": ROOT, "terraform.tfvars": tfvars(OLD)}
    if backend == "s3":  # a state tfops can't read itself: `terraform state pull`
        aws: Aws = request.getfixturevalue("aws")
        settings = S3Backend(
            aws.bucket(), "dev/terraform.tfstate", aws.env["AWS_REGION"], endpoint=aws.endpoint
        )
        version = find_terraform(TerraformConfig()).version
        files["backend.tf"] = 'terraform {\n  backend "s3" {}\n}\n'
        files["backend.hcl"] = render_s3_backend(version, settings)
        files["tfops.yaml"] = "environments:\n  default:\n    backend_config: [backend.hcl]\n"
    write_files(tmp_path / "root", files)
    root = tmp_path / "root"
    applied = tfops("apply", str(root), "-e", "default", "--auto-approve", "--no-gates")
    assert applied.exit_code == 0, applied.output
    write_files(root, {"terraform.tfvars": tfvars(NEW)})

    result = tfops("plan", str(root), "--no-gates")
    assert result.exit_code == 0, result.output
    assert "~ output = " in result.stderr  # terraform's own plan text, streamed
    for text in (result.stderr, result.stdout):
        for form in escaped_forms(OLD) | escaped_forms(NEW):
            assert form not in text


def test_reading_state_costs_no_terraform_run_with_a_local_backend(tmp_path: Path) -> None:
    write_files(tmp_path, {"main.tf": ROOT, "terraform.tfvars": tfvars(OLD)})
    argv = ["apply", str(tmp_path), "-e", "default", "--auto-approve", "--no-gates"]
    subprocess.run([sys.executable, "-m", "tfops", *argv], check=True, capture_output=True)
    terraform = Terraform(find_terraform(TerraformConfig()), tmp_path, TerraformConfig())
    terraform.binary = type(terraform.binary)("/nonexistent/terraform", "1.11.4")  # never run
    assert sorted(set(terraform.sensitive_state_values())) == [OLD]
