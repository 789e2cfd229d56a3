"""The environments repo: its environments, their blocks, and which of them a change affects.

`model.py` holds the data (Environment, Root), `layout.py` finds the roots and
environments (prefix or directory layout), `files.py` says which files Terraform reads,
`merging.py` merges override files over the blocks, `affected.py` maps changed files to
environments, `hcl.py` reads the files. This module ties them together behind
`EnvironmentsRepo`, the one object the rest of tfops asks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable
from functools import cached_property
from pathlib import Path

from tfops.config import DEFAULT_PINNED_ENVIRONMENTS, EnvironmentConfig, TfopsConfig, load_config
from tfops.errors import TfopsError
from tfops.repo import affected as _affected
from tfops.repo.files import (
    OVERRIDE_FILE,
    TF_SUFFIXES,
    VAR_SUFFIXES,
    WORK_DIR,
    is_config_file,
    is_override_file,
    list_directory,
    uses_tofu,
)
from tfops.repo.hcl import Block, HclCache
from tfops.repo.layout import (
    DEFAULT_ENVIRONMENT,
    KNOWN_ENVIRONMENT_PREFIXES,
    Layout,
    LayoutFinder,
)
from tfops.repo.merging import merge_overrides
from tfops.repo.model import Environment, Root

__all__ = [
    "ADDRESSABLE_BLOCKS",
    "DEFAULT_ENVIRONMENT",
    "KNOWN_ENVIRONMENT_PREFIXES",
    "OVERRIDE_FILE",
    "SHARED",
    "TARGETABLE_BLOCKS",
    "TF_SUFFIXES",
    "VAR_SUFFIXES",
    "WORK_DIR",
    "Environment",
    "EnvironmentsRepo",
    "Layout",
    "Root",
    "is_override_file",
    "top_level_address",
]

SHARED = "shared"  # the group for changes declared in shared files
ADDRESSABLE_BLOCKS = ("module", "resource", "data", "output", "variable")  # Block.address
TARGETABLE_BLOCKS = ("module", "resource", "data")


class EnvironmentsRepo:
    """An environments repo on disk. Cheap to construct; parsing happens on demand.

    `notify` receives what tfops wants the user to know but is not an error: directories
    it could not place, and files its HCL parser had to read with the fallback reader.
    """

    def __init__(
        self,
        root: Path,
        config: TfopsConfig | None = None,
        hcl: HclCache | None = None,
        *,
        notify: Callable[[str], None] | None = None,
    ):
        self.root = root.resolve()
        if not self.root.is_dir():
            raise TfopsError(f"{root} is not a directory", hint="pass the environments repo path")
        if config is None:
            config, self.config_path = load_config(self.root)
        else:
            self.config_path = None
        self.config = config
        self.tofu = uses_tofu(config.terraform.binary)
        self.hcl = hcl or HclCache(
            base=self.root, terraform=config.terraform.binary or "terraform", notify=notify
        )
        self._resolved_dirs: dict[Path, Path] = {}
        self._root_prefix = str(self.root).rstrip("/") + "/"
        self._finder = LayoutFinder(self.root, config, self.hcl, tofu=self.tofu)
        discovery = self._finder.discover()
        self.layout: Layout = discovery.layout
        self.warnings = discovery.warnings
        self.environments: dict[str, Environment] = {}
        self.roots: list[Root] = []
        for found in discovery.roots:
            for name, files in found.environments.items():
                self.environments[name] = Environment(
                    name, found.path, files, self._pinned(name), self.env_config(name)
                )
            self.roots.append(
                Root(found.path, tuple(found.environments), found.shared, found.overrides)
            )
        self.environments = dict(sorted(self.environments.items()))
        self._root_of = {name: root for root in self.roots for name in root.environments}
        for warning in self.warnings:
            if notify is not None:
                notify(warning)

    # ---- settings ----------------------------------------------------------------------
    def env_config(self, name: str) -> EnvironmentConfig:
        """An environment's settings: its own, else the nearest enclosing name's
        (`prod` for `prod/eu-west-1`), else the defaults."""
        parts = name.split("/")
        for end in range(len(parts), 0, -1):
            configured = self.config.environments.get("/".join(parts[:end]))
            if configured is not None:
                return configured
        return EnvironmentConfig()

    def _pinned(self, name: str) -> bool:
        explicit = self.env_config(name).pinned
        if explicit is not None:
            return explicit
        return any(part in DEFAULT_PINNED_ENVIRONMENTS for part in name.split("/"))

    @property
    def config_name(self) -> str:
        return self.config_path.name if self.config_path else "tfops.yaml"

    def prefix_env(self, filename: str) -> str | None:
        """The environment a file at a prefix root belongs to by its name."""
        return self._finder.prefix_env(filename)

    # ---- queries -----------------------------------------------------------------------
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

    def root_of(self, env: Environment) -> Root:
        return self._root_of[env.name]

    def relative(self, path: Path) -> str:
        """Repo-relative, symlinks resolved (where the file's content lives)."""
        resolved = str(self.resolved(path))
        if resolved.startswith(self._root_prefix):
            return resolved[len(self._root_prefix) :]
        return "." if resolved == str(self.root) else str(path)

    def link_relative(self, path: Path) -> str:
        """Repo-relative as git names it: a symlink is its own path, not its target's."""
        text = str(path)
        if text.startswith(self._root_prefix) and "/." not in text:
            return text[len(self._root_prefix) :]  # the common case, without path algebra
        try:
            return Path(os.path.relpath(path, self.root)).as_posix()
        except ValueError:
            return str(path)

    def resolved(self, path: Path) -> Path:
        """`path.resolve()`, resolving each directory once: repos have thousands of files."""
        if not path.is_absolute() or path.name in ("", ".", "..") or path.is_symlink():
            return path.resolve()
        parent = self._resolved_dirs.get(path.parent)
        if parent is None:
            parent = self._resolved_dirs[path.parent] = path.parent.resolve()
        return parent / path.name

    def blocks(
        self,
        env: Environment,
        types: Collection[str] | None = None,
        *,
        include_shared: bool = False,
    ) -> list[tuple[Path, Block]]:
        """Every top-level block declared in the environment's own files (of `types` only:
        files that cannot declare one are then not parsed), with the root's override
        files merged in as Terraform merges them. `include_shared`: the root's shared
        files' blocks too (a prefix root's shared module runs in every environment)."""
        root = self.root_of(env)
        files = list(env.files) + (list(root.shared_files) if include_shared else [])
        config = [p for p in files if is_config_file(p.name, self.tofu)]
        parsed = self.hcl.parse_files(config, types)
        blocks = [(path, block) for path in config for block in parsed[path].blocks]
        if not root.override_files:
            return blocks
        overrides = self.hcl.parse_files(root.override_files, types)
        return merge_overrides(
            blocks, [(p, b) for p in root.override_files for b in overrides[p].blocks]
        )

    def directory_blocks(
        self, directory: Path, types: Collection[str] | None = None
    ) -> list[tuple[Path, Block]]:
        """The blocks of a module directory (not an environment's root): its files', with
        its own override files merged in."""
        files = list_directory(directory, tofu=self.tofu)
        parsed = self.hcl.parse_files(files.config + files.overrides, types)
        blocks = [(p, b) for p in files.config for b in parsed[p].blocks]
        overrides = [(p, b) for p in files.overrides for b in parsed[p].blocks]
        return merge_overrides(blocks, overrides) if overrides else blocks

    def override_owners(self, root: Root) -> dict[Path, set[str]]:
        """Each override file of a root → the environments whose blocks it overrides (all of
        the root's when it matches none of them, e.g. it does not parse yet)."""
        if not root.override_files:
            return {}
        owner_of: dict[tuple[str, tuple[str, ...]], str] = {}
        for name in root.environments:
            env = self.environments[name]
            config = [p for p in env.files if is_config_file(p.name, self.tofu)]
            for parsed in self.hcl.headers(config).values():
                for block in parsed.blocks:
                    owner_of[block.key] = name
        out: dict[Path, set[str]] = {}
        for path in root.override_files:
            try:
                keys = {b.key for b in self.hcl.headers([path])[path].blocks}
            except TfopsError:
                keys = set()
            owners = {owner_of[k] for k in keys if k in owner_of}
            out[path] = owners or set(root.environments)
        return out

    @cached_property
    def _address_owner(self) -> dict[str, str]:
        owner: dict[str, str] = {}
        for env in self.environments.values():
            config = [p for p in env.files if is_config_file(p.name, self.tofu)]
            for parsed in self.hcl.headers(config, ADDRESSABLE_BLOCKS).values():
                for block in parsed.blocks:
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
        config = [p for p in env.files if is_config_file(p.name, self.tofu)]
        parsed = self.hcl.headers(config, TARGETABLE_BLOCKS)
        return [
            block.address
            for path in config
            for block in parsed[path].blocks
            if block.address and block.type in TARGETABLE_BLOCKS
        ]

    def local_module_dirs(self, env: Environment) -> list[Path]:
        """Directories inside this repo the environment loads modules from, transitively."""
        return [directory for directory, _ in _affected.ModuleGraph(self).module_dirs(env)]

    def affected_environments(self, changed: Iterable[str]) -> list[str]:
        """Environments a list of changed files (relative to the repo root) affects."""
        return _affected.affected_environments(self, changed)

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
