"""Bodies are measured as GitHub measures them (UTF-16 code units) and never sent too long."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github_api import TOKEN, FakeGithub, fake_github
from tfops.github.body import BODY_LIMIT, CUT_NOTE, fit_body, utf16_length
from tfops.github.client import GithubClient, GithubError

REPO = "acme/environments"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        server.add_pull(1, "a" * 40, [])
        yield server


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("é✂") == 2  # inside the Basic Multilingual Plane: one unit each
    assert utf16_length("🚀") == 2 and len("🚀") == 1
    assert utf16_length("\ud83d") == 1  # a lone surrogate, as JSON can carry
    assert utf16_length("🚀" * 40_000) == 80_000 > BODY_LIMIT > len("🚀" * 40_000)


def test_a_body_within_the_limit_is_left_as_it_is() -> None:
    body = "x" * (BODY_LIMIT - 2) + "🚀"
    assert utf16_length(body) == BODY_LIMIT and fit_body(body) is body


def test_a_long_body_is_cut_at_a_line_boundary_with_a_note() -> None:
    lines = [f"+ resource.item[{i}] 🚀" for i in range(5_000)]
    body = "\n".join(lines)
    fitted = fit_body(body)
    assert utf16_length(fitted) <= BODY_LIMIT
    assert fitted.endswith(CUT_NOTE)
    kept = fitted.removesuffix(CUT_NOTE).split("\n")
    assert kept == lines[: len(kept)] and len(kept) > 2_500  # whole lines, as many as fit


def test_a_cut_inside_a_code_fence_closes_it_so_the_note_shows() -> None:
    body = "#### Plan\n```diff\n" + "+ added line\n" * 10_000 + "```\nfooter\n"
    fitted = fit_body(body)
    before_note = fitted.removesuffix(CUT_NOTE)
    assert before_note.endswith("\n```") and before_note.count("```") == 2
    assert utf16_length(fitted) <= BODY_LIMIT


def test_one_line_longer_than_the_limit_is_cut_inside_the_line() -> None:
    fitted = fit_body("🚀" * 200_000)
    assert utf16_length(fitted) <= BODY_LIMIT and fitted.startswith("🚀" * 30_000)
    assert "\ud83d" not in fitted.removesuffix(CUT_NOTE)  # never half a surrogate pair


def test_the_fake_refuses_what_github_refuses(api: FakeGithub) -> None:
    """65,538 UTF-16 units are too long for GitHub although Python counts 32,769."""
    client = GithubClient(api.url, TOKEN, REPO)
    with pytest.raises(GithubError) as refused:
        client.request("POST", f"/repos/{REPO}/issues/1/comments", {"body": "🚀" * 32_769})
    assert refused.value.status == 422
    assert "Validation Failed: Body is too long (maximum is 65536 characters)" in str(refused.value)
    assert api.comments_on(1) == []


def test_the_client_cuts_a_body_github_would_refuse(api: FakeGithub) -> None:
    client = GithubClient(api.url, TOKEN, REPO)
    body = "\n".join(f"🚀 line {i}" for i in range(10_000))  # ~110,000 units
    comment = client.create_comment(1, body)
    assert comment["body"].endswith(CUT_NOTE) and utf16_length(comment["body"]) <= BODY_LIMIT
    assert len(api.calls("POST", r"/issues/1/comments$")) == 1  # accepted the first time
    updated = client.update_comment(comment["id"], body + "\nedited")
    assert updated["body"] == comment["body"]  # the same cut: the edit was past the limit
    issue = client.create_issue("Drift in dev", body, ["tfops-drift"])
    assert issue["body"].endswith(CUT_NOTE)
    closed = client.update_issue(int(issue["number"]), body=body, state="closed")
    assert closed["body"].endswith(CUT_NOTE) and closed["state"] == "closed"
