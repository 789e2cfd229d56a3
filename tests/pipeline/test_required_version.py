"""A root whose required_version excludes the installed terraform (issue 12 row 8): fmt,
pins and modules don't need terraform's version; validate and plan report it for that
root, by its repo-relative path, and the other roots go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import init_repo

RESOURCE = 'resource "terraform_data" "x" {\n  input = 1\n}\n'
TOO_NEW = 'terraform {\n  required_version = ">= 99.0.0"\n}\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(
        tmp_path / "environments",
        {
            "envs/dev/main.tf": RESOURCE,
            "envs/prod/main.tf": RESOURCE,
            "envs/prod/versions.tf": TOO_NEW,
        },
    )


def test_fmt_and_pins_do_not_need_the_binarys_version(repo: Path, tfops: Tfops) -> None:
    result = tfops("check", str(repo), "--gate", "fmt", "--gate", "pins")
    assert result.exit_code == 0, result.output
    assert tfops("modules", str(repo)).exit_code == 0


def test_validate_reports_the_root_and_the_other_roots_go_on(repo: Path, tfops: Tfops) -> None:
    result = tfops("check", str(repo), "--format", "json")
    assert result.exit_code == 3, result.output
    gates = {(g["root"], g["gate"]): g for g in json.loads(result.stdout)["gates"]}
    assert gates[("envs/dev", "validate")]["status"] == "passed"
    failed = gates[("envs/prod", "validate")]
    assert failed["status"] == "error"
    assert "envs/prod/versions.tf:2: required_version '>= 99.0.0'" in failed["detail"]


def test_plan_reports_the_root_and_plans_the_others(repo: Path, tfops: Tfops) -> None:
    result = tfops("plan", str(repo), "--format", "json")
    assert result.exit_code == 1, result.output
    planned = json.loads(result.stdout)["environments"]
    assert planned["dev"]["counts"]["create"] == 1
    assert "envs/prod/versions.tf:2: required_version '>= 99.0.0'" in planned["prod"]["error"]
