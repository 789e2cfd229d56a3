"""The stamp of what `terraform init` reads (issue 14): it matches while nothing init reads
changed, and anything init reads changes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tfops.terraform.init_stamp import InitStamp, needs_init

ARGV = ["/usr/bin/terraform", "init", "-input=false", "-no-color", "-backend-config=backend.hcl"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    root = tmp_path / "env"
    (root / ".terraform" / "modules" / "remote" / "sub").mkdir(parents=True)
    (root / "modules" / "local" / "nested").mkdir(parents=True)
    (root / "main.tf").write_text('module "local" {\n  source = "./modules/local"\n}\n')
    (root / "tfops_override.tf").write_text("# generated\n")
    (root / "backend.hcl").write_text('bucket = "state"\n')
    (root / ".terraform.lock.hcl").write_text("# lock\n")
    (root / "modules" / "local" / "main.tf").write_text("# calls nested\n")
    (root / "modules" / "local" / "nested" / "main.tf").write_text("# nested\n")
    (root / ".terraform" / "modules" / "remote" / "sub" / "main.tf").write_text("# remote\n")
    (root / "cli.tfrc").write_text("# cli\n")
    manifest = {
        "Modules": [
            {"Key": "", "Source": "", "Dir": "."},
            {"Key": "local", "Source": "./modules/local", "Dir": "modules/local"},
            {"Key": "local.nested", "Source": "./nested", "Dir": "modules/local/nested"},
            {"Key": "remote", "Source": "git::x", "Dir": ".terraform/modules/remote/sub"},
        ]
    }
    (root / ".terraform" / "modules" / "modules.json").write_text(json.dumps(manifest))
    return root


def stamp(root: Path, argv: list[str] = ARGV, **env: str) -> InitStamp:
    return InitStamp(root, argv, "1.11.4", {"TF_CLI_CONFIG_FILE": str(root / "cli.tfrc"), **env})


def test_never_initialised_never_matches(tmp_path: Path) -> None:
    assert stamp(tmp_path).current() is None
    stamp(tmp_path).record()
    assert not stamp(tmp_path).matches()


def test_it_matches_until_something_init_reads_changes(workdir: Path) -> None:
    stamp(workdir).record()
    assert stamp(workdir).matches()
    (workdir / "variables.tf.bak").write_text("not a config file")
    (workdir / "README.md").write_text("# notes")
    assert stamp(workdir).matches()


def edit(path: str, text: str = "# changed\n") -> Callable[[Path], None]:
    return lambda root: (root / path).write_text(text)


@pytest.mark.parametrize(
    "change",
    [
        edit("main.tf"),
        edit("new.tf"),
        edit("extra.tf.json", "{}"),
        edit("tfops_override.tf"),
        edit("modules/local/main.tf"),
        edit("modules/local/nested/main.tf"),  # a nested local module
        edit(".terraform/modules/remote/sub/main.tf"),
        edit(".terraform.lock.hcl"),
        edit("backend.hcl"),
        edit("cli.tfrc"),
        edit(".terraform/terraform.tfstate", "{}"),
        edit(".terraform/environment", "staging"),
        lambda root: (root / "modules" / "local" / "nested" / "main.tf").unlink(),
    ],
    ids=lambda c: "change",
)
def test_a_change_to_what_init_reads_means_init_again(
    workdir: Path, change: Callable[[Path], None]
) -> None:
    stamp(workdir).record()
    change(workdir)
    assert not stamp(workdir).matches()


def test_arguments_binary_and_environment_are_part_of_it(workdir: Path) -> None:
    stamp(workdir).record()
    assert not stamp(workdir, [*ARGV, "-backend-config=key=other"]).matches()
    assert not InitStamp(
        workdir, ARGV, "1.12.0", {"TF_CLI_CONFIG_FILE": str(workdir / "cli.tfrc")}
    ).matches()
    assert not stamp(workdir, TF_PLUGIN_CACHE_DIR="/elsewhere").matches()
    assert stamp(workdir, HOME="/not/a/tf/variable").matches()


def test_a_failed_init_leaves_no_stamp(workdir: Path) -> None:
    stamp(workdir).record()
    stamp(workdir).forget()
    assert not stamp(workdir).matches()


def test_terraform_saying_init_is_needed_in_automation_too() -> None:
    automation = (
        "Error: Required plugins are not installed\n\nThe installed provider plugins are not "
        "consistent with the packages selected in the dependency lock file:\n  - x\n\n"
        "Terraform uses external plugins to integrate with a variety of different "
        "infrastructure services. You must install the required plugins before running "
        "Terraform operations."
    )
    assert needs_init(automation)
    assert needs_init('Error: Module not installed\n… Run "terraform init" to install')
    assert not needs_init("Error: Reference to undeclared resource\n  on main.tf line 3")
