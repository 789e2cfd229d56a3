"""A local stand-in for the slice of GitHub's REST API tfops uses, for end-to-end tests.

It listens on 127.0.0.1 in a thread, keeps state (pull requests with their files, reviews,
state and mergeability; issues; comments; reactions; collaborator permissions; file contents
by ref), records every request and its answer, and can be told to fail matching requests
(rate limits, 5xx, an HTML page, a dribbled answer, a 502 after the write took effect, …).

It answers as GitHub does wherever a client can tell (`tests/github/test_fake_schema.py`
holds every route to GitHub's OpenAPI description):
- objects are GitHub's full objects, lists carry the "simple" ones; comments, issues and
  reviews have a `user` (login, id, type) and an `author_association`;
- a token has an identity: `TOKEN` is an installation token (GITHUB_TOKEN) that writes as
  `github-actions[bot]` and gets 403 on `GET /user`; `PAT_TOKEN` is a person's token that
  writes as `PAT_LOGIN`; `READ_ONLY_TOKEN` (a fork's) may not write; anything else is 401;
- a write to an issue or pull request that does not exist is 404; bodies over 65,536 UTF-16
  code units are 422 with GitHub's error; `pulls/N/files` stops at 3,000 files; `per_page`
  is at most 100; a renamed repository redirects (301 for reads, 307 for writes).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests import github_objects as gh
from tests.github_objects import BOT_LOGIN, PullState, Urls

TOKEN = "ghs_test_token_5e1f"  # installation token: writes as github-actions[bot]
READ_ONLY_TOKEN = "ghs_fork_token_77a0"  # installation token of a fork's PR: reads only
PAT_TOKEN = "ghp_test_pat_token_3c9d"  # a person's token
PAT_LOGIN = "tfops-operator"
COMMENT_LIMIT = 65_536  # UTF-16 code units, as GitHub counts
MAX_PR_FILES = 3000
MAX_PAGE = 100
PullRequest = PullState  # what add_pull returns; tests change its fields


@dataclass(frozen=True)
class Identity:
    login: str
    installation: bool  # an installation token (GITHUB_TOKEN, a GitHub App): no GET /user
    writes: bool


IDENTITIES = {
    TOKEN: Identity(BOT_LOGIN, installation=True, writes=True),
    READ_ONLY_TOKEN: Identity(BOT_LOGIN, installation=True, writes=False),
    PAT_TOKEN: Identity(PAT_LOGIN, installation=False, writes=True),
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0  # what the fake answered (0: it closed the connection instead)
    response: Any = None


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    message: str
    times: int
    body: bytes | None = None  # sent as is instead of GitHub's JSON error
    content_type: str = "application/json; charset=utf-8"
    dribble: float | None = None  # seconds between the answer's bytes
    applied: bool = False  # the request takes effect first (GitHub's 502 after a write)


@dataclass
class Call:
    """Who is asking, and the query string: what a handler needs beyond its argument."""

    identity: Identity
    query: dict[str, str]


Handler = Callable[[Any, Any], tuple[int, Any]]


class FakeGithub:
    def __init__(self, repository: str = "acme/environments", page_size: int = 2):
        self.repository = repository
        self.page_size = page_size  # small, so pagination is exercised
        self.default_branch = "main"
        self.private = False
        self.renamed_from: str | None = None  # requests there are redirected, as GitHub does
        self.pulls: dict[int, PullRequest] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        self.opened_pulls: dict[int, dict[str, Any]] = {}  # by POST /pulls: number → pull
        self.files: dict[tuple[str, str], bytes] = {}  # (ref, path) -> content
        self.reactions: list[tuple[int, str]] = []
        self.permissions: dict[str, str] = {}  # login -> admin|maintain|write|triage|read
        self.custom_roles: dict[str, tuple[str, str]] = {}  # login -> (role name, base)
        self.associations: dict[str, str] = {}  # login -> OWNER, MEMBER, COLLABORATOR, …
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._comment_issue: dict[int, int] = {}
        self._reaction_objects: dict[tuple[int, str, str], dict[str, Any]] = {}
        self._next_id = 1000
        self._call = Call(IDENTITIES[TOKEN], {})
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ---- set-up ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def urls(self) -> Urls:
        return Urls(api=self.url, web="https://github.test")

    def start(self) -> FakeGithub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_pull(self, number: int, head_sha: str, files: list[str], **fields: Any) -> PullRequest:
        """A pull request; `fields` set PullState's others (state, draft, mergeable, author…)."""
        self.pulls[number] = PullRequest(number, head_sha, list(files), **fields)
        return self.pulls[number]

    def merge(self, number: int, merge_sha: str) -> PullRequest:
        """Merge a pull request as `merge_sha`: it is closed, and `commits/SHA/pulls` finds it."""
        pull = self.pulls[number]
        pull.merge_sha = merge_sha
        pull.merged_at = gh.now()
        return pull

    def add_comment(
        self, number: int, body: str, login: str = "someone", association: str | None = None
    ) -> dict[str, Any]:
        """A comment by anyone, with any body (a conversation is opened when there is none)."""
        if number not in self.pulls and number not in self.issues:
            self.add_pull(number, gh.fake_sha(f"pull-{number}"), [])
        return self._create_comment(number, body, login, association)

    def add_issue(
        self, title: str, body: str = "", labels: tuple[str, ...] = (), state: str = "open"
    ) -> dict[str, Any]:
        return self._create_issue(title, body, list(labels), state, author="someone")

    def add_review(
        self,
        number: int,
        login: str,
        state: str = "APPROVED",
        *,
        commit_id: str | None = None,
        body: str = "",
        association: str | None = None,
    ) -> dict[str, Any]:
        """A review of pull request `number`, on its current head unless `commit_id` says."""
        pull = self.pulls[number]
        self._next_id += 1
        review = gh.review(
            self._next_id,
            number,
            self.repository,
            self.urls,
            author=login,
            state=state,
            commit_id=commit_id or pull.head_sha,
            body=body,
            association=association or self.associations.get(login, "NONE"),
        )
        self.reviews.setdefault(number, []).append(review)
        return review

    def add_file(self, path: str, content: bytes | str, ref: str = "main") -> None:
        """`path` holds `content` at `ref` (a branch, tag or SHA) for the contents API."""
        self.files[(ref, path)] = content.encode() if isinstance(content, str) else content

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        message: str = "",
        times: int = 1,
        body: bytes | None = None,
        content_type: str = "application/json; charset=utf-8",
        dribble: float | None = None,
        applied: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with `status` (0: close the connection
        without an answer); `applied`: let the request take effect first."""
        self.faults.append(
            Fault(
                method,
                re.compile(path_regex),
                status,
                headers or {},
                message,
                times,
                body,
                content_type,
                dribble,
                applied,
            )
        )

    # ---- queries -----------------------------------------------------------------------
    def calls(self, method: str, path_regex: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(path_regex, r.path)]

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        return [c for i, c in self.comments.items() if self._comment_issue[i] == number]

    def issues_titled(self, title: str) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["title"] == title]

    # ---- state -------------------------------------------------------------------------
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _create_comment(
        self, number: int, body: str, login: str, association: str | None = None
    ) -> dict[str, Any]:
        comment = gh.issue_comment(
            self._new_id(),
            number,
            self.repository,
            self.urls,
            body=body,
            author=login,
            association=association or self.associations.get(login, "NONE"),
        )
        self.comments[comment["id"]] = comment
        self._comment_issue[comment["id"]] = number
        return comment

    def _create_issue(
        self, title: str, body: str, labels: list[str], state: str = "open", *, author: str
    ) -> dict[str, Any]:
        # issues and pull requests share one number sequence on GitHub
        number = max([0, *self.pulls, *self.issues]) + 1
        issue = gh.issue(
            number,
            self.repository,
            self.urls,
            title=title,
            body=body,
            author=author,
            labels=labels,
            state=state,
            association=self.associations.get(author, "NONE"),
        )
        issue["labels"] = [{"name": name} for name in labels]  # kept by name, see _issue_object
        self.issues[number] = issue
        return issue

    def _issue_object(self, issue: dict[str, Any]) -> dict[str, Any]:
        """A stored issue as GitHub answers it: its labels as GitHub's label objects."""
        names = [label["name"] for label in issue["labels"]]
        return {**issue, "labels": [gh.label(n, self.repository, self.urls) for n in names]}

    def _pull_as_issue(self, pull: PullRequest) -> dict[str, Any]:
        issue = gh.issue(
            pull.number,
            self.repository,
            self.urls,
            title=pull.title or f"Change #{pull.number}",
            body=None,
            author=pull.author,
            state="closed" if pull.merge_sha else pull.state,
            association=self.associations.get(pull.author, "NONE"),
            pull_request=True,
        )
        issue["created_at"] = issue["updated_at"] = "2024-05-30T11:00:00Z"
        return issue

    def _pull_object(self, pull: PullRequest, *, full: bool) -> dict[str, Any]:
        return gh.pull_request(
            pull,
            self.repository,
            self.urls,
            full=full,
            association=self.associations.get(pull.author, "NONE"),
        )

    # ---- the API -----------------------------------------------------------------------
    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, token: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        identity = IDENTITIES.get(token or "")
        if identity is None:
            return 401, gh.error(401, "Bad credentials"), {}
        self._call = Call(identity, query)
        if self.renamed_from and path.startswith(f"/repos/{self.renamed_from}/"):
            rest = path.removeprefix(f"/repos/{self.renamed_from}")
            target = f"{self.url}/repositories/{gh.REPOSITORY_ID}{rest}"
            if query:
                target += "?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
            status = 301 if method in ("GET", "HEAD") else 307
            return status, gh.error(status, "Moved Permanently"), {"Location": target}
        writes = method in ("POST", "PATCH", "PUT", "DELETE")
        if writes and not identity.writes:
            return 403, gh.error(403, "Resource not accessible by integration"), {}
        top: list[tuple[str, str, Handler]] = [("GET", r"/user()", self._get_user)]
        for route_method, pattern, handler in top:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                status, data = handler(query, body)
                return status, data, {}
        prefix = next(
            (
                p
                for p in (f"/repos/{self.repository}", f"/repositories/{gh.REPOSITORY_ID}")
                if path == p or path.startswith(p + "/")
            ),
            None,
        )
        if prefix is None:
            return 404, gh.error(404, "Not Found"), {}
        rest = path[len(prefix) :]
        routes: list[tuple[str, str, Handler]] = [
            ("GET", r"()", self._get_repository),
            ("POST", r"/pulls()", self._post_pull),
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
            ("GET", r"/contents/(.+)", self._get_contents),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, rest)
            if match and route_method == method:
                argument = match.group(1) if match.group(1) else query
                status, data = handler(argument, body)
                if isinstance(data, list) and method == "GET" and status == 200:
                    return self._page(path, query, data)
                return status, data, {}
        return 404, gh.error(404, "Not Found"), {}

    def routes(self) -> list[tuple[str, str]]:
        """(method, path pattern) of every route, for the schema test to check it covers."""
        return [
            ("GET", "/user"),
            ("GET", "/repos/{owner}/{repo}"),
            ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
            ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
            ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
            ("GET", "/repos/{owner}/{repo}/issues"),
            ("POST", "/repos/{owner}/{repo}/issues"),
            ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
            ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
            ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
            ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
            ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
            ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
            ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
            ("GET", "/repos/{owner}/{repo}/contents/{path}"),
        ]

    def _page(
        self, path: str, query: dict[str, str], items: list[Any]
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            asked = int(query.get("per_page", "30"))
            page = int(query.get("page", "1"))
        except ValueError:
            return 422, gh.error(422, "Invalid request: per_page and page are numbers"), {}
        size = max(1, min(asked, MAX_PAGE, self.page_size))
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

    def _exists(self, number: int) -> bool:
        return number in self.pulls or number in self.issues

    def _get_user(self, _: Any, __: Any) -> tuple[int, Any]:
        identity = self._call.identity
        if identity.installation:
            return 403, gh.error(
                403,
                "Resource not accessible by integration",
                "https://docs.github.com/rest/users/users#get-the-authenticated-user",
            )
        return 200, gh.authenticated_user(identity.login, self.urls)

    def _get_repository(self, _: Any, __: Any) -> tuple[int, Any]:
        return 200, gh.repository(
            self.repository,
            self.urls,
            default_branch=self.default_branch,
            private=self.private,
            full=True,
        )

    def _get_pull(self, number: str, _: Any) -> tuple[int, Any]:
        pull = self._pull(number)
        if pull is None:
            return 404, gh.error(404, "Not Found")
        return 200, self._pull_object(pull, full=True)

    def _list_files(self, number: str, _: Any) -> tuple[int, Any]:
        pull = self._pull(number)
        if pull is None:
            return 404, gh.error(404, "Not Found")
        return 200, [
            gh.diff_entry(
                f, self.repository, pull.head_sha, self.urls, previous=pull.renamed.get(f)
            )
            for f in pull.files[:MAX_PR_FILES]  # GitHub lists at most 3,000 files
        ]

    def _list_reviews(self, number: str, _: Any) -> tuple[int, Any]:
        if self._pull(number) is None:
            return 404, gh.error(404, "Not Found")
        return 200, list(self.reviews.get(int(number), []))

    def _list_issues(self, query: dict[str, str], _: Any) -> tuple[int, Any]:
        state = query.get("state", "open")
        wanted = {label for label in query.get("labels", "").split(",") if label}
        since = query.get("since", "")
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        every = [
            *(self._issue_object(i) for i in self.issues.values()),
            *(self._pull_as_issue(p) for p in self.pulls.values()),
        ]
        chosen = [
            issue
            for issue in every
            if state in ("all", issue["state"])
            and wanted <= {label["name"] for label in issue["labels"]}
            and issue["updated_at"] >= since
        ]
        chosen.sort(key=lambda i: (i[key], i["number"]), reverse=query.get("direction") != "asc")
        return 200, chosen

    def _post_pull(self, _: Any, body: Any) -> tuple[int, Any]:
        """POST /repos/{repo}/pulls: 201 with the pull request; 422 as GitHub answers it."""
        data = body if isinstance(body, dict) else {}
        owner = self.repository.split("/")[0]
        missing = [key for key in ("title", "head", "base") if not data.get(key)]
        head = str(data.get("head", "")).split(":")[-1]
        if missing:
            errors = [
                {"resource": "PullRequest", "code": "missing_field", "field": key}
                for key in missing
            ]
        elif _too_long(str(data.get("body") or "")):
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
            "user": {"login": self._call.identity.login, "type": "Bot"},
            "author_association": "NONE",
            "head": {"ref": head, "label": f"{owner}:{head}"},
            "base": {"ref": str(data["base"]), "label": f"{owner}:{data['base']}"},
            "merged_at": None,
        }
        self.opened_pulls[number] = pull
        return 201, pull

    def _post_issue(self, _: Any, body: Any) -> tuple[int, Any]:
        data = body if isinstance(body, dict) else {}
        doc = "https://docs.github.com/rest/issues/issues#create-an-issue"
        if not isinstance(data.get("title"), str) or not data["title"]:
            return 422, gh.validation_failed("Issue", "title", "missing_field", "", doc)
        text = data.get("body") or ""
        if _too_long(text):
            return 422, _body_too_long("Issue", "body", doc)
        labels = [str(label) for label in data.get("labels") or []]
        issue = self._create_issue(data["title"], text, labels, author=self._call.identity.login)
        return 201, self._issue_object(issue)

    def _patch_issue(self, number: str, body: Any) -> tuple[int, Any]:
        issue = self.issues.get(int(number))
        data = body if isinstance(body, dict) else {}
        pull = self._pull(number)
        if issue is None and pull is not None:  # a pull request is an issue too
            pull.title = str(data.get("title") or pull.title)
            pull.state = str(data.get("state") or pull.state)
            return 200, self._pull_as_issue(pull)
        if issue is None:
            return 404, gh.error(404, "Not Found")
        if _too_long(data.get("body") or ""):
            doc = "https://docs.github.com/rest/issues/issues#update-an-issue"
            return 422, _body_too_long("Issue", "body", doc)
        for key in ("title", "state", "state_reason"):
            if key in data:
                issue[key] = data[key]
        if "body" in data:
            issue["body"] = data["body"] or None
        if data.get("state") == "closed":
            issue["closed_at"] = gh.now()
        if "labels" in data:
            issue["labels"] = [{"name": str(name)} for name in data["labels"]]
        issue["updated_at"] = gh.now()
        return 200, self._issue_object(issue)

    def _list_comments(self, number: str, _: Any) -> tuple[int, Any]:
        if not self._exists(int(number)):
            return 404, gh.error(404, "Not Found")
        since = self._call.query.get("since", "")
        return 200, [c for c in self.comments_on(int(number)) if c["updated_at"] >= since]

    def _post_comment(self, number: str, body: Any) -> tuple[int, Any]:
        if not self._exists(int(number)):
            return 404, gh.error(404, "Not Found")
        text, refused = _comment_body(body, "create-an-issue-comment")
        if refused is not None:
            return 422, refused
        return 201, self._create_comment(int(number), text, self._call.identity.login)

    def _patch_comment(self, comment_id: str, body: Any) -> tuple[int, Any]:
        comment = self.comments.get(int(comment_id))
        if comment is None:
            return 404, gh.error(404, "Not Found")
        text, refused = _comment_body(body, "update-an-issue-comment")
        if refused is not None:
            return 422, refused
        comment["body"] = text
        comment["updated_at"] = gh.now()
        return 200, comment

    def _post_reaction(self, comment_id: str, body: Any) -> tuple[int, Any]:
        content = str((body or {}).get("content", ""))
        if int(comment_id) not in self.comments:
            return 404, gh.error(404, "Not Found")
        if content not in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"):
            doc = "https://docs.github.com/rest/reactions/reactions"
            return 422, gh.validation_failed("Reaction", "content", "invalid", "", doc)
        key = (int(comment_id), content, self._call.identity.login)
        if key in self._reaction_objects:  # GitHub keeps one per user and content
            return 200, self._reaction_objects[key]
        self.reactions.append((int(comment_id), content))
        reaction = gh.reaction(self._new_id(), content, self._call.identity.login, self.urls)
        self._reaction_objects[key] = reaction
        return 201, reaction

    def _get_permission(self, login: str, _: Any) -> tuple[int, Any]:
        known = {*self.permissions, *self.custom_roles, *self.associations}
        known |= {c["user"]["login"] for c in self.comments.values()}
        if login not in known:
            return 404, gh.error(404, "Not Found")
        if login in self.custom_roles:
            role, base = self.custom_roles[login]
            return 200, gh.collaborator_permission(login, base, role, self.urls)
        role = self.permissions.get(login) or ("none" if self.private else "read")
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)
        return 200, gh.collaborator_permission(login, legacy, role, self.urls)

    def _commit_pulls(self, sha: str, _: Any) -> tuple[int, Any]:
        return 200, [
            self._pull_object(p, full=False)
            for p in self.pulls.values()
            if sha in (p.head_sha, p.merge_sha)
        ]

    def _get_contents(self, path: str, _: Any) -> tuple[int, Any]:
        path = unquote(path)
        ref = self._call.query.get("ref") or self.default_branch
        if (ref, path) in self.files:
            return 200, gh.content_file(
                path, self.files[(ref, path)], self.repository, ref, self.urls
            )
        below = sorted(
            {
                p[len(path) + 1 :].split("/")[0]
                for r, p in self.files
                if r == ref and p.startswith(path + "/")
            }
        )
        if below:
            return 200, [
                gh.content_file(
                    f"{path}/{name}",
                    self.files[(ref, f"{path}/{name}")],
                    self.repository,
                    ref,
                    self.urls,
                )
                if (ref, f"{path}/{name}") in self.files
                else gh.directory_entry(f"{path}/{name}", self.repository, ref, self.urls)
                for name in below
            ]
        return 404, gh.error(404, "Not Found")

    def _fault_for(self, method: str, path: str) -> Fault | None:
        fault = next(
            (
                f
                for f in self.faults
                if f.times > 0 and f.method == method and f.pattern.search(path)
            ),
            None,
        )
        if fault is not None:
            fault.times -= 1
        return fault

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
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ").strip() or None
                with api._lock:
                    record = Recorded(
                        self.command, split.path, query, dict(self.headers), _json(raw)
                    )
                    api.requests.append(record)
                    fault = api._fault_for(self.command, split.path)
                    if raw and record.body is None:
                        status, data, headers = 400, gh.error(400, "Problems parsing JSON"), {}
                    elif fault is None or fault.applied:
                        status, data, headers = api._route(
                            self.command, split.path, query, record.body, token
                        )
                    if fault is not None:
                        status, data = (
                            fault.status,
                            gh.error(fault.status, fault.message or "fault"),
                        )
                        headers = fault.headers
                    record.status, record.response = status, data
                if fault is not None and fault.status == 0:
                    self.close_connection = True
                    return
                payload = fault.body if fault is not None and fault.body is not None else None
                payload = payload if payload is not None else json.dumps(data).encode()
                content_type = fault.content_type if fault else "application/json; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("X-RateLimit-Limit", "5000")
                self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with suppress(OSError):  # a client that gave up on a dribbled answer
                    if fault is not None and fault.dribble:
                        for byte in payload:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(fault.dribble)
                    else:
                        self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        return Handler


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _too_long(text: str) -> bool:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2 > COMMENT_LIMIT


def _comment_body(body: Any, operation: str) -> tuple[str, dict[str, Any] | None]:
    """The comment text of a request, or GitHub's 422 for a missing or too long one."""
    text = body.get("body") if isinstance(body, dict) else None
    doc = f"https://docs.github.com/rest/issues/comments#{operation}"
    if not isinstance(text, str) or not text:
        return "", gh.validation_failed("IssueComment", "body", "missing_field", "", doc)
    if _too_long(text):
        return "", _body_too_long("IssueComment", "data", doc)
    return text, None


def _body_too_long(resource: str, field: str, doc: str) -> dict[str, Any]:
    message = f"Body is too long (maximum is {COMMENT_LIMIT} characters)"
    return gh.validation_failed(resource, field, "unprocessable", message, doc)


@contextmanager
def fake_github(**options: Any) -> Iterator[FakeGithub]:
    api = FakeGithub(**options).start()
    try:
        yield api
    finally:
        api.stop()
