"""The fmt gate runs one terraform process for every root of a run and the modules they
load, keeps what it found by content, and finds exactly what one process per directory
finds (issue 14)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import init_repo, logging_terraform, terraform_commands
from tfops.gates import fmt

FORMATTED = 'resource "terraform_data" "x" {\n  input = 1\n}\n'
UNFORMATTED = 'resource "terraform_data" "x" {\ninput=1\n}\n'


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    found = logging_terraform(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return found


def repo_with_findings(tmp_path: Path) -> Path:
    """Three roots; one unformatted root file, one unformatted module two roots load."""
    return init_repo(
        tmp_path / "environments",
        {
            "envs/dev/main.tf": 'module "app" {\n  source = "../../modules/app"\n}\n',
            "envs/dev/dev.tfvars": 'name="dev"\n',
            "envs/stage/main.tf": 'module "app" {\n  source = "../../modules/app"\n}\n',
            "envs/prod/main.tf": UNFORMATTED,
            "modules/app/main.tf": UNFORMATTED.replace('"x"', '"app"'),
            "modules/unused/main.tf": UNFORMATTED,  # nobody calls it
        },
    )


def findings(tfops: Tfops, repo: Path) -> list[tuple[str, str, int, list[str], str]]:
    result = tfops("check", str(repo), "--gate", "fmt", "--format", "json")
    assert result.exit_code == 3, result.output
    gates = json.loads(result.stdout)["gates"]
    assert [g["root"] for g in gates] == ["envs/dev", "envs/prod", "envs/stage"]
    return [
        (g["root"], f["file"], f["line"], f["environments"], f["message"])
        for g in gates
        for f in g["findings"]
    ]


def test_one_terraform_fmt_checks_every_root_with_the_same_findings(
    tmp_path: Path, tfops: Tfops, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repo_with_findings(tmp_path)
    batched = findings(tfops, repo)
    assert terraform_commands(log).count("fmt") == 1

    monkeypatch.setattr(fmt, "BATCH_TERRAFORM", ">= 99.0")  # one process per directory
    log.write_text("")
    assert findings(tfops, repo) == batched
    assert terraform_commands(log).count("fmt") == 5  # 3 roots, modules/app twice

    shown = [(root, file, line, envs) for root, file, line, envs, _ in batched]
    assert shown == [
        ("envs/dev", "envs/dev/dev.tfvars", 1, ["dev"]),
        ("envs/dev", "modules/app/main.tf", 1, ["dev"]),
        ("envs/prod", "envs/prod/main.tf", 1, ["prod"]),
        ("envs/stage", "modules/app/main.tf", 1, ["stage"]),
    ]
    # the diff names the file as terraform, run in that root, names it
    module_diff = batched[1][4]
    assert "--- old/../../modules/app/main.tf\n+++ new/../../modules/app/main.tf" in module_diff
    assert "+  input = 1" in module_diff


def test_unchanged_files_are_not_checked_again_and_an_edit_is(
    tmp_path: Path, tfops: Tfops, log: Path
) -> None:
    repo = repo_with_findings(tmp_path)
    first = findings(tfops, repo)
    log.write_text("")
    assert findings(tfops, repo) == first
    assert "fmt" not in terraform_commands(log)  # answered from what the last run found

    (repo / "envs" / "prod" / "main.tf").write_text(FORMATTED)
    (repo / "envs" / "stage" / "extra.tf").write_text(UNFORMATTED.replace('"x"', '"y"'))
    after = [(root, file) for root, file, *_ in findings(tfops, repo)]
    assert terraform_commands(log).count("fmt") == 1
    assert after == [
        ("envs/dev", "envs/dev/dev.tfvars"),
        ("envs/dev", "modules/app/main.tf"),
        ("envs/stage", "envs/stage/extra.tf"),
        ("envs/stage", "modules/app/main.tf"),
    ]


def test_a_syntax_error_is_found_per_directory_as_before(
    tmp_path: Path, tfops: Tfops, log: Path
) -> None:
    repo = repo_with_findings(tmp_path)
    (repo / "envs" / "stage" / "broken.tf").write_text("locals {\n  a = \n}\n")
    result = tfops("check", str(repo), "--gate", "fmt", "--format", "json")
    assert result.exit_code == 3, result.output
    gates = {g["root"]: g for g in json.loads(result.stdout)["gates"]}
    [syntax] = [f for f in gates["envs/stage"]["findings"] if f["rule"] == "terraform-syntax"]
    assert (syntax["file"], syntax["line"]) == ("envs/stage/broken.tf", 2)
    assert [f["file"] for f in gates["envs/prod"]["findings"]] == ["envs/prod/main.tf"]
    # the batch stopped at the error: every directory was then checked on its own
    assert terraform_commands(log).count("fmt") == 1 + 5


def test_terraform_1_0_is_asked_one_directory_at_a_time(
    tmp_path: Path, tfops: Tfops, log: Path
) -> None:
    terraform_1_0 = os.environ.get("TFOPS_TERRAFORM_1_0")
    if not terraform_1_0:
        pytest.skip("TFOPS_TERRAFORM_1_0 is not set (make test sets it)")
    repo = repo_with_findings(tmp_path)
    (repo / "tfops.yaml").write_text(f"terraform:\n  binary: {terraform_1_0}\n")
    result = tfops("check", str(repo), "--gate", "fmt", "--format", "json")
    assert result.exit_code == 3, result.output
    files = sorted({f["file"] for g in json.loads(result.stdout)["gates"] for f in g["findings"]})
    assert files == ["envs/dev/dev.tfvars", "envs/prod/main.tf", "modules/app/main.tf"]
