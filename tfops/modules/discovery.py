"""A module repo: the Terraform modules it holds, found by walking its directories.

The seed keeps them in `infrastructure/modules/*`; others use `modules/*`, or put one
module at the root. A module is a directory with `.tf`/`.tf.json` files that is not an
example, a test fixture or something generated (`.terraform/`, hidden directories). Its
tests are the `*.tftest.hcl` files Terraform reads: in the module and in its `tests/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tfops.config import TfopsConfig, load_config
from tfops.errors import TfopsError
from tfops.repo.environments import TF_SUFFIXES, WORK_DIR, is_override_file

# Directory names that hold example callers, test fixtures or tool output, not modules.
NOT_MODULES = frozenset(
    {
        "example", "examples", "test", "tests", "testdata", "test-fixtures", "fixture",
        "fixtures", "node_modules", "vendor", ".terraform", WORK_DIR,
    }
)  # fmt: skip
TEST_SUFFIXES = (".tftest.hcl", ".tftest.json")
TEST_DIRECTORY = "tests"  # terraform test's default -test-directory


@dataclass(frozen=True)
class ModuleDir:
    """One module: its directory, its path in the repo, and its test files."""

    name: str  # the directory's name (the repo's name for a module at the root)
    path: Path
    relative: str  # from the module repo's root, "." for the root itself
    test_files: tuple[Path, ...]

    def test_names(self) -> list[str]:
        return [p.relative_to(self.path).as_posix() for p in self.test_files]


class ModuleRepo:
    """A module repo on disk and its tfops.yaml (defaults without one)."""

    def __init__(self, root: Path, config: TfopsConfig | None = None, name: str | None = None):
        self.root = root.resolve()
        if not self.root.is_dir():
            raise TfopsError(f"{root} is not a directory", hint="pass the module repo's path")
        self.config = config if config is not None else load_config(self.root)[0]
        self.name = name or self.root.name  # a release's temporary checkout has its own
        self.modules = discover_modules(self.root, self.name)

    def select(self, names: Iterable[str]) -> list[ModuleDir]:
        """Modules by name or path (`back_end`, `infrastructure/modules/back_end`), in the
        repo's order; all of them by default."""
        wanted = list(names)
        if not self.modules:
            raise TfopsError(
                f"no Terraform modules in {self.root}",
                hint="a module is a directory of .tf files (examples/, tests/ and fixtures/ "
                "directories are not modules); pass the module repo's path",
            )
        if not wanted:
            return list(self.modules)
        chosen: list[ModuleDir] = []
        for name in wanted:
            key = name.strip("/").removeprefix("./") or "."
            by_path = [m for m in self.modules if m.relative == key]
            matches = by_path or [m for m in self.modules if m.name == key]
            if not matches:
                raise TfopsError(
                    f"no module {name!r} in {self.name}",
                    hint=f"modules here: {', '.join(m.relative for m in self.modules)}",
                )
            if len(matches) > 1:
                raise TfopsError(
                    f"{name!r} names {len(matches)} modules: "
                    f"{', '.join(m.relative for m in matches)}",
                    hint="name the module by its path",
                )
            chosen += matches
        return [m for m in self.modules if m in chosen]


def discover_modules(root: Path, repo_name: str) -> list[ModuleDir]:
    """Every module directory under `root`, in path order (symlinked directories are not
    followed: a link out of the repo must not make its target part of the release)."""
    modules = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in NOT_MODULES and not d.startswith("."))
        if any(_is_terraform(name) for name in files):
            path = Path(directory)
            relative = path.relative_to(root).as_posix()
            modules.append(
                ModuleDir(
                    name=repo_name if relative == "." else path.name,
                    path=path,
                    relative=relative,
                    test_files=tuple(find_test_files(path)),
                )
            )
    return modules


def find_test_files(module: Path) -> list[Path]:
    """The files `terraform test` runs for this module: its own and those in tests/."""
    found = []
    for directory in (module, module / TEST_DIRECTORY):
        if directory.is_dir():
            found += sorted(
                p for p in directory.iterdir() if p.is_file() and p.name.endswith(TEST_SUFFIXES)
            )
    return found


def _is_terraform(name: str) -> bool:
    return name.endswith(TF_SUFFIXES) and not is_override_file(name)
