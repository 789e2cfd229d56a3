"""One resolver for every module source form: which commit each module call runs.

Sibling paths (`../backend/...?ref=`), `git::` URLs (https, ssh, file, scp-like) and the
GitHub/Bitbucket shorthands are resolved against the repository's refs, listed once per
run by `RemoteLister` (all repositories in parallel). A local path outside the
environments repo floats on its checkout. Registry modules have no commit: only their
`version` is checked, and `registry_versions` asks the registry for newer ones (for
`tfops modules` only; a registry that does not answer never fails a run).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from tfops import gitutil
from tfops.errors import ModuleRefError
from tfops.modules.calls import ModuleCall
from tfops.modules.remote import RemoteLister, RemoteRefs
from tfops.modules.siblings import checkout_top, resolve_sibling
from tfops.modules.sources import ModuleSource, is_full_sha
from tfops.repo.environments import EnvironmentsRepo
from tfops.terraform.versions import Version, parse_version, sort_tags

RefKind = Literal[
    "tag",  # a tag of the module's repository
    "branch",  # a branch: moves with every push
    "sha",  # a full 40-hex commit id
    "floating",  # no ref: the default branch (git) or the checkout (local path)
    "unknown",  # a ref the repository does not have
    "local",  # a module directory inside the environments repo: versioned with it
    "registry",  # a registry module; `ref` is its version constraint
    "other",  # a source type tfops does not resolve (s3::, http archives, ...)
    "error",  # the repository could not be found or listed; see `error`
    "unsafe",  # a source git must never see (`git::--upload-pack=…`, `ext::`); see `source`
]

REGISTRY_DEFAULT_HOST = "registry.terraform.io"
REGISTRY_URL_ENV = "TFOPS_REGISTRY_URL"  # overrides https://registry.terraform.io (mirrors, tests)
REGISTRY_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class TagIndex:
    """A repository's tags, sorted once: every tag and the releases, newest first."""

    tags: tuple[str, ...]
    releases: tuple[str, ...]
    release_versions: tuple[Version | None, ...]

    @classmethod
    def build(cls, tags: Iterable[str], pattern: re.Pattern[str]) -> TagIndex:
        """Parse each tag once; order as `versions.sort_tags` (versions newest first)."""
        parsed = [(parse_version(tag), tag) for tag in tags]
        versioned = sorted(((v, t) for v, t in parsed if v is not None), reverse=True)
        ordered = [(v, t) for v, t in versioned] + sorted((None, t) for v, t in parsed if v is None)
        releases = [(v, t) for v, t in ordered if pattern.search(t) and not (v and v.is_prerelease)]
        return cls(
            tuple(t for _, t in ordered),
            tuple(t for _, t in releases),
            tuple(v for v, _ in releases),
        )

    @property
    def newest_release(self) -> str | None:
        return self.releases[0] if self.releases else None

    def releases_newer_than(self, tag: str) -> int | None:
        """How many releases are newer than `tag` (a release, a pre-release or any version)."""
        if tag in self.releases:
            return self.releases.index(tag)
        version = parse_version(tag)
        if version is None:
            return None
        return sum(1 for v in self.release_versions if v is not None and v > version)

    def shown(self, limit: int = 5) -> str:
        """The newest releases for a message, or the newest tags when there are none."""
        names = self.releases or self.tags
        text = ", ".join(names[:limit]) + (" …" if len(names) > limit else "")
        return text


def is_prerelease(tag: str) -> bool:
    version = parse_version(tag)
    return version is not None and version.is_prerelease


@dataclass(frozen=True)
class ResolvedModule:
    call: ModuleCall
    source: ModuleSource  # url and subdir filled in where the repository is known
    kind: RefKind
    ref: str | None = None  # the ?ref= (git forms) or the version constraint (registry)
    commit: str | None = None  # the commit the ref names (tags peeled)
    tag: str | None = None  # kind "tag": the tag's name (`v2.0.0` for ref `tags/v2.0.0`)
    refs: RemoteRefs | None = field(default=None, compare=False, repr=False)
    tags: TagIndex | None = field(default=None, compare=False, repr=False)
    error: ModuleRefError | None = field(default=None, compare=False)
    verified: bool = True  # False: a full SHA taken on trust (no local clone to check it in)

    @property
    def url(self) -> str | None:
        return self.source.url

    @property
    def newest_release(self) -> str | None:
        return self.tags.newest_release if self.tags else None

    @property
    def head(self) -> str | None:
        """The commit of the repository's default branch."""
        if self.refs is None:
            return None
        if self.refs.head:
            return self.refs.head
        for name in ("main", "master"):
            if name in self.refs.branches:
                return self.refs.branches[name]
        return None

    @property
    def head_branch(self) -> str | None:
        """The name of the default branch (what a floating git module follows)."""
        head = self.head
        if self.refs is None or head is None:
            return None
        names = sorted(n for n, sha in self.refs.branches.items() if sha == head)
        preferred = [n for n in ("main", "master") if n in names]
        return (preferred or names or [None])[0]


@dataclass(frozen=True)
class _ToList:
    """A module whose repository is known and must be listed to resolve its ref."""

    call: ModuleCall
    source: ModuleSource


class Resolver:
    """Resolves module calls to commits. Listings come from (and stay in) the lister."""

    def __init__(self, repo: EnvironmentsRepo, lister: RemoteLister):
        self.repo = repo
        self.lister = lister
        self.pattern = re.compile(repo.config.modules.release_tag_pattern)
        self._indexes: dict[str, TagIndex] = {}

    def resolve(self, calls: Iterable[ModuleCall]) -> list[ResolvedModule]:
        located = [self._locate(call) for call in calls]
        self.lister.prefetch(item.source.url or "" for item in located if isinstance(item, _ToList))
        return [self._resolve(item) if isinstance(item, _ToList) else item for item in located]

    def index(self, refs: RemoteRefs) -> TagIndex:
        """The sorted tags of a listing, computed once per repository per run."""
        if refs.url not in self._indexes:
            self._indexes[refs.url] = TagIndex.build(refs.tags, self.pattern)
        return self._indexes[refs.url]

    # ---- where each module lives -------------------------------------------------------
    def _locate(self, call: ModuleCall) -> ResolvedModule | _ToList:
        """The module's repository (to be listed next), or the answer when there is none."""
        source = call.source
        if source.kind == "registry":
            return ResolvedModule(call, source, "registry", ref=call.version)
        if source.kind == "other":
            return ResolvedModule(call, source, "other")
        if source.kind == "unsafe":
            return ResolvedModule(call, source, "unsafe", ref=source.ref)
        if source.kind == "sibling":
            try:
                return _ToList(call, resolve_sibling(self.repo, call))
            except ModuleRefError as exc:
                return ResolvedModule(call, source, "error", ref=source.ref, error=exc)
        if source.kind == "local":
            return self._locate_local(call)
        return _ToList(call, source)

    def _locate_local(self, call: ModuleCall) -> ResolvedModule | _ToList:
        """A plain local path: Terraform reads the directory, so its checkout is what runs."""
        assert call.source.path is not None
        target = (call.file.parent / call.source.path).resolve()
        if target.is_relative_to(self.repo.root):
            return ResolvedModule(call, call.source, "local")
        top = checkout_top(target) if target.exists() else None
        if top is None:
            return ResolvedModule(call, call.source, "floating")  # a plain directory
        subdir = target.relative_to(top).as_posix()
        located = replace(call.source, url=top.as_uri(), subdir="" if subdir == "." else subdir)
        return _ToList(call, located)

    # ---- which commit ------------------------------------------------------------------
    def _resolve(self, item: _ToList) -> ResolvedModule:
        call, source, url = item.call, item.source, item.source.url
        assert url is not None
        located = ResolvedModule(call, source, "floating")
        try:
            refs = self.lister.refs(url)
        except ModuleRefError as exc:
            message = exc.message.replace(url, display_url(url))  # no token in messages
            error = ModuleRefError(
                f"module {call.name!r}: {message}",
                where=call.where(self.repo),
                hint=exc.hint,
            )
            return replace(located, kind="error", ref=source.ref, error=error)
        resolved = replace(located, ref=source.ref, refs=refs, tags=self.index(refs))
        ref = source.ref
        if ref is None:
            return replace(resolved, kind="floating", commit=resolved.head)
        found = refs.lookup(ref)
        if found is not None and found[0] == "tag":
            return replace(resolved, kind="tag", commit=found[2], tag=found[1])
        if found is not None:
            return replace(resolved, kind="branch", commit=found[2])
        if is_full_sha(ref):
            exists = _commit_exists(url, ref, refs)
            if exists is False:
                return replace(resolved, kind="unknown")
            return replace(resolved, kind="sha", commit=ref, verified=exists is True)
        return replace(resolved, kind="unknown")


def _commit_exists(url: str, sha: str, refs: RemoteRefs) -> bool | None:
    """Whether a commit exists: True/False when it can be checked, None when it can't."""
    if sha in refs.tags.values() or sha in refs.branches.values() or sha == refs.head:
        return True
    path = local_path(url)
    local = gitutil.open_repo(path) if path is not None and path.exists() else None
    if local is None:
        return None  # a remote repository: ls-remote shows tips only, so trust the SHA
    import git

    try:
        local.git.cat_file("-e", f"{sha}^{{commit}}")
    except git.GitCommandError:
        return False
    return True


def local_path(url: str) -> Path | None:
    """The directory of a file:// URL or a plain path; None for remote URLs."""
    if url.startswith("file://"):
        return Path(urlsplit(url).path)
    if url.startswith("/") or (len(url) > 2 and url[1] == ":" and url[2] in "/\\"):
        return Path(url)
    return None


def display_url(url: str) -> str:
    """A URL fit for messages: any password or token in it is replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None and not (parts.username and parts.scheme in ("http", "https")):
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


# ---- the registry --------------------------------------------------------------------
def registry_versions(
    address: str, *, timeout: float = REGISTRY_TIMEOUT_SECONDS
) -> list[str] | ModuleRefError:
    """Every published version of a registry module, newest first, or why it is unknown."""
    host, _, path = address.partition("/")
    if "." not in host:  # no host: the public registry
        host, path = REGISTRY_DEFAULT_HOST, address
    try:
        base = _modules_api(host, timeout)
        data = _get_json(f"{base.rstrip('/')}/{path}/versions", timeout)
        versions = [
            str(v["version"])
            for module in data.get("modules", [])
            for v in module.get("versions", [])
            if "version" in v
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return ModuleRefError(
            f"registry unreachable: cannot list versions of {address} on {host}: {reason}",
            hint="newest versions are not shown; the run continues without them",
        )
    return sort_tags(versions)


def _modules_api(host: str, timeout: float) -> str:
    """The modules API base URL of a registry host (Terraform's service discovery)."""
    override = os.environ.get(REGISTRY_URL_ENV)
    if host == REGISTRY_DEFAULT_HOST:
        return f"{(override or 'https://' + host).rstrip('/')}/v1/modules"
    discovery = _get_json(f"https://{host}/.well-known/terraform.json", timeout)
    modules = str(discovery["modules.v1"])
    return modules if modules.startswith("http") else f"https://{host}{modules}"


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    import urllib.request  # here: only registry lookups pay for http.client and ssl

    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = json.loads(response.read().decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return data
