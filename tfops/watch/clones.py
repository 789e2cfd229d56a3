"""The watcher's own clones: the environments repo and the module repos next to it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import git

from tfops.errors import TfopsError
from tfops.gitutil import git_message
from tfops.modules.calls import module_calls
from tfops.modules.resolve import display_url
from tfops.modules.siblings import sibling_url
from tfops.repo.environments import EnvironmentsRepo

GIT_TIMEOUT_SECONDS = 300.0
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0"}  # a service must never wait for a password prompt


# ---- clones ----------------------------------------------------------------------------


class FetchError(TfopsError):
    """A clone or fetch failed: the watcher backs off and tries again later."""


class Clone:
    """One clone in the state directory, following its `origin`."""

    def __init__(self, path: Path, url: str):
        self.path = path
        self.url = url
        self._repo: git.Repo | None = None

    @property
    def repo(self) -> git.Repo:
        if self._repo is None:
            self._repo = git.Repo(self.path)
        return self._repo

    def update(self) -> None:
        """Clone, or fetch what changed (tags too: a moved tag must be seen to be refused)."""
        if (self.path / ".git").is_dir():
            try:
                self._git("remote", "set-url", "origin", self.url)
                self._git("fetch", "--prune", "--tags", "--force", "--quiet", "origin")
                return
            except git.InvalidGitRepositoryError:
                shutil.rmtree(self.path)  # a clone cut short: start again
        elif self.path.exists():
            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._git("clone", "--quiet", "--no-checkout", "--", self.url, str(self.path), here=False)
        self._repo = None

    def head(self, branch: str | None) -> str:
        """The commit of origin's `branch` (its default branch when None)."""
        name = branch or self.default_branch()
        try:
            return str(self.repo.commit(f"refs/remotes/origin/{name}").hexsha)
        except (git.BadName, ValueError):
            branches = sorted(
                r.remote_head for r in self.repo.remote().refs if r.remote_head != "HEAD"
            )
            raise FetchError(
                f"{display_url(self.url)} has no branch {name!r}",
                hint=f"branches there: {', '.join(branches) or 'none'}",
            ) from None

    def default_branch(self) -> str:
        try:
            ref = str(self.repo.git.symbolic_ref("--short", "refs/remotes/origin/HEAD"))
            return ref.removeprefix("origin/")
        except git.GitCommandError:
            names = {r.remote_head for r in self.repo.remote().refs}
            return "main" if "main" in names or "master" not in names else "master"

    def checkout(self, commit: str) -> None:
        """Detach at `commit`, keeping untracked files (terraform's state, .terraform, .tfops)."""
        self._git("checkout", "--force", "--quiet", "--detach", commit)

    def changed_files(self, old: str, new: str) -> list[str] | None:
        """Paths changed between two commits; None when `old` is gone (a force-push)."""
        try:
            out = self.repo.git.diff("--name-only", "--no-renames", old, new)
        except git.GitCommandError:
            return None
        return [line for line in str(out).splitlines() if line]

    def _git(self, *args: str, here: bool = True) -> None:
        runner = self.repo.git if here else git.Git(str(self.path.parent))
        try:
            runner.execute(["git", *args], kill_after_timeout=GIT_TIMEOUT_SECONDS, env=GIT_ENV)
        except git.GitCommandError as exc:
            detail = git_message(exc)
            raise FetchError(
                f"git {args[0]} of {display_url(self.url)} failed: {_hide_url(detail, self.url)}",
                hint="check the URL, the network and the credentials git uses "
                "(the watcher never prompts for a password)",
            ) from None


def _hide_url(text: str, url: str) -> str:
    return text.replace(url, display_url(url))


# ---- module repos ----------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleRepo:
    """A repo next to the environments repo that its modules load from (`../name/…`)."""

    name: str
    url: str
    floating: tuple[str, ...]  # environments on its default branch (a local path, no ref)
    used_by: tuple[str, ...]


def module_repos(repo: EnvironmentsRepo, top: Path, origin: str) -> dict[str, ModuleRepo]:
    """The sibling repos the environments' module sources name, as `tfops.modules.siblings`
    finds them: a `modules.repos` entry, else the repo of that name next to `origin`."""
    found: dict[str, tuple[str, set[str], set[str]]] = {}
    for env in repo.environments.values():
        for call in module_calls(repo, env):
            source = call.source
            if source.kind not in ("local", "sibling") or source.path is None:
                continue
            target = Path(os.path.normpath(call.file.parent / source.path))
            if target.is_relative_to(top):
                continue  # a module inside the repo: its changes are the repo's own
            if not target.is_relative_to(top.parent):
                raise TfopsError(
                    f"module {call.name!r}: {source.path!r} points above the directory that "
                    "holds the repo and its siblings",
                    where=call.where(repo),
                    hint="tfops watch clones sibling repos next to the environments repo",
                )
            name = target.relative_to(top.parent).parts[0]
            if name not in found:
                found[name] = (_module_url(repo, target, name, origin), set(), set())
            _, floating, used_by = found[name]
            used_by.add(env.name)
            if source.kind == "local":
                floating.add(env.name)
    return {
        name: ModuleRepo(name, url, tuple(sorted(floating)), tuple(sorted(used_by)))
        for name, (url, floating, used_by) in sorted(found.items())
    }


def _module_url(repo: EnvironmentsRepo, target: Path, name: str, origin: str) -> str:
    for prefix, url in sorted(repo.config.modules.repos.items(), key=lambda kv: -len(kv[0])):
        base = Path(os.path.normpath(repo.root / prefix))
        if target == base or target.is_relative_to(base):
            return url
    return sibling_url(origin, name)
