"""The GitHub Actions event a `tfops ci` step runs for, read from the variables Actions sets.

The payload is GitHub's webhook payload for the event (`GITHUB_EVENT_PATH`). tfops reads
only a few fields of it; those it reads are checked, so a replayed or hand-made payload with,
say, a `pull_request.number` of "7" is a clear error naming the file and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfops.errors import TfopsError
from tfops.github.client import (
    DEFAULT_API_URL,
    DEFAULT_SERVER_URL,
    MAX_WAIT_SECONDS,
    GithubClient,
)


@dataclass(frozen=True)
class GithubEvent:
    """What Actions tells a step about its run, read from the standard variables."""

    name: str
    payload: dict[str, Any]
    repository: str
    api_url: str
    server_url: str
    token: str | None
    run_id: str | None
    step_summary: Path | None
    output: Path | None
    workspace: Path | None
    payload_path: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> GithubEvent:
        env = os.environ if environ is None else environ
        name = env.get("GITHUB_EVENT_NAME", "")
        if not name:
            raise TfopsError(
                "GITHUB_EVENT_NAME is not set: `tfops ci` runs inside a GitHub Actions workflow",
                hint="locally, use `tfops plan`; or set the GITHUB_* variables to replay an event",
            )
        payload_path = env.get("GITHUB_EVENT_PATH", "")
        return cls(
            name=name,
            payload=_read_payload(payload_path),
            repository=env.get("GITHUB_REPOSITORY", ""),
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
            token=env.get("GITHUB_TOKEN") or None,
            run_id=env.get("GITHUB_RUN_ID") or None,
            step_summary=_path(env.get("GITHUB_STEP_SUMMARY")),
            output=_path(env.get("GITHUB_OUTPUT")),
            workspace=_path(env.get("GITHUB_WORKSPACE")),
            payload_path=Path(payload_path),
        )

    @property
    def action(self) -> str:
        return str(self.payload.get("action") or "")

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def pull_request(self) -> dict[str, Any]:
        value = self.payload.get("pull_request")
        return value if isinstance(value, dict) else {}

    @property
    def pr_number(self) -> int | None:
        """The PR of a pull_request event, or of an issue_comment on a PR."""
        if self.pull_request.get("number") is not None:
            return self._integer(self.pull_request["number"], "pull_request.number")
        issue = self.payload.get("issue")
        if isinstance(issue, dict) and issue.get("pull_request") and "number" in issue:
            return self._integer(issue["number"], "issue.number")
        return None

    @property
    def head_sha(self) -> str | None:
        head = self.pull_request.get("head") or {}
        sha = head.get("sha") if isinstance(head, dict) else None
        if sha is None or sha == "":
            return None
        if not isinstance(sha, str):
            raise self._bad("pull_request.head.sha", sha, "a commit SHA")
        return sha

    @property
    def comment(self) -> dict[str, Any]:
        value = self.payload.get("comment")
        return value if isinstance(value, dict) else {}

    @property
    def comment_id(self) -> int | None:
        """The id of an issue_comment event's comment."""
        if self.comment.get("id") is None:
            return None
        return self._integer(self.comment["id"], "comment.id")

    def _integer(self, value: Any, field: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        raise self._bad(field, value, "a positive integer")

    def _bad(self, field: str, value: Any, expected: str) -> TfopsError:
        return TfopsError(
            f"the event payload's `{field}` is {json.dumps(value)[:40]}, not {expected}",
            where=str(self.payload_path) if self.payload_path else None,
            hint="GitHub writes this payload; when replaying an event, give it as GitHub does",
        )

    def client(self, *, max_wait: float | None = None) -> GithubClient:
        if not self.token:
            raise TfopsError(
                "GITHUB_TOKEN is not set, so tfops cannot read the pull request or comment on it",
                hint="add `env: GITHUB_TOKEN: ${{ github.token }}` to the step "
                "(the tfops action passes it for you)",
            )
        if not self.repository or "/" not in self.repository:
            raise TfopsError(
                f"GITHUB_REPOSITORY is {self.repository!r}; expected OWNER/NAME",
                hint="Actions sets it; when replaying an event, set it yourself",
            )
        return GithubClient(
            self.api_url,
            self.token,
            self.repository,
            max_wait=MAX_WAIT_SECONDS if max_wait is None else max_wait,
        )


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _read_payload(path: str) -> dict[str, Any]:
    if not path:
        raise TfopsError(
            "GITHUB_EVENT_PATH is not set: tfops needs the event payload",
            hint="Actions sets it; when replaying an event, point it at the payload JSON",
        )
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TfopsError("the event payload file does not exist", where=path) from None
    except (OSError, ValueError) as exc:
        raise TfopsError(f"cannot read the event payload: {exc}", where=path) from None
    if not isinstance(data, dict):
        raise TfopsError("the event payload is not a JSON object", where=path)
    return data
