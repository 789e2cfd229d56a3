"""One `tfops ci` run: the Actions event, the environments repo, and the options given."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from tfops import gitutil
from tfops.console import Console
from tfops.github.client import GithubClient
from tfops.github.event import GithubEvent

# all: every drifted environment; configured: `heal: true` ones (and the dispatch input);
# none: only check
HealMode = Literal["all", "configured", "none"]


@dataclass
class CiContext:
    event: GithubEvent
    path: Path
    environments: tuple[str, ...] = ()
    parallelism: int = 2
    gates: bool = True
    heal: HealMode = "configured"  # schedule / workflow_dispatch: which drift to heal
    console: Console = field(default_factory=Console)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    _client: GithubClient | None = None

    def client(self) -> GithubClient:
        if self._client is None:
            self._client = self.event.client()
        return self._client

    def default_branch(self) -> str:
        """The repository's default branch: from the payload, else from the API."""
        repository = self.event.payload.get("repository")
        if isinstance(repository, dict) and repository.get("default_branch"):
            return str(repository["default_branch"])
        data = self.client().request("GET", f"/repos/{self.event.repository}").data
        branch = data.get("default_branch") if isinstance(data, dict) else None
        return str(branch or "main")

    def checkout_prefix(self) -> str:
        """Where the environments repo sits in the checkout: "" at the top, else "infra/"."""
        repo = gitutil.open_repo(self.path)
        top = (
            Path(repo.working_tree_dir) if repo and repo.working_tree_dir else self.event.workspace
        )
        if top is None:
            return ""
        try:
            relative = self.path.resolve().relative_to(top.resolve()).as_posix()
        except ValueError:
            return ""
        return "" if relative == "." else relative + "/"

    def repo_files(self, changed: list[str]) -> list[str]:
        """Paths relative to the repository → relative to the environments repo (others dropped)."""
        prefix = self.checkout_prefix()
        return [name[len(prefix) :] for name in changed if name.startswith(prefix)]
