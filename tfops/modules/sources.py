"""Module `source` strings: what they point at and what they are pinned to.

Forms (DESIGN.md §1): local paths, the seed's sibling-repo path with `?ref=`, `git::`
URLs (https, ssh, file, scp-like), GitHub/Bitbucket shorthands, and registry addresses.

A source is text a pull request controls, and tfops hands git URLs to `git ls-remote`.
A URL git would read as an option (`git::--upload-pack=…`), a remote-helper transport
(`ext::sh -c …`, `fd::`), an unknown scheme (git would run `git-remote-<scheme>`), or
whitespace and control characters make the source `unsafe`: it is reported with its file
and line and never reaches git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode

SourceKind = Literal["local", "sibling", "git", "registry", "other", "unsafe"]

_REGISTRY = re.compile(
    r"^(?:(?P<host>[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?)/)?"
    r"(?P<namespace>[A-Za-z0-9][A-Za-z0-9_-]*)/(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*)/"
    r"(?P<provider>[a-z0-9]+)$"
)
_SHORTHANDS = {
    "github.com/": "https://github.com/",
    "bitbucket.org/": "https://bitbucket.org/",
}
_SCP_LIKE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:")
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
GIT_SCHEMES = ("https", "http", "ssh", "git", "file", "git+ssh", "ssh+git")
GIT_PROTOCOLS = "https:http:ssh:git:file"  # GIT_ALLOW_PROTOCOL for every git tfops runs
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_UNSAFE_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")
_TRANSPORTS = ("ext", "fd")  # git remote-helper transports that run commands or open fds


@dataclass(frozen=True)
class ModuleSource:
    raw: str
    kind: SourceKind
    url: str | None = None  # git clone URL (git forms); None until resolved for siblings
    subdir: str = ""  # the `//subdir` part
    ref: str | None = None  # the `?ref=` value
    path: str | None = None  # local and sibling: the path without the query
    registry: str | None = None  # registry address, e.g. hashicorp/consul/aws
    query: tuple[tuple[str, str], ...] = ()  # query parameters other than ref
    unsafe: str | None = None  # why git must never see this source (kind "unsafe")

    def with_ref(self, ref: str) -> str:
        """This source string with its ref replaced (or added), everything else unchanged."""
        base, _, query = self.raw.partition("?")
        params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "ref"]
        params.insert(0, ("ref", ref))
        return f"{base}?{urlencode(params, safe='/:@')}"


def parse_source(raw: str) -> ModuleSource:
    source = raw.strip()
    if source.startswith(("./", "../")) or source in (".", ".."):
        path, _, query = source.partition("?")
        params = parse_qsl(query, keep_blank_values=True)
        ref = dict(params).get("ref")
        rest = tuple((k, v) for k, v in params if k != "ref")
        if ref is not None:
            reason = unsafe_ref(ref)
            if reason:
                return _unsafe(raw, reason)
            return ModuleSource(raw, "sibling", path=path.rstrip("/"), ref=ref, query=rest)
        return ModuleSource(raw, "local", path=path)

    forced = None
    if "::" in source.split("/", 1)[0]:
        forced, source = source.split("::", 1)
    if forced in _TRANSPORTS:
        return _unsafe(raw, f"`{forced}::` is a git transport that runs commands")
    if forced not in (None, "git"):
        return ModuleSource(raw, "other")

    subdir_from_path = ""
    if forced is None:
        for short, prefix in _SHORTHANDS.items():
            if source.startswith(short):
                source, subdir_from_path = _shorthand(source[len(short) :], prefix)
                forced = "git"
                break
    if forced is None and _SCP_LIKE.match(source):
        forced = "git"
    if forced is None:
        match = _REGISTRY.match(source.split("//", 1)[0] if "//" in source else source)
        if match:
            address, _, subdir = source.partition("//")
            return ModuleSource(raw, "registry", registry=address, subdir=subdir)
        return ModuleSource(raw, "other")

    url_part, _, query = source.partition("?")
    url, subdir = _split_subdir(url_part)
    subdir = "/".join(p for p in (subdir_from_path, subdir) if p)
    params = parse_qsl(query, keep_blank_values=True)
    ref = dict(params).get("ref")
    rest = tuple((k, v) for k, v in params if k != "ref")
    if url.startswith(("https://github.com/", "https://bitbucket.org/")) and not url.endswith(
        ".git"
    ):
        url += ".git"
    reason = unsafe_url(url) or (unsafe_ref(ref) if ref is not None else None)
    if reason:
        return _unsafe(raw, reason)
    return ModuleSource(raw, "git", url=url, subdir=subdir, ref=ref, query=rest)


def _shorthand(rest: str, prefix: str) -> tuple[str, str]:
    """go-getter's GitHub/Bitbucket rule: `owner/repo` is the repository, any further path
    the subdirectory (`github.com/o/r/sub?ref=x` → repo o/r, subdir sub)."""
    path, mark, query = rest.partition("?")
    path, _, after = path.partition("//")
    parts = path.split("/")
    repo, sub = "/".join(parts[:2]), "/".join(p for p in parts[2:] if p)
    rebuilt = prefix + repo + (f"//{after}" if after else "") + (mark + query)
    return rebuilt, sub


def _unsafe(raw: str, reason: str) -> ModuleSource:
    return ModuleSource(raw, "unsafe", unsafe=reason)


def unsafe_url(url: str) -> str | None:
    """Why a git URL must not be handed to git; None when it may."""
    if url.startswith("-"):
        return "it starts with '-', which git would read as an option"
    scheme = _SCHEME.match(url)
    if scheme is None and "::" in url:
        return f"`{url.split('::', 1)[0]}::` is a git transport (it can run commands)"
    if _UNSAFE_CHARACTERS.search(url):
        return "it contains whitespace or control characters"
    if scheme is not None:
        if scheme.group(1).lower() not in GIT_SCHEMES:
            return f"scheme {scheme.group(1)!r} is not one of {', '.join(GIT_SCHEMES)}"
        return None
    if _SCP_LIKE.match(url) or url.startswith("/"):
        return None
    return "it is not a URL git can clone (https://, ssh://, file://, user@host:path)"


def unsafe_ref(ref: str) -> str | None:
    if ref.startswith("-"):
        return f"ref {ref!r} starts with '-', which git would read as an option"
    if _UNSAFE_CHARACTERS.search(ref):
        return "the ref contains whitespace or control characters"
    return None


def _split_subdir(url: str) -> tuple[str, str]:
    """go-getter's `//` rule: the first `//` after the scheme separates the subdirectory."""
    start = url.index("://") + 3 if "://" in url else 0
    index = url.find("//", start)
    if index == -1:
        return url, ""
    return url[:index], url[index + 2 :].strip("/")


def git_source(url: str, subdir: str, ref: str, query: tuple[tuple[str, str], ...] = ()) -> str:
    """A `git::` source string Terraform accepts."""
    params = urlencode([("ref", ref), *query], safe="/:@")
    sub = f"//{subdir}" if subdir else ""
    return f"git::{url}{sub}?{params}"


def is_full_sha(ref: str) -> bool:
    return bool(FULL_SHA.match(ref))
