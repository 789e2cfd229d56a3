"""What each environment runs: one row per module call, with its release status."""

from __future__ import annotations

from dataclasses import dataclass


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
