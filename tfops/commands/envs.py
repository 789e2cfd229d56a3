"""`tfops envs`: the layout, the environments, and which of them a change affects.

One report model, rendered as text or JSON: both formats carry the same content (the
environments with their files, each root's shared and override files, and what tfops
could not place).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    data = report(repo, selected, changed)
    if output_format == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(render_text(data, repo.root.name), nl=False)


def report(
    repo: EnvironmentsRepo, selected: list[str], changed: list[str] | None
) -> dict[str, Any]:
    wanted = set(selected)
    return {
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
            if name in wanted
        ],
        "roots": [
            {
                "root": repo.relative(root.path),
                "environments": [n for n in root.environments if n in wanted],
                "shared_files": [repo.relative(p) for p in root.shared_files],
                "override_files": [repo.relative(p) for p in root.override_files],
            }
            for root in repo.roots
            if wanted & set(root.environments) or changed is None
        ],
        "warnings": repo.warnings,
    }


def render_text(data: dict[str, Any], repo_name: str) -> str:
    source = Path(data["config"]).name if data["config"] else "conventions (no tfops.yaml)"
    lines = [f"{repo_name}: {data['layout']} layout, from {source}"]
    if data["changed_files"] is not None:
        names = ", ".join(e["name"] for e in data["environments"]) or "nothing"
        lines.append(f"{len(data['changed_files'])} changed file(s) affect: {names}")
    envs = data["environments"]
    name_width = max([12, *(len(e["name"]) for e in envs)])
    root_width = max([16, *(len(e["root"]) for e in envs)])
    for env in envs:
        flags = ["pinned" if env["pinned"] else "floating", f"apply: {env['apply']}"]
        lines.append(
            f"  {env['name']:<{name_width}} {env['root']:<{root_width}} {', '.join(flags)}"
        )
        lines += [f"      {file}" for file in env["files"]]
    for root in data["roots"]:
        where = f" ({root['root']})" if len(data["roots"]) > 1 else ""
        if root["shared_files"]:
            lines.append(f"  shared{where}: {', '.join(root['shared_files'])}")
        if root["override_files"]:
            lines.append(f"  overrides{where}: {', '.join(root['override_files'])}")
    lines += [f"  {warning}" for warning in data["warnings"]]
    return "\n".join(lines) + "\n"
