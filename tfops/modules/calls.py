"""The module blocks an environment calls, with where they are declared."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfops.modules.sources import ModuleSource, parse_source
from tfops.repo.environments import Environment, EnvironmentsRepo


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


def module_calls(repo: EnvironmentsRepo, env: Environment) -> list[ModuleCall]:
    """Every module block the environment runs: its own files' and, at a prefix root, the
    shared files' (those run in every environment), with override files merged in. A
    `source` set by an override file is located in that file."""
    calls = []
    for path, block in repo.blocks(env, ("module",), include_shared=True):
        if block.type != "module" or not block.labels:
            continue
        source = block.attr("source")
        if not isinstance(source, str):
            continue
        version = block.attr("version")
        calls.append(
            ModuleCall(
                name=block.labels[0],
                environment=env.name,
                file=block.attr_files.get("source", path),
                line=block.attr_lines.get("source", block.line),
                source=parse_source(source),
                version=str(version) if version is not None else None,
            )
        )
    return calls
