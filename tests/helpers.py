"""Test helpers: real git repositories with real tags, and the demo sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from scripts.demo import build_environments, build_modules

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


def build_sandbox(target: Path) -> Path:
    """The demo's two repos (modules with tags, environments) under `target`."""
    target.mkdir(parents=True, exist_ok=True)
    build_modules(target / "modules")
    build_environments(target / "environments")
    return target / "environments"


def start_tfops(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """tfops in a subprocess and its own session, as a terminal or CI runner would start it."""
    return subprocess.Popen(
        [sys.executable, "-m", "tfops", "--color", "never", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        cwd=cwd,
    )


def wait_for(
    child: subprocess.Popen[str], marker: str, seen: list[str], timeout: float = 90
) -> None:
    """Read the child's output (into `seen`) until a line holds `marker`."""
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line and child.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return
    raise AssertionError("never saw " + marker + ":\n" + "".join(seen))


def finish(child: subprocess.Popen[str], seen: list[str]) -> str:
    """Everything the child printed, once it has exited."""
    output, _ = child.communicate(timeout=120)
    return "".join(seen) + output


def logging_terraform(bin_dir: Path) -> Path:
    """A `terraform` for the front of PATH that notes each command line in a log, then
    runs the real one: which terraform commands a run started. Returns the log."""
    real = shutil.which("terraform")
    assert real is not None, "terraform is not on PATH"
    log = bin_dir / "terraform.log"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "terraform"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    log.write_text("")
    return log


def terraform_commands(log: Path) -> list[str]:
    """The terraform subcommands in a log of `logging_terraform`, in order."""
    return [line.split()[0] for line in log.read_text().splitlines() if line.split()]
