"""Module discovery in module repos: which directories are modules, and their tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_files
from tfops.errors import TfopsError
from tfops.modules.discovery import ModuleRepo

RESOURCE = 'resource "terraform_data" "x" {}\n'


def test_modules_are_found_where_repos_keep_them_and_examples_are_not(tmp_path: Path) -> None:
    write_files(
        tmp_path / "backend",
        {
            "main.tf": RESOURCE,  # a module at the root (the registry layout)
            "infrastructure/modules/back_end/main.tf": RESOURCE,
            "infrastructure/modules/back_end/tests/back_end.tftest.hcl": 'run "a" {}\n',
            "infrastructure/modules/back_end/tests/setup/main.tf": RESOURCE,  # a test fixture
            "infrastructure/modules/db/db.tf.json": '{"resource": {}}',
            "infrastructure/modules/db/db.tftest.hcl": 'run "b" {}\n',
            "modules/network/main.tf": RESOURCE,
            "modules/network/modules/subnet/main.tf": RESOURCE,  # a nested module
            "examples/complete/main.tf": RESOURCE,
            "test/fixtures/main.tf": RESOURCE,
            "fixtures/x/main.tf": RESOURCE,
            ".terraform/modules/db/main.tf": RESOURCE,
            ".github/x/main.tf": RESOURCE,
            "src/index.js": "",
            "docs/only_override.tf": RESOURCE,  # override files alone are not a module
        },
    )
    repo = ModuleRepo(tmp_path / "backend")
    assert [(m.name, m.relative) for m in repo.modules] == [
        ("backend", "."),
        ("back_end", "infrastructure/modules/back_end"),
        ("db", "infrastructure/modules/db"),
        ("network", "modules/network"),
        ("subnet", "modules/network/modules/subnet"),
    ]
    tests = {m.name: m.test_names() for m in repo.modules}
    assert tests["back_end"] == ["tests/back_end.tftest.hcl"]
    assert tests["db"] == ["db.tftest.hcl"]
    assert tests["network"] == []


def test_modules_are_selected_by_name_or_path(tmp_path: Path) -> None:
    write_files(
        tmp_path / "repo",
        {
            "modules/a/x/main.tf": RESOURCE,
            "modules/b/x/main.tf": RESOURCE,
            "modules/db/main.tf": RESOURCE,
        },
    )
    repo = ModuleRepo(tmp_path / "repo")
    assert [m.relative for m in repo.select(["modules/b/x", "db"])] == ["modules/b/x", "modules/db"]
    with pytest.raises(TfopsError) as ambiguous:
        repo.select(["x"])
    assert "'x' names 2 modules: modules/a/x, modules/b/x" in str(ambiguous.value)
    assert "by its path" in str(ambiguous.value)
    with pytest.raises(TfopsError) as unknown:
        repo.select(["back_end"])
    assert "no module 'back_end' in repo" in str(unknown.value)
    assert "modules here: modules/a/x, modules/b/x, modules/db" in str(unknown.value)


def test_a_directory_without_modules_is_a_clear_error(tmp_path: Path) -> None:
    write_files(tmp_path / "frontend", {"src/index.js": "", "examples/x/main.tf": RESOURCE})
    with pytest.raises(TfopsError) as error:
        ModuleRepo(tmp_path / "frontend").select([])
    assert "no Terraform modules in" in str(error.value)
    assert "examples/" in str(error.value)
