"""Which environments a change affects, and the local modules each environment loads.

A changed file affects:
- the environment whose files declare it (a symlinked file: by its link and its target);
- every environment of its root when it is shared, `.terraform.lock.hcl` at a prefix
  root, an override file (the environments whose blocks it overrides), or tfops.yaml;
- in the directory layout, the environment whose root directory holds it (the deepest,
  so `envs/prod/eu-west-1/x` is prod/eu-west-1, not prod);
- the environments that load it as a local module, following module calls from module
  to module (`envs/prod` → `modules/project` → `modules/rds`);
- the module lock file: the pinned environments.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

from tfops.config import TfopsConfig
from tfops.repo.files import (
    OVERRIDE_FILE,
    TF_SUFFIXES,
    TOFU_SUFFIXES,
    VAR_SUFFIXES,
    is_override_file,
)
from tfops.repo.hcl import Block, HclCache
from tfops.repo.layout import matches
from tfops.repo.model import Environment, Root


class RepoView(Protocol):
    """What this module asks of the repo (`EnvironmentsRepo`, which calls it)."""

    @property
    def root(self) -> Path: ...
    @property
    def tofu(self) -> bool: ...
    @property
    def layout(self) -> str: ...
    @property
    def config(self) -> TfopsConfig: ...
    @property
    def config_name(self) -> str: ...
    @property
    def hcl(self) -> HclCache: ...
    @property
    def environments(self) -> Mapping[str, Environment]: ...
    @property
    def roots(self) -> Sequence[Root]: ...
    def blocks(
        self, env: Environment, types: Collection[str] | None = None, *, include_shared: bool = ...
    ) -> list[tuple[Path, Block]]: ...
    def directory_blocks(
        self, directory: Path, types: Collection[str] | None = None
    ) -> list[tuple[Path, Block]]: ...
    def relative(self, path: Path) -> str: ...
    def link_relative(self, path: Path) -> str: ...
    def override_owners(self, root: Root) -> dict[Path, set[str]]: ...
    def prefix_env(self, filename: str) -> str | None: ...


class ModuleGraph:
    """Local module directories inside the repo, and the ones each of them calls."""

    def __init__(self, repo: RepoView):
        self.repo = repo
        self._calls: dict[Path, list[tuple[Path, str]]] = {}

    def module_dirs(self, env: Environment) -> list[tuple[Path, str]]:
        """(resolved directory, path as written from the repo root) of every local module
        the environment loads, directly or through other local modules."""
        start = [
            target
            for path, block in self.repo.blocks(env, ("module",), include_shared=True)
            if (target := self._local_target(path.parent, block.attr("source"))) is not None
        ]
        seen: dict[Path, str] = {}
        queue = list(start)
        while queue:
            directory, written = queue.pop(0)
            if directory in seen:
                continue
            seen[directory] = written
            queue += self._called_from(directory)
        return list(seen.items())

    def _called_from(self, directory: Path) -> list[tuple[Path, str]]:
        if directory not in self._calls:
            self._calls[directory] = [
                target
                for path, block in self.repo.directory_blocks(directory, ("module",))
                if (target := self._local_target(path.parent, block.attr("source"))) is not None
            ]
        return self._calls[directory]

    def _local_target(self, directory: Path, source: object) -> tuple[Path, str] | None:
        """A plain local path (no `?ref=`: a ref pins it to a tag) inside the repo."""
        if not isinstance(source, str) or not source.startswith(("./", "../")) or "?" in source:
            return None
        written = Path(os.path.normpath(directory / PurePosixPath(source)))
        target = written.resolve()
        if not target.is_relative_to(self.repo.root) or not target.is_dir():
            return None
        return target, self.repo.link_relative(written)


def affected_environments(repo: RepoView, changed: Iterable[str]) -> list[str]:
    """Environments a list of changed files (relative to the repo root) affects."""
    index = _ChangeIndex(repo)
    everything = set(repo.environments)
    affected: set[str] = set()
    for raw in changed:
        name = raw.replace("\\", "/").removeprefix("./")
        hit = index.lookup(name)
        if hit is None:
            return sorted(everything)
        affected |= hit
    return sorted(affected & everything)


class _ChangeIndex:
    """Repo-relative paths → the environments a change to them affects."""

    def __init__(self, repo: RepoView):
        self.repo = repo
        self.files: dict[str, set[str]] = {}
        self.everything_files: set[str] = {repo.config_name}
        self.root_dirs: dict[str, str] = {}
        self.module_dirs: dict[str, set[str]] = {}
        self.prefix_roots: list[Root] = [r for r in repo.roots if repo.layout == "prefix"]
        graph = ModuleGraph(repo)
        for env in repo.environments.values():
            for path in env.files:
                self._add(self.files, path, {env.name})
            if repo.layout == "directory":
                self.root_dirs[repo.link_relative(env.root)] = env.name
            for directory, written in graph.module_dirs(env):
                for key in {repo.relative(directory), written}:
                    self.module_dirs.setdefault(key, set()).add(env.name)
                for linked in _symlinked_files(directory):  # files that live elsewhere
                    self.files.setdefault(repo.relative(linked), set()).add(env.name)
        for root in repo.roots:
            for path in root.shared_files:
                self._add(self.files, path, set(root.environments))
            for path, owners in repo.override_owners(root).items():
                self._add(self.files, path, owners)
        for root in repo.roots:  # the providers every environment of the root uses
            lock = repo.link_relative(root.path / ".terraform.lock.hcl")
            self.files.setdefault(lock, set()).update(root.environments)

    def _add(self, table: dict[str, set[str]], path: Path, envs: set[str]) -> None:
        for key in {self.repo.link_relative(path), self.repo.relative(path)}:
            table.setdefault(key, set()).update(envs)

    def lookup(self, name: str) -> set[str] | None:
        """The environments `name` affects; None: every environment."""
        repo = self.repo
        if name in self.everything_files:
            return None
        if name == repo.config.modules.lock_file:
            return {e.name for e in repo.environments.values() if e.pinned}
        if (
            repo.layout == "directory"
            and repo.config.shared_files
            and matches(name, repo.config.shared_files)
        ):
            return None
        if name in self.files:
            found = set(self.files[name])
        else:
            new = self._new_root_file(name)
            if new is None:
                return None
            found = new | self._in_root_dir(name)
        for directory, envs in self.module_dirs.items():
            if name.startswith(directory + "/"):
                found |= envs
        return found

    def _new_root_file(self, name: str) -> set[str] | None:
        """A file added to or deleted from a prefix root, attributed by its name; None: a
        shared file (every environment)."""
        parent, _, base = name.rpartition("/")
        if not base.endswith(self._suffixes) or base == OVERRIDE_FILE:
            return set()
        for root in self.prefix_roots:
            if self.repo.link_relative(root.path) != (parent or "."):
                continue
            env = self.repo.prefix_env(base)
            if env is None or is_override_file(base):
                return None
            return {env}
        return set()

    def _in_root_dir(self, name: str) -> set[str]:
        """Directory layout: the environment whose root (the deepest) holds the file. A
        root at the repo root holds only its own Terraform files, not the repo's docs."""
        best = None
        for directory in self.root_dirs:
            inside = name.startswith(directory + "/") or (
                directory == "." and "/" not in name and name.endswith(self._suffixes)
            )
            if inside and (best is None or len(directory) > len(best)):
                best = directory
        return {self.root_dirs[best]} if best is not None else set()

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return TF_SUFFIXES + VAR_SUFFIXES + (TOFU_SUFFIXES if self.repo.tofu else ())


def _symlinked_files(directory: Path) -> list[Path]:
    """Files in `directory` that are symlinks, resolved to where they live."""
    out: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for entry in entries:
        if entry.is_symlink():
            out.append(Path(entry.path).resolve())
    return out
