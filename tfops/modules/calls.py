"""The module blocks an environment calls, with where they are declared."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfops.modules.sources import ModuleSource, parse_source
from tfops.repo.environments import Environment, EnvironmentsRepo
from tfops.repo.hcl import Block


@dataclass(frozen=True)
class ModuleCall:
    name: str
    environment: str
    file: Path
    line: int  # the line of the `source` attribute
    source: ModuleSource
    version: str | None  # registry modules: the `version` constraint

    def where(self, repo: EnvironmentsRepo) -> str:
        return f"{repo.relative(self.file)}:{self.line}"


def module_calls(
    repo: EnvironmentsRepo, env: Environment, *, nested: bool = False
) -> list[ModuleCall]:
    """Every module block the environment runs: its own files' and, at a prefix root, the
    shared files' (those run in every environment), with override files merged in. A
    `source` set by an override file is located in that file.

    `nested`: also the module blocks of the modules it loads from inside the repo (a
    local path without a ref), and theirs, named by their path: `env.project` is block
    `project` of the module block `env` calls. Those run in the environment too, so their
    pins count; the override tfops writes can reach only the environment's own blocks.
    """
    calls = _calls(env.name, repo.blocks(env, ("module",), include_shared=True), "")
    if nested:
        for call in list(calls):
            calls += _nested(repo, call, (call.file.parent,))
    return calls


def _calls(environment: str, blocks: list[tuple[Path, Block]], prefix: str) -> list[ModuleCall]:
    calls = []
    for path, block in blocks:
        if block.type != "module" or not block.labels:
            continue
        source = block.attr("source")
        if not isinstance(source, str):
            continue
        version = block.attr("version")
        calls.append(
            ModuleCall(
                name=prefix + block.labels[0],
                environment=environment,
                file=block.attr_files.get("source", path),
                line=block.attr_lines.get("source", block.line),
                source=parse_source(source),
                version=str(version) if version is not None else None,
            )
        )
    return calls


def _nested(repo: EnvironmentsRepo, call: ModuleCall, seen: tuple[Path, ...]) -> list[ModuleCall]:
    """The calls inside the in-repo module `call` loads, recursively (a cycle stops)."""
    if call.source.kind != "local" or call.source.path is None:
        return []
    directory = (call.file.parent / call.source.path).resolve()
    if not directory.is_relative_to(repo.root) or not directory.is_dir() or directory in seen:
        return []
    inner = _calls(call.environment, repo.directory_blocks(directory, ("module",)), f"{call.name}.")
    found = list(inner)
    for child in inner:
        found += _nested(repo, child, (*seen, directory))
    return found
