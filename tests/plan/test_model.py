"""The plan model on real plan JSON: Terraform 1.11 (format 1.x) and 1.0 (format 0.x)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.provider_helpers import (
    TerraformBin,
    mirror_env,
    require_terraform_1_0,
    require_terraform_on_path,
    run_terraform,
)
from tfops.plan.model import SENSITIVE, PlanSummary, sensitive_values, summarize
from tfops.provider.mirror import install_mirror
from tfops.repo.environments import top_level_address

PROVIDER = """terraform {
  required_providers {
    localfile = {
      source  = "tfops/localfile"
      version = "0.1.0"
    }
  }
}
"""

# Files for the 1.0 scenario: localfile resources only (terraform_data is 1.4+).
BEFORE_1_0 = (
    PROVIDER
    + """
resource "localfile_file" "dev_config" {
  path              = "out/dev.conf"
  content           = "a"
  sensitive_content = "dev-password-1"
}
resource "localfile_file" "dev_moved_path" {
  path    = "out/old-path.txt"
  content = "x"
}
resource "localfile_file" "prod_config" {
  path    = "out/prod.conf"
  content = "p"
}
resource "localfile_file" "prod_gone" {
  path    = "out/gone.txt"
  content = "bye"
}
output "dev_url" {
  value = "https://dev.one"
}
output "prod_token" {
  value     = "prod-token-value-1"
  sensitive = true
}
"""
)
AFTER_1_0 = (
    PROVIDER
    + """
resource "localfile_file" "dev_config" {
  path              = "out/dev.conf"
  content           = "b"
  sensitive_content = "dev-password-2"
}
resource "localfile_file" "dev_moved_path" {
  path    = "out/new-path.txt"
  content = "x"
}
resource "localfile_file" "prod_config" {
  path    = "out/prod.conf"
  content = "p"
}
resource "localfile_file" "prod_new" {
  path    = "out/new.txt"
  content = "hi"
}
output "dev_url" {
  value = "https://dev.two"
}
output "prod_token" {
  value     = "prod-token-value-2"
  sensitive = true
}
"""
)


def by_prefix(address: str) -> str:
    """dev_*/prod_* names belong to those environments, as file prefixes do in a repo."""
    name = top_level_address(address).rsplit(".", 1)[-1]
    prefix = name.split("_")[0]
    return prefix if prefix in ("dev", "prod") else "shared"


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_mirror(tmp_path_factory.mktemp("mirror"))


def plan_json(
    binary: TerraformBin, workdir: Path, env: dict[str, str], *extra: str
) -> dict[str, Any]:
    run_terraform(
        binary, workdir, env, "plan", "-input=false", "-out=plan.bin", *extra, codes=(0, 2)
    )
    shown = run_terraform(binary, workdir, env, "show", "-json", "plan.bin")
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def scenario(
    binary: TerraformBin, workdir: Path, cli_config: Path, before: str, after: str
) -> dict[str, Any]:
    env = mirror_env(cli_config)
    workdir.mkdir()
    (workdir / "main.tf").write_text(before)
    run_terraform(binary, workdir, env, "init", "-input=false")
    run_terraform(binary, workdir, env, "apply", "-input=false", "-auto-approve")
    (workdir / "out" / "prod.conf").write_text("edited by hand")  # drift
    (workdir / "main.tf").write_text(after)
    return plan_json(binary, workdir, env)


def check_common(summary: PlanSummary, plan: dict[str, Any]) -> None:
    dev, prod = summary.environments["dev"], summary.environments["prod"]
    actions = {c.address: c.action for c in dev.changes + prod.changes}
    assert actions["localfile_file.dev_config"] == "update"
    assert actions["localfile_file.dev_moved_path"] == "replace"
    assert actions["localfile_file.prod_gone"] == "delete"
    assert actions["localfile_file.prod_new"] == "create"
    assert actions["localfile_file.prod_config"] == "update"  # puts the hand edit back
    assert (dev.counts.update, dev.counts.replace) == (1, 1)
    assert (prod.counts.create, prod.counts.update, prod.counts.delete) == (1, 1, 1)
    dev_config = next(c for c in dev.changes if c.address == "localfile_file.dev_config")
    attrs = {a.name: a for a in dev_config.attributes}
    assert (attrs["content"].before, attrs["content"].after) == ('"a"', '"b"')
    assert attrs["sensitive_content"].before == SENSITIVE == attrs["sensitive_content"].after
    replaced = next(c for c in dev.changes if c.address == "localfile_file.dev_moved_path")
    assert any(a.name == "path" and a.forces_replacement for a in replaced.attributes)
    outputs = {o.name: o for o in dev.outputs + prod.outputs}
    assert (outputs["dev_url"].before, outputs["dev_url"].after) == (
        '"https://dev.one"',
        '"https://dev.two"',
    )
    assert outputs["prod_token"].sensitive and outputs["prod_token"].after == SENSITIVE
    # nothing secret survives into the model, and the masker learns every secret
    rendered = json.dumps(summary.to_dict())
    for secret in ("dev-password-1", "dev-password-2", "prod-token-value-1", "prod-token-value-2"):
        assert secret not in rendered
    assert {"dev-password-2", "prod-token-value-2"} <= set(sensitive_values(plan))


def test_plan_model_on_terraform_1_0(tmp_path: Path, cli_config: Path) -> None:
    binary = require_terraform_1_0()
    plan = scenario(binary, tmp_path / "w", cli_config, BEFORE_1_0, AFTER_1_0)
    assert plan["format_version"].startswith("0.")
    summary = summarize(plan, by_prefix, ["dev", "prod"])
    assert summary.terraform_version.startswith("1.0.")
    check_common(summary, plan)
    drift = summary.environments["prod"].drift
    assert [d.address for d in drift] == ["localfile_file.prod_config"]
    assert drift[0].action == "update"


EXTRA_1_11 = """
resource "terraform_data" "dev_renamed" {
  input = "same"
}
moved {
  from = terraform_data.dev_old_name
  to   = terraform_data.dev_renamed
}
import {
  to = terraform_data.prod_imported
  id = "existing-id"
}
resource "terraform_data" "prod_imported" {
}
data "terraform_remote_state" "dev_later" {
  backend = "local"
  config = {
    path = "${path.module}/${localfile_file.dev_config.content}.tfstate"
  }
}
"""


def test_plan_model_on_current_terraform(tmp_path: Path, cli_config: Path) -> None:
    binary = require_terraform_on_path()
    before = BEFORE_1_0 + 'resource "terraform_data" "dev_old_name" {\n  input = "same"\n}\n'
    plan = scenario(binary, tmp_path / "w", cli_config, before, AFTER_1_0 + EXTRA_1_11)
    assert plan["format_version"].startswith("1.")
    summary = summarize(plan, by_prefix, ["dev", "prod"])
    check_common(summary, plan)
    dev, prod = summary.environments["dev"], summary.environments["prod"]
    moved = next(c for c in dev.changes if c.address == "terraform_data.dev_renamed")
    assert moved.moved_from == "terraform_data.dev_old_name" and moved.action == "no-op"
    assert dev.counts.move == 1
    imported = next(c for c in prod.changes if c.address == "terraform_data.prod_imported")
    assert imported.importing and prod.counts.import_ == 1
    read = next(c for c in dev.changes if c.address == "data.terraform_remote_state.dev_later")
    assert read.action == "read" and dev.counts.read == 1
    assert [d.address for d in prod.drift] == ["localfile_file.prod_config"]
    assert dev.counts.phrase() == "1 to add, 1 to change, 1 to destroy (1 replaced, 1 moved)"
