"""A POST that creates a comment or an issue is never repeated into a duplicate.

GitHub sometimes answers 502 (or nothing) after it has created the comment. The client
looks for it before sending again; GETs, PATCHes and reactions are retried as they are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github_api import PAT_LOGIN, PAT_TOKEN, TOKEN, FakeGithub, fake_github
from tfops.github.client import GithubClient, GithubError

REPO = "acme/environments"
COMMENTS = r"/issues/7/comments$"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        server.add_pull(7, "a" * 40, [])
        yield server


def client(api: FakeGithub, token: str = TOKEN) -> GithubClient:
    return GithubClient(api.url, token, REPO, sleep=lambda _: None)


@pytest.mark.parametrize("status", [502, 500, 0], ids=["502", "500", "no answer"])
def test_a_comment_created_despite_a_failure_is_not_posted_twice(
    api: FakeGithub, status: int
) -> None:
    api.fail("POST", COMMENTS, status, applied=True)  # GitHub created it, then failed to say so

    comment = client(api).create_comment(7, "🚀 applied dev")

    assert [c["body"] for c in api.comments_on(7)] == ["🚀 applied dev"]
    assert comment["id"] == api.comments_on(7)[0]["id"]
    assert len(api.calls("POST", COMMENTS)) == 1
    (check,) = api.calls("GET", COMMENTS)
    assert "since" in check.query


def test_a_comment_that_was_not_created_is_posted_again(api: FakeGithub) -> None:
    api.fail("POST", COMMENTS, 502)

    comment = client(api).create_comment(7, "🚀 applied dev")

    assert [c["body"] for c in api.comments_on(7)] == ["🚀 applied dev"]
    assert comment["user"]["login"] == "github-actions[bot]"
    assert len(api.calls("POST", COMMENTS)) == 2


def test_the_same_text_from_someone_else_is_not_taken_for_tfops_comment(api: FakeGithub) -> None:
    """A hostile commenter who predicts tfops's next comment gains nothing by posting it."""
    api.add_comment(7, "🚀 applied dev", login="mallory")
    api.fail("POST", COMMENTS, 502)

    comment = client(api).create_comment(7, "🚀 applied dev")

    authors = [c["user"]["login"] for c in api.comments_on(7)]
    assert authors == ["mallory", "github-actions[bot]"]
    assert comment["user"]["login"] == "github-actions[bot]"


def test_with_a_personal_token_only_its_own_login_counts(api: FakeGithub) -> None:
    api.add_comment(7, "plan updated", login="renovate[bot]")  # a bot, but not this token
    api.fail("POST", COMMENTS, 503)

    comment = client(api, PAT_TOKEN).create_comment(7, "plan updated")

    assert comment["user"]["login"] == PAT_LOGIN
    assert [c["user"]["login"] for c in api.comments_on(7)] == ["renovate[bot]", PAT_LOGIN]
    assert api.calls("GET", r"^/user$")  # it asked GitHub who it is


def test_when_the_check_fails_the_comment_is_not_sent_again(api: FakeGithub) -> None:
    api.fail("POST", COMMENTS, 502, applied=True)
    api.fail("GET", COMMENTS, 403, message="Resource not accessible by integration")

    with pytest.raises(GithubError) as failed:
        client(api).create_comment(7, "🚀 applied dev")

    assert "GitHub answered 502" in str(failed.value)
    assert "could not check whether it took effect" in str(failed.value)
    assert len(api.calls("POST", COMMENTS)) == 1 and len(api.comments_on(7)) == 1


def test_an_issue_created_despite_a_failure_is_not_opened_twice(api: FakeGithub) -> None:
    api.add_issue("Drift in dev", "older, same title", ("tfops-drift",))
    api.fail("POST", r"/issues$", 504, applied=True)

    issue = client(api).create_issue("Drift in dev", "dev drifted", ["tfops-drift"])

    assert [i["body"] for i in api.issues_titled("Drift in dev")] == [
        "older, same title",
        "dev drifted",
    ]
    assert issue["number"] == api.issues_titled("Drift in dev")[1]["number"]
    assert len(api.calls("POST", r"/issues$")) == 1


def test_an_issue_that_was_not_created_is_opened_again(api: FakeGithub) -> None:
    api.fail("POST", r"/issues$", 0)

    issue = client(api).create_issue("Drift in dev", "dev drifted", ["tfops-drift"])

    assert len(api.issues_titled("Drift in dev")) == 1 and issue["title"] == "Drift in dev"
    assert len(api.calls("POST", r"/issues$")) == 2


def test_rate_limited_posts_reactions_and_edits_are_simply_sent_again(api: FakeGithub) -> None:
    comment = api.add_comment(7, "/tfops plan", login="alice")
    api.fail("POST", COMMENTS, 403, headers={"Retry-After": "0"}, message="secondary rate limit")
    api.fail("POST", r"/reactions$", 502, applied=True)
    api.fail("PATCH", r"/issues/comments/\d+$", 502)
    github = client(api)

    posted = github.create_comment(7, "reply")
    github.add_reaction(comment["id"], "eyes")
    github.update_comment(posted["id"], "edited reply")

    assert len(api.calls("POST", COMMENTS)) == 2 and not api.calls("GET", COMMENTS)
    assert len(api.calls("POST", r"/reactions$")) == 2
    assert api.reactions == [(comment["id"], "eyes")]  # GitHub keeps one of each
    assert len(api.calls("PATCH", r"/issues/comments/")) == 2
    assert api.comments[posted["id"]]["body"] == "edited reply"
