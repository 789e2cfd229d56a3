"""GitHub Actions as a test sees it: the variables a step gets, event payloads, the fake API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Tfops
from tests.github_api import TOKEN, FakeGithub, fake_github
from tests.helpers import git

SECRET = "dfp_live_5f3a9c2e7b1d4e6f"  # in the example's secrets.auto.tfvars; masked by config
REPO = "acme/environments"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        yield server


@dataclass
class Actions:
    """The variables Actions sets for a step, pointing at the fake API."""

    api: FakeGithub
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    tfops: Tfops

    @property
    def summary(self) -> Path:
        return self.tmp / "step_summary.md"

    @property
    def output(self) -> Path:
        return self.tmp / "github_output.txt"

    def outputs(self) -> dict[str, str]:
        text = self.output.read_text() if self.output.exists() else ""
        return dict(line.split("=", 1) for line in text.splitlines())

    def run(
        self,
        event: str,
        payload: dict[str, Any],
        path: Path,
        *args: str,
        token: str | None = TOKEN,
    ) -> Result:
        event_file = self.tmp / f"event-{time.monotonic_ns()}.json"
        event_file.write_text(json.dumps(payload))
        env = {
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_file),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.api.url,
            "GITHUB_SERVER_URL": "https://github.test",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.output),
        }
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        if token:
            self.monkeypatch.setenv("GITHUB_TOKEN", token)
        else:
            self.monkeypatch.delenv("GITHUB_TOKEN", raising=False)
        publish_main(path)
        return self.tfops("ci", str(path), *args)


@pytest.fixture
def actions(
    api: FakeGithub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tfops: Tfops
) -> Actions:
    for name in ("GITHUB_WORKSPACE", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "actions").mkdir()
    return Actions(api, tmp_path / "actions", monkeypatch, tfops)


REPOSITORY = {"full_name": REPO, "default_branch": "main"}


def publish_main(path: Path) -> None:
    """What a full checkout has: the default branch as `origin/main` (tfops reads the
    trusted tfops.yaml from it)."""
    top = Path(git(path, "rev-parse", "--show-toplevel"))
    if (top / ".git" / "refs" / "heads" / "main").exists() or git(top, "branch", "--list", "main"):
        git(top, "update-ref", "refs/remotes/origin/main", "refs/heads/main")


def pr_event(number: int, sha: str, action: str = "opened") -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": sha, "repo": {"full_name": REPO}},
            "base": {"ref": "main", "repo": {"full_name": REPO}},
            "draft": False,
            "state": "closed" if action == "closed" else "open",
        },
        "repository": REPOSITORY,
    }


def comment_event(
    number: int, comment_id: int, body: str, login: str, association: str
) -> dict[str, Any]:
    return {
        "action": "created",
        "repository": REPOSITORY,
        "issue": {"number": number, "pull_request": {"url": "…"}},
        "comment": {
            "id": comment_id,
            "body": body,
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "user": {"login": login, "type": "User"},
            "author_association": association,
        },
    }


def tfops_comments(api: FakeGithub, number: int) -> list[dict[str, Any]]:
    return [c for c in api.comments_on(number) if c["body"].startswith("<!-- tfops:plan")]
