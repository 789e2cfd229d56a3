"""Discovery on the shapes public environments repos have (issue 12 rows 5 and 6; issue 13
#15 and #16; OpenTofu's `.tofu` files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_files
from tfops.errors import ConfigError
from tfops.repo.environments import EnvironmentsRepo

RESOURCE = 'resource "terraform_data" "x" {\n  input = 1\n}\n'


@pytest.mark.parametrize("base", ["envs", "live", "environments"])
def test_roots_split_by_region_are_environments_named_by_their_path(
    tmp_path: Path, base: str
) -> None:
    write_files(
        tmp_path,
        {
            f"{base}/dev/main.tf": RESOURCE,
            f"{base}/prod/eu-west-1/main.tf": RESOURCE,
            f"{base}/prod/us-east-1/main.tf": RESOURCE,
            f"{base}/prod/us-east-1/region.auto.tfvars": "region = 1\n",
            "scripts/bootstrap/main.tf": RESOURCE,  # tfops can't place it
        },
    )
    repo = EnvironmentsRepo(tmp_path)
    assert repo.layout == "directory"
    assert list(repo.environments) == ["dev", "prod/eu-west-1", "prod/us-east-1"]
    assert repo.environments["prod/eu-west-1"].pinned  # under a pinned name
    assert not repo.environments["dev"].pinned
    assert len(repo.roots) == 3
    assert repo.affected_environments([f"{base}/prod/us-east-1/region.auto.tfvars"]) == [
        "prod/us-east-1"
    ]
    [warning] = repo.warnings
    assert "scripts/bootstrap/" in warning
    notes: list[str] = []
    EnvironmentsRepo(tmp_path, notify=notes.append)
    assert notes == [warning]  # what commands print


def test_settings_of_an_enclosing_name_apply_to_the_environments_below_it(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "envs/prod/eu-west-1/main.tf": RESOURCE,
            "envs/prod/us-east-1/main.tf": RESOURCE,
            "tfops.yaml": "environments:\n  prod:\n    apply: manual\n",
        },
    )
    repo = EnvironmentsRepo(tmp_path)
    assert [e.apply_mode for e in repo.environments.values()] == ["manual", "manual"]


def test_a_root_with_its_own_files_and_examples_is_one_environment(tmp_path: Path) -> None:
    """terraform-aws-vpc's shape: the root module plus examples/, wrappers/, modules/."""
    write_files(
        tmp_path,
        {
            "main.tf": 'module "endpoints" {\n  source = "./modules/vpc-endpoints"\n}\n',
            "variables.tf": 'variable "x" {\n  default = 1\n}\n',
            "wrappers/main.tf": 'module "wrapper" {\n  source = "../"\n}\n',
            "examples/complete/main.tf": 'module "vpc" {\n  source = "../../"\n}\n',
            "modules/vpc-endpoints/main.tf": RESOURCE,
            "tests/fixtures/main.tf": RESOURCE,
        },
    )
    repo = EnvironmentsRepo(tmp_path)
    assert repo.layout == "prefix"
    assert list(repo.environments) == ["default"]
    assert [p.name for p in repo.environments["default"].files] == ["main.tf", "variables.tf"]
    assert repo.roots[0].shared_files == ()
    assert repo.affected_environments(["main.tf"]) == ["default"]
    assert repo.affected_environments(["modules/vpc-endpoints/main.tf"]) == ["default"]
    assert repo.affected_environments(["examples/complete/main.tf"]) == []
    assert repo.warnings == []


def test_a_directory_only_a_comment_calls_is_still_an_environment(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "envs/dev/main.tf": '# module "x" { source = "../prod" }\n' + RESOURCE,
            "envs/prod/main.tf": RESOURCE,
            "envs/prod/region/main.tf": 'module "base" {\n  source = "../"\n}\n',
        },
    )
    repo = EnvironmentsRepo(tmp_path)
    # envs/prod is called by path (a module), the commented-out call counts for nothing
    assert list(repo.environments) == ["dev", "prod/region"]


def test_naming_some_environments_leaves_the_others_detected_prefix(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "main.tf": "",
            "dev_app.tf": RESOURCE.replace('"x"', '"dev"'),
            "prod_app.tf": RESOURCE.replace('"x"', '"prod"'),
            "tfops.yaml": "environments:\n  prod:\n    apply: manual\n",
        },
    )
    repo = EnvironmentsRepo(tmp_path)
    assert list(repo.environments) == ["dev", "prod"]
    assert [p.name for p in repo.environments["dev"].files] == ["dev_app.tf"]
    assert [p.name for p in repo.roots[0].shared_files] == ["main.tf"]
    assert repo.environments["prod"].apply_mode == "manual"


def test_naming_some_environments_leaves_the_others_detected_directory(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "envs/dev/main.tf": RESOURCE,
            "envs/prod/main.tf": RESOURCE,
            "tfops.yaml": "environments:\n  prod:\n    apply: manual\n",
        },
    )
    repo = EnvironmentsRepo(tmp_path)
    assert list(repo.environments) == ["dev", "prod"]
    assert repo.environments["prod"].apply_mode == "manual"


@pytest.mark.parametrize("directory", ["../outside", "envs/../../outside", "link-out"])
def test_an_environment_directory_outside_the_repo_is_refused(
    tmp_path: Path, directory: str
) -> None:
    write_files(tmp_path, {"outside/main.tf": RESOURCE, "repo/envs/dev/main.tf": RESOURCE})
    (tmp_path / "repo" / "link-out").symlink_to(tmp_path / "outside")
    write_files(
        tmp_path / "repo", {"tfops.yaml": f"environments:\n  prod:\n    directory: {directory}\n"}
    )
    with pytest.raises(ConfigError) as info:
        EnvironmentsRepo(tmp_path / "repo")
    assert "outside the environments repo" in info.value.message
    assert info.value.where == "tfops.yaml: environments.prod.directory"


def test_an_absolute_environment_directory_is_refused(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"tfops.yaml": f"environments:\n  prod:\n    directory: {tmp_path}/envs/p\n"}
    )
    write_files(tmp_path, {"envs/p/main.tf": RESOURCE})
    with pytest.raises(ConfigError, match="absolute path"):
        EnvironmentsRepo(tmp_path)


def test_tofu_files_count_only_for_opentofu(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "main.tf": "",
            "dev_app.tf": RESOURCE,
            "dev_app.tofu": RESOURCE,  # OpenTofu reads this one instead of dev_app.tf
            "dev_extra.tofu": RESOURCE,
        },
    )
    terraform = EnvironmentsRepo(tmp_path)
    assert [p.name for p in terraform.environments["dev"].files] == ["dev_app.tf"]
    write_files(tmp_path, {"tfops.yaml": "terraform:\n  binary: tofu\n"})
    tofu = EnvironmentsRepo(tmp_path)
    assert [p.name for p in tofu.environments["dev"].files] == ["dev_app.tofu", "dev_extra.tofu"]
