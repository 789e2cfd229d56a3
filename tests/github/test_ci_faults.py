"""`tfops ci` against an API that misbehaves: it ends, and says what went wrong where."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Tfops
from tests.github_api import TOKEN, FakeGithub, fake_github
from tests.github_events import pull_request_event, write_event
from tests.helpers import git, init_repo
from tfops.github import client as client_module

REPO = "acme/environments"
DEV = 'resource "terraform_data" "web" {\n  input = "web-dev"\n}\n'


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        yield server


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "env", {"dev_main.tf": DEV})


def run_ci(
    tfops: Tfops,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    api: FakeGithub,
    repo: Path,
    payload: dict[str, Any],
) -> Result:
    for name, value in {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(write_event(tmp_path, payload)),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    return tfops("ci", str(repo))


@pytest.mark.timeout(120)
def test_an_api_that_dribbles_one_byte_every_ten_seconds_does_not_hang_ci(
    tfops: Tfops, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: FakeGithub, repo: Path
) -> None:
    """Each byte arrives within the socket timeout; only the call's deadline can end it."""
    monkeypatch.setattr(client_module, "TIMEOUT_SECONDS", 11.0)  # > the 10 s between bytes
    monkeypatch.setattr(client_module, "DEADLINE_SECONDS", 11.0)
    sha = git(repo, "rev-parse", "HEAD")
    api.add_pull(7, sha, ["dev_main.tf"])
    api.fail(
        "GET", r"/pulls/7/files$", 200, body=b'[{"filename": "dev_main.tf"}]', dribble=10, times=5
    )

    started = time.monotonic()
    result = run_ci(tfops, monkeypatch, tmp_path, api, repo, pull_request_event(7, sha))

    assert time.monotonic() - started < 30
    assert result.exit_code == 1, result.output
    assert f"GET /repos/{REPO}/pulls/7/files: cannot reach the GitHub API" in result.stderr
    assert "no complete answer within 11s" in result.stderr and "Traceback" not in result.output


def test_an_html_page_instead_of_json_is_a_clear_error(
    tfops: Tfops, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: FakeGithub, repo: Path
) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    api.add_pull(7, sha, ["dev_main.tf"])
    page = b"<html><body>Unicorn! We're having a really bad day.</body></html>"
    api.fail("GET", r"/pulls/7/files$", 200, body=page, content_type="text/html")

    result = run_ci(tfops, monkeypatch, tmp_path, api, repo, pull_request_event(7, sha))

    assert result.exit_code == 1, result.output
    assert f"GET /repos/{REPO}/pulls/7/files: GitHub answered 200 with text/html" in result.stderr
    assert "Unicorn!" in result.stderr and "Traceback" not in result.output


def test_a_pull_request_number_that_is_not_a_number_names_the_field(
    tfops: Tfops, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: FakeGithub, repo: Path
) -> None:
    payload = pull_request_event(7, git(repo, "rev-parse", "HEAD"))
    payload["pull_request"]["number"] = "7"

    result = run_ci(tfops, monkeypatch, tmp_path, api, repo, payload)

    assert result.exit_code == 1, result.output
    assert 'event.json: the event payload\'s `pull_request.number` is "7"' in result.stderr
    assert "Traceback" not in result.output and api.requests == []
