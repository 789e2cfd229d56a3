"""Test helpers: real git repositories with real tags, and the demo sandbox."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

PROJECT = Path(__file__).resolve().parent.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def init_repo(path: Path, files: Mapping[str, str] | None = None, message: str = "initial") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    if files:
        write_files(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", message)
    return path


def commit(
    path: Path, files: Mapping[str, str], message: str = "change", tags: Sequence[str] = ()
) -> str:
    write_files(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", message)
    for tag in tags:
        git(path, "tag", tag)
    return git(path, "rev-parse", "HEAD")


def demo_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tfops_demo", PROJECT / "scripts" / "demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("tfops_demo", module)
    spec.loader.exec_module(module)
    return module


def build_sandbox(target: Path) -> Path:
    """The demo's two repos (modules with tags, environments) under `target`."""
    demo = demo_module()
    target.mkdir(parents=True, exist_ok=True)
    demo.build_modules(target / "modules")
    demo.build_environments(target / "environments")
    return target / "environments"
