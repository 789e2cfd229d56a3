"""Where tfops keeps what it can work out again (`$XDG_CACHE_HOME/tfops`), and small JSON
entries there: written whole or not at all, and a damaged entry is a miss."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tfops"


def file_key(path: str) -> str | None:
    """What identifies an executable's build: real path, size and modification time."""
    real = os.path.realpath(path)
    try:
        stat = os.stat(real)
    except OSError:
        return None
    return f"{real}:{stat.st_size}:{stat.st_mtime_ns}"


def read_entry(path: Path) -> Any:
    """A cached JSON value, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_entry(path: Path, value: Any) -> None:
    """Write a cached JSON value atomically; a cache that can't be written is no error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
