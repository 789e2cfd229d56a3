"""The localfile provider against real Terraform (current and 1.0), installed offline.

tfops's drift handling is only as trustworthy as the drift it is tested on, so these runs
make drift the way a person would: by editing or deleting a managed file behind Terraform.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.provider_helpers import (
    TerraformBin,
    mirror_env,
    require_terraform_1_0,
    require_terraform_on_path,
    run_terraform,
)
from tfops.provider import SOURCE, VERSION
from tfops.provider.mirror import install_mirror, provider_executable

MAIN_TF = """
terraform {
  required_providers {
    localfile = {
      source  = "tfops/localfile"
      version = "0.1.0"
    }
  }
}

variable "path" {
  type    = string
  default = "out/greeting.txt"
}

resource "localfile_file" "greeting" {
  path              = var.path
  content           = "hello\\n"
  sensitive_content = "s3cr3t-value"
}
"""

SECRET = "s3cr3t-value"


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(
    params=[require_terraform_on_path, require_terraform_1_0],
    ids=["terraform-on-path", "terraform-1.0"],
    scope="module",
)
def terraform(request: pytest.FixtureRequest) -> TerraformBin:
    finder: Callable[[], TerraformBin] = request.param
    return finder()


class Workdir:
    """One Terraform root using the mirror; `tf(...)` runs a command in it."""

    def __init__(self, root: Path, binary: TerraformBin, cli_config: Path) -> None:
        self.root = root
        self.binary = binary
        self.env = mirror_env(cli_config)
        root.mkdir(parents=True, exist_ok=True)
        (root / "main.tf").write_text(MAIN_TF)
        self.file = root / "out" / "greeting.txt"

    def tf(
        self, command: str, *args: str, codes: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        # Flags go before positional arguments: Go's flag parsing stops at the first of those.
        return run_terraform(
            self.binary, self.root, self.env, command, "-no-color", *args, codes=codes
        )

    def show_json(self, planfile: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.tf("show", "-json", planfile).stdout)
        return out

    def init(self) -> None:
        self.tf("init", "-input=false")


@pytest.fixture
def workdir(tmp_path: Path, terraform: TerraformBin, cli_config: Path) -> Workdir:
    work = Workdir(tmp_path / "root", terraform, cli_config)
    work.init()
    return work


def _only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    change: dict[str, Any] = items[0]["change"]
    assert items[0]["address"] == "localfile_file.greeting"
    return change


def test_edit_by_hand_is_drift_and_apply_heals_it(workdir: Workdir) -> None:
    lock = (workdir.root / ".terraform.lock.hcl").read_text()
    assert f'provider "{SOURCE}"' in lock and f'version     = "{VERSION}"' in lock

    workdir.tf("plan", "-input=false", "-out=create.tfplan")
    create = _only(workdir.show_json("create.tfplan")["resource_changes"])
    assert create["actions"] == ["create"]
    assert create["after_sensitive"] == {"sensitive_content": True}
    assert create["after"]["sensitive_content"] == SECRET  # masking is tfops's job
    workdir.tf("apply", "-input=false", "create.tfplan")
    assert workdir.file.read_text() == "hello\n"

    workdir.tf("plan", "-input=false", "-detailed-exitcode")  # converged: exit 0

    workdir.file.write_text("edited by hand\n")
    workdir.tf(
        "plan",
        "-input=false",
        "-refresh-only",
        "-detailed-exitcode",
        "-out=drift.tfplan",
        codes=(2,),
    )
    drift = _only(workdir.show_json("drift.tfplan")["resource_drift"])
    assert drift["actions"] == ["update"]
    assert drift["before"]["content"] == "hello\n"
    assert drift["after"]["content"] == "edited by hand\n"
    if workdir.binary.major_minor >= (1, 1):
        assert drift["after_sensitive"] == {"sensitive_content": True}
    else:
        # A Terraform 1.0 quirk masking must cope with: resource_drift (and prior_state's
        # sensitive_values) leave the secret unmarked; only resource_changes marks it.
        assert drift["before_sensitive"] == drift["after_sensitive"] == {}

    workdir.tf("plan", "-input=false", "-detailed-exitcode", "-out=heal.tfplan", codes=(2,))
    heal = _only(workdir.show_json("heal.tfplan")["resource_changes"])
    assert heal["actions"] == ["update"]
    assert heal["after"]["content"] == "hello\n"
    assert heal["before_sensitive"] == heal["after_sensitive"] == {"sensitive_content": True}
    workdir.tf("apply", "-input=false", "heal.tfplan")
    assert workdir.file.read_text() == "hello\n"

    workdir.tf("destroy", "-input=false", "-auto-approve")
    assert not workdir.file.exists()
    state = json.loads((workdir.root / "terraform.tfstate").read_text())
    assert state["resources"] == []


def test_deleted_file_is_gone_and_path_change_replaces(workdir: Workdir, cli_config: Path) -> None:
    workdir.tf("apply", "-input=false", "-auto-approve")
    workdir.file.unlink()
    workdir.tf(
        "plan",
        "-input=false",
        "-refresh-only",
        "-out=gone.tfplan",
        "-detailed-exitcode",
        codes=(2,),
    )
    gone = _only(workdir.show_json("gone.tfplan")["resource_drift"])
    assert gone["actions"] == ["delete"]
    workdir.tf("apply", "-input=false", "-auto-approve")  # the normal plan creates it again
    assert workdir.file.read_text() == "hello\n"

    install_mirror(cli_config.parent)  # reinstalling keeps the lock file's hash valid
    moved = workdir.root / "moved" / "greeting.txt"
    workdir.tf("plan", "-input=false", "-var", f"path={moved}", "-out=move.tfplan")
    move = _only(workdir.show_json("move.tfplan")["resource_changes"])
    assert sorted(move["actions"]) == ["create", "delete"]
    workdir.tf("apply", "-input=false", "move.tfplan")
    assert moved.read_text() == "hello\n"
    assert not workdir.file.exists()


def test_install_mirror_is_idempotent(tmp_path: Path) -> None:
    first = install_mirror(tmp_path)
    launcher = provider_executable(tmp_path)
    before = (first.read_text(), launcher.read_text())
    assert install_mirror(tmp_path) == first
    assert (first.read_text(), launcher.read_text()) == before
    assert launcher.stat().st_mode & stat.S_IXUSR
    assert sys.executable in launcher.read_text()
    config = first.read_text()
    assert f'include = ["{SOURCE}"]' in config and f'exclude = ["{SOURCE}"]' in config
    assert launcher.relative_to(tmp_path).parts[:5] == (
        "registry.terraform.io",
        "tfops",
        "localfile",
        VERSION,
        launcher.parent.name,
    )


def test_install_mirror_command_prints_the_config_path(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tfops.provider", "install-mirror", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        check=True,
    )
    config = Path(out.stdout.strip())
    assert config.is_file() and config.parent == tmp_path / "m"


def test_relative_python_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="absolute"):
        install_mirror(tmp_path, python="python3")
