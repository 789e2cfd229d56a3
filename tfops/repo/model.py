"""What an environments repo is made of: environments and the Terraform roots they are
planned in. Plain data, imported by every part of `tfops.repo`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tfops.config import EnvironmentConfig


@dataclass(frozen=True)
class Environment:
    name: str  # a path for nested roots: `prod/eu-west-1`
    root: Path  # the Terraform working directory this environment is planned in
    files: tuple[Path, ...]  # the files that declare this environment's blocks
    pinned: bool
    config: EnvironmentConfig = field(compare=False)

    @property
    def apply_mode(self) -> str:
        return self.config.apply


@dataclass(frozen=True)
class Root:
    """One Terraform working directory and the environments planned in it."""

    path: Path
    environments: tuple[str, ...]
    shared_files: tuple[Path, ...]
    override_files: tuple[Path, ...] = ()  # the user's, merged over the others' blocks
