"""GitHub's REST objects as GitHub sends them, for the fake API and the event payloads.

Every builder returns the full object, every field GitHub's OpenAPI description requires
(`tests/github/test_fake_schema.py` and `test_events.py` check them against it), so code
written against the fake meets what it will meet on GitHub: `user` objects with a `type`,
`author_association`, `null` where GitHub sends null, "simple" objects in lists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BOT_LOGIN = "github-actions[bot]"
BOT_ID = 41898282  # GitHub's id for github-actions[bot]
REPOSITORY_ID = 801_234_567


@dataclass(frozen=True)
class Urls:
    """Where the objects point: the API (`url` fields) and the web UI (`html_url`)."""

    api: str = "https://api.github.test"
    web: str = "https://github.test"


GITHUB = Urls()  # where objects point unless a fake server says otherwise


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def user_id(login: str) -> int:
    if login == BOT_LOGIN:
        return BOT_ID
    return 10_000 + int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)


def user(login: str, urls: Urls = GITHUB, *, kind: str | None = None) -> dict[str, Any]:
    """A simple-user; logins ending in [bot] are bots, as on GitHub."""
    kind = kind or ("Bot" if login.endswith("[bot]") else "User")
    api = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": user_id(login),
        "node_id": f"U_{user_id(login)}",
        "avatar_url": f"https://avatars.github.test/u/{user_id(login)}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.web}/{login.removesuffix('[bot]')}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


def authenticated_user(login: str, urls: Urls = GITHUB) -> dict[str, Any]:
    """`GET /user` for a personal access token (a private-user)."""
    return {
        **user(login, urls),
        "user_view_type": "private",
        "name": None,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "private_gists": 0,
        "total_private_repos": 1,
        "owned_private_repos": 0,
        "disk_usage": 10,
        "collaborators": 0,
        "two_factor_authentication": True,
    }


_REPOSITORY_LINKS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repository(
    full_name: str,
    urls: Urls = GITHUB,
    *,
    default_branch: str = "main",
    private: bool = False,
    fork: bool = False,
    full: bool = False,
) -> dict[str, Any]:
    """A repository (in pulls' head/base), or with `full` a full-repository (`GET /repos/…`)."""
    owner, name = full_name.split("/", 1)
    api = f"{urls.api}/repos/{full_name}"
    host = urls.web.split("://", 1)[-1]
    repo_id = REPOSITORY_ID if not fork else user_id(full_name)
    data: dict[str, Any] = {
        "id": repo_id,
        "node_id": f"R_{repo_id}",
        "name": name,
        "full_name": full_name,
        "owner": user(owner, urls, kind="Organization"),
        "private": private,
        "html_url": f"{urls.web}/{full_name}",
        "description": None,
        "fork": fork,
        "url": api,
        **{key: api + tail for key, tail in _REPOSITORY_LINKS.items()},
        "git_url": f"git://{host}/{full_name}.git",
        "ssh_url": f"git@{host}:{full_name}.git",
        "clone_url": f"{urls.web}/{full_name}.git",
        "svn_url": f"{urls.web}/{full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": "HCL",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 120,
        "default_branch": default_branch,
        "open_issues_count": 0,
        "open_issues": 0,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "private" if private else "public",
        "pushed_at": "2024-05-30T12:00:00Z",
        "created_at": "2023-01-01T00:00:00Z",
        "updated_at": "2024-05-30T12:00:00Z",
        "license": None,
        "allow_forking": True,
        "web_commit_signoff_required": False,
    }
    if full:
        data |= {
            "subscribers_count": 1,
            "network_count": 0,
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }
    return data


def label(name: str, full_name: str, urls: Urls = GITHUB) -> dict[str, Any]:
    label_id = user_id("label:" + name)
    return {
        "id": label_id,
        "node_id": f"LA_{label_id}",
        "url": f"{urls.api}/repos/{full_name}/labels/{name}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
    }


def issue(
    number: int,
    full_name: str,
    urls: Urls = GITHUB,
    *,
    title: str,
    body: str | None,
    author: str,
    labels: list[str] = (),  # type: ignore[assignment]
    state: str = "open",
    association: str = "NONE",
    pull_request: bool = False,
) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full_name}/issues/{number}"
    stamp = now()
    data: dict[str, Any] = {
        "id": 2_000_000 + number,
        "node_id": f"I_{number}",
        "url": api,
        "repository_url": f"{urls.api}/repos/{full_name}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{urls.web}/{full_name}/{'pull' if pull_request else 'issues'}/{number}",
        "number": number,
        "state": state,
        "state_reason": None,
        "title": title,
        "body": body or None,
        "user": user(author, urls),
        "labels": [label(name, full_name, urls) for name in labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": 0,
        "closed_at": None,
        "created_at": stamp,
        "updated_at": stamp,
        "author_association": association,
    }
    if pull_request:
        pulls = f"{urls.web}/{full_name}/pull/{number}"
        data["pull_request"] = {
            "url": f"{urls.api}/repos/{full_name}/pulls/{number}",
            "html_url": pulls,
            "diff_url": pulls + ".diff",
            "patch_url": pulls + ".patch",
            "merged_at": None,
        }
    return data


def issue_comment(
    comment_id: int,
    number: int,
    full_name: str,
    urls: Urls = GITHUB,
    *,
    body: str,
    author: str,
    association: str,
) -> dict[str, Any]:
    stamp = now()
    return {
        "id": comment_id,
        "node_id": f"IC_{comment_id}",
        "url": f"{urls.api}/repos/{full_name}/issues/comments/{comment_id}",
        "html_url": f"{urls.web}/{full_name}/pull/{number}#issuecomment-{comment_id}",
        "issue_url": f"{urls.api}/repos/{full_name}/issues/{number}",
        "body": body,
        "user": user(author, urls),
        "created_at": stamp,
        "updated_at": stamp,
        "author_association": association,
        "performed_via_github_app": None,
    }


def branch(
    sha: str, ref: str, full_name: str | None, urls: Urls = GITHUB, *, base_repo: str
) -> dict[str, Any]:
    """A pull request's head or base; `full_name` None: the head's fork was deleted."""
    owner = (full_name or base_repo).split("/")[0]
    fork = full_name is not None and full_name != base_repo
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(owner, urls, kind="Organization" if not fork else "User"),
        "repo": repository(full_name, urls, fork=fork) if full_name else None,
    }


@dataclass
class PullState:
    """What the fake knows of a pull request; tests change these fields as they go."""

    number: int
    head_sha: str
    files: list[str]
    renamed: dict[str, str] = field(default_factory=dict)  # new name -> previous name
    merge_sha: str | None = None  # set when merged (the PR is then closed)
    state: str = "open"
    draft: bool = False
    mergeable: bool | None = True  # None: GitHub is still computing it
    mergeable_state: str = "clean"
    author: str = "octocat"
    title: str = ""
    head_ref: str = "feature"
    base_ref: str = "main"
    base_sha: str = "0b5e" * 10
    head_repo: str | None = ""  # "": the repository itself; "OWNER/NAME": a fork; None: deleted
    merged_at: str = "2024-05-30T12:00:00Z"


def pull_request(
    pull: PullState, full_name: str, urls: Urls = GITHUB, *, full: bool, association: str
) -> dict[str, Any]:
    """A pull-request (`GET pulls/{n}`) or with `full=False` a pull-request-simple (lists)."""
    api = f"{urls.api}/repos/{full_name}/pulls/{pull.number}"
    issue_api = f"{urls.api}/repos/{full_name}/issues/{pull.number}"
    html = f"{urls.web}/{full_name}/pull/{pull.number}"
    merged = pull.merge_sha is not None
    stamp = "2024-05-30T11:00:00Z"
    data: dict[str, Any] = {
        "url": api,
        "id": 3_000_000 + pull.number,
        "node_id": f"PR_{pull.number}",
        "html_url": html,
        "diff_url": html + ".diff",
        "patch_url": html + ".patch",
        "issue_url": issue_api,
        "commits_url": api + "/commits",
        "review_comments_url": api + "/comments",
        "review_comment_url": f"{urls.api}/repos/{full_name}/pulls/comments{{/number}}",
        "comments_url": issue_api + "/comments",
        "statuses_url": f"{urls.api}/repos/{full_name}/statuses/{pull.head_sha}",
        "number": pull.number,
        "state": "closed" if merged else pull.state,
        "locked": False,
        "title": pull.title or f"Change #{pull.number}",
        "user": user(pull.author, urls),
        "body": None,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": stamp,
        "updated_at": stamp,
        "closed_at": pull.merged_at if merged else None,
        "merged_at": pull.merged_at if merged else None,
        "merge_commit_sha": pull.merge_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": branch(
            pull.head_sha,
            pull.head_ref,
            full_name if pull.head_repo == "" else pull.head_repo,
            urls,
            base_repo=full_name,
        ),
        "base": branch(pull.base_sha, pull.base_ref, full_name, urls, base_repo=full_name),
        "_links": {
            name: {"href": href}
            for name, href in {
                "self": api,
                "html": html,
                "issue": issue_api,
                "comments": issue_api + "/comments",
                "review_comments": api + "/comments",
                "review_comment": f"{urls.api}/repos/{full_name}/pulls/comments{{/number}}",
                "commits": api + "/commits",
                "statuses": f"{urls.api}/repos/{full_name}/statuses/{pull.head_sha}",
            }.items()
        },
        "author_association": association,
        "auto_merge": None,
        "draft": pull.draft,
    }
    if full:
        data |= {
            "merged": merged,
            "mergeable": pull.mergeable if not merged else None,
            "rebaseable": pull.mergeable if not merged else None,
            "mergeable_state": pull.mergeable_state if not merged else "unknown",
            "merged_by": user(BOT_LOGIN, urls) if merged else None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 3 * len(pull.files),
            "deletions": len(pull.files),
            "changed_files": len(pull.files),
        }
    return data


def diff_entry(
    filename: str, full_name: str, ref: str, urls: Urls = GITHUB, *, previous: str | None
) -> dict[str, Any]:
    blob = fake_sha(filename)
    data: dict[str, Any] = {
        "sha": blob,
        "filename": filename,
        "status": "renamed" if previous else "modified",
        "additions": 3,
        "deletions": 1,
        "changes": 4,
        "blob_url": f"{urls.web}/{full_name}/blob/{ref}/{filename}",
        "raw_url": f"{urls.web}/{full_name}/raw/{ref}/{filename}",
        "contents_url": f"{urls.api}/repos/{full_name}/contents/{filename}?ref={ref}",
        "patch": "@@ -1 +1,3 @@\n-old\n+new\n+new\n+new",
    }
    if previous:
        data["previous_filename"] = previous
    return data


def review(
    review_id: int,
    number: int,
    full_name: str,
    urls: Urls = GITHUB,
    *,
    author: str,
    state: str,
    commit_id: str,
    body: str,
    association: str,
) -> dict[str, Any]:
    html = f"{urls.web}/{full_name}/pull/{number}#pullrequestreview-{review_id}"
    pull = f"{urls.api}/repos/{full_name}/pulls/{number}"
    data: dict[str, Any] = {
        "id": review_id,
        "node_id": f"PRR_{review_id}",
        "user": user(author, urls),
        "body": body,
        "state": state,
        "html_url": html,
        "pull_request_url": pull,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull}},
        "commit_id": commit_id,
        "author_association": association,
    }
    if state != "PENDING":
        data["submitted_at"] = now()
    return data


def content_file(
    path: str, content: bytes, full_name: str, ref: str, urls: Urls = GITHUB
) -> dict[str, Any]:
    """A content-file; over 1 MB GitHub leaves the content out (encoding "none")."""
    import base64

    api = f"{urls.api}/repos/{full_name}/contents/{path}?ref={ref}"
    blob = fake_sha(path + ref)
    encoded = base64.encodebytes(content).decode() if len(content) <= 1024 * 1024 else ""
    return {
        "type": "file",
        "encoding": "base64" if encoded or not content else "none",
        "size": len(content),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": encoded,
        "sha": blob,
        "url": api,
        "git_url": f"{urls.api}/repos/{full_name}/git/blobs/{blob}",
        "html_url": f"{urls.web}/{full_name}/blob/{ref}/{path}",
        "download_url": f"https://raw.github.test/{full_name}/{ref}/{path}",
        "_links": {
            "self": api,
            "git": f"{urls.api}/repos/{full_name}/git/blobs/{blob}",
            "html": f"{urls.web}/{full_name}/blob/{ref}/{path}",
        },
    }


def directory_entry(path: str, full_name: str, ref: str, urls: Urls = GITHUB) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full_name}/contents/{path}?ref={ref}"
    return {
        "type": "dir",
        "size": 0,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": fake_sha(path),
        "url": api,
        "git_url": None,
        "html_url": f"{urls.web}/{full_name}/tree/{ref}/{path}",
        "download_url": None,
        "_links": {"self": api, "git": None, "html": f"{urls.web}/{full_name}/tree/{ref}/{path}"},
    }


def reaction(reaction_id: int, content: str, author: str, urls: Urls = GITHUB) -> dict[str, Any]:
    return {
        "id": reaction_id,
        "node_id": f"REA_{reaction_id}",
        "user": user(author, urls),
        "content": content,
        "created_at": now(),
    }


def collaborator_permission(
    login: str, permission: str, role_name: str, urls: Urls = GITHUB
) -> dict[str, Any]:
    pull = permission in ("admin", "write", "read")
    push = permission in ("admin", "write")
    return {
        "permission": permission,
        "role_name": role_name,
        "user": {
            **user(login, urls),
            "permissions": {
                "admin": permission == "admin",
                "maintain": role_name in ("admin", "maintain"),
                "push": push,
                "triage": role_name in ("admin", "maintain", "write", "triage"),
                "pull": pull,
            },
            "role_name": role_name,
        },
    }


def error(status: int, message: str, doc: str = "https://docs.github.com/rest") -> dict[str, Any]:
    """GitHub's basic-error."""
    return {"message": message, "documentation_url": doc, "status": str(status)}


def validation_failed(
    resource: str, field: str, code: str, message: str, doc: str
) -> dict[str, Any]:
    """GitHub's 422 validation-error."""
    return {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": code, "field": field, "message": message}],
        "documentation_url": doc,
        "status": "422",
    }
