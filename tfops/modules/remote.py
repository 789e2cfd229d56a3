"""List a module repository's tags and branches with `git ls-remote`.

Each repository is listed once per run; several are listed in parallel, each under a
timeout. Annotated tags are peeled to the commit they point at. git runs directly (as
`tfops.terraform.process` runs every tool): GitPython would only wrap this one command,
and importing it costs more than the listing (it runs `git version` twice).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tfops.errors import Interrupted, ModuleRefError, TfopsError
from tfops.gitutil import stderr_message
from tfops.modules.sources import GIT_PROTOCOLS, unsafe_url
from tfops.terraform import process


@dataclass(frozen=True)
class RemoteRefs:
    url: str
    tags: dict[str, str] = field(default_factory=dict)  # tag → commit sha
    branches: dict[str, str] = field(default_factory=dict)  # branch → commit sha
    head: str | None = None

    def resolve(self, ref: str) -> str | None:
        """The commit a ref names as a tag or a branch (see `lookup`)."""
        found = self.lookup(ref)
        return found[2] if found else None

    def lookup(self, ref: str) -> tuple[str, str, str] | None:
        """(kind "tag" or "branch", its short name, commit) of a ref, as git resolves it:
        `refs/<ref>` first (so `tags/v2.0.0` and `refs/tags/v2.0.0` are tag v2.0.0,
        `heads/main` is branch main), then a tag, then a branch of that name."""
        for full in (ref, f"refs/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}"):
            if full.startswith("refs/tags/") and full[10:] in self.tags:
                return "tag", full[10:], self.tags[full[10:]]
            if full.startswith("refs/heads/") and full[11:] in self.branches:
                return "branch", full[11:], self.branches[full[11:]]
        return None


def parse_ls_remote(url: str, output: str) -> RemoteRefs:
    tags: dict[str, str] = {}
    peeled: dict[str, str] = {}
    branches: dict[str, str] = {}
    head = None
    for line in output.splitlines():
        sha, _, name = line.partition("\t")
        if name == "HEAD":
            head = sha
        elif name.startswith("refs/heads/"):
            branches[name.removeprefix("refs/heads/")] = sha
        elif name.startswith("refs/tags/"):
            tag = name.removeprefix("refs/tags/")
            if tag.endswith("^{}"):
                peeled[tag[:-3]] = sha
            else:
                tags[tag] = sha
    tags.update(peeled)  # an annotated tag's ^{} line is the commit
    return RemoteRefs(url, tags, branches, head)


class RemoteLister:
    """Lists refs of remote repositories, caching each URL for the life of the lister."""

    def __init__(self, timeout: float = 30.0, max_workers: int = 8):
        self.timeout = timeout
        self.max_workers = max_workers
        self._cache: dict[str, RemoteRefs | ModuleRefError] = {}
        self._lock = threading.Lock()

    def refs(self, url: str) -> RemoteRefs:
        self.prefetch([url])
        result = self._cache[url]
        if isinstance(result, ModuleRefError):
            raise result
        return result

    def prefetch(self, urls: Iterable[str]) -> None:
        """List every URL not yet listed, in parallel. Errors are kept for `refs` to raise."""
        todo = sorted({u for u in urls if u not in self._cache})
        if not todo:
            return
        if len(todo) == 1:
            self._store(todo[0], self._list(todo[0]))
            return
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(todo))) as pool:
            for url, result in zip(todo, pool.map(self._list, todo), strict=True):
                self._store(url, result)

    def _store(self, url: str, result: RemoteRefs | ModuleRefError) -> None:
        with self._lock:
            self._cache[url] = result

    def _list(self, url: str) -> RemoteRefs | ModuleRefError:
        unsafe = unsafe_url(url)
        if unsafe is not None:  # never handed to git, whoever asks
            return ModuleRefError(
                f"refusing to list {url!r}: {unsafe}",
                hint="module sources and modules.repos must be plain git URLs",
            )
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ALLOW_PROTOCOL": GIT_PROTOCOLS,
            "GIT_SSH_COMMAND": os.environ.get(
                "GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=10"
            ),
            "LANGUAGE": "C",
            "LC_ALL": "C",  # git's messages in English, as they are quoted
        }
        try:
            result = process.run(
                ["git", "ls-remote", "--", url],
                cwd=Path.cwd(),
                env=env,
                timeout=self.timeout,
                what="git ls-remote",
            )
        except Interrupted:
            raise
        except TfopsError as exc:
            reason = "timed out" if "timed out" in exc.message else exc.message
            return _cannot_list(url, reason)
        if result.returncode != 0:
            return _cannot_list(url, stderr_message(result.stderr, result.returncode))
        return parse_ls_remote(url, result.stdout)


def _cannot_list(url: str, reason: str) -> ModuleRefError:
    return ModuleRefError(
        f"cannot list tags of {url}: {reason}",
        hint="check the URL, your network and credentials "
        "(in CI: a token or deploy key with read access)",
    )
