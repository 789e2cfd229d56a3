"""Small GitPython helpers for the environments repo itself."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from tfops.errors import TfopsError

if TYPE_CHECKING:  # GitPython costs ~60 ms to import: only the commands that need it pay
    import git


def open_repo(path: Path) -> git.Repo | None:
    """The git repo containing `path`, or None when it is not in one."""
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def changed_files_since(root: Path, ref: str) -> list[str]:
    """Paths (relative to `root`) changed since the merge base of `ref` and HEAD.

    Includes uncommitted and untracked changes, so `tfops plan --changed-since main`
    on a laptop sees work in progress.
    """
    repo = open_repo(root)
    if repo is None or repo.working_tree_dir is None:
        raise TfopsError(f"{root} is not inside a git repository", hint="--changed-since needs git")
    import git

    try:
        base = repo.merge_base(ref, "HEAD")
    except git.GitCommandError as exc:
        raise TfopsError(
            f"cannot compare with {ref!r}: {git_message(exc)}",
            hint="fetch the ref first (e.g. `git fetch origin main`) or name an existing one",
        ) from None
    if not base:
        raise TfopsError(f"{ref!r} and HEAD have no common history")
    top = Path(repo.working_tree_dir).resolve()
    names = repo.git.diff("--name-only", "--no-renames", base[0].hexsha).splitlines()
    names += repo.untracked_files
    prefix = root.resolve().relative_to(top).as_posix()
    out = []
    for name in names:
        if prefix in ("", "."):
            out.append(name)
        elif name.startswith(prefix + "/"):
            out.append(name[len(prefix) + 1 :])
    return sorted(set(out))


def exclude_locally(root: Path, patterns: list[str]) -> None:
    """Add patterns to .git/info/exclude so generated files never show up as changes.

    The user's .gitignore is not touched.
    """
    found = checkout(root)
    if found is None:
        return
    top, git_dir = found
    try:
        prefix = root.resolve().relative_to(top).as_posix()
    except ValueError:
        return
    exclude = git_dir / "info" / "exclude"
    existing = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
    wanted = [f"/{prefix}/{p}" if prefix not in ("", ".") else f"/{p}" for p in patterns]
    new = [w for w in wanted if w not in existing]
    if new:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in ["# tfops generated files", *new]))


def checkout(path: Path) -> tuple[Path, Path] | None:
    """(work tree top, git dir) of the checkout holding `path`, by looking for `.git`.

    A few stat calls; a `.git` file (worktrees, submodules) points at the git dir.
    """
    path = path.resolve()
    for top in (path, *path.parents):
        marker = top / ".git"
        if marker.is_dir():
            return top, marker
        if marker.is_file():
            text = marker.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                return top, (top / text.removeprefix("gitdir:").strip()).resolve()
    return None


def head_commit(root: Path) -> str | None:
    """The checked-out commit, or None outside a repository or before the first commit."""
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def git_message(exc: git.GitCommandError) -> str:
    """What git said, without GitPython's `stderr: '…'` wrapping."""
    text = str(exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
    return stderr_message(text, exc.status)


def stderr_message(stderr: str, status: object) -> str:
    """The line of git's stderr that says what went wrong (its `fatal:` line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line.removeprefix("fatal:").strip() for line in lines if line.startswith("fatal:")]
    return (fatal or lines or [f"git exited with {status}"])[0]


def checkout_prefix(repo_root: Path) -> str:
    """Where the environments repo sits in its git checkout: GitHub paths start there."""
    checkout = open_repo(repo_root)
    top = checkout.working_tree_dir if checkout is not None else None
    if not top:
        return ""
    inside = repo_root.resolve().relative_to(Path(top).resolve()).as_posix()
    return "" if inside == "." else inside + "/"
