"""The terraform runner reads nothing from the directory tfops is started in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import write_files


def test_a_damaged_state_file_in_the_current_directory_is_not_read(
    tmp_path: Path, tfops: Tfops, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "unrelated"
    write_files(
        elsewhere,
        {
            "terraform.tfstate": '{"version": 4, "resources": [',
            ".terraform/terraform.tfstate": "\x00",
        },
    )
    root = tmp_path / "root"
    write_files(root, {"main.tf": 'resource "terraform_data" "x" {\n  input = "a"\n}\n'})
    monkeypatch.chdir(elsewhere)
    result = tfops("plan", str(root), "--no-gates")
    assert result.exit_code == 0, result.output
    assert "1 to add" in result.stdout
