"""Who tfops is on GitHub, so it acts only on what it wrote itself.

tfops finds its sticky PR comment and its drift issues by a hidden marker — but anyone can
post a comment holding that marker, and edit it later to show reviewers a forged plan. So a
comment or issue counts as tfops's only when its author is tfops: the token's own login
where GitHub tells it (`GET /user`, personal tokens), else the configured `github.bot_login`,
else `github-actions[bot]`, who Actions' GITHUB_TOKEN writes as.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tfops.github.client import BOT_LOGIN, GithubClient


def own_login(client: GithubClient, configured: str | None) -> str:
    return client.own_login() or configured or BOT_LOGIN


def authored_by(login: str) -> Callable[[Mapping[str, Any]], bool]:
    """A test for comments and issues: written by `login`."""

    def check(item: Mapping[str, Any]) -> bool:
        user = item.get("user")
        return isinstance(user, dict) and user.get("login") == login

    return check
