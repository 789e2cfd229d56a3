"""`tfops envs`: the same content in every format (issue 12 row 11), a reader that goes
away (row 12), and settings that can't be used (issue 13 #16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Tfops
from tests.helpers import write_files

RESOURCE = 'resource "terraform_data" "x" {\n  input = 1\n}\n'


def test_json_carries_what_the_text_shows(tmp_path: Path, tfops: Tfops) -> None:
    write_files(
        tmp_path,
        {
            "main.tf": "",
            "variables.tf": "",
            "dev_app.tf": RESOURCE,
            "prod_app.tf": RESOURCE.replace('"x"', '"p"'),
            "prod_app_override.tf": "",
            "stray/main.tf": RESOURCE,
        },
    )
    text = tfops("envs", str(tmp_path))
    assert text.exit_code == 0, text.output
    data = tfops.json("envs", str(tmp_path))
    [root] = data["roots"]
    assert root["shared_files"] == ["main.tf", "variables.tf"]
    assert root["override_files"] == ["prod_app_override.tf"]
    assert f"shared: {', '.join(root['shared_files'])}" in text.stdout
    assert f"overrides: {', '.join(root['override_files'])}" in text.stdout
    [warning] = data["warnings"]
    assert "stray/" in warning and warning in text.stdout
    for env in data["environments"]:
        assert env["name"] in text.stdout
        assert all(f"      {file}" in text.stdout for file in env["files"])


def test_a_reader_that_goes_away_ends_tfops_quietly(tmp_path: Path) -> None:
    """`tfops envs | head -1`: the reader leaves; here before anything is written, so the
    first write fails every time (a pipe's buffer otherwise decides whether it does)."""
    write_files(tmp_path, {f"dev_{i:04d}.tf": "" for i in range(200)})
    child = subprocess.Popen(
        [sys.executable, "-m", "tfops", "envs", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141  # as a Unix tool ended by SIGPIPE
    assert stderr == ""


def test_an_environment_outside_the_repo_is_a_clear_error(tmp_path: Path, tfops: Tfops) -> None:
    write_files(
        tmp_path,
        {
            "outside/main.tf": RESOURCE,
            "repo/envs/dev/main.tf": RESOURCE,
            "repo/tfops.yaml": "environments:\n  prod:\n    directory: ../outside\n",
        },
    )
    result = tfops("envs", str(tmp_path / "repo"))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: tfops.yaml: environments.prod.directory: directory '../outside' is outside "
        "the environments repo"
    )


def test_json_lists_environments_below_a_base_by_path(tmp_path: Path, tfops: Tfops) -> None:
    write_files(
        tmp_path,
        {"envs/prod/eu-west-1/main.tf": RESOURCE, "envs/prod/us-east-1/main.tf": RESOURCE},
    )
    data = tfops.json("envs", str(tmp_path))
    assert [(e["name"], e["root"], e["pinned"]) for e in data["environments"]] == [
        ("prod/eu-west-1", "envs/prod/eu-west-1", True),
        ("prod/us-east-1", "envs/prod/us-east-1", True),
    ]
    matrix = json.loads(
        tfops("matrix", str(tmp_path), "--files", "envs/prod/us-east-1/x.tf").stdout
    )
    assert matrix == {"include": [{"environment": "prod/us-east-1", "root": "envs/prod/us-east-1"}]}
