"""`tfops envs`: the layout, the environments, and which of them a change affects."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tfops.repo.environments import EnvironmentsRepo


def run(
    path: Path, *, changed_since: str | None, files: tuple[str, ...], output_format: str
) -> None:
    repo = EnvironmentsRepo(path)
    selected = list(repo.environments)
    changed: list[str] | None = None
    if changed_since or files:
        changed = list(files) + (repo.changed_files_since(changed_since) if changed_since else [])
        selected = repo.affected_environments(changed)
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "layout": repo.layout,
                    "config": str(repo.config_path) if repo.config_path else None,
                    "changed_files": changed,
                    "environments": [
                        {
                            "name": env.name,
                            "root": repo.relative(env.root),
                            "files": [repo.relative(p) for p in env.files],
                            "pinned": env.pinned,
                            "apply": env.apply_mode,
                        }
                        for name, env in repo.environments.items()
                        if name in selected
                    ],
                },
                indent=2,
            )
        )
        return
    source = repo.relative(repo.config_path) if repo.config_path else "conventions (no tfops.yaml)"
    click.echo(f"{repo.root.name}: {repo.layout} layout, from {source}")
    if changed is not None:
        click.echo(f"{len(changed)} changed file(s) affect: {', '.join(selected) or 'nothing'}")
    for name in selected:
        env = repo.environments[name]
        flags = ["pinned" if env.pinned else "floating", f"apply: {env.apply_mode}"]
        click.echo(f"  {name:<12} {repo.relative(env.root):<16} {', '.join(flags)}")
        for file in env.files:
            click.echo(f"      {repo.relative(file)}")
    for root in repo.roots:
        if root.shared_files:
            click.echo(f"  shared: {', '.join(repo.relative(p) for p in root.shared_files)}")
