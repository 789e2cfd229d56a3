"""GitHub Actions: the event tfops runs for, and a thin client for the REST API slice it uses.

The client is urllib only: pagination follows `Link: rel="next"`, rate limits are waited
out (`Retry-After`, `x-ratelimit-reset`; bounded by `max_wait`), and 401/403/404 become
errors that name the endpoint and the token permission that is missing.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from tfops import __version__
from tfops.errors import TfopsError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
MAX_WAIT_SECONDS = 120.0  # longest rate-limit wait tfops accepts before giving up
MAX_RETRIES = 3
TIMEOUT_SECONDS = 30.0
PAGE_SIZE = 100
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GithubError(TfopsError):
    """The GitHub API refused or failed a request. `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class GithubForbidden(GithubError):
    """403: the token may not do this (e.g. a read-only token on a pull request from a fork)."""


# ---- the event ---------------------------------------------------------------------------
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

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> GithubEvent:
        env = os.environ if environ is None else environ
        name = env.get("GITHUB_EVENT_NAME", "")
        if not name:
            raise TfopsError(
                "GITHUB_EVENT_NAME is not set: `tfops ci` runs inside a GitHub Actions workflow",
                hint="locally, use `tfops plan`; or set the GITHUB_* variables to replay an event",
            )
        return cls(
            name=name,
            payload=_read_payload(env.get("GITHUB_EVENT_PATH", "")),
            repository=env.get("GITHUB_REPOSITORY", ""),
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
            token=env.get("GITHUB_TOKEN") or None,
            run_id=env.get("GITHUB_RUN_ID") or None,
            step_summary=_path(env.get("GITHUB_STEP_SUMMARY")),
            output=_path(env.get("GITHUB_OUTPUT")),
            workspace=_path(env.get("GITHUB_WORKSPACE")),
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
        number = self.pull_request.get("number")
        if number is None:
            issue = self.payload.get("issue") or {}
            if isinstance(issue, dict) and issue.get("pull_request"):
                number = issue.get("number")
        return int(number) if number is not None else None

    @property
    def head_sha(self) -> str | None:
        head = self.pull_request.get("head") or {}
        sha = head.get("sha") if isinstance(head, dict) else None
        return str(sha) if sha else None

    @property
    def comment(self) -> dict[str, Any]:
        value = self.payload.get("comment")
        return value if isinstance(value, dict) else {}

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


# ---- the client --------------------------------------------------------------------------
@dataclass
class Response:
    status: int
    data: Any
    headers: Message


class GithubClient:
    """The REST calls tfops makes, against `api_url` (GitHub, GitHub Enterprise, or a test)."""

    def __init__(
        self,
        api_url: str,
        token: str,
        repository: str,
        *,
        max_wait: float = MAX_WAIT_SECONDS,
        max_retries: int = MAX_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.max_wait = max_wait
        self.max_retries = max_retries
        self._token = token
        self._sleep = sleep

    # ---- endpoints -------------------------------------------------------------------
    def pull_request(self, number: int) -> dict[str, Any]:
        data: dict[str, Any] = self.request("GET", f"{self._repo}/pulls/{number}").data
        return data

    def pull_request_files(self, number: int) -> list[str]:
        """Paths the PR changes, relative to the repository root (both sides of a rename)."""
        names: list[str] = []
        for item in self.paginate(f"{self._repo}/pulls/{number}/files"):
            names.append(str(item["filename"]))
            if item.get("previous_filename"):
                names.append(str(item["previous_filename"]))
        return names

    def pull_requests_for_commit(self, sha: str) -> list[dict[str, Any]]:
        return list(self.paginate(f"{self._repo}/commits/{sha}/pulls"))

    def issue_comments(self, number: int) -> Iterator[dict[str, Any]]:
        return self.paginate(f"{self._repo}/issues/{number}/comments")

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        path = f"{self._repo}/issues/{number}/comments"
        data: dict[str, Any] = self.request("POST", path, {"body": body}).data
        return data

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        path = f"{self._repo}/issues/comments/{comment_id}"
        data: dict[str, Any] = self.request("PATCH", path, {"body": body}).data
        return data

    def issues(self, *, labels: str = "", state: str = "open") -> Iterator[dict[str, Any]]:
        """Issues (not pull requests, which GitHub's issues endpoint lists too)."""
        query = urllib.parse.urlencode({"state": state, **({"labels": labels} if labels else {})})
        for item in self.paginate(f"{self._repo}/issues?{query}"):
            if "pull_request" not in item:
                yield item

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": labels}
        data: dict[str, Any] = self.request("POST", f"{self._repo}/issues", payload).data
        return data

    def update_issue(self, number: int, **fields: Any) -> dict[str, Any]:
        """Change an issue's title, body, state ("open"/"closed"), state_reason or labels."""
        data: dict[str, Any] = self.request("PATCH", f"{self._repo}/issues/{number}", fields).data
        return data

    def add_reaction(self, comment_id: int, content: str) -> None:
        path = f"{self._repo}/issues/comments/{comment_id}/reactions"
        self.request("POST", path, {"content": content})

    def permission(self, login: str) -> str:
        """admin | maintain | write | triage | read | none (none when not a collaborator)."""
        path = f"{self._repo}/collaborators/{urllib.parse.quote(login)}/permission"
        try:
            data = self.request("GET", path).data
        except GithubError as exc:
            if exc.status == 404:
                return "none"
            raise
        role = str(data.get("role_name") or "")
        return role if role in ("maintain", "triage") else str(data.get("permission") or "none")

    def own_login(self) -> str | None:
        """The token's own login (a personal or fine-grained token); None when GitHub won't
        say, as for installation tokens such as Actions' GITHUB_TOKEN (403)."""
        try:
            data = self.request("GET", "/user").data
        except GithubError as exc:
            if exc.status in (401, 403, 404):
                return None
            raise
        login = data.get("login") if isinstance(data, dict) else None
        return str(login) if login else None

    def pull_request_reviews(self, number: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"{self._repo}/pulls/{number}/reviews"))

    def file_contents(self, path: str, ref: str) -> bytes | None:
        """A file's bytes at `ref` (the contents API); None when it does not exist there."""
        query = urllib.parse.urlencode({"ref": ref})
        try:
            data = self.request(
                "GET", f"{self._repo}/contents/{urllib.parse.quote(path)}?{query}"
            ).data
        except GithubError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            raise GithubError(f"GET contents/{path}: not a file at {ref}", status=0)
        import base64

        return base64.b64decode(str(data.get("content") or ""))

    # ---- plumbing --------------------------------------------------------------------
    @property
    def _repo(self) -> str:
        return f"/repos/{self.repository}"

    def paginate(self, path: str) -> Iterator[dict[str, Any]]:
        url: str | None = self._url(path, {"per_page": str(PAGE_SIZE)})
        while url:
            response = self.request("GET", url)
            if not isinstance(response.data, list):
                raise GithubError(
                    f"GET {path}: expected a list, got {type(response.data).__name__}", status=0
                )
            yield from response.data
            match = _NEXT_LINK.search(response.headers.get("Link") or "")
            url = match.group(1) if match else None

    def _url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def request(self, method: str, path: str, body: Any = None) -> Response:
        url = self._url(path)
        endpoint = f"{method} {urllib.parse.urlsplit(url).path}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(url, data=data, method=method)
            request.add_header("Accept", "application/vnd.github+json")
            request.add_header("Authorization", f"Bearer {self._token}")
            request.add_header("X-GitHub-Api-Version", "2022-11-28")
            request.add_header("User-Agent", f"tfops/{__version__}")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                    raw = answer.read()
                    return Response(answer.status, json.loads(raw) if raw else None, answer.headers)
            except urllib.error.HTTPError as exc:
                text = exc.read().decode("utf-8", "replace")
                wait = self._retry_wait(exc.code, exc.headers, text, attempt)
                if wait is None or attempt == self.max_retries:
                    raise _error(endpoint, exc.code, text, exc.headers) from None
                if wait > self.max_wait:
                    raise GithubError(
                        f"{endpoint}: GitHub's rate limit asks tfops to wait {wait:.0f}s, "
                        f"longer than it waits ({self.max_wait:.0f}s)",
                        status=exc.code,
                        hint="re-run the job later, or run fewer tfops jobs at once",
                    ) from None
                self._sleep(wait)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.max_retries:
                    reason = getattr(exc, "reason", exc)
                    raise GithubError(
                        f"{endpoint}: cannot reach the GitHub API at {self.api_url}: {reason}",
                        status=0,
                        hint="check GITHUB_API_URL and the runner's network",
                    ) from None
                self._sleep(min(2.0**attempt, self.max_wait))
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_wait(self, status: int, headers: Message, text: str, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when retrying can't help."""
        retry_after = headers.get("Retry-After")
        remaining = headers.get("x-ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset")
        rate_limited = status == 429 or (
            status == 403
            and (retry_after is not None or remaining == "0" or "rate limit" in text.lower())
        )
        if rate_limited:
            if retry_after is not None and retry_after.strip().isdigit():
                return float(retry_after)
            if remaining == "0" and reset and reset.strip().isdigit():
                return max(0.0, float(reset) - time.time()) + 1.0
            return 60.0  # a secondary limit without a hint: GitHub says wait a minute
        if status in (500, 502, 503, 504):
            return 2.0**attempt
        return None

    def create_pull_request(self, *, title: str, body: str, head: str, base: str) -> dict[str, Any]:
        """Open a pull request from branch `head` into `base` (201: the pull request)."""
        payload = {"title": title, "body": body, "head": head, "base": base}
        data: dict[str, Any] = self.request("POST", f"{self._repo}/pulls", payload).data
        return data


def _error(endpoint: str, status: int, text: str, headers: Message) -> GithubError:
    try:
        detail = str(json.loads(text).get("message") or "")
    except (ValueError, AttributeError):
        detail = text.strip()[:200]
    message = f"{endpoint}: GitHub answered {status}" + (f" ({detail})" if detail else "")
    if status == 401:
        return GithubError(
            message,
            status=status,
            hint="the token is missing, expired or invalid; pass "
            "`GITHUB_TOKEN: ${{ github.token }}` (or the action's github-token input)",
        )
    if status == 403:
        return GithubForbidden(message, status=status, hint=_permission_hint(endpoint))
    if status == 404:
        return GithubError(
            message,
            status=status,
            hint="check GITHUB_REPOSITORY and the pull request number; GitHub also answers "
            f"404 when the token may not see the repository ({_permission_hint(endpoint)})",
        )
    return GithubError(message, status=status)


def _permission_hint(endpoint: str) -> str:
    method, _, path = endpoint.partition(" ")
    if re.search(r"/issues(/\d+)?$", path):
        if method != "GET":
            return "the token needs `issues: write` (`permissions:` in the workflow)"
        return "the token needs `issues: read`"
    if path.endswith(("/comments", "/reactions")) or "/issues/comments/" in path:
        if method != "GET":
            return (
                "the token needs `pull-requests: write` (`permissions:` in the workflow); "
                "pull requests from forks only get a read-only token"
            )
        return "the token needs `pull-requests: read`"
    if "/pulls" in path:
        return "the token needs `pull-requests: read` and `contents: read`"
    if "/collaborators/" in path:
        return "the token needs `metadata: read` on the repository"
    return "check the token's `permissions:` in the workflow"
