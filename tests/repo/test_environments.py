from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit, init_repo, write_files
from tfops.errors import ConfigError, TfopsError
from tfops.repo.environments import EnvironmentsRepo, top_level_address

PREFIX = {
    "main.tf": "locals {\n  a = 1\n}\n",
    "variables.tf": 'variable "x" {\n  default = 1\n}\n',
    "secrets.auto.tfvars": "x = 2\n",
    "dev_app.tf": 'module "dev_app" {\n  source = "./modules/app"\n}\n',
    "dev_dns.tf": 'resource "terraform_data" "dev_zone" {\n  input = 1\n}\n',
    "prod_app.tf": 'module "prod_app" {\n  source = "../mods/app?ref=v1.0.0"\n}\n',
    "global_monitoring.tf": 'resource "terraform_data" "monitoring" {\n  input = 1\n}\n',
    "modules/app/main.tf": 'resource "terraform_data" "x" {\n  input = 1\n}\n',
    "README.md": "docs\n",
}


@pytest.fixture
def prefix_repo(tmp_path: Path) -> Path:
    write_files(tmp_path, PREFIX)
    return tmp_path


def test_prefix_layout_by_convention(prefix_repo: Path) -> None:
    repo = EnvironmentsRepo(prefix_repo)
    assert repo.layout == "prefix"
    assert list(repo.environments) == ["dev", "global", "prod"]
    assert [p.name for p in repo.environments["dev"].files] == ["dev_app.tf", "dev_dns.tf"]
    assert repo.environments["prod"].pinned and not repo.environments["dev"].pinned
    assert [p.name for p in repo.roots[0].shared_files] == [
        "main.tf",
        "secrets.auto.tfvars",
        "variables.tf",
    ]


def test_changed_files_map_to_environments(prefix_repo: Path) -> None:
    repo = EnvironmentsRepo(prefix_repo)
    assert repo.affected_environments(["dev_dns.tf"]) == ["dev"]
    assert repo.affected_environments(["prod_app.tf", "README.md"]) == ["prod"]
    assert repo.affected_environments(["variables.tf"]) == ["dev", "global", "prod"]
    assert repo.affected_environments(["secrets.auto.tfvars"]) == ["dev", "global", "prod"]
    assert repo.affected_environments(["tfops.yaml"]) == ["dev", "global", "prod"]
    assert repo.affected_environments(["modules/app/main.tf"]) == ["dev"]  # dev's local module
    assert repo.affected_environments(["prod_new_thing.tf"]) == ["prod"]  # added or deleted file
    assert repo.affected_environments(["notes.tf"]) == ["dev", "global", "prod"]  # new shared file
    assert repo.affected_environments(["docs/x.md"]) == []
    assert repo.affected_environments(["tfops.lock.json"]) == ["prod"]  # the pinned ones


def test_addresses_map_to_the_environment_that_declares_them(prefix_repo: Path) -> None:
    repo = EnvironmentsRepo(prefix_repo)
    root = repo.roots[0]
    assert (
        repo.environment_of_address("module.dev_app.module.db.terraform_data.x[0]", root) == "dev"
    )
    assert repo.environment_of_address('terraform_data.monitoring["a.b"]', root) == "global"
    assert repo.environment_of_address("output.nothing", root) == "shared"
    assert repo.target_addresses(repo.environments["dev"]) == [
        "module.dev_app",
        "terraform_data.dev_zone",
    ]


def test_top_level_address() -> None:
    assert top_level_address('module.a["x.y"].module.b.aws_s3_bucket.c') == "module.a"
    assert top_level_address("data.aws_caller_identity.me") == "data.aws_caller_identity.me"
    assert top_level_address("aws_instance.web[3]") == "aws_instance.web"


def test_configured_environments_and_files(prefix_repo: Path) -> None:
    write_files(
        prefix_repo,
        {"tfops.yaml": "environments:\n  dev: {}\n  live:\n    files: ['prod_*.tf']\n"},
    )
    repo = EnvironmentsRepo(prefix_repo)
    # configured names add to the detected ones: global_* stays environment "global"
    assert list(repo.environments) == ["dev", "global", "live"]
    assert [p.name for p in repo.environments["live"].files] == ["prod_app.tf"]
    assert not repo.environments["live"].pinned  # only prod/production are pinned by default
    assert "main.tf" in [p.name for p in repo.roots[0].shared_files]


def test_plain_root_is_one_default_environment(tmp_path: Path) -> None:
    write_files(tmp_path, {"main.tf": 'resource "terraform_data" "x" {\n  input = 1\n}\n'})
    repo = EnvironmentsRepo(tmp_path)
    assert list(repo.environments) == ["default"]


DIRECTORY = {
    "envs/dev/main.tf": 'module "app" {\n  source = "../../modules/app"\n}\n',
    "envs/prod/main.tf": 'module "app" {\n  source = "../../modules/app?ref=v1"\n}\n',
    "envs/staging/main.tf": 'resource "terraform_data" "x" {\n  input = 1\n}\n',
    "modules/app/main.tf": 'resource "terraform_data" "x" {\n  input = 1\n}\n',
    "common/providers.tf": "",
}


def test_directory_layout_detected(tmp_path: Path) -> None:
    write_files(tmp_path, DIRECTORY)
    repo = EnvironmentsRepo(tmp_path)
    assert repo.layout == "directory"
    assert list(repo.environments) == ["dev", "prod", "staging"]
    assert (
        len(repo.roots) == 3
        and repo.environments["prod"].root == (tmp_path / "envs/prod").resolve()
    )
    assert repo.affected_environments(["envs/staging/main.tf"]) == ["staging"]
    assert repo.affected_environments(["modules/app/main.tf"]) == ["dev"]  # prod pins a ref
    assert repo.environment_of_address("module.app.terraform_data.x", repo.roots[1]) == "prod"


def test_directory_layout_shared_globs(tmp_path: Path) -> None:
    write_files(
        tmp_path, {**DIRECTORY, "tfops.yaml": "layout: directory\nshared_files: ['common/*']\n"}
    )
    repo = EnvironmentsRepo(tmp_path)
    assert repo.affected_environments(["common/providers.tf"]) == ["dev", "prod", "staging"]


def test_directory_layout_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    write_files(
        tmp_path, {**DIRECTORY, "tfops.yaml": "environments:\n  qa:\n    directory: envs/qa\n"}
    )
    with pytest.raises(ConfigError, match=r"envs/qa does not exist"):
        EnvironmentsRepo(tmp_path)


def test_changed_since_uses_the_merge_base_and_the_working_tree(tmp_path: Path) -> None:
    project = init_repo(tmp_path / "project", {f"infra/{k}": v for k, v in PREFIX.items()})
    repo = EnvironmentsRepo(project / "infra")
    from tests.helpers import git

    git(project, "checkout", "-q", "-b", "feature")
    commit(project, {"infra/dev_dns.tf": PREFIX["dev_dns.tf"] + "\n"})
    git(project, "checkout", "-q", "main")
    commit(project, {"infra/prod_app.tf": PREFIX["prod_app.tf"] + "\n"})  # main moved on
    git(project, "checkout", "-q", "feature")
    write_files(project, {"infra/global_new.tf": ""})  # untracked work in progress
    changed = repo.changed_files_since("main")
    assert changed == ["dev_dns.tf", "global_new.tf"]
    assert repo.affected_environments(changed) == ["dev", "global"]
    with pytest.raises(TfopsError, match="cannot compare with 'nope'"):
        repo.changed_files_since("nope")


def test_a_directory_without_terraform_files_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not an environments repo\n")
    with pytest.raises(TfopsError, match="no Terraform files in"):
        EnvironmentsRepo(tmp_path)
