"""The environments repo: its layout, its environments, and which of them a change affects.

Two layouts (DESIGN.md §1):
- prefix: one Terraform root; `dev_*.tf` belong to dev, `prod_*.tf` to prod, unprefixed files
  (main.tf, variables.tf, *.tfvars) are shared by every environment. One state.
- directory: one root per environment (`envs/dev/`, `envs/prod/`), one state each.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from tfops.config import EnvironmentConfig, TfopsConfig, load_config
from tfops.errors import ConfigError, TfopsError
from tfops.repo.hcl import Block, HclCache

Layout = Literal["prefix", "directory"]

# Prefixes that mean "environment" without any config. With `environments:` in tfops.yaml
# only the configured names are environments.
KNOWN_ENVIRONMENT_PREFIXES = (
    "dev", "development", "test", "testing", "int", "integration", "qa", "uat", "stage",
    "staging", "stg", "preprod", "prod", "production", "prd", "sandbox", "demo", "global",
)  # fmt: skip
DIRECTORY_BASES = ("envs", "environments", "env", ".")
DEFAULT_ENVIRONMENT = "default"
SHARED = "shared"  # the group for changes declared in shared files
OVERRIDE_FILE = "tfops_override.tf"
WORK_DIR = ".tfops"
TF_SUFFIXES = (".tf", ".tf.json")
VAR_SUFFIXES = (".tfvars", ".tfvars.json")
_PREFIX = re.compile(r"^([a-z0-9][a-z0-9-]*)_.+")
ADDRESSABLE_BLOCKS = ("module", "resource", "data", "output", "variable")  # Block.address
TARGETABLE_BLOCKS = ("module", "resource", "data")


def is_override_file(name: str) -> bool:
    stem = name.removesuffix(".json").removesuffix(".tf")
    return stem == "override" or stem.endswith("_override")


@dataclass(frozen=True)
class Environment:
    name: str
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


class EnvironmentsRepo:
    """An environments repo on disk. Cheap to construct; parsing happens on demand."""

    def __init__(self, root: Path, config: TfopsConfig | None = None, hcl: HclCache | None = None):
        self.root = root.resolve()
        if not self.root.is_dir():
            raise TfopsError(f"{root} is not a directory", hint="pass the environments repo path")
        if config is None:
            config, self.config_path = load_config(self.root)
        else:
            self.config_path = None
        self.config = config
        self.hcl = hcl or HclCache(base=self.root)
        self._resolved_dirs: dict[Path, Path] = {}
        self.layout: Layout = config.layout or self._detect_layout()
        self.environments, self.roots = (
            self._discover_prefix() if self.layout == "prefix" else self._discover_directories()
        )

    # ---- discovery -------------------------------------------------------------------
    def _root_files(self, directory: Path) -> list[Path]:
        return sorted(
            p
            for p in directory.iterdir()
            if p.is_file()
            and (p.name.endswith(TF_SUFFIXES) or p.name.endswith(VAR_SUFFIXES))
            and not is_override_file(p.name)
        )

    def _detect_layout(self) -> Layout:
        names = {p.name for p in self._root_files(self.root) if p.name.endswith(TF_SUFFIXES)}
        if any(self._prefix_env(n) for n in names):
            return "prefix"
        if any(env.directory for env in self.config.environments.values()):
            return "directory"
        if self._detect_directories():
            return "directory"
        return "prefix"

    def _prefix_env(self, filename: str) -> str | None:
        configured = self.config.environments
        if configured:
            for name, env in configured.items():
                globs = env.files or [f"{name}_*.tf", f"{name}_*.tf.json"]
                if any(fnmatch.fnmatch(filename, g) for g in globs):
                    return name
            return None
        match = _PREFIX.match(filename)
        if match and match.group(1) in KNOWN_ENVIRONMENT_PREFIXES:
            return match.group(1)
        return None

    def _discover_prefix(self) -> tuple[dict[str, Environment], list[Root]]:
        files = self._root_files(self.root)
        by_env: dict[str, list[Path]] = {}
        shared: list[Path] = []
        shared_globs = self.config.shared_files
        for path in files:
            env = self._prefix_env(path.name)
            if env is None or (shared_globs and _matches(path.name, shared_globs)):
                shared.append(path)
            else:
                by_env.setdefault(env, []).append(path)
        for name in self.config.environments:
            by_env.setdefault(name, [])
        if not by_env:
            tf_files = [p for p in files if p.name.endswith(TF_SUFFIXES)]
            if not tf_files:
                raise TfopsError(
                    f"no Terraform files in {self.root}",
                    hint="point tfops at an environments repo: files like dev_*.tf and "
                    "prod_*.tf, or one directory per environment under envs/",
                )
            by_env[DEFAULT_ENVIRONMENT] = tf_files
        environments = {
            name: Environment(
                name, self.root, tuple(paths), self.config.is_pinned(name), self.config.env(name)
            )
            for name, paths in sorted(by_env.items())
        }
        return environments, [Root(self.root, tuple(environments), tuple(shared))]

    def _detect_directories(self) -> dict[str, Path]:
        for base in DIRECTORY_BASES:
            base_dir = self.root / base
            if not base_dir.is_dir():
                continue
            found = {
                d.name: d
                for d in sorted(base_dir.iterdir())
                if d.is_dir()
                and not d.name.startswith(".")
                and d.name not in ("modules", WORK_DIR)
                and any(p.suffix == ".tf" for p in d.iterdir())
            }
            if found:
                return found
        return {}

    def _discover_directories(self) -> tuple[dict[str, Environment], list[Root]]:
        configured = self.config.environments
        if configured:
            dirs = {}
            for name, env in configured.items():
                directory = self.root / (env.directory or f"envs/{name}")
                if not directory.is_dir():
                    raise ConfigError(
                        f"directory {directory.relative_to(self.root)} does not exist",
                        where=f"tfops.yaml: environments.{name}.directory",
                        hint="create it or point `directory` at the environment's root",
                    )
                dirs[name] = directory
        else:
            dirs = self._detect_directories()
            if not dirs:
                raise ConfigError(
                    "layout is `directory` but no environment directories were found",
                    where="tfops.yaml: layout",
                    hint="put each environment in envs/NAME/ or list them under `environments:`",
                )
        environments: dict[str, Environment] = {}
        roots: list[Root] = []
        for name, directory in sorted(dirs.items()):
            directory = directory.resolve()
            files = tuple(p for p in self._root_files(directory) if p.name.endswith(TF_SUFFIXES))
            environments[name] = Environment(
                name, directory, files, self.config.is_pinned(name), self.config.env(name)
            )
            roots.append(Root(directory, (name,), ()))
        return environments, roots

    # ---- queries ---------------------------------------------------------------------
    def select(self, names: Iterable[str]) -> list[Environment]:
        """Environments by name, all of them when `names` is empty."""
        wanted = list(names)
        unknown = [n for n in wanted if n not in self.environments]
        if unknown:
            raise TfopsError(
                f"unknown environment {', '.join(map(repr, unknown))}",
                hint=f"environments in {self.root.name}: {', '.join(self.environments)}",
            )
        return (
            [self.environments[n] for n in wanted] if wanted else list(self.environments.values())
        )

    def relative(self, path: Path) -> str:
        try:
            return self._resolve(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _resolve(self, path: Path) -> Path:
        """`path.resolve()`, resolving each directory once: repos have thousands of files."""
        if not path.is_absolute() or path.name in ("", ".", "..") or path.is_symlink():
            return path.resolve()
        parent = self._resolved_dirs.get(path.parent)
        if parent is None:
            parent = self._resolved_dirs[path.parent] = path.parent.resolve()
        return parent / path.name

    def blocks(
        self, env: Environment, types: Collection[str] | None = None
    ) -> list[tuple[Path, Block]]:
        """Every top-level block declared in the environment's own files (of `types` only:
        files that cannot declare one are then not parsed)."""
        parsed = self.hcl.parse_files([p for p in env.files if p.suffix == ".tf"], types)
        return [
            (path, block) for path in env.files if path in parsed for block in parsed[path].blocks
        ]

    @cached_property
    def _address_owner(self) -> dict[str, str]:
        owner: dict[str, str] = {}
        for env in self.environments.values():
            for _, block in self.blocks(env, ADDRESSABLE_BLOCKS):
                if block.address:
                    owner[block.address] = env.name
        return owner

    def environment_of_address(self, address: str, root: Root) -> str:
        """Which environment a plan address belongs to (its top-level block's file)."""
        if len(root.environments) == 1:
            return root.environments[0]
        return self._address_owner.get(top_level_address(address), SHARED)

    def target_addresses(self, env: Environment) -> list[str]:
        """-target addresses for applying one environment of a shared root alone."""
        return [
            block.address
            for _, block in self.blocks(env, TARGETABLE_BLOCKS)
            if block.address and block.type in TARGETABLE_BLOCKS
        ]

    def local_module_dirs(self, env: Environment) -> list[Path]:
        """Directories inside this repo that the environment's local modules load from."""
        dirs = []
        for path, block in self.blocks(env, ("module",)):
            source = block.attr("source") if block.type == "module" else None
            if isinstance(source, str) and source.startswith(("./", "../")) and "?" not in source:
                target = (path.parent / source).resolve()
                if target.is_relative_to(self.root):
                    dirs.append(target)
        return dirs

    def affected_environments(self, changed: Iterable[str]) -> list[str]:
        """Environments a list of changed files (relative to the repo root) affects.

        Shared files affect every environment; so does tfops.yaml. A file inside a local
        module directory affects the environments that use that module; the module lock
        file, the pinned environments.
        """
        affected: set[str] = set()
        everything = set(self.environments)
        shared_names = {self.relative(p) for root in self.roots for p in root.shared_files}
        env_files = {self.relative(p): e.name for e in self.environments.values() for p in e.files}
        env_dirs = {
            e.name: self.relative(e.root)
            for e in self.environments.values()
            if self.layout == "directory"
        }
        module_dirs = {
            e.name: [self.relative(d) for d in self.local_module_dirs(e)]
            for e in self.environments.values()
        }
        shared_globs = self.config.shared_files or []
        for raw in changed:
            name = raw.replace("\\", "/").removeprefix("./")
            base = name.rsplit("/", 1)[-1]
            if name in env_files:
                affected.add(env_files[name])
            elif name == self.config.modules.lock_file:  # the pins of pinned environments
                affected.update(e.name for e in self.environments.values() if e.pinned)
            elif (
                name in shared_names
                or (base == ".terraform.lock.hcl" and "/" not in name)
                or name == (self.config_path.name if self.config_path else "tfops.yaml")
            ) or (self.layout == "directory" and shared_globs and _matches(name, shared_globs)):
                return sorted(everything)
            elif (
                self.layout == "prefix"
                and "/" not in name
                and base.endswith(TF_SUFFIXES + VAR_SUFFIXES)
                and not is_override_file(base)
            ):
                # a new or deleted file at the root: attribute it by its name
                env = self._prefix_env(base)
                if env is None:
                    return sorted(everything)
                affected.add(env)
            for env_name, directory in env_dirs.items():
                if name.startswith(directory + "/"):
                    affected.add(env_name)
            for env_name, dirs in module_dirs.items():
                if any(name.startswith(d + "/") for d in dirs):
                    affected.add(env_name)
        return sorted(affected & everything)

    def changed_files_since(self, ref: str) -> list[str]:
        """Files changed between the merge base with `ref` and the working tree."""
        from tfops import gitutil

        return gitutil.changed_files_since(self.root, ref)


def top_level_address(address: str) -> str:
    """`module.dev_app.module.db.aws_x.y[0]` → `module.dev_app`; `aws_x.y["k"]` → `aws_x.y`."""
    in_module = _MODULE_NAME.match(address)  # the common case, without splitting it all
    if in_module:
        return f"module.{in_module.group(1)}"
    parts = _split_address(address)
    if not parts:
        return address
    if parts[0] == "module":
        return f"module.{_strip_index(parts[1])}" if len(parts) > 1 else address
    if parts[0] == "data" and len(parts) >= 3:
        return f"data.{parts[1]}.{_strip_index(parts[2])}"
    if parts[0] == "output" and len(parts) >= 2:
        return f"output.{parts[1]}"
    if len(parts) >= 2:
        return f"{parts[0]}.{_strip_index(parts[1])}"
    return address


def _split_address(address: str) -> list[str]:
    """Split on dots that are not inside an index like ["a.b"].

    Only the characters that matter (quotes, brackets, dots) are visited: a big plan has
    tens of thousands of addresses.
    """
    parts, start, depth, quoted = [], 0, 0, False
    for match in _ADDRESS_SYNTAX.finditer(address):
        char = match.group()
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        elif char == "." and depth == 0 and not quoted:
            parts.append(address[start : match.start()])
            start = match.end()
    parts.append(address[start:])
    return parts


_ADDRESS_SYNTAX = re.compile(r'["\[\].]')
_MODULE_NAME = re.compile(r'module\.([^."\[\]]+)(?=[.\[]|\Z)')


def _strip_index(part: str) -> str:
    return part.split("[", 1)[0]


def _matches(name: str, globs: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, g) for g in globs)
