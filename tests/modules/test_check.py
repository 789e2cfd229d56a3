"""The module check: the gates and real `terraform test` runs on each module of a repo."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.helpers import write_files
from tests.modules.repos import BROKEN_DB, DB, DB_TESTS, MODULES, module_repo
from tfops.console import Console
from tfops.modules.check import check_modules
from tfops.modules.discovery import ModuleRepo


def check(path: Path, *names: str, keep_going: bool = False):  # type: ignore[no-untyped-def]
    repo = ModuleRepo(path)
    return check_modules(repo, repo.select(names), Console(io.StringIO()), keep_going=keep_going)


def test_every_module_passes_its_gates_and_tests(tmp_path: Path) -> None:
    result = check(module_repo(tmp_path / "backend"))
    assert result.ok
    by_module = {m.module.name: m for m in result.modules}
    assert [g.gate for g in by_module["db"].gates] == ["fmt", "validate", "tflint", "tfsec", "test"]
    db = by_module["db"].tests
    assert db is not None
    assert [(r.file, r.name, r.status) for r in db.runs] == [
        ("tests/db.tftest.hcl", "names_the_database", "pass"),
        ("tests/db.tftest.hcl", "serves_postgres", "pass"),
    ]
    test_gate = by_module["back_end"].gates[-1]
    assert (test_gate.gate, test_gate.status, test_gate.root) == (
        "test",
        "passed",
        "infrastructure/modules/back_end",
    )


def test_a_failing_assertion_is_a_finding_at_the_assertion_with_the_run_and_its_message(
    tmp_path: Path,
) -> None:
    repo = module_repo(tmp_path / "backend")
    (repo / DB).write_text(BROKEN_DB)
    result = check(repo)
    assert not result.ok
    db = next(m for m in result.modules if m.module.name == "db")
    gate = db.gates[-1]
    assert (gate.gate, gate.status) == ("test", "failed")
    assert gate.detail == "2 run(s): 2 failed"
    named, served = gate.findings
    assert (named.file, named.line) == (DB_TESTS, 9)  # the condition of the failed assertion
    assert named.rule == "terraform-test" and named.severity == "high"
    assert named.message == (
        'run "names_the_database" failed: the database is called pg-test, not db-test'
    )
    assert (served.file, served.line) == (DB_TESTS, 16)
    assert (
        served.message
        == 'run "serves_postgres" failed: url is postgres://pg-test.internal:5432/app'
    )
    # back_end calls ../db, whose output it asserts on: its test fails too
    back_end = next(m for m in result.modules if m.module.name == "back_end")
    assert not back_end.ok


def test_an_error_in_the_module_points_at_the_run_that_hit_it(tmp_path: Path) -> None:
    repo = module_repo(tmp_path / "backend")
    write_files(
        repo,
        {
            DB_TESTS: MODULES[DB_TESTS].replace('name = "test"', "name = null"),
        },
    )
    result = check(repo, "db")
    (finding,) = result.modules[0].gates[-1].findings
    assert finding.rule == "terraform-test-error"
    assert (finding.file, finding.line) == (DB_TESTS, 5)  # run "names_the_database" {
    assert finding.message.startswith('run "names_the_database" errored: Invalid template')
    assert finding.message.endswith(f"(at {DB}:6)")


def test_tests_run_only_after_the_gates_pass_unless_keep_going(tmp_path: Path) -> None:
    repo = module_repo(tmp_path / "backend")
    (repo / DB).write_text(BROKEN_DB.replace("  input", "input"))  # unformatted, and broken
    stopped = check(repo, "db")
    assert [(g.gate, g.status) for g in stopped.modules[0].gates] == [("fmt", "failed")]
    assert stopped.modules[0].tests is None
    everything = check(repo, "db", keep_going=True)
    assert [g.gate for g in everything.modules[0].gates][-1] == "test"
    assert not everything.modules[0].gates[-1].ok


@pytest.mark.skipif(not os.environ.get("TFOPS_TERRAFORM_1_0"), reason="TFOPS_TERRAFORM_1_0 unset")
def test_terraform_older_than_1_6_skips_the_tests_and_says_why(tmp_path: Path) -> None:
    repo = module_repo(
        tmp_path / "old",
        {
            "tfops.yaml": f"terraform:\n  binary: {os.environ['TFOPS_TERRAFORM_1_0']}\n",
            "modules/naming/main.tf": 'output "name" {\n  value = "db"\n}\n',
            "modules/naming/tests/naming.tftest.hcl": 'run "named" {\n  command = plan\n}\n',
        },
    )
    result = check(repo)
    assert result.ok and result.terraform_version == "1.0.3"
    gate = result.modules[0].gates[-1]
    assert (gate.gate, gate.status) == ("test", "skipped")
    assert gate.detail == (
        "terraform 1.0.3 has no `terraform test` (it needs 1.6.0 or newer): "
        "tests/naming.tftest.hcl not run"
    )
