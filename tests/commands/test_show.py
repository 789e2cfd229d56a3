"""`tfops show PLAN`: plans made elsewhere, told as tfops tells its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.plan.scenarios import SECRET_NEW, SECRET_OLD, RealPlans
from tests.provider_helpers import mirror_env, require_terraform_on_path, run_terraform


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory that is no Terraform root and no environments repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_json(real_plans: RealPlans, name: str, to: Path) -> Path:
    path = to / f"{name}.json"
    path.write_text(json.dumps(real_plans(name).full))
    return path


@pytest.mark.parametrize(
    ("name", "code", "says"),
    [
        ("no_changes", 0, "plan: no changes."),
        ("forget", 2, "(1 no longer managed)"),
        ("drift_refresh", 2, "1 resource changed outside Terraform; applying this refresh-only"),
        ("drift_move", 0, "(moved from terraform_data.a)"),
        ("errored", 1, "Terraform could not finish this plan"),
    ],
)
def test_exit_codes_follow_terraform(
    real_plans: RealPlans, elsewhere: Path, tfops: Tfops, name: str, code: int, says: str
) -> None:
    plan = write_json(real_plans, name, elsewhere)
    result = tfops("show", str(plan), "--detailed-exitcode")
    assert result.exit_code == code == real_plans(name).exit_code, result.output
    assert says in result.stdout
    assert f"note: The plan in {plan}, made by Terraform 1.11." in result.stdout


def test_a_saved_plan_file_is_read_where_it_was_made(
    real_plans: RealPlans, tfops: Tfops, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = real_plans("unknown")
    monkeypatch.chdir(made.workdir)
    monkeypatch.setenv(
        "TF_CLI_CONFIG_FILE", mirror_env(real_plans.cli_config)["TF_CLI_CONFIG_FILE"]
    )
    result = tfops("show", "plan.bin")
    assert result.exit_code == 0, result.output
    assert 'input: ["hello", (known after apply), "world"]' in result.stdout
    assert f"{made.workdir.name}: 2 to add, 2 to change, 0 to destroy" in result.stdout
    # where the plan's providers aren't installed, terraform can't read it: said so
    away = tmp_path / "away"
    away.mkdir()
    shutil.copy(real_plans("drift").planfile, away / "plan.bin")  # needs localfile
    monkeypatch.chdir(away)
    refused = tfops("show", "plan.bin")
    assert refused.exit_code == 1
    assert "error: terraform could not read the plan file plan.bin" in refused.output
    assert "hint: run tfops show in the directory the plan was made in" in refused.output
    assert "Traceback" not in refused.output


def test_stdin_and_every_format(real_plans: RealPlans, elsewhere: Path, tfops: Tfops) -> None:
    text = json.dumps(real_plans("drift").full)
    shown = tfops("show", "-", input=text)
    assert shown.exit_code == 0, shown.output
    assert "note: The plan in stdin" in shown.stdout
    assert "Changed outside Terraform (drift):" in shown.stdout
    markdown = tfops("show", "-", "--format", "markdown", input=text)
    assert "<details><summary>Changed outside Terraform: 1 resource</summary>" in markdown.stdout
    data = json.loads(tfops("show", "-", "--format", "json", input=text).stdout)
    assert data["environments"]["plan"]["drift"][0]["address"] == "localfile_file.app"


def test_an_environments_repo_is_split_by_address(
    tmp_path: Path, tfops: Tfops, monkeypatch: pytest.MonkeyPatch, real_plans: RealPlans
) -> None:
    repo = tmp_path / "environments"
    repo.mkdir()
    (repo / "main.tf").write_text('terraform {\n  required_version = ">= 1.4"\n}\n')
    (repo / "dev_app.tf").write_text('resource "terraform_data" "dev_app" {\n  input = "d"\n}\n')
    (repo / "prod_app.tf").write_text(
        'resource "terraform_data" "prod_app" {\n  input = "p"\n}\n'
        'output "prod_url" {\n  value = "https://prod"\n}\n'
    )
    binary = require_terraform_on_path()
    env = mirror_env(real_plans.cli_config)
    run_terraform(binary, repo, env, "init", "-input=false")
    run_terraform(binary, repo, env, "plan", "-input=false", "-out=tfplan", codes=(0, 2))
    (repo / "tfplan.json").write_text(
        run_terraform(binary, repo, env, "show", "-json", "tfplan").stdout
    )
    monkeypatch.chdir(repo)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", env["TF_CLI_CONFIG_FILE"])
    for plan in ("tfplan.json", "tfplan"):
        result = tfops("show", plan, "--detailed-exitcode")
        assert result.exit_code == 2, result.output
        out = result.stdout
        assert out.startswith("tfops · environments · terraform 1.11.")
        dev = out.split("\ndev: ")[1].split("\nprod: ")[0]
        assert dev.startswith("1 to add") and "terraform_data.dev_app" in dev
        assert "prod_app" not in dev
        prod = out.split("\nprod: ")[1]
        assert "+ terraform_data.prod_app" in prod and '+ output.prod_url: "https://prod"' in prod


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            '{"resource_changes": "invalid"}',
            'bad.json: `resource_changes` is a string ("invalid"), not a list',
        ),
        ("hello", "bad.json: is neither plan JSON nor a saved plan file"),
        (
            '{"resource_changes": [',
            "bad.json: is not valid JSON: Expecting value: line 1 column 23",
        ),
        (
            '{"format_version": "1.0", "values": {"root_module": {}}}',
            "bad.json: is the JSON of a state, not of a plan",
        ),
    ],
)
def test_bad_input_is_a_clear_error(elsewhere: Path, tfops: Tfops, content: str, says: str) -> None:
    (elsewhere / "bad.json").write_text(content)
    result = tfops("show", "bad.json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"error: {says}" in result.stderr
    assert "hint: " in result.stderr and "Traceback" not in result.output


def test_a_missing_file(elsewhere: Path, tfops: Tfops) -> None:
    result = tfops("show", "nope.json")
    assert result.exit_code == 1 and "error: nope.json: no such file" in result.stderr


def test_secrets_are_masked(real_plans: RealPlans, elsewhere: Path, tfops: Tfops) -> None:
    plan = write_json(real_plans, "sensitive", elsewhere)
    for output_format in ("text", "markdown", "json"):
        result = tfops("show", str(plan), "--format", output_format)
        assert result.exit_code == 0, result.output
        for secret in (SECRET_OLD, SECRET_NEW):
            for form in (
                secret,
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
            ):
                assert form not in result.output, (output_format, form)


def test_a_plan_made_by_terraform_1_0(real_plans: RealPlans, elsewhere: Path, tfops: Tfops) -> None:
    path = elsewhere / "old.json"
    path.write_text(json.dumps(real_plans("drift", "1.0").full))
    result = tfops("show", str(path), "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    assert "made by Terraform 1.0.3 (plan JSON format 0." in result.stdout
    assert 'content: "A=1" → "A=2"' in result.stdout  # the drift
