"""Listing a module repository's refs with plain `git ls-remote` (issue 14): the same
listing and the same errors as through GitPython, which is no longer imported for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.helpers import commit, git, init_repo
from tfops.errors import ModuleRefError
from tfops.modules.remote import RemoteLister

PROJECT = Path(__file__).resolve().parents[2]


def module_repo(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "backend", {"main.tf": ""})
    git(repo, "tag", "-a", "v1.0.0", "-m", "Release v1.0.0")
    commit(repo, {"main.tf": "# two"}, tags=["v1.1.0"])
    git(repo, "branch", "feature")
    return repo


def test_tags_branches_and_head_with_annotated_tags_peeled(tmp_path: Path) -> None:
    repo = module_repo(tmp_path)
    refs = RemoteLister(timeout=10).refs(repo.as_uri())
    first = git(repo, "rev-list", "-n1", "v1.0.0")
    head = git(repo, "rev-parse", "HEAD")
    assert refs.tags == {"v1.0.0": first, "v1.1.0": head}  # the commit, not the tag object
    assert refs.branches == {"main": head, "feature": head}
    assert refs.head == head
    assert refs.lookup("tags/v1.0.0") == ("tag", "v1.0.0", first)


def test_listing_does_not_import_gitpython(tmp_path: Path) -> None:
    repo = module_repo(tmp_path)
    probe = (
        "import sys\nfrom tfops.modules.remote import RemoteLister\n"
        f"RemoteLister().refs({repo.as_uri()!r})\nprint('git' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_a_missing_repository_says_what_git_said(tmp_path: Path) -> None:
    url = (tmp_path / "nowhere").as_uri()
    try:
        RemoteLister(timeout=10).refs(url)
    except ModuleRefError as exc:
        assert exc.message.startswith(f"cannot list tags of {url}: ")
        assert "does not appear to be a git repository" in exc.message
        assert "credentials" in (exc.hint or "")
    else:
        raise AssertionError("listed a repository that does not exist")


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/backend.git"
    try:
        RemoteLister(timeout=1).refs(url)
    except ModuleRefError as exc:
        assert exc.message == f"cannot list tags of {url}: timed out"
    else:
        raise AssertionError("a silent server was listed")
    finally:
        server.close()
        for connection in accepted:
            connection.close()


def test_an_unsafe_url_never_reaches_git() -> None:
    try:
        RemoteLister().refs("--upload-pack=touch /tmp/pwned")
    except ModuleRefError as exc:
        assert "refusing to list" in exc.message
    else:
        raise AssertionError("an option-like URL was listed")
