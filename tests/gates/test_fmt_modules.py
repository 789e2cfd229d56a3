"""The fmt gate checks what the environments use, in-repo modules included, like
`terraform fmt -recursive` would (issue 12 row 10) — and nothing nobody calls."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Tfops
from tests.helpers import init_repo

FORMATTED = 'resource "terraform_data" "x" {\n  input = 1\n}\n'
UNFORMATTED = 'resource "terraform_data" "x" {\ninput=1\n}\n'


def test_fmt_covers_the_local_modules_the_environments_load(tmp_path: Path, tfops: Tfops) -> None:
    repo = init_repo(
        tmp_path / "environments",
        {
            "main.tf": "",
            "dev_network.tf": 'module "dev_network" {\n  source = "./modules/network"\n}\n',
            "modules/network/main.tf": 'module "subnets" {\n  source = "../subnets"\n}\n',
            "modules/subnets/main.tf": UNFORMATTED,  # loaded through modules/network
            "examples/demo/main.tf": UNFORMATTED,  # nobody calls it
        },
    )
    result = tfops("check", str(repo), "--gate", "fmt", "--format", "json")
    assert result.exit_code == 3, result.output
    [finding] = json.loads(result.stdout)["gates"][0]["findings"]
    assert (finding["file"], finding["line"], finding["environments"]) == (
        "modules/subnets/main.tf",
        1,
        ["dev"],
    )
    assert "+  input = 1" in finding["message"]

    fixed = tfops("check", str(repo), "--gate", "fmt", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert (repo / "modules/subnets/main.tf").read_text() == FORMATTED
    assert (repo / "examples/demo/main.tf").read_text() == UNFORMATTED


def test_fmt_in_the_directory_layout_names_module_files_from_the_repo_root(
    tmp_path: Path, tfops: Tfops
) -> None:
    repo = init_repo(
        tmp_path / "environments",
        {
            "envs/prod/main.tf": 'module "app" {\n  source = "../../modules/app"\n}\n',
            "envs/dev/main.tf": FORMATTED,
            "modules/app/main.tf": UNFORMATTED,
        },
    )
    result = tfops("check", str(repo), "--gate", "fmt", "--format", "json")
    assert result.exit_code == 3, result.output
    findings = [f for g in json.loads(result.stdout)["gates"] for f in g["findings"]]
    assert [(f["file"], f["environments"]) for f in findings] == [("modules/app/main.tf", ["prod"])]
