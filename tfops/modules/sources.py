"""Module `source` strings: what they point at and what they are pinned to.

Forms (DESIGN.md §1): local paths, the seed's sibling-repo path with `?ref=`, `git::`
URLs (https, ssh, file, scp-like), GitHub/Bitbucket shorthands, and registry addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode

SourceKind = Literal["local", "sibling", "git", "registry", "other"]

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
            return ModuleSource(raw, "sibling", path=path.rstrip("/"), ref=ref, query=rest)
        return ModuleSource(raw, "local", path=path)

    forced = None
    if "::" in source.split("/", 1)[0]:
        forced, source = source.split("::", 1)
    if forced not in (None, "git"):
        return ModuleSource(raw, "other")

    if forced is None:
        for short, prefix in _SHORTHANDS.items():
            if source.startswith(short):
                source = prefix + source[len(short) :]
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
    params = parse_qsl(query, keep_blank_values=True)
    ref = dict(params).get("ref")
    rest = tuple((k, v) for k, v in params if k != "ref")
    if url.startswith(("https://github.com/", "https://bitbucket.org/")) and not url.endswith(
        ".git"
    ):
        url += ".git"
    return ModuleSource(raw, "git", url=url, subdir=subdir, ref=ref, query=rest)


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
