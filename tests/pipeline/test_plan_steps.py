"""What a plan runs (issue 14): init only when something it reads changed, and once more
when terraform says it is needed after all; validate only where it can add to the plan;
fmt beside the rest, its verdict as before. Real terraform behind a logging wrapper."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import commit, logging_terraform, terraform_commands


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    found = logging_terraform(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return found


def ran(log: Path) -> list[str]:
    """The terraform commands since the last call (the version probe left out)."""
    commands = [c for c in terraform_commands(log) if c != "version"]
    log.write_text("")
    return commands


def plan(tfops: Tfops, sandbox: Path) -> dict:  # type: ignore[type-arg]
    result = tfops("plan", str(sandbox), "--format", "json")
    assert result.exit_code == 0, result.output
    report: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return report


def test_init_runs_again_only_when_something_it_reads_changed(
    sandbox: Path, tfops: Tfops, log: Path
) -> None:
    first = plan(tfops, sandbox)
    assert sorted(ran(log)) == ["fmt", "init", "plan", "show"]  # validate: see below
    second = plan(tfops, sandbox)
    assert ran(log) == ["plan", "show"]
    assert second["environments"] == first["environments"]

    # a nested module of the sibling repo dev floats on: init must see it again
    db = sandbox.parent / "modules" / "db" / "main.tf"
    db.write_text(db.read_text() + '\nresource "terraform_data" "replica" {\n  input = 1\n}\n')
    third = plan(tfops, sandbox)
    assert ran(log) == ["init", "plan", "show"]
    assert third["environments"]["dev"]["counts"]["create"] == 8  # the replica, in dev only
    assert third["environments"]["prod"]["counts"] == first["environments"]["prod"]["counts"]

    (sandbox / ".terraform.lock.hcl").write_text(
        (sandbox / ".terraform.lock.hcl").read_text() + "\n"
    )
    plan(tfops, sandbox)
    assert ran(log) == ["init", "plan", "show"]


def test_a_plan_that_needs_init_after_all_runs_it_and_plans_again(
    sandbox: Path, tfops: Tfops, log: Path
) -> None:
    first = plan(tfops, sandbox)
    ran(log)
    shutil.rmtree(sandbox / ".terraform" / "providers")  # not something init reads
    result = tfops("plan", str(sandbox), "--format", "json")
    assert result.exit_code == 0, result.output
    assert ran(log) == ["plan", "init", "plan", "show"]
    assert "terraform needs init after all" in result.output
    assert json.loads(result.stdout)["environments"] == first["environments"]


def test_validate_runs_only_where_it_can_add_to_the_plan(
    sandbox: Path, tfops: Tfops, log: Path
) -> None:
    report = plan(tfops, sandbox)
    validate = next(g for g in report["gates"] if g["gate"] == "validate")
    assert (validate["status"], validate["findings"]) == ("passed", [])
    ran(log)
    plan(tfops, sandbox)
    assert "validate" not in ran(log)  # the plan validated the same configuration

    # a warning the plan prints: validate reports it, with file and line, as it always did
    commit(
        sandbox,
        {
            "dev_dns.tf": 'resource "terraform_data" "dev_zone" {\n  input = "dev"\n\n'
            "  lifecycle {\n    ignore_changes = [id]\n  }\n}\n"
        },
    )
    result = tfops("plan", str(sandbox), "--format", "json")
    assert result.exit_code == 3, result.output  # the warning fails the gate (fail_on: low)
    assert "validate" in ran(log)
    gates = {g["gate"]: g for g in json.loads(result.stdout)["gates"]}
    [finding] = gates["validate"]["findings"]
    assert (finding["file"], finding["line"], finding["severity"]) == ("dev_dns.tf", 1, "low")
    assert finding["message"].startswith("Redundant ignore_changes element")


def test_validate_runs_when_the_root_has_test_files(sandbox: Path, tfops: Tfops, log: Path) -> None:
    plan(tfops, sandbox)
    commit(sandbox, {"tests/smoke.tftest.hcl": 'run "plans" {\n  command = plan\n}\n'})
    ran(log)
    plan(tfops, sandbox)
    assert "validate" in ran(log)  # plan doesn't read test files; validate checks them


def test_a_failing_fmt_shows_no_plan_and_stops_as_before(
    sandbox: Path, tfops: Tfops, log: Path
) -> None:
    commit(sandbox, {"dev_dns.tf": 'resource "terraform_data" "dev_zone" {\ninput="dev"\n}\n'})
    result = tfops("plan", str(sandbox), "--format", "json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert [(g["gate"], g["status"]) for g in report["gates"]] == [("fmt", "failed")]
    [finding] = report["gates"][0]["findings"]
    assert (finding["file"], finding["line"]) == ("dev_dns.tf", 1)
    assert report["environments"] == {}
    assert "Terraform will perform" not in result.output  # the plan's output was held back
