"""The seed's sibling-repo convention: `../backend/infrastructure/modules/back_end?ref=v2.0.0`.

Terraform can't read a local path at a ref, so tfops finds the git repository the path
names and turns the source into `git::<url>//<subdir>?ref=<ref>`. The repository is, in
order: a `modules.repos` entry in tfops.yaml; a checkout at that path next to the
environments repo; a URL derived from the environments repo's own remote
(`https://github.com/org/environments.git` + `../backend` → `.../org/backend.git`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path, PurePosixPath

from tfops import gitutil
from tfops.errors import ModuleRefError
from tfops.modules.calls import ModuleCall
from tfops.modules.sources import ModuleSource, unsafe_url
from tfops.repo.environments import EnvironmentsRepo


def resolve_sibling(repo: EnvironmentsRepo, call: ModuleCall) -> ModuleSource:
    """Fill in the clone URL and subdirectory of a sibling-repo source."""
    source = call.source
    assert source.kind == "sibling" and source.path is not None
    path = _normalise(source.path)
    for prefix, url in sorted(repo.config.modules.repos.items(), key=lambda kv: -len(kv[0])):
        key = _normalise(prefix)
        if path == key or path.startswith(key + "/"):
            unsafe = unsafe_url(url)
            if unsafe is not None:
                raise ModuleRefError(
                    f"modules.repos maps {prefix!r} to {url!r}: {unsafe}",
                    where="tfops.yaml: modules.repos",
                    hint="map it to a plain git URL (https://, ssh://, file://, user@host:path)",
                )
            return replace(source, url=url, subdir=path[len(key) :].strip("/"))

    target = (call.file.parent / source.path).resolve()
    top = checkout_top(target) if target.exists() else None
    if top is not None:
        subdir = target.relative_to(top).as_posix()
        return replace(source, url=top.as_uri(), subdir="" if subdir == "." else subdir)

    parts = PurePosixPath(path).parts
    if len(parts) >= 2 and parts[0] == "..":
        remote = _origin_url(repo)
        if remote:
            url = sibling_url(remote, parts[1])
            return replace(source, url=url, subdir="/".join(parts[2:]))

    raise ModuleRefError(
        f"module {call.name!r}: cannot find the git repository for {source.path!r}",
        where=call.where(repo),
        hint=f"check it out next to the environments repo, or map it in tfops.yaml: "
        f"modules.repos: {{'{'/'.join(parts[:2])}': <clone URL>}}",
    )


def checkout_top(path: Path) -> Path | None:
    """The top of the git checkout holding `path` (a `.git` directory or file), if any.

    A few stat calls instead of opening the repository: hundreds of module calls use it.
    """
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _normalise(path: str) -> str:
    return os.path.normpath(path).replace(os.sep, "/")


def _origin_url(repo: EnvironmentsRepo) -> str | None:
    local = gitutil.open_repo(repo.root)
    if local is None:
        return None
    try:
        remote = local.remote("origin")
    except ValueError:
        return None
    urls = list(remote.urls)
    return urls[0] if urls else None


def sibling_url(remote: str, name: str) -> str:
    """Replace the repository name in a remote URL (https, ssh or scp-like)."""
    base = remote.rstrip("/")
    suffix = ".git" if base.endswith(".git") else ""
    base = base.removesuffix(".git")
    cut = max(base.rfind("/"), base.rfind(":"))
    return f"{base[: cut + 1]}{name}{suffix}"
