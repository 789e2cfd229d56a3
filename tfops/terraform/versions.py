"""Versions: release tag ordering and Terraform-style version constraints."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_VERSION = re.compile(
    r"^v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?(?:-(?P<pre>[0-9A-Za-z.-]+))?"
    r"(?:\+[0-9A-Za-z.-]+)?$"
)
_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*(v?[0-9][0-9A-Za-z.+-]*)\s*$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int
    # A release sorts after its pre-releases: (1, "") > (0, "rc1").
    pre_rank: tuple[int, str]
    text: str = ""

    @property
    def is_prerelease(self) -> bool:
        return self.pre_rank[0] == 0

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str) -> Version | None:
    match = _VERSION.match(text.strip())
    if not match:
        return None
    pre = match.group("pre")
    return Version(
        int(match.group("major")),
        int(match.group("minor") or 0),
        int(match.group("patch") or 0),
        (0, pre) if pre else (1, ""),
        text,
    )


def sort_tags(tags: Iterable[str]) -> list[str]:
    """Tags newest first: version-like tags by version, then the rest by name."""
    versioned = [(v, t) for t in tags if (v := parse_version(t)) is not None]
    others = sorted(t for t in tags if parse_version(t) is None)
    return [t for _, t in sorted(versioned, reverse=True)] + others


def satisfies(version: str, constraints: str) -> bool:
    """Does `version` satisfy a Terraform constraint string like ">= 1.0, < 2.0, ~> 1.5"?"""
    current = parse_version(version)
    if current is None:
        raise ValueError(f"not a version: {version!r}")
    for part in constraints.split(","):
        if not part.strip():
            continue
        match = _CONSTRAINT.match(part)
        if not match:
            raise ValueError(f"not a version constraint: {part.strip()!r}")
        op, text = match.group(1) or "=", match.group(2)
        wanted = parse_version(text)
        if wanted is None:
            raise ValueError(f"not a version constraint: {part.strip()!r}")
        if not _check(current, op, wanted, text):
            return False
    return True


def _key(v: Version) -> tuple[int, int, int, tuple[int, str]]:
    return (v.major, v.minor, v.patch, v.pre_rank)


def _check(current: Version, op: str, wanted: Version, text: str) -> bool:
    a, b = _key(current), _key(wanted)
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    # ~> allows the rightmost given component to grow: ~> 1.2 → >=1.2,<2.0; ~> 1.2.3 → <1.3
    parts = text.lstrip("v").split("-")[0].split(".")
    if a < b:
        return False
    if len(parts) == 1:
        return True
    if len(parts) == 2:
        return current.major == wanted.major
    return (current.major, current.minor) == (wanted.major, wanted.minor)


def is_exact(constraint: str) -> bool:
    """An exact version pin such as "1.2.3" or "= 1.2.3" (no ranges)."""
    match = _CONSTRAINT.match(constraint)
    return bool(match and (match.group(1) in (None, "=")) and "," not in constraint)
