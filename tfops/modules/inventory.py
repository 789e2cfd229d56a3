"""What each environment runs: one row per module call, with its release status.

`build_inventory` is cheap by default: it uses the ref listings the run already has (one
`ls-remote` per repository). Two extras are for `tfops modules` only, never for the
gates: `history=True` counts commits behind the default branch in a bare mirror per
repository (`$XDG_CACHE_HOME/tfops/repos/`, updated with `git fetch`), and
`registry=True` asks the Terraform registry for the newest version of registry modules.
`subjects=True` (with `history`) also names what lies between: the newer releases and the
subjects of the commits behind (for the overview page).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import git

from tfops.caches import default_cache_dir
from tfops.modules.calls import module_calls
from tfops.modules.remote import RemoteLister
from tfops.modules.resolve import ResolvedModule, Resolver, display_url, registry_versions
from tfops.modules.sources import GIT_PROTOCOLS, unsafe_url
from tfops.repo.environments import Environment, EnvironmentsRepo
from tfops.terraform.versions import is_exact, parse_version


@dataclass(frozen=True)
class ModuleStatus:
    environment: str
    name: str
    source: str  # as written in the .tf file
    kind: str  # local | sibling | git | registry | other
    file: str  # relative to the environments repo
    line: int
    pinned: bool  # the environment requires pins
    ref: str | None = None  # None: floating
    commit: str | None = None  # what the ref resolves to
    newest_release: str | None = None
    releases_behind: int | None = None
    commits_behind: int | None = None


@dataclass
class Inventory:
    rows: list[ModuleStatus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # registry or history unavailable
    errors: list[str] = field(default_factory=list)  # repositories that could not be listed
    # (environment, module) → the branch a floating module follows, e.g. "main"
    follows: dict[tuple[str, str], str] = field(default_factory=dict)
    # (environment, module) → the newer releases and commits behind (with subjects=True)
    between: dict[tuple[str, str], Between] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitSubject:
    sha: str
    subject: str
    author: str
    date: str  # ISO 8601, the committer date


@dataclass(frozen=True)
class Between:
    """What lies between the commit a module runs and the newest: by name and subject."""

    newer_releases: tuple[str, ...] = ()  # newest first
    commits: tuple[CommitSubject, ...] = ()  # newest first, at most SUBJECT_LIMIT
    more_commits: int = 0  # behind, but beyond SUBJECT_LIMIT


SUBJECT_LIMIT = 20  # commit subjects listed per module


def build_inventory(
    repo: EnvironmentsRepo,
    environments: Iterable[Environment],
    lister: RemoteLister,
    *,
    history: bool = False,
    registry: bool = False,
    subjects: bool = False,
) -> Inventory:
    """One row per module call of `environments`, in environment and file order."""
    calls = [call for env in environments for call in module_calls(repo, env, nested=True)]
    resolved = Resolver(repo, lister).resolve(calls)
    inventory = Inventory()
    mirrors: dict[str, git.Repo] = {}
    if history:
        urls = sorted({m.url for m in resolved if m.url and m.refs is not None})
        for url, result in RepoMirrors().update(urls).items():
            if isinstance(result, str):
                inventory.notes.append(
                    f"history of {display_url(url)} unavailable ({result}); "
                    "commits behind not shown"
                )
            else:
                mirrors[url] = result
    versions: dict[str, list[str]] = {}
    if registry:
        addresses = sorted({m.source.registry for m in resolved if m.source.registry})
        for address, listed in _registry_lookups(addresses).items():
            if isinstance(listed, str):
                inventory.notes.append(listed)
            else:
                versions[address] = listed
    for module in resolved:
        if module.error is not None:
            inventory.errors.append(str(module.error))
        if module.kind == "unsafe":
            inventory.errors.append(
                f"{module.call.where(repo)}: module {module.call.name!r}: source refused "
                f"(never handed to git): {module.source.unsafe}"
            )
        if module.kind == "floating" and module.head_branch:
            inventory.follows[(module.call.environment, module.call.name)] = module.head_branch
        if module.source.registry:
            inventory.rows.append(_registry_row(repo, module, versions.get(module.source.registry)))
        else:
            inventory.rows.append(_git_row(repo, module, mirrors.get(module.url or "")))
            if subjects:
                key = (module.call.environment, module.call.name)
                inventory.between[key] = _between(module, mirrors.get(module.url or ""))
    return inventory


def _row(repo: EnvironmentsRepo, module: ResolvedModule) -> ModuleStatus:
    call = module.call
    return ModuleStatus(
        environment=call.environment,
        name=call.name,
        source=call.source.raw,
        kind=call.source.kind,
        file=repo.relative(call.file),
        line=call.line,
        pinned=repo.environments[call.environment].pinned,
        ref=module.ref,
        commit=module.commit,
        newest_release=module.newest_release,
    )


def _git_row(
    repo: EnvironmentsRepo, module: ResolvedModule, mirror: git.Repo | None
) -> ModuleStatus:
    row = _row(repo, module)
    if module.tags is None or module.commit is None:
        return row
    releases_behind: int | None = None
    if module.kind == "tag" and module.tag is not None:
        releases_behind = module.tags.releases_newer_than(module.tag)
    else:  # a SHA, a branch or a floating module: by history
        tagged = module.refs.tags if module.refs else {}
        at_release = [t for t in module.tags.releases if tagged.get(t) == module.commit]
        if at_release:
            releases_behind = module.tags.releases_newer_than(at_release[0])
        elif mirror is not None:
            releases_behind = _releases_not_merged(mirror, module)
    commits_behind = None
    if mirror is not None and module.head is not None:
        commits_behind = _count(mirror, module.commit, module.head)
    return replace(row, releases_behind=releases_behind, commits_behind=commits_behind)


def _registry_row(
    repo: EnvironmentsRepo, module: ResolvedModule, versions: list[str] | None
) -> ModuleStatus:
    row = _row(repo, module)
    if versions is None:
        return row
    releases = [v for v in versions if (p := parse_version(v)) is not None and not p.is_prerelease]
    newest = releases[0] if releases else None
    behind = None
    current = parse_version((module.ref or "").lstrip("= ").strip())
    if current is not None and module.ref and is_exact(module.ref):
        behind = sum(1 for v in releases if (p := parse_version(v)) is not None and p > current)
    return replace(row, newest_release=newest, releases_behind=behind)


def _count(mirror: git.Repo, old: str, new: str) -> int | None:
    try:
        return int(mirror.git.rev_list("--count", f"{old}..{new}"))
    except (git.GitCommandError, ValueError):
        return None  # the commit is not in the mirror (a SHA from elsewhere)


def _releases_not_merged(mirror: git.Repo, module: ResolvedModule) -> int | None:
    """Release tags whose commits the module's commit does not contain."""
    assert module.tags is not None and module.commit is not None
    try:
        names = mirror.git.for_each_ref(
            f"--no-merged={module.commit}", "--format=%(refname:strip=2)", "refs/tags"
        ).split()
    except git.GitCommandError:
        return None
    return len(set(names) & set(module.tags.releases))


def _between(module: ResolvedModule, mirror: git.Repo | None) -> Between:
    """The releases newer than the module's and the commits between its commit and the head
    of the default branch (subjects from the mirror; none without one)."""
    if module.tags is None or module.commit is None:
        return Between()
    newer: list[str] = []
    tags = module.tags
    if module.kind == "tag" and module.ref is not None:
        if module.ref in tags.releases:
            newer = list(tags.releases[: tags.releases.index(module.ref)])
        elif (current := parse_version(module.ref)) is not None:
            newer = [
                tag
                for tag, version in zip(tags.releases, tags.release_versions, strict=True)
                if version is not None and version > current
            ]
    elif mirror is not None:
        try:
            names = mirror.git.for_each_ref(
                f"--no-merged={module.commit}", "--format=%(refname:strip=2)", "refs/tags"
            ).split()
        except git.GitCommandError:
            names = []
        newer = [tag for tag in tags.releases if tag in set(names)]
    commits: list[CommitSubject] = []
    more = 0
    if mirror is not None and module.head is not None and module.head != module.commit:
        commits, more = _subjects(mirror, module.commit, module.head)
    return Between(tuple(newer), tuple(commits), more)


def _subjects(mirror: git.Repo, old: str, new: str) -> tuple[list[CommitSubject], int]:
    """The newest SUBJECT_LIMIT commits in old..new, and how many more there are."""
    try:
        out = mirror.git.log(
            f"--max-count={SUBJECT_LIMIT}", "--format=%H%x1f%s%x1f%an%x1f%cI", f"{old}..{new}"
        )
        total = int(mirror.git.rev_list("--count", f"{old}..{new}"))
    except (git.GitCommandError, ValueError):
        return [], 0
    commits = []
    for line in out.splitlines():
        parts = line.split("\x1f")
        if len(parts) == 4:
            commits.append(CommitSubject(*parts))
    return commits, max(0, total - len(commits))


def _registry_lookups(addresses: list[str]) -> dict[str, list[str] | str]:
    if not addresses:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(addresses))) as pool:
        results = list(pool.map(registry_versions, addresses))
    return {
        address: result if isinstance(result, list) else result.message
        for address, result in zip(addresses, results, strict=True)
    }


class RepoMirrors:
    """Bare mirrors of module repositories, to count commits between two of their commits.

    One per URL under `$XDG_CACHE_HOME/tfops/repos/`; created with `git clone --mirror`,
    refreshed with `git fetch --prune` (so moved tags follow), several in parallel.
    """

    def __init__(self, directory: Path | None = None, timeout: float = 300.0, max_workers: int = 8):
        self.directory = directory or default_cache_dir() / "repos"
        self.timeout = timeout
        self.max_workers = max_workers

    def path(self, url: str) -> Path:
        readable = re.sub(r"[^A-Za-z0-9._-]+", "-", display_url(url).rsplit("/", 1)[-1])
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        return self.directory / f"{readable.removesuffix('.git')[:40]}-{digest}.git"

    def update(self, urls: Iterable[str]) -> dict[str, git.Repo | str]:
        """Each URL's up-to-date mirror, or the reason it could not be fetched."""
        todo = sorted(set(urls))
        if not todo:
            return {}
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(todo))) as pool:
            return dict(zip(todo, pool.map(self._update, todo), strict=True))

    def _update(self, url: str) -> git.Repo | str:
        path = self.path(url)
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": GIT_PROTOCOLS}
        if unsafe_url(url) is not None:
            return f"refusing to fetch {url!r}: {unsafe_url(url)}"
        try:
            if (path / "HEAD").exists():
                mirror = git.Repo(path)
                mirror.git.fetch(
                    "--prune", "--quiet", "origin", env=env, kill_after_timeout=self.timeout
                )
                return mirror
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=".clone-"))
            try:
                git.cmd.Git().clone(
                    "--mirror", "--quiet", "--", url, str(tmp), env=env,
                    kill_after_timeout=self.timeout,
                )  # fmt: skip
                os.replace(tmp, path)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            return git.Repo(path)
        except git.GitCommandError as exc:
            lines = [ln.strip() for ln in str(exc.stderr or "").splitlines() if ln.strip()]
            return display_url(lines[-1].strip("'") if lines else f"git exited {exc.status}")
        except (OSError, git.InvalidGitRepositoryError) as exc:
            return str(exc)
