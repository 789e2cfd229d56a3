"""GitHub's REST API, the slice tfops uses: typed answers, bounded waits, no repeated writes.

What a caller can rely on:

- **Answers are checked.** Every answer is JSON of the shape `shapes.py` names, or a
  `GithubError` that names the endpoint and the field: never a JSONDecodeError, a KeyError or
  a `None` where GitHub promises a value (a proxy's HTML page, an API that is not GitHub's).
- **Bodies fit.** Comment and issue bodies over GitHub's limit (65,536 UTF-16 code units,
  `body.py`) are cut at a line boundary with a note, never sent to be refused.
- **A POST that creates is not repeated blindly.** After a 5xx or a lost answer, GitHub may
  have created the comment or issue anyway; before sending it again the client looks for it
  among the conversation's recent comments (the same body, by this token's identity, created
  since just before the POST) and returns it if it is there. A POST that cannot be checked
  is not retried after such a failure at all.
- **Rate limits are waited out** (`Retry-After`, `x-ratelimit-remaining`/`-reset`, and the
  secondary limits' 403/429 messages: at least a minute, doubling), each wait at most
  `max_wait`; a longer one is an error that says so.
- **Every call ends.** Each exchange has a deadline from connecting to the last byte
  (`timeout`), and each call one over all its attempts (`deadline`; rate-limit waits come on
  top), so an API that dribbles its answer cannot hold a run (`transport.py`).
- **The token stays on the API's origin**: redirects elsewhere lose it (`transport.py`), and
  pagination links to another origin are refused.

Why not PyGithub: it is the field's maintained client, but measured against this client it
costs more than it brings. Importing it (with requests, urllib3, PyJWT, PyNaCl, cryptography)
adds ~140 ms and ~20 MiB to `tfops ci` (0.31 s → 0.45 s median for tfops's imports), where
tfops keeps start-up near 100 ms. On the behaviours above, PyGithub 2.x, tried against a
local server: retries a POST after a 502 blindly (its GithubRetry allows POST; a second comment
is created); handles rate limits well (Retry-After, reset, secondary messages,
`max_rate_limit_wait`); refuses a 301 to another host and drops the token on a cross-host
302; has only requests' per-read timeout (an answer dribbled at 1 byte / 2 s took 150 s with
`timeout=5`); returns an Issue whose fields are None for a 200 HTML page and lets a
JSONDecodeError escape for malformed JSON. So tfops would still have to wrap it for repeated
writes, deadlines and answer checking, which is most of what this package is (client,
transport, shapes and body: ~1,100 lines, on the standard library only), tested against a fake
held to GitHub's OpenAPI description.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tfops import __version__
from tfops.errors import TfopsError
from tfops.github import transport
from tfops.github.body import fit_body
from tfops.github.errors import FileListTruncated, GithubError, GithubForbidden
from tfops.github.shapes import (
    CollaboratorPermission,
    ContentFile,
    DiffEntry,
    Issue,
    IssueComment,
    PullRequest,
    PullRequestSimple,
    Repository,
    Review,
    User,
    checked,
    checked_list,
)

__all__ = [
    "BOT_LOGIN",
    "DEFAULT_API_URL",
    "DEFAULT_SERVER_URL",
    "FileListTruncated",
    "GithubClient",
    "GithubError",
    "GithubForbidden",
    "Response",
]

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
BOT_LOGIN = "github-actions[bot]"  # who GITHUB_TOKEN writes as
MAX_WAIT_SECONDS = 120.0  # longest rate-limit wait tfops accepts before giving up
MAX_RETRIES = 3
TIMEOUT_SECONDS = 30.0  # one exchange, from connecting to the answer's last byte
DEADLINE_SECONDS = 90.0  # one call: every attempt and the pauses between them
SECONDARY_WAIT_SECONDS = 60.0  # GitHub: "wait for at least one minute", then longer
CLOCK_SKEW_SECONDS = 120  # how far GitHub's clock may be from ours
PAGE_SIZE = 100  # GitHub's largest page
MAX_PR_FILES = 3000  # GitHub lists at most this many files of a pull request
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_SERVER_ERRORS = (500, 502, 503, 504)
_SECONDARY_LIMIT = (
    "secondary rate limit",
    "abuse detection",
    "please wait a few minutes before you try again",
    "please retry your request again later",
)
_API_URL_HINT = (
    "check GITHUB_API_URL: it must be GitHub's REST API (https://api.github.com, or "
    "https://HOST/api/v3 on GitHub Enterprise), not a web page or a proxy's login page"
)
_UNSET: Any = object()
T = TypeVar("T")


@dataclass
class Response:
    status: int
    data: Any
    headers: Message
    endpoint: str = ""


class GithubClient:
    """The REST calls tfops makes, against `api_url` (GitHub, GitHub Enterprise, or a test)."""

    def __init__(
        self,
        api_url: str,
        token: str,
        repository: str,
        *,
        max_wait: float | None = None,
        max_retries: int = MAX_RETRIES,
        timeout: float | None = None,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.api_url = api_url.rstrip("/")
        self.full_name = repository  # OWNER/NAME
        self.max_wait = MAX_WAIT_SECONDS if max_wait is None else max_wait
        self.max_retries = max_retries
        self.timeout = TIMEOUT_SECONDS if timeout is None else timeout
        self.deadline = DEADLINE_SECONDS if deadline is None else deadline
        self._token = token
        self._sleep = sleep
        self._login: str | None = _UNSET

    # ---- pull requests -----------------------------------------------------------------
    def pull_request(self, number: int) -> PullRequest:
        """The full pull request: state, draft, merged, mergeable, head and base, …"""
        return self._get(f"{self._repo}/pulls/{number}", PullRequest)

    def pull_request_files(self, number: int) -> list[str]:
        """Paths the PR changes, relative to the repository root (both sides of a rename).

        Raises FileListTruncated when the PR changes more files than GitHub lists (3,000).
        """
        entries = list(self.paginate(f"{self._repo}/pulls/{number}/files", DiffEntry))
        names: list[str] = []
        for entry in entries:
            names.append(entry["filename"])
            if "previous_filename" in entry:
                names.append(entry["previous_filename"])
        if len(entries) >= MAX_PR_FILES:
            changed = self.pull_request(number)["changed_files"]
            if changed > len(entries):
                raise FileListTruncated(
                    f"pull request #{number} changes {changed:,} files; GitHub lists only the "
                    f"first {len(entries):,}",
                    listed=names,
                    changed_files=changed,
                    hint="compare the PR's base and head with git instead "
                    "(`git diff --name-only BASE...HEAD`), or split the pull request",
                )
        return names

    def pull_request_reviews(self, number: int) -> list[Review]:
        """Every review, oldest first (`commit_id` says which head each one reviewed)."""
        return list(self.paginate(f"{self._repo}/pulls/{number}/reviews", Review))

    def pull_requests_for_commit(self, sha: str) -> list[PullRequestSimple]:
        """The PRs a commit belongs to (merged ones carry `merged_at`), as simple objects."""
        return list(self.paginate(f"{self._repo}/commits/{sha}/pulls", PullRequestSimple))

    def create_pull_request(self, *, title: str, body: str, head: str, base: str) -> dict[str, Any]:
        """Open a pull request from branch `head` into `base` (201: the pull request)."""
        payload = {"title": title, "body": fit_body(body), "head": head, "base": base}
        data: dict[str, Any] = self.request("POST", f"{self._repo}/pulls", payload).data
        return data

    # ---- the repository ----------------------------------------------------------------
    def repository(self) -> Repository:
        return self._get(self._repo, Repository)

    def file_contents(self, path: str, ref: str) -> bytes | None:
        """The bytes of `path` at `ref` (a branch, tag or SHA), or None when GitHub has no such
        file there (GitHub also answers 404 when the token may not read the repository)."""
        if not path or any(part in ("", ".", "..") for part in path.split("/")):
            raise TfopsError(f"{path!r} is not a path inside the repository")
        query = urllib.parse.urlencode({"ref": ref})
        try:
            response = self.request(
                "GET", f"{self._repo}/contents/{urllib.parse.quote(path)}?{query}"
            )
        except GithubError as exc:
            if exc.status == 404:
                return None
            raise
        where = f"{path} at {ref}"
        if isinstance(response.data, list):
            raise GithubError(f"{response.endpoint}: {where} is a directory", status=200)
        data = checked(response.data, ContentFile, response.endpoint)
        if data["encoding"] != "base64":
            raise GithubError(
                f"{response.endpoint}: GitHub leaves {where} ({data['size']:,} bytes) out of "
                f"the contents API (encoding {data['encoding']!r}): it serves files of 1 MB "
                "at most this way",
                status=200,
            )
        try:
            return base64.b64decode(data["content"])
        except (binascii.Error, ValueError):
            raise GithubError(
                f"{response.endpoint}: the content of {where} is not valid base64", status=200
            ) from None

    def own_login(self) -> str | None:
        """The login this token acts as, or None when GitHub will not say (403 for an
        installation token such as GITHUB_TOKEN, which writes as `github-actions[bot]`)."""
        if self._login is _UNSET:
            try:
                self._login = self._get("/user", User)["login"]
            except GithubForbidden:
                self._login = None
        return self._login

    def permission(self, login: str) -> str:
        """admin | maintain | write | triage | read | none (none when not a collaborator).

        A custom role answers with the permission it is based on."""
        path = f"{self._repo}/collaborators/{urllib.parse.quote(login)}/permission"
        try:
            data = self._get(path, CollaboratorPermission)
        except GithubError as exc:
            if exc.status == 404:
                return "none"
            raise
        role = data["role_name"]
        return role if role in ("maintain", "triage") else data["permission"] or "none"

    # ---- comments ----------------------------------------------------------------------
    def issue_comments(self, number: int) -> Iterator[IssueComment]:
        return self.paginate(f"{self._repo}/issues/{number}/comments", IssueComment)

    def create_comment(self, number: int, body: str) -> IssueComment:
        path = f"{self._repo}/issues/{number}/comments"
        body = fit_body(body)
        since = _since()

        def created() -> IssueComment | None:
            recent = self.paginate(path, IssueComment, {"since": _iso(since)})
            return next(
                (
                    c
                    for c in recent
                    if c.get("body") == body and _at(c["created_at"]) >= since and self._mine(c)
                ),
                None,
            )

        response = self.request("POST", path, {"body": body}, find_created=created)
        return checked(response.data, IssueComment, response.endpoint)

    def update_comment(self, comment_id: int, body: str) -> IssueComment:
        path = f"{self._repo}/issues/comments/{comment_id}"
        response = self.request("PATCH", path, {"body": fit_body(body)})
        return checked(response.data, IssueComment, response.endpoint)

    def add_reaction(self, comment_id: int, content: str) -> None:
        path = f"{self._repo}/issues/comments/{comment_id}/reactions"
        self.request("POST", path, {"content": content}, repeatable=True)  # GitHub keeps one

    # ---- issues ------------------------------------------------------------------------
    # The issue calls return plain dicts (checked as shapes.Issue) while commands/drift.py
    # annotates them so; `Issue` is the type to move to.
    def issues(self, *, labels: str = "", state: str = "open") -> Iterator[dict[str, Any]]:
        """Issues (not pull requests, which GitHub's issues endpoint lists too)."""
        params = {"state": state, **({"labels": labels} if labels else {})}
        for item in self.paginate(f"{self._repo}/issues", Issue, params):
            if "pull_request" not in item:
                yield dict(item)

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        body = fit_body(body)
        since = _since()

        def created() -> Issue | None:
            params = {"state": "all", "since": _iso(since), "sort": "created", "direction": "desc"}
            for issue in self.paginate(f"{self._repo}/issues", Issue, params):
                if _at(issue["created_at"]) < since:
                    break
                if issue["title"] == title and issue.get("body") == body and self._mine(issue):
                    return issue
            return None

        payload = {"title": title, "body": body, "labels": labels}
        response = self.request("POST", f"{self._repo}/issues", payload, find_created=created)
        return dict(checked(response.data, Issue, response.endpoint))

    def update_issue(self, number: int, **fields: Any) -> dict[str, Any]:
        """Change an issue's title, body, state ("open"/"closed"), state_reason or labels."""
        if isinstance(fields.get("body"), str):
            fields["body"] = fit_body(fields["body"])
        response = self.request("PATCH", f"{self._repo}/issues/{number}", fields)
        return dict(checked(response.data, Issue, response.endpoint))

    # ---- plumbing ----------------------------------------------------------------------
    @property
    def _repo(self) -> str:
        return f"/repos/{self.full_name}"

    def _get(self, path: str, shape: type[T]) -> T:
        response = self.request("GET", path)
        return checked(response.data, shape, response.endpoint)

    def _mine(self, item: IssueComment | Issue) -> bool:
        """Written with this token: by its login where GitHub tells it, else by a bot (an
        installation token writes as its app's bot, and nobody else can post as one)."""
        user = item["user"]
        if user is None:
            return False
        login = self.own_login()
        return user["login"] == login if login is not None else user["type"] == "Bot"

    def paginate(
        self, path: str, item: type[T], params: Mapping[str, str] | None = None
    ) -> Iterator[T]:
        """Every item of a list endpoint, page by page (`Link: rel="next"`), each checked."""
        url: str | None = self._url(path, {**(params or {}), "per_page": str(PAGE_SIZE)})
        while url:
            response = self.request("GET", url)
            yield from checked_list(response.data, item, response.endpoint)
            match = _NEXT_LINK.search(response.headers.get("Link") or "")
            url = self._url(match.group(1)) if match else None

    def _url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        if transport.origin(url) != transport.origin(self.api_url):
            raise GithubError(
                f"GitHub pointed tfops at {urllib.parse.urlsplit(url).netloc}, not at the API "
                f"({self.api_url}): tfops sends its token only to the API",
                status=0,
                hint=_API_URL_HINT,
            )
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        find_created: Callable[[], Any] | None = None,
        repeatable: bool = False,
    ) -> Response:
        """One call: retried after 5xx and lost answers, rate limits waited out.

        A POST is sent again after a failure that may have hidden its success (5xx, no
        answer) only when it is `repeatable`, or when `find_created` (asked after the pause)
        finds nothing; what it finds is returned as the answer.
        """
        url = self._url(path)
        endpoint = f"{method} {urllib.parse.urlsplit(url).path}"
        data = json.dumps(body).encode() if body is not None else None
        ends = time.monotonic() + self.deadline
        rate_limited = 0
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            remaining = ends - time.monotonic()
            if remaining <= 0:
                raise self._no_answer(endpoint, f"no complete answer within {self.deadline:g}s")
            try:
                answer = transport.send(
                    method,
                    url,
                    headers=self._headers(data),
                    body=data,
                    authorization=f"Bearer {self._token}",
                    deadline=min(self.timeout, remaining),
                )
            except transport.TransportError as exc:
                if not exc.retryable or last:
                    raise self._no_answer(endpoint, exc.reason) from None
                failure = self._no_answer(endpoint, exc.reason)
                ambiguous = exc.sent
            else:
                if 200 <= answer.status < 300:
                    return Response(
                        answer.status, _decode(endpoint, answer), answer.headers, endpoint
                    )
                text = answer.body.decode("utf-8", "replace")
                wait = _rate_limit_wait(answer, text, rate_limited)
                if wait is not None and not last:
                    if wait > self.max_wait:
                        raise GithubError(
                            f"{endpoint}: GitHub's rate limit asks tfops to wait {wait:.0f}s, "
                            f"longer than it waits ({self.max_wait:.0f}s)",
                            status=answer.status,
                            hint="re-run the job later, or run fewer tfops jobs at once",
                        )
                    rate_limited += 1
                    self._sleep(wait)
                    ends += wait
                    continue
                failure = _error(endpoint, answer.status, text)
                if answer.status not in _SERVER_ERRORS or last:
                    raise failure
                ambiguous = True
            self._sleep(max(0.0, min(2.0**attempt, ends - time.monotonic())))
            if method == "POST" and ambiguous and not repeatable:
                found = self._find_created(endpoint, failure, find_created)
                if found is not None:
                    return Response(201, found, Message(), endpoint)
        raise AssertionError("unreachable")  # pragma: no cover

    def _find_created(
        self, endpoint: str, failure: GithubError, find_created: Callable[[], Any] | None
    ) -> Any:
        """What the failed POST created, or None (so it is safe to send it again)."""
        if find_created is None:
            raise GithubError(
                f"{failure.message}; it may have taken effect, so tfops does not send it again",
                status=failure.status,
                hint=failure.hint,
            )
        try:
            return find_created()
        except GithubError as exc:
            raise GithubError(
                f"{failure.message}; tfops could not check whether it took effect "
                f"({exc.message}), so it does not send it again",
                status=failure.status,
                hint=exc.hint,
            ) from None

    def _headers(self, data: bytes | None) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"tfops/{__version__}",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _no_answer(self, endpoint: str, reason: str) -> GithubError:
        return GithubError(
            f"{endpoint}: cannot reach the GitHub API at {self.api_url}: {reason}",
            status=0,
            hint="check GITHUB_API_URL and the runner's network",
        )


def _since() -> datetime:
    """The earliest time an object created by a request starting now can carry."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=CLOCK_SKEW_SECONDS)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(stamp: str) -> datetime:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _decode(endpoint: str, answer: transport.Answer) -> Any:
    if not answer.body.strip():
        return None
    try:
        return json.loads(answer.body)
    except ValueError:
        kind = answer.headers.get_content_type() if answer.headers else "an answer"
        raise GithubError(
            f"{endpoint}: GitHub answered {answer.status} with {kind} that is not JSON: "
            f"{_snippet(answer.body.decode('utf-8', 'replace'))}",
            status=answer.status,
            hint=_API_URL_HINT,
        ) from None


def _rate_limit_wait(answer: transport.Answer, text: str, before: int) -> float | None:
    """Seconds GitHub asks tfops to wait, or None when this is not a rate limit.

    `before`: how many rate-limit answers this call has had (the secondary limits' wait
    without a hint doubles each time, as GitHub asks)."""
    if answer.status not in (403, 429):
        return None
    headers = answer.headers
    message = _message(text).lower()
    retry_after = _seconds(headers.get("Retry-After"))
    remaining = (headers.get("x-ratelimit-remaining") or "").strip()
    primary = remaining == "0" or message.startswith("api rate limit exceeded")
    secondary = any(phrase in message for phrase in _SECONDARY_LIMIT)
    if not (answer.status == 429 or primary or secondary or retry_after is not None):
        return None
    if retry_after is not None:
        return retry_after
    reset = _seconds(headers.get("x-ratelimit-reset"), epoch=True)
    if remaining == "0" and reset is not None:
        return reset + 1.0
    return SECONDARY_WAIT_SECONDS * 2.0**before


def _seconds(value: str | None, *, epoch: bool = False) -> float | None:
    """Seconds from now: `value` is a number of seconds (or, with `epoch`, a Unix time) or an
    HTTP date; None when it is neither."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return max(0.0, float(value) - time.time()) if epoch else float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _message(text: str) -> str:
    """GitHub's error message, and the detail of a validation failure."""
    try:
        data = json.loads(text)
    except ValueError:
        return _snippet(text)
    if not isinstance(data, dict):
        return _snippet(text)
    details = [
        str(e.get("message") or "") if isinstance(e, dict) else str(e)
        for e in data.get("errors") or []
        if isinstance(data.get("errors"), list)
    ]
    parts = [str(data.get("message") or ""), *(d for d in details if d)]
    return _snippet(": ".join(p for p in parts if p))


def _snippet(text: str, limit: int = 200) -> str:
    """`text` on one line, without control characters, at most `limit` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _error(endpoint: str, status: int, text: str) -> GithubError:
    detail = _message(text)
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
    if "/contents/" in path:
        return "the token needs `contents: read`"
    if "/collaborators/" in path:
        return "the token needs `metadata: read` on the repository"
    if path.endswith("/user"):
        return "installation tokens (GITHUB_TOKEN, GitHub Apps) may not read /user"
    return "check the token's `permissions:` in the workflow"
