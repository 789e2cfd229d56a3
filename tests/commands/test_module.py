"""`tfops module check`: a module repo's build step, end to end with real terraform test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import init_repo, write_files
from tests.modules.repos import BROKEN_DB, DB, DB_TESTS, MODULES, module_repo


def test_a_passing_repo_exits_0_and_reports_every_module(tmp_path: Path, tfops: Tfops) -> None:
    repo = module_repo(tmp_path / "backend")
    result = tfops("module", "check", str(repo))
    assert result.exit_code == 0, result.output
    assert "✓ passed  test      [infrastructure/modules/db]" in result.stdout
    assert "Modules: 2 passed · 0 finding(s) · 3 test run(s): 3 passed" in result.stdout

    data = tfops.json("module", "check", str(repo), "--module", "db")
    assert data["passed"] is True and data["repo"] == "backend"
    (db,) = data["modules"]
    assert db["path"] == "infrastructure/modules/db"
    assert db["test_files"] == ["tests/db.tftest.hcl"]
    assert [(t["name"], t["status"]) for t in db["tests"]] == [
        ("names_the_database", "pass"),
        ("serves_postgres", "pass"),
    ]


def test_a_failing_test_exits_3_with_sarif_and_annotations_at_the_assertion(
    tmp_path: Path, tfops: Tfops, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the module repo is a subdirectory of its checkout: GitHub's paths start at the top
    checkout = init_repo(tmp_path / "checkout", {"README.md": "x\n"})
    repo = checkout / "backend"
    write_files(repo, {**MODULES, DB: BROKEN_DB})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    sarif_file = tmp_path / "module-check.sarif"
    result = tfops("module", "check", str(repo), "--sarif", str(sarif_file))
    assert result.exit_code == 3, result.output
    assert (
        f'HIGH     {DB_TESTS}:9: run "names_the_database" failed: the database is called '
        "pg-test, not db-test [terraform-test]"
    ) in result.stdout
    assert "module check failed" in result.stderr
    assert (
        f"::error file=backend/{DB_TESTS},line=9,title=test%3A terraform-test::"
        'run "names_the_database" failed: the database is called pg-test, not db-test'
    ) in result.stdout
    document = json.loads(sarif_file.read_text())
    results = document["runs"][0]["results"]
    located = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    }
    assert (f"backend/{DB_TESTS}", 9) in located
    assert {r["ruleId"] for r in results} == {"test/terraform-test"}


def test_unknown_module_and_a_repo_without_modules_are_clear_errors(
    tmp_path: Path, tfops: Tfops
) -> None:
    repo = module_repo(tmp_path / "backend")
    unknown = tfops("module", "check", str(repo), "--module", "front_end")
    assert unknown.exit_code == 1
    assert "no module 'front_end' in backend" in unknown.stderr
    assert "infrastructure/modules/back_end, infrastructure/modules/db" in unknown.stderr
    empty = init_repo(tmp_path / "frontend", {"src/app.js": ""})
    none = tfops("module", "check", str(empty))
    assert none.exit_code == 1 and "no Terraform modules in" in none.stderr
