"""`tfops promote … --pr`: the promotion pushed and opened as a pull request, with the
module's changelog, against a real bare remote and the fake GitHub API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.github_api import TOKEN, FakeGithub, fake_github
from tests.helpers import GIT_ENV, commit, git
from tfops.github.client import GithubClient

BRANCH = "promote/prod_back_end-v1.2.0"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github() as server:
        yield server


@pytest.fixture
def environments(sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's repos with v1.2.0 released after a front_end-only commit, and the
    environments repo cloned from a bare `origin`."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    modules = sandbox.parent / "modules"
    path = modules / "front_end" / "main.tf"
    commit(modules, {"front_end/main.tf": path.read_text() + "\n"}, "Restyle the front end")
    commit(
        modules,
        {"db/README.md": "db\n"},
        "@acme/oncall Fixes #1 ``` </details> <script>",  # a hostile subject
    )
    git(modules, "tag", "-a", "v1.2.0", "-m", "Release 1.2.0")
    remote = tmp_path / "environments.git"
    git(tmp_path, "clone", "-q", "--bare", str(sandbox), str(remote))
    git(sandbox, "remote", "add", "origin", str(remote))
    git(sandbox, "fetch", "-q", "origin")
    return sandbox


@pytest.fixture
def github_env(api: FakeGithub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", api.repository)
    monkeypatch.setenv("GITHUB_API_URL", api.url)


def test_pr_pushes_the_branch_and_opens_the_pull_request_with_the_changelog(
    environments: Path, api: FakeGithub, github_env: None, tfops: Tfops, tmp_path: Path
) -> None:
    result = tfops("promote", "prod_back_end", "v1.2.0", str(environments), "--pr")
    assert result.exit_code == 0, result.output
    assert f"Pushed {BRANCH} to origin and opened pull request #1:" in result.stdout
    assert f"https://github.test/{api.repository}/pull/1" in result.stdout

    remote = tmp_path / "environments.git"
    pushed = git(remote, "rev-parse", BRANCH)
    assert pushed == git(environments, "rev-parse", "HEAD")
    changed = git(remote, "diff", "--name-only", f"main..{BRANCH}").split()
    assert changed == ["prod_back_end.tf", "tfops.lock.json"]

    (call,) = api.calls("POST", r"/pulls$")
    assert call.body["title"] == "Promote prod_back_end to v1.2.0 in prod"
    assert (call.body["head"], call.body["base"]) == (BRANCH, "main")
    body = call.body["body"]
    assert "| `prod_back_end` | prod_back_end.tf:3 |" in body
    assert "### Changes in back_end from v1.1.0 to v1.2.0" in body
    # the module's own commits and those of the ../db module it calls, newest first
    subjects = [line.split(" ", 1)[1] for line in body.splitlines() if _is_log_line(line)]
    assert subjects == [
        "@acme/oncall Fixes #1 ``` </details> <script>",
        "Add more awesomeness",
        "Fix a nasty bug",
        "Give the API more memory",
    ]
    assert "Restyle the front end" not in body  # front_end is another module
    assert "4 commit(s) touching back_end, db, newest first:" in body
    # the hostile subject sits inside a fence it cannot close: no mention, no keyword
    fence_at = body.index("````text")
    assert fence_at < body.index("@acme/oncall") < body.index("````", fence_at + 8)


def _is_log_line(line: str) -> bool:
    sha, _, subject = line.partition(" ")
    return len(sha) == 12 and all(c in "0123456789abcdef" for c in sha) and bool(subject)


def test_a_pull_request_github_refuses_is_a_clear_error_after_the_push(
    environments: Path, api: FakeGithub, github_env: None, tfops: Tfops
) -> None:
    GithubClient(api.url, TOKEN, api.repository).create_pull_request(
        title="Someone else's promotion", body="", head=BRANCH, base="main"
    )
    result = tfops("promote", "prod_back_end", "v1.2.0", str(environments), "--pr")
    assert result.exit_code == 1
    assert f"{BRANCH} is pushed, but the pull request could not be opened" in result.stderr
    assert "GitHub answered 422 (Validation Failed" in result.stderr
    assert "refuses a second pull request" in result.stderr


def test_pr_without_a_token_changes_nothing(
    environments: Path, api: FakeGithub, tfops: Tfops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    before = (environments / "prod_back_end.tf").read_bytes()
    result = tfops("promote", "prod_back_end", "v1.2.0", str(environments), "--pr")
    assert result.exit_code == 1
    assert "--pr needs GITHUB_TOKEN" in result.stderr
    assert (environments / "prod_back_end.tf").read_bytes() == before
    assert git(environments, "branch", "--list", BRANCH) == ""
    assert git(environments, "status", "--porcelain") == ""
    assert api.requests == []
