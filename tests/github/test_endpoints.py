"""The endpoints tfops reads to decide what it may do: pull request state, reviews, file
contents at a ref, who the token is, the repository, the files a PR changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github_api import PAT_LOGIN, PAT_TOKEN, READ_ONLY_TOKEN, TOKEN, FakeGithub, fake_github
from tfops.errors import TfopsError
from tfops.github.client import FileListTruncated, GithubClient, GithubError

REPO = "acme/environments"


@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        yield server


def client(api: FakeGithub, token: str = TOKEN) -> GithubClient:
    return GithubClient(api.url, token, REPO, sleep=lambda _: None)


def test_a_pull_request_says_its_state_draft_merge_and_both_sides(api: FakeGithub) -> None:
    api.add_pull(
        7,
        "a" * 40,
        ["dev_main.tf", "prod_main.tf"],
        draft=True,
        mergeable=None,
        mergeable_state="unknown",
        author="mallory",
        head_ref="feat",
        head_repo="mallory/environments",
    )
    pull = client(api).pull_request(7)
    assert (pull["state"], pull["draft"], pull["merged"], pull["merged_at"]) == (
        "open",
        True,
        False,
        None,
    )
    assert pull["mergeable"] is None and pull["mergeable_state"] == "unknown"
    assert pull["user"] is not None and pull["user"]["login"] == "mallory"
    assert pull["head"]["sha"] == "a" * 40 and pull["head"]["ref"] == "feat"
    assert pull["head"]["repo"] == {**pull["head"]["repo"], "full_name": "mallory/environments"}
    assert pull["base"]["repo"] is not None and pull["base"]["repo"]["full_name"] == REPO
    assert pull["changed_files"] == 2 and pull["merge_commit_sha"] is None

    api.merge(7, "c" * 40)
    merged = client(api).pull_request(7)
    assert merged["state"] == "closed" and merged["merged"] and merged["merged_at"]
    assert merged["merge_commit_sha"] == "c" * 40


def test_a_head_from_a_deleted_fork_has_no_repository(api: FakeGithub) -> None:
    api.add_pull(7, "a" * 40, [], head_repo=None)
    assert client(api).pull_request(7)["head"]["repo"] is None


def test_reviews_say_who_approved_which_head(api: FakeGithub) -> None:
    api.add_pull(7, "a" * 40, [])
    api.associations["bob"] = "MEMBER"
    api.add_review(7, "bob", "APPROVED", commit_id="9" * 40)
    api.add_review(7, "carol", "CHANGES_REQUESTED", body="no")
    api.add_review(7, "dave", "PENDING")
    reviews = client(api).pull_request_reviews(7)
    summary = [
        (r["user"]["login"], r["state"], r["commit_id"], r["author_association"])
        for r in reviews
        if r["user"]
    ]
    assert summary == [
        ("bob", "APPROVED", "9" * 40, "MEMBER"),
        ("carol", "CHANGES_REQUESTED", "a" * 40, "NONE"),
        ("dave", "PENDING", "a" * 40, "NONE"),
    ]
    assert "submitted_at" in reviews[0] and "submitted_at" not in reviews[2]
    assert len(api.calls("GET", r"/pulls/7/reviews$")) == 2  # paginated (2 per page here)


def test_file_contents_at_a_ref(api: FakeGithub) -> None:
    api.add_file("tfops.yaml", "github:\n  apply_roles: [OWNER]\n", ref="main")
    api.add_file("tfops.yaml", "github:\n  apply_roles: [NONE]\n", ref="a" * 40)
    api.add_file("envs/dev/main.tf", b"\x00\xffbinary")
    api.add_file("big.json", b"x" * (1024 * 1024 + 1))
    github = client(api)

    assert github.file_contents("tfops.yaml", "main") == b"github:\n  apply_roles: [OWNER]\n"
    assert github.file_contents("tfops.yaml", "a" * 40) == b"github:\n  apply_roles: [NONE]\n"
    assert github.file_contents("envs/dev/main.tf", "main") == b"\x00\xffbinary"
    assert github.file_contents("missing.yaml", "main") is None
    assert api.calls("GET", r"/contents/tfops\.yaml$")[0].query == {"ref": "main"}
    with pytest.raises(GithubError, match=r"envs at main is a directory"):
        github.file_contents("envs", "main")
    with pytest.raises(GithubError, match=r"leaves big\.json at main \(1,048,577 bytes\) out"):
        github.file_contents("big.json", "main")
    for bad in ("", "../secrets", "envs//main.tf", "./tfops.yaml"):
        with pytest.raises(TfopsError, match="is not a path inside the repository"):
            github.file_contents(bad, "main")


def test_own_login_is_none_for_an_installation_token(api: FakeGithub) -> None:
    assert client(api).own_login() is None  # GET /user: 403 for GITHUB_TOKEN
    assert client(api, READ_ONLY_TOKEN).own_login() is None
    pat = client(api, PAT_TOKEN)
    assert pat.own_login() == PAT_LOGIN and pat.own_login() == PAT_LOGIN
    assert len(api.calls("GET", r"^/user$")) == 3  # asked once per client
    with pytest.raises(GithubError) as bad:
        client(api, "ghp_revoked").own_login()
    assert bad.value.status == 401


def test_the_repository_names_its_default_branch(api: FakeGithub) -> None:
    api.default_branch = "trunk"
    repo = client(api).repository()
    assert repo["default_branch"] == "trunk" and repo["full_name"] == REPO


def test_pull_requests_of_a_commit_are_simple_objects(api: FakeGithub) -> None:
    api.add_pull(7, "a" * 40, ["dev_main.tf"])
    api.add_pull(8, "b" * 40, ["prod_main.tf"])
    api.merge(8, "c" * 40)
    (merged,) = client(api).pull_requests_for_commit("c" * 40)
    assert merged["number"] == 8 and merged["merged_at"] and merged["head"]["sha"] == "b" * 40
    assert "merged" not in merged and "mergeable" not in merged  # GitHub's simple object
    (open_pull,) = client(api).pull_requests_for_commit("a" * 40)
    assert open_pull["merged_at"] is None and open_pull["state"] == "open"


def test_more_files_than_github_lists_is_an_error_not_a_shorter_list() -> None:
    with fake_github(repository=REPO, page_size=100) as api:
        api.add_pull(7, "a" * 40, [f"dev_{i}.tf" for i in range(3_001)])
        api.add_pull(8, "b" * 40, [f"dev_{i}.tf" for i in range(3_000)])
        github = client(api)
        with pytest.raises(FileListTruncated) as truncated:
            github.pull_request_files(7)
        assert str(truncated.value).startswith(
            "pull request #7 changes 3,001 files; GitHub lists only the first 3,000"
        )
        assert "git diff --name-only" in str(truncated.value)
        assert len(truncated.value.listed) == 3_000 and truncated.value.changed_files == 3_001
        assert len(api.calls("GET", r"/pulls/7/files$")) == 30  # 100 a page, GitHub's most
        assert len(github.pull_request_files(8)) == 3_000  # exactly the cap: complete


def test_renames_list_both_names(api: FakeGithub) -> None:
    pull = api.add_pull(7, "a" * 40, ["dev_new.tf", "prod_main.tf"])
    pull.renamed["dev_new.tf"] = "dev_old.tf"
    assert client(api).pull_request_files(7) == ["dev_new.tf", "dev_old.tf", "prod_main.tf"]
