"""Where an environments repo's Terraform roots are, and which environments each holds.

Two layouts (DESIGN.md §1):
- prefix: the repo root is the one Terraform root; `dev_*.tf` belong to dev, `prod_*.tf`
  to prod, unprefixed files are shared by every environment. A root with no prefixed
  files is one environment, `default`.
- directory: one root (one state) per environment directory. Every directory with
  Terraform files below `envs/`, `environments/`, `env/` or `live/` is a root, nested ones
  included: `envs/prod/eu-west-1/` is environment `prod/eu-west-1`. Without such a base
  directory, every root in the repo is one (`dev/`, `stacks/app/prod/`).

Never environments: module directories (anything under `modules/`, and every directory
some file calls by a local path, `source = "../modules/x"`), and `examples/`, `tests/`,
`wrappers/`, `fixtures/`, `testdata/` — unless tfops.yaml names them. A directory with
Terraform files that is none of these and not an environment either is reported as a
warning, never dropped in silence.

Environments named in tfops.yaml are added to the detected ones; naming some never
changes how the others are detected.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from tfops.config import TfopsConfig
from tfops.errors import ConfigError, TfopsError
from tfops.repo.files import (
    WORK_DIR,
    DirectoryFiles,
    is_config_file,
    is_override_file,
    list_directory,
)
from tfops.repo.hcl import HclCache

Layout = Literal["prefix", "directory"]

# Prefixes that mean "environment" without any config; names under `environments:` add to them.
KNOWN_ENVIRONMENT_PREFIXES = (
    "dev", "development", "test", "testing", "int", "integration", "qa", "uat", "stage",
    "staging", "stg", "preprod", "prod", "production", "prd", "sandbox", "demo", "global",
)  # fmt: skip
ENVIRONMENT_BASES = ("envs", "environments", "env", "live")
NOT_ENVIRONMENTS = frozenset(
    {"modules", "examples", "example", "tests", "wrappers", "fixtures", "testdata"}
)
SKIPPED_DIRS = frozenset({".terraform", WORK_DIR, "node_modules", ".git"})
DEFAULT_ENVIRONMENT = "default"
MAX_WARNINGS = 10
_PREFIX = re.compile(r"^([a-z0-9][a-z0-9-]*)_.+")
# a local module source, in native (`source = "../x"`) or JSON (`"source": "../x"`) syntax
_LOCAL_SOURCE = re.compile(rb'\bsource"?\s*[=:]\s*"(\.\.?(?:/[^"?]*)?)[?"]')


@dataclass(frozen=True)
class FoundRoot:
    """A Terraform root and, per environment planned in it, the files that declare it."""

    path: Path
    environments: dict[str, tuple[Path, ...]]
    shared: tuple[Path, ...] = ()
    overrides: tuple[Path, ...] = ()  # the user's override files (tfops's own excluded)


@dataclass
class Discovery:
    layout: Layout
    roots: list[FoundRoot]
    warnings: list[str] = field(default_factory=list)


class LayoutFinder:
    """Finds the layout and the roots of the repo at `root` (already resolved)."""

    def __init__(self, root: Path, config: TfopsConfig, hcl: HclCache, *, tofu: bool = False):
        self.root = root
        self.config = config
        self.hcl = hcl
        self.tofu = tofu
        self._dirs: dict[Path, list[str]] | None = None
        self._candidates: set[Path] | None = None

    def discover(self) -> Discovery:
        top = list_directory(self.root, tofu=self.tofu)
        layout = self.config.layout or self._detect(top)
        if layout == "prefix":
            return self._prefix(top)
        return self._directories(top)

    # ---- detection ---------------------------------------------------------------------
    def _detect(self, top: DirectoryFiles) -> Layout:
        if any(self.prefix_env(p.name) for p in top.config):
            return "prefix"
        if any(env.directory for env in self.config.environments.values()):
            return "directory"
        if top.has_config and not self._under_bases():
            return "prefix"  # a root with its own files (and examples/, modules/ …)
        return "directory" if self._environment_dirs() else "prefix"

    def prefix_env(self, filename: str) -> str | None:
        """The environment a root file's name puts it in: configured globs, then prefixes."""
        for name, env in self.config.environments.items():
            globs = env.files or [
                f"{name}_*{s}" for s in (".tf", ".tf.json", ".tofu", ".tofu.json")
            ]
            if matches(filename, globs):
                return name
        match = _PREFIX.match(filename)
        if match and match.group(1) in KNOWN_ENVIRONMENT_PREFIXES:
            return match.group(1)
        return None

    # ---- the prefix layout -------------------------------------------------------------
    def _prefix(self, top: DirectoryFiles) -> Discovery:
        by_env: dict[str, list[Path]] = {}
        shared: list[Path] = []
        shared_globs = self.config.shared_files or []
        for path in sorted(top.config + top.var_files):
            env = self.prefix_env(path.name)
            if env is None or matches(path.name, shared_globs):
                shared.append(path)
            else:
                by_env.setdefault(env, []).append(path)
        for name in self.config.environments:
            by_env.setdefault(name, [])
        if not by_env:
            if not top.config:
                raise TfopsError(
                    f"no Terraform files in {self.root}",
                    hint="point tfops at an environments repo: files like dev_*.tf and "
                    "prod_*.tf, or one directory per environment under envs/",
                )
            by_env[DEFAULT_ENVIRONMENT] = list(top.config)  # one environment owns it all
            shared = [p for p in shared if p not in top.config]
        root = FoundRoot(
            self.root,
            {name: tuple(files) for name, files in sorted(by_env.items())},
            tuple(shared),
            top.overrides,
        )
        unplaced = sorted(self._environment_dirs())
        return Discovery("prefix", [root], self._unplaced_warnings(unplaced, "prefix"))

    # ---- the directory layout ----------------------------------------------------------
    def _directories(self, top: DirectoryFiles) -> Discovery:
        configured = self._configured_directories()
        found = self._named_roots()
        taken = set(configured.values())
        roots: dict[str, Path] = dict(configured)
        for name, path in found.items():
            if path not in taken and name not in roots:
                roots[name] = path
        if top.has_config and self.root not in taken and DEFAULT_ENVIRONMENT not in roots:
            roots[DEFAULT_ENVIRONMENT] = self.root  # the repo root's own files
        for name, env in self.config.environments.items():
            if name in roots or env.directory:
                continue
            if any(other.startswith(name + "/") for other in roots):
                continue  # settings for every environment below `name`
            raise ConfigError(
                f"directory envs/{name} does not exist",
                where=f"tfops.yaml: environments.{name}.directory",
                hint="create it or point `directory` at the environment's root",
            )
        if not roots:
            raise ConfigError(
                "layout is `directory` but no environment directories were found",
                where="tfops.yaml: layout",
                hint="put each environment in envs/NAME/ or list them under `environments:`",
            )
        planned = set(roots.values())
        unplaced = sorted(d for d in self._environment_dirs() if d not in planned)
        result = []
        for name, path in sorted(roots.items()):
            files = self._files_in(path)
            result.append(FoundRoot(path, {name: files.config}, (), files.overrides))
        return Discovery("directory", result, self._unplaced_warnings(unplaced, "directory"))

    def _configured_directories(self) -> dict[str, Path]:
        """`environments.NAME.directory` settings, each checked to be a directory in the repo."""
        out = {}
        for name, env in self.config.environments.items():
            if not env.directory:
                continue
            where = f"tfops.yaml: environments.{name}.directory"
            if os.path.isabs(env.directory):
                raise ConfigError(
                    f"{env.directory!r} is an absolute path",
                    where=where,
                    hint="give the directory relative to the environments repo, e.g. envs/prod",
                )
            directory = (self.root / env.directory).resolve()
            if not directory.is_relative_to(self.root):
                raise ConfigError(
                    f"directory {env.directory!r} is outside the environments repo",
                    where=where,
                    hint="an environment's root must be inside the repo (a symlink out of "
                    "it counts as outside); point `directory` at a path below the repo root",
                )
            if not directory.is_dir():
                raise ConfigError(
                    f"directory {env.directory} does not exist",
                    where=where,
                    hint="create it or point `directory` at the environment's root",
                )
            out[name] = directory
        return out

    def _named_roots(self) -> dict[str, Path]:
        """Discovered environment roots by name: the path below their base directory."""
        environment_dirs = self._environment_dirs()
        bases = self._under_bases()
        if bases:
            used = {base for base in bases.values()}
            anchor_of = {d: (bases[d] if len(used) == 1 else self.root) for d in bases}
            return {d.relative_to(anchor_of[d]).as_posix(): d for d in bases}
        return {d.relative_to(self.root).as_posix(): d for d in environment_dirs}

    def _under_bases(self) -> dict[Path, Path]:
        """Environment directories below a base directory (envs/, …): directory → base."""
        bases = [self.root / b for b in ENVIRONMENT_BASES if (self.root / b).is_dir()]
        out = {}
        for directory in self._environment_dirs():
            for base in bases:
                if directory.is_relative_to(base) and directory != base:
                    out[directory] = base
                    break
        return out

    # ---- every directory with Terraform files ------------------------------------------
    def directories(self) -> dict[Path, list[str]]:
        """Every directory below the root (not the root) that holds configuration files
        other than override files → the names of its configuration files. From one walk:
        thousands of directories and files are common."""
        if self._dirs is None:
            self._dirs = {}
            for current, subdirs, names in os.walk(self.root):
                subdirs[:] = sorted(
                    d for d in subdirs if not d.startswith(".") and d not in SKIPPED_DIRS
                )
                config = [n for n in names if is_config_file(n, self.tofu)]
                if current != str(self.root) and any(not is_override_file(n) for n in config):
                    self._dirs[Path(current)] = config
        return self._dirs

    def _environment_dirs(self) -> set[Path]:
        """Directories that may be environments: not module, example or test directories."""
        if self._candidates is None:
            prefix = len(str(self.root)) + 1
            candidates = {
                d
                for d in self.directories()
                if not NOT_ENVIRONMENTS.intersection(str(d)[prefix:].split(os.sep))
            }
            self._candidates = candidates - self.called_by_path(candidates)
        return self._candidates

    def called_by_path(self, candidates: set[Path]) -> set[Path]:
        """The candidates some module block calls by a local path (they are modules).

        A cheap scan of every file's text finds the local sources; only where one names a
        candidate is the calling file parsed, so a commented-out call counts for nothing.
        """
        if not candidates:
            return set()
        callers: dict[Path, set[Path]] = {}
        inside = str(self.root) + os.sep
        top = [p.name for p in self._files_of(self.root)]
        for directory, names in [(self.root, top), *self.directories().items()]:
            for name in names:
                try:
                    with open(os.path.join(directory, name), "rb") as handle:
                        raw = handle.read()
                except OSError:
                    continue  # a broken symlink: not this scan's to report
                for match in _LOCAL_SOURCE.finditer(raw):
                    source = match.group(1).decode("utf-8", "replace")
                    if not os.path.normpath(os.path.join(directory, source)).startswith(inside):
                        continue  # outside the repo (a sibling checkout): never a candidate
                    target = _resolve(directory, source)
                    if target in candidates and target != directory:
                        callers.setdefault(target, set()).add(directory / name)
        if not callers:
            return set()
        calling = sorted({p for paths in callers.values() for p in paths})
        parsed = self.hcl.parse_files(calling, ("module",))
        called = set()
        for path, result in parsed.items():
            for block in result.blocks:
                source = block.attr("source")
                if isinstance(source, str) and source.startswith((".", "..")):
                    target = _resolve(path.parent, source.split("?", 1)[0])
                    if target in callers and path in callers[target]:
                        called.add(target)
        return called

    def _files_in(self, directory: Path) -> DirectoryFiles:
        return list_directory(directory, tofu=self.tofu)

    def _files_of(self, directory: Path) -> tuple[Path, ...]:
        files = self._files_in(directory)
        return files.config + files.overrides

    def _unplaced_warnings(self, unplaced: Iterable[Path], layout: Layout) -> list[str]:
        names = [d.relative_to(self.root).as_posix() for d in unplaced]
        if not names:
            return []
        where = "the root is the one Terraform root" if layout == "prefix" else "not an environment"
        shown = ", ".join(f"{n}/" for n in names[:MAX_WARNINGS])
        more = f" and {len(names) - MAX_WARNINGS} more" if len(names) > MAX_WARNINGS else ""
        return [
            f"ignored: {shown}{more} hold Terraform files but are neither environments nor "
            f"modules an environment calls by path ({where}); to plan one, name it under "
            "`environments:` with `directory:` in tfops.yaml"
        ]


def matches(name: str, globs: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, g) for g in globs)


def _resolve(directory: Path, source: str) -> Path:
    return Path(os.path.normpath(directory / PurePosixPath(source.rstrip("/") or "."))).resolve()
