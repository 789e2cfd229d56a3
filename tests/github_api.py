"""A local stand-in for the slice of GitHub's REST API tfops uses, for end-to-end tests.

It listens on 127.0.0.1 in a thread, keeps state (pull requests, their files, issues,
comments, reactions, collaborator permissions), records every request, and can be told to fail the
next matching request (secondary rate limit, 429, 401, 404, …). Like GitHub it refuses a
comment body over 65,536 characters and a wrong token, and a read-only token may not write.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

TOKEN = "ghs_test_token_5e1f"
READ_ONLY_TOKEN = "ghs_fork_token_77a0"
COMMENT_LIMIT = 65_536  # GitHub counts a body in UTF-16 code units
FILES_CAP = 3000  # pulls/N/files lists at most this many


def too_long(text: str) -> bool:
    return len(text.encode("utf-16-le")) // 2 > COMMENT_LIMIT


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    message: str
    times: int


@dataclass
class PullRequest:
    number: int
    head_sha: str
    files: list[str]
    renamed: dict[str, str] = field(default_factory=dict)  # new name -> previous name
    merge_sha: str | None = None  # set when merged
    state: str = "open"
    draft: bool = False
    author: str = "author"
    fork: str | None = None  # the fork's full name, for a pull request from a fork
    base_sha: str = "0" * 40
    mergeable: bool | None = True
    mergeable_state: str = "clean"
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def review(self, login: str, state: str = "APPROVED", commit: str | None = None) -> None:
        """A review as GitHub lists it: by `login`, on `commit` (default: the head)."""
        self.reviews.append(
            {
                "id": len(self.reviews) + 1,
                "user": {"login": login, "type": "User"},
                "state": state,
                "commit_id": commit or self.head_sha,
                "submitted_at": _now(),
            }
        )


class FakeGithub:
    def __init__(self, repository: str = "acme/environments", page_size: int = 2):
        self.repository = repository
        self.page_size = page_size  # small, so pagination is exercised
        self.pulls: dict[int, PullRequest] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.reactions: list[tuple[int, str]] = []
        self.permissions: dict[str, str] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.opened_pulls: dict[int, dict[str, Any]] = {}  # by POST /pulls: number → pull
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- set-up ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGithub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_pull(self, number: int, head_sha: str, files: list[str]) -> PullRequest:
        self.pulls[number] = PullRequest(number, head_sha, files)
        return self.pulls[number]

    def add_comment(self, number: int, body: str, login: str = "someone") -> dict[str, Any]:
        return self._create_comment(number, body, login)

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        message: str = "",
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with `status`."""
        self.faults.append(
            Fault(method, re.compile(path_regex), status, headers or {}, message, times)
        )

    # ---- queries -----------------------------------------------------------------------
    def calls(self, method: str, path_regex: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(path_regex, r.path)]

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == number]

    def add_issue(
        self,
        title: str,
        body: str = "",
        labels: tuple[str, ...] = (),
        state: str = "open",
        login: str = "github-actions[bot]",
    ) -> dict[str, Any]:
        return self._create_issue(title, body, list(labels), state, login)

    def issues_titled(self, title: str) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["title"] == title]

    # ---- the API -----------------------------------------------------------------------
    def _create_comment(self, number: int, body: str, login: str) -> dict[str, Any]:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "issue": number,
            "body": body,
            "created_at": _now(),
            "updated_at": _now(),
            "author_association": "NONE" if login.endswith("[bot]") else "CONTRIBUTOR",
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.test/{self.repository}/pull/{number}"
            f"#issuecomment-{self._next_id}",
        }
        self.comments[self._next_id] = comment
        return comment

    def _create_issue(
        self,
        title: str,
        body: str,
        labels: list[str],
        state: str = "open",
        login: str = "github-actions[bot]",
    ) -> dict[str, Any]:
        # issues and pull requests share one number sequence on GitHub
        number = max([0, *self.pulls, *self.issues]) + 1
        issue = {
            "number": number,
            "title": title,
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "state": state,
            "state_reason": None,
            "labels": [{"name": name} for name in labels],
            "html_url": f"https://github.test/{self.repository}/issues/{number}",
        }
        self.issues[number] = issue
        return issue

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, token: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        if token not in (TOKEN, READ_ONLY_TOKEN):
            return 401, {"message": "Bad credentials"}, {}
        writes = method in ("POST", "PATCH", "PUT", "DELETE")
        if writes and token == READ_ONLY_TOKEN:
            return 403, {"message": "Resource not accessible by integration"}, {}
        prefix = f"/repos/{self.repository}"
        if not path.startswith(prefix + "/"):
            return 404, {"message": "Not Found"}, {}
        rest = path[len(prefix) :]
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"/pulls/(\d+)", self._get_pull),
            ("GET", r"/pulls/(\d+)/files", self._list_files),
            ("GET", r"/pulls/(\d+)/reviews", self._list_reviews),
            ("GET", r"/issues()", self._list_issues),
            ("POST", r"/issues()", self._post_issue),
            ("PATCH", r"/issues/(\d+)", self._patch_issue),
            ("GET", r"/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", self._post_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._patch_comment),
            ("POST", r"/issues/comments/(\d+)/reactions", self._post_reaction),
            ("GET", r"/collaborators/([^/]+)/permission", self._get_permission),
            ("GET", r"/commits/([0-9a-f]+)/pulls", self._commit_pulls),
            ("POST", r"/pulls()", self._post_pull),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, rest)
            if match and route_method == method:
                argument = match.group(1) if match.group(1) else query
                status, data = handler(argument, body)
                if isinstance(data, list) and method == "GET":
                    return self._page(path, query, data)
                return status, data, {}
        return 404, {"message": "Not Found"}, {}

    def _page(
        self, path: str, query: dict[str, str], items: list[Any]
    ) -> tuple[int, Any, dict[str, str]]:
        size = min(int(query.get("per_page", "30")), self.page_size)
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            kept = "".join(
                f"&{k}={quote(v)}"
                for k, v in sorted(query.items())
                if k not in ("page", "per_page")
            )
            headers["Link"] = (
                f'<{self.url}{path}?per_page={size}&page={page + 1}{kept}>; rel="next"'
            )
        return 200, chunk, headers

    def _pull(self, number: str) -> PullRequest | None:
        return self.pulls.get(int(number))

    def _get_pull(self, number: str, _: Any) -> tuple[int, Any]:
        pull = self._pull(number)
        if pull is None:
            return 404, {"message": "Not Found"}
        return 200, {
            "number": pull.number,
            "state": pull.state,
            "draft": pull.draft,
            "merged": pull.merge_sha is not None,
            "merged_at": "2024-05-30T12:00:00Z" if pull.merge_sha else None,
            "merge_commit_sha": pull.merge_sha,
            "mergeable": pull.mergeable,
            "mergeable_state": pull.mergeable_state,
            "changed_files": len(pull.files),
            "user": {"login": pull.author, "type": "User"},
            "head": {
                "sha": pull.head_sha,
                "ref": f"pr-{pull.number}",
                "repo": {"full_name": pull.fork or self.repository},
            },
            "base": {"sha": pull.base_sha, "ref": "main", "repo": {"full_name": self.repository}},
        }

    def _list_reviews(self, number: str, _: Any) -> tuple[int, Any]:
        pull = self._pull(number)
        if pull is None:
            return 404, {"message": "Not Found"}
        return 200, list(pull.reviews)

    def _list_files(self, number: str, _: Any) -> tuple[int, Any]:
        pull = self._pull(number)
        if pull is None:
            return 404, {"message": "Not Found"}
        return 200, [
            {"filename": f, **({"previous_filename": pull.renamed[f]} if f in pull.renamed else {})}
            for f in pull.files[:FILES_CAP]
        ]

    def _list_issues(self, query: dict[str, str], _: Any) -> tuple[int, Any]:
        state = query.get("state", "open")
        wanted = {label for label in query.get("labels", "").split(",") if label}
        return 200, [
            issue
            for issue in sorted(self.issues.values(), key=lambda i: -i["number"])
            if state in ("all", issue["state"])
            and wanted <= {label["name"] for label in issue["labels"]}
        ]

    def _post_issue(self, _: Any, body: Any) -> tuple[int, Any]:
        data = body or {}
        if not data.get("title"):
            return 422, {"message": "Validation Failed", "errors": ["title is missing"]}
        text = str(data.get("body", ""))
        if too_long(text):
            return 422, {"message": "Validation Failed", "errors": ["body is too long"]}
        labels = [str(label) for label in data.get("labels") or []]
        return 201, self._create_issue(str(data["title"]), text, labels)

    def _patch_issue(self, number: str, body: Any) -> tuple[int, Any]:
        issue = self.issues.get(int(number))
        if issue is None:
            return 404, {"message": "Not Found"}
        data = body or {}
        if too_long(str(data.get("body", ""))):
            return 422, {"message": "Validation Failed", "errors": ["body is too long"]}
        for key in ("title", "body", "state", "state_reason"):
            if key in data:
                issue[key] = data[key]
        if "labels" in data:
            issue["labels"] = [{"name": str(name)} for name in data["labels"]]
        return 200, issue

    def _list_comments(self, number: str, _: Any) -> tuple[int, Any]:
        return 200, self.comments_on(int(number))

    def _post_comment(self, number: str, body: Any) -> tuple[int, Any]:
        text = str((body or {}).get("body", ""))
        if too_long(text):
            return 422, {"message": "Validation Failed", "errors": ["body is too long"]}
        return 201, self._create_comment(int(number), text, "github-actions[bot]")

    def _patch_comment(self, comment_id: str, body: Any) -> tuple[int, Any]:
        comment = self.comments.get(int(comment_id))
        if comment is None:
            return 404, {"message": "Not Found"}
        text = str((body or {}).get("body", ""))
        if too_long(text):
            return 422, {"message": "Validation Failed", "errors": ["body is too long"]}
        comment["body"] = text
        return 200, comment

    def _post_reaction(self, comment_id: str, body: Any) -> tuple[int, Any]:
        content = str((body or {}).get("content", ""))
        if int(comment_id) not in self.comments:
            return 404, {"message": "Not Found"}
        self.reactions.append((int(comment_id), content))
        return 201, {"content": content}

    def _get_permission(self, login: str, _: Any) -> tuple[int, Any]:
        if login not in self.permissions:
            return 404, {"message": f"{login} is not a user"}
        permission = self.permissions[login]
        return 200, {"permission": permission, "role_name": permission, "user": {"login": login}}

    def _commit_pulls(self, sha: str, _: Any) -> tuple[int, Any]:
        return 200, [
            {
                "number": p.number,
                "state": "closed" if p.merge_sha else p.state,
                "head": {"sha": p.head_sha},
                "merged_at": "2024-05-30T12:00:00Z" if p.merge_sha else None,
                "merge_commit_sha": p.merge_sha,
            }
            for p in self.pulls.values()
            if sha in (p.head_sha, p.merge_sha)
        ]

    def _post_pull(self, _: Any, body: Any) -> tuple[int, Any]:
        """POST /repos/{repo}/pulls: 201 with the pull request; 422 as GitHub answers it."""
        data = body or {}
        owner = self.repository.split("/")[0]
        missing = [key for key in ("title", "head", "base") if not data.get(key)]
        head = str(data.get("head", "")).split(":")[-1]
        if missing:
            errors = [
                {"resource": "PullRequest", "code": "missing_field", "field": key}
                for key in missing
            ]
        elif len(str(data.get("body") or "")) > COMMENT_LIMIT:
            errors = [{"resource": "Issue", "code": "custom", "field": "body"}]
        elif any(p["head"]["ref"] == head for p in self.opened_pulls.values()):
            message = f"A pull request already exists for {owner}:{head}."
            errors = [{"resource": "PullRequest", "code": "custom", "message": message}]
        else:
            errors = []
        if errors:
            return 422, {"message": "Validation Failed", "errors": errors}
        # pull requests and issues share one number sequence on GitHub
        number = max([0, *self.pulls, *self.issues, *self.opened_pulls]) + 1
        pull = {
            "url": f"{self.url}/repos/{self.repository}/pulls/{number}",
            "html_url": f"https://github.test/{self.repository}/pull/{number}",
            "number": number,
            "state": "open",
            "title": str(data["title"]),
            "body": data.get("body"),
            "draft": bool(data.get("draft", False)),
            "user": {"login": "github-actions[bot]", "type": "Bot"},
            "author_association": "NONE",
            "head": {"ref": head, "label": f"{owner}:{head}"},
            "base": {"ref": str(data["base"]), "label": f"{owner}:{data['base']}"},
            "merged_at": None,
        }
        self.opened_pulls[number] = pull
        return 201, pull

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ").strip() or None
                with api._lock:
                    api.requests.append(
                        Recorded(self.command, split.path, query, dict(self.headers), body)
                    )
                    fault = next(
                        (
                            f
                            for f in api.faults
                            if f.times > 0
                            and f.method == self.command
                            and f.pattern.search(split.path)
                        ),
                        None,
                    )
                    if fault is not None:
                        fault.times -= 1
                        status, data, headers = (
                            fault.status,
                            {"message": fault.message or "fault"},
                            fault.headers,
                        )
                    else:
                        status, data, headers = api._route(
                            self.command, split.path, query, body, token
                        )
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        return Handler


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@contextmanager
def fake_github(**options: Any) -> Iterator[FakeGithub]:
    api = FakeGithub(**options).start()
    try:
        yield api
    finally:
        api.stop()
