"""`tfops ci` end to end: real terraform and git, GitHub's API served on 127.0.0.1.

Each test writes an Actions event payload, sets the variables Actions sets, runs the CLI,
and checks what a user would see: the PR comment, reactions and replies, the job summary,
the step outputs, the exit code, and the requests GitHub received.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.actions import REPO, Actions, comment_event, pr_event, tfops_comments
from tests.conftest import Tfops
from tests.github_api import READ_ONLY_TOKEN, TOKEN, FakeGithub
from tests.helpers import commit, git, init_repo
from tfops.github import event as github_module
from tfops.github.client import GithubClient, GithubError, GithubForbidden

SECRET = "dfp_live_5f3a9c2e7b1d4e6f"  # in the example's secrets.auto.tfvars; masked by config


# ---- pull requests -----------------------------------------------------------------------
def test_opened_pr_gets_one_comment_a_job_summary_and_outputs(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    api.add_pull(7, sha, ["dev_dns.tf", "dev_back_end.tf", "docs/notes.md"])
    api.add_comment(7, "Looks good to me", login="alice")

    result = actions.run("pull_request", pr_event(7, sha), sandbox)

    assert result.exit_code == 0, result.output
    (comment,) = tfops_comments(api, 7)
    body = comment["body"]
    assert body.splitlines()[0] == "<!-- tfops:plan -->"
    assert f"@ `{sha[:12]}`" in body and f"Commit `{sha}`" in body
    assert "| **dev** | 7 | 0 | 0 | 0 | 0 | 0 |" in body
    assert "**dev**: 7 to add, 0 to change, 0 to destroy" in body
    assert "prod" not in body.split("#### Plan")[1]  # only the affected environment
    summary_line, details = body.split("<details><summary>Show the 7 resource change(s)")
    assert "**dev**: 7 to add" in summary_line  # the summary sits outside the details
    assert "\n+ module.dev_back_end.module.db.terraform_data.database\n" in details
    assert "[workflow run](https://github.test/acme/environments/actions/runs/4242)" in body
    assert SECRET not in body and TOKEN not in body
    # the PR's files were read page by page, with the token, from GITHUB_API_URL
    files = api.calls("GET", r"/pulls/7/files$")
    assert len(files) == 2 and files[1].query["page"] == "2"
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in api.requests)
    # the job summary has the same report; the outputs say what changes
    summary = actions.summary.read_text()
    assert "**dev**: 7 to add" in summary and "tfops:plan" not in summary
    assert SECRET not in summary
    assert actions.outputs() == {
        "has_changes": "true",
        "environments": '["dev"]',
        "gates_passed": "true",
        "changes_dev": "true",
    }
    # the full plan is in the log too
    assert "dev: 7 to add, 0 to change, 0 to destroy" in result.stdout


def test_a_second_push_updates_the_same_comment(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    first = git(sandbox, "rev-parse", "HEAD")
    pull = api.add_pull(8, first, ["dev_dns.tf"])
    assert actions.run("pull_request", pr_event(8, first), sandbox).exit_code == 0
    (created,) = tfops_comments(api, 8)
    first_body = created["body"]
    assert "#### Pinned modules" not in first_body  # dev alone floats

    prod_dns = (sandbox / "prod_dns.tf").read_text()
    second = commit(sandbox, {"prod_dns.tf": prod_dns + "\n# reviewed\n"}, "touch prod")
    pull.head_sha, pull.files = second, ["dev_dns.tf", "prod_dns.tf"]
    result = actions.run("pull_request", pr_event(8, second, "synchronize"), sandbox)

    assert result.exit_code == 0, result.output
    (updated,) = tfops_comments(api, 8)
    assert updated["id"] == created["id"]
    assert len(api.calls("POST", r"/issues/8/comments$")) == 1
    assert len(api.calls("PATCH", rf"/issues/comments/{created['id']}$")) == 1
    assert f"@ `{second[:12]}`" in updated["body"] and first[:12] not in updated["body"]
    assert "| **prod** | 6 |" in updated["body"]
    # prod is pinned: its modules are listed with the refs they run
    pins = "| prod | `prod_back_end` | `../modules/back_end?ref=v1.1.0` | `v1.1.0` |"
    assert pins in updated["body"].split("#### Pinned modules")[1]
    assert json.loads(actions.outputs()["environments"]) == ["dev", "prod"]


def test_a_read_only_token_still_gets_the_full_report_into_the_job_summary(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    api.add_pull(9, sha, ["dev_dns.tf"])

    result = actions.run("pull_request", pr_event(9, sha), sandbox, token=READ_ONLY_TOKEN)

    assert result.exit_code == 0, result.output
    assert api.comments_on(9) == []
    assert "could not comment on the pull request" in result.stderr
    assert "pull-requests: write" in result.stderr
    summary = actions.summary.read_text()
    assert "tfops posted no PR comment" in summary and "from forks" in summary
    assert "**dev**: 7 to add" in summary


def test_failed_gates_fail_the_run_and_show_inline(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = commit(sandbox, {"dev_dns.tf": 'resource "terraform_data" "dev_zone" {\ninput="x"\n}\n'})
    api.add_pull(10, sha, ["dev_dns.tf"])

    result = actions.run("pull_request", pr_event(10, sha), sandbox)

    assert result.exit_code == 3, result.output
    assert "::warning file=dev_dns.tf,line=1,title=fmt%3A terraform-fmt::" in result.stdout
    (comment,) = tfops_comments(api, 10)
    assert "#### Gates ❌ failed" in comment["body"]
    assert "`terraform-fmt` in `dev_dns.tf:1`" in comment["body"]
    assert "#### Plan" not in comment["body"]
    assert actions.outputs() == {
        "has_changes": "false",
        "environments": '["dev"]',
        "gates_passed": "false",
        "changes_dev": "false",
    }


MONO_DEV = """resource "terraform_data" "size" {
  input = var.size
  lifecycle {
    precondition {
      condition     = var.size > 5
      error_message = "size must be more than 5 in dev."
    }
  }
}

variable "size" {
  type    = number
  default = 1
}
"""
MONO_PROD = 'resource "terraform_data" "web" {\n  input = "web-prod"\n}\n'


def test_a_subdirectory_of_the_repository_and_a_failed_plan(
    tmp_path: Path, actions: Actions, api: FakeGithub
) -> None:
    mono = init_repo(
        tmp_path / "mono",
        {
            "app/main.py": "print('hi')\n",
            "infra/envs/dev/main.tf": MONO_DEV,
            "infra/envs/prod/main.tf": MONO_PROD,
            "infra/envs/staging/main.tf": MONO_PROD.replace("prod", "staging"),
        },
    )
    sha = git(mono, "rev-parse", "HEAD")
    api.add_pull(11, sha, ["app/main.py", "infra/envs/dev/main.tf", "infra/envs/prod/main.tf"])

    result = actions.run("pull_request", pr_event(11, sha), mono / "infra")

    assert result.exit_code == 1, result.output
    (comment,) = tfops_comments(api, 11)
    body = comment["body"]
    assert body.splitlines()[0] == "<!-- tfops:plan:infra -->"  # one comment per tfops root
    assert "staging" not in body
    assert "**prod**: 1 to add, 0 to change, 0 to destroy" in body
    assert "**dev**: ❌ the plan failed." in body
    assert "size must be more than 5 in dev." in body  # terraform's own error
    assert actions.outputs()["changes_prod"] == "true"
    assert actions.outputs()["changes_dev"] == "false"


def test_the_comment_post_is_retried_after_a_rate_limit(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    api.add_pull(12, sha, ["global_monitoring.tf"])
    api.fail(
        "POST",
        r"/issues/12/comments$",
        403,
        headers={"Retry-After": "1"},
        message="You have exceeded a secondary rate limit.",
    )

    started = time.monotonic()
    result = actions.run("pull_request", pr_event(12, sha), sandbox)

    assert result.exit_code == 0, result.output
    assert len(api.calls("POST", r"/issues/12/comments$")) == 2
    assert time.monotonic() - started >= 1.0
    assert len(tfops_comments(api, 12)) == 1


def test_events_tfops_does_not_plan(actions: Actions, api: FakeGithub, tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "env", {"dev_main.tf": MONO_PROD})
    closed = actions.run("pull_request", pr_event(3, "abc", "closed"), repo)
    assert (
        closed.exit_code == 0
        and "was closed: released the locks of no environment" in closed.stderr
    )
    labeled = actions.run("pull_request", pr_event(3, "abc", "labeled"), repo)
    assert labeled.exit_code == 0 and "'labeled': nothing to do" in labeled.stderr
    unknown = actions.run("release", {"action": "published"}, repo)
    assert unknown.exit_code == 0 and "nothing to do for 'release' events" in unknown.stderr
    assert api.requests == []


def test_a_pr_that_planned_an_environment_holds_its_lock_until_closed(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    api.add_pull(21, sha, ["dev_dns.tf"])
    api.add_pull(22, sha, ["dev_front_end.tf"])
    assert actions.run("pull_request", pr_event(21, sha), sandbox).exit_code == 0
    assert "locked by" not in tfops_comments(api, 21)[0]["body"]

    second = actions.run("pull_request", pr_event(22, sha), sandbox)
    assert second.exit_code == 0, second.output
    assert "dev is locked by #21" in tfops_comments(api, 22)[0]["body"]

    closed = actions.run("pull_request", pr_event(21, sha, "closed"), sandbox)
    assert "released the locks of dev" in closed.stderr
    actions.run("pull_request", pr_event(22, sha, "synchronize"), sandbox)
    assert "locked by" not in tfops_comments(api, 22)[0]["body"]


def test_a_push_to_the_default_branch_is_handed_to_apply_on_merge(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    push = {"ref": "refs/heads/main", "after": sha, "repository": {"default_branch": "main"}}
    feature = actions.run("push", {**push, "ref": "refs/heads/feature"}, sandbox)
    assert feature.exit_code == 0, feature.output
    assert "not to the default branch main: nothing to apply." in feature.stderr
    assert api.requests == []

    api.add_pull(40, sha, ["dev_dns.tf"]).merge_sha = sha
    result = actions.run("push", push, sandbox)
    assert api.calls("GET", rf"/commits/{sha}/pulls$")  # found the merged PR through the API
    # nobody planned #40, so nothing was reviewed: refused, and said on the pull request
    assert result.exit_code == 1, result.output
    assert "no plan of dev was kept for #40, so there is nothing reviewed" in result.stdout
    (comment,) = api.comments_on(40)
    assert comment["body"].startswith("### ⛔ tfops apply on merge of #40")


def test_schedule_checks_for_drift_and_opens_an_issue(
    actions: Actions, api: FakeGithub, tmp_path: Path, tfops: Tfops
) -> None:
    repo = init_repo(tmp_path / "env", {"dev_main.tf": MONO_PROD})
    assert tfops("-q", "apply", str(repo), "-e", "dev", "--auto-approve").exit_code == 0
    clean = actions.run("schedule", {"schedule": "17 * * * *"}, repo)
    assert clean.exit_code == 0, clean.output
    assert "dev: no drift." in clean.stdout
    assert api.calls("POST", r"/issues$") == []

    commit(repo, {"dev_main.tf": MONO_PROD.replace("web-prod", "web-dev")})  # never applied
    drifted = actions.run("schedule", {"schedule": "17 * * * *"}, repo)
    assert drifted.exit_code == 0, drifted.output
    (issue,) = api.issues.values()
    assert issue["title"] == "Drift in dev" and issue["state"] == "open"
    assert '!     input: "web-prod" -> "web-dev"' in issue["body"]
    assert actions.outputs()["drifted"] == '["dev"]'


def test_a_missing_token_or_payload_is_a_clear_error(
    actions: Actions, tmp_path: Path, sandbox: Path
) -> None:
    result = actions.run("pull_request", pr_event(1, "abc"), sandbox, token=None)
    assert result.exit_code == 1
    assert "GITHUB_TOKEN is not set" in result.stderr and "github.token" in result.stderr
    assert "Traceback" not in result.output
    actions.monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "missing.json"))
    missing = actions.tfops("ci", str(sandbox))
    assert missing.exit_code == 1
    assert "missing.json: the event payload file does not exist" in missing.stderr


# ---- ChatOps -----------------------------------------------------------------------------
def test_apply_from_someone_without_write_access_is_refused(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    api.add_pull(20, git(sandbox, "rev-parse", "HEAD"), ["dev_dns.tf"])
    api.permissions["mallory"] = "read"
    command = api.add_comment(20, "/tfops apply -e dev", login="mallory")

    result = actions.run(
        "issue_comment",
        comment_event(20, command["id"], command["body"], "mallory", "COLLABORATOR"),
        sandbox,
    )

    assert result.exit_code == 0, result.output
    assert api.reactions == [(command["id"], "eyes"), (command["id"], "confused")]
    reply = api.comments_on(20)[-1]["body"]
    assert reply.startswith("Sorry @mallory, `/tfops apply` needs write access")
    assert "you have read access" in reply
    assert api.calls("GET", r"/collaborators/mallory/permission$")
    assert not (sandbox / "terraform.tfstate").exists()

    # someone who is not even a collaborator is refused without asking the API
    stranger = api.add_comment(20, "/tfops apply -e dev", login="eve")
    actions.run(
        "issue_comment",
        comment_event(20, stranger["id"], "/tfops apply -e dev", "eve", "NONE"),
        sandbox,
    )
    assert "you have no access" in api.comments_on(20)[-1]["body"]
    assert not api.calls("GET", r"/collaborators/eve/permission$")


def test_apply_from_a_member_applies_and_reports(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    pull = api.add_pull(21, sha, ["global_monitoring.tf"])
    api.permissions.update(alice="write", bob="maintain")
    assert actions.run("pull_request", pr_event(21, sha), sandbox).exit_code == 0  # shown
    api.add_review(pull.number, "bob")
    command = api.add_comment(21, "/tfops apply -e global\nplease", login="alice")

    result = actions.run(
        "issue_comment",
        comment_event(21, command["id"], command["body"], "alice", "MEMBER"),
        sandbox,
        "-e",
        "global",  # the job bound to global's GitHub environment
    )

    assert result.exit_code == 0, result.output
    assert api.reactions == [(command["id"], "eyes"), (command["id"], "rocket")]
    reply = api.comments_on(21)[-1]["body"]
    assert reply.startswith(f"🚀 **`/tfops apply -e global`** succeeded at `{sha[:12]}`")
    assert "global: 2 to add" in reply and SECRET not in reply
    state = json.loads((sandbox / "terraform.tfstate").read_text())
    assert {r["name"] for r in state["resources"]} == {"artifact_store", "alarms_topic"}


def test_a_command_on_a_checkout_that_is_not_the_pr_head_is_refused(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    api.add_pull(22, "f" * 40, ["dev_dns.tf"])
    api.permissions["alice"] = "admin"
    command = api.add_comment(22, "/tfops apply -e dev", login="alice")

    result = actions.run(
        "issue_comment",
        comment_event(22, command["id"], command["body"], "alice", "OWNER"),
        sandbox,
        "-e",
        "dev",
    )

    assert result.exit_code == 1
    assert api.reactions[-1] == (command["id"], "confused")
    reply = api.comments_on(22)[-1]["body"]
    assert "not the head of pull request #22 (ffffffffffff)" in reply
    assert "refs/pull/22/head" in reply
    assert not (sandbox / "terraform.tfstate").exists()


def test_plan_command_from_a_collaborator_updates_the_plan_comment(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    api.add_pull(23, sha, ["dev_dns.tf"])
    api.permissions["bob"] = "write"
    command = api.add_comment(23, "/tfops plan", login="bob")

    result = actions.run(
        "issue_comment",
        comment_event(23, command["id"], command["body"], "bob", "CONTRIBUTOR"),
        sandbox,
    )

    assert result.exit_code == 0, result.output
    assert api.reactions == [(command["id"], "eyes"), (command["id"], "rocket")]
    (plan,) = tfops_comments(api, 23)
    assert "**dev**: 7 to add" in plan["body"] and f"`{sha[:12]}`" in plan["body"]


def test_help_and_invalid_commands_get_a_reply(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    api.add_pull(24, git(sandbox, "rev-parse", "HEAD"), [])
    help_comment = api.add_comment(24, "/tfops help", login="carol")
    result = actions.run(
        "issue_comment",
        comment_event(24, help_comment["id"], "/tfops help", "carol", "NONE"),
        sandbox,
    )
    assert result.exit_code == 0, result.output
    assert api.reactions == [(help_comment["id"], "eyes")]
    reply = api.comments_on(24)[-1]["body"]
    assert reply.startswith("@carol, tfops understands these commands")
    for command in ("/tfops plan -e ENV", "/tfops apply -e ENV", "/tfops unlock -e ENV"):
        assert f"`{command}`" in reply

    bad = api.add_comment(24, "/tfops apply", login="carol")
    result = actions.run(
        "issue_comment", comment_event(24, bad["id"], "/tfops apply", "carol", "OWNER"), sandbox
    )
    assert result.exit_code == 0, result.output
    assert api.reactions[-1] == (bad["id"], "confused")
    reply = api.comments_on(24)[-1]["body"]
    assert "did not understand `/tfops apply`: apply needs exactly one environment" in reply

    chatter = api.add_comment(24, "I think /tfops is neat", login="carol")
    result = actions.run(
        "issue_comment",
        comment_event(24, chatter["id"], chatter["body"], "carol", "OWNER"),
        sandbox,
    )
    assert result.exit_code == 0 and "not a /tfops command" in result.stderr
    assert api.reactions[-1] == (bad["id"], "confused")  # nothing new


def test_unlock_releases_a_held_lock(sandbox: Path, actions: Actions, api: FakeGithub) -> None:
    locks = pytest.importorskip("tfops.records.locks")
    from tfops.config import load_config

    backend = locks.open_locks(load_config(sandbox)[0], sandbox)
    backend.acquire("dev", locks.LockHolder.for_pr(3, who="alice"))
    api.add_pull(25, git(sandbox, "rev-parse", "HEAD"), [])
    api.permissions["alice"] = "admin"
    command = api.add_comment(25, "/tfops unlock -e dev", login="alice")

    result = actions.run(
        "issue_comment",
        comment_event(25, command["id"], command["body"], "alice", "OWNER"),
        sandbox,
    )

    assert result.exit_code == 0, result.output
    assert backend.get("dev") is None
    reply = api.comments_on(25)[-1]["body"]
    assert "Released the lock on dev: locked by #3 (alice" in reply


# ---- matrix ------------------------------------------------------------------------------
def test_matrix_lists_the_affected_environments(
    sandbox: Path, tfops: Tfops, tmp_path: Path, actions: Actions, api: FakeGithub
) -> None:
    dev_only = tfops("matrix", str(sandbox), "--files", "dev_dns.tf")
    assert dev_only.exit_code == 0, dev_only.output
    assert json.loads(dev_only.stdout) == {"include": [{"environment": "dev", "root": "."}]}
    shared = json.loads(tfops("matrix", str(sandbox), "--files", "main.tf").stdout)
    assert sorted(i["environment"] for i in shared["include"]) == ["dev", "global", "prod"]

    mono = init_repo(
        tmp_path / "mono",
        {"infra/envs/dev/main.tf": MONO_PROD, "infra/envs/prod/main.tf": MONO_PROD},
    )
    api.add_pull(30, git(mono, "rev-parse", "HEAD"), ["infra/envs/prod/main.tf", "README.md"])
    for name, value in {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": api.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_OUTPUT": str(actions.output),
    }.items():
        actions.monkeypatch.setenv(name, value)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pr_event(30, "abc")))
    actions.monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    from_pr = tfops("matrix", str(mono / "infra"))
    assert from_pr.exit_code == 0, from_pr.output
    expected = {"include": [{"environment": "prod", "root": "envs/prod"}]}
    assert json.loads(from_pr.stdout) == expected
    assert json.loads(actions.outputs()["matrix"]) == expected


# ---- the client --------------------------------------------------------------------------
def client(api: FakeGithub, token: str = TOKEN, max_wait: float = 5) -> GithubClient:
    return GithubClient(api.url, token, REPO, max_wait=max_wait)


def test_client_waits_out_rate_limits(api: FakeGithub) -> None:
    api.add_comment(1, "hello")
    reset = str(int(time.time()) + 1)
    api.fail("GET", r"/issues/1/comments$", 429, headers={"Retry-After": "1"})
    api.fail(
        "GET",
        r"/issues/1/comments$",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        message="API rate limit exceeded",
    )
    started = time.monotonic()
    assert [c["body"] for c in client(api).issue_comments(1)] == ["hello"]
    assert len(api.calls("GET", r"/issues/1/comments$")) == 3
    assert time.monotonic() - started >= 2.0


def test_client_gives_up_on_a_wait_longer_than_its_maximum(
    api: FakeGithub, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.fail("GET", r"/pulls/1/files$", 429, headers={"Retry-After": "3600"})
    with pytest.raises(GithubError, match=r"asks tfops to wait 3600s, longer than it waits \(5s\)"):
        client(api).pull_request_files(1)
    assert len(api.requests) == 1


def test_client_errors_name_the_endpoint_and_the_fix(api: FakeGithub) -> None:
    with pytest.raises(GithubError) as bad_token:
        client(api, token="nope").pull_request(1)
    assert bad_token.value.status == 401
    assert "GET /repos/acme/environments/pulls/1: GitHub answered 401 (Bad credentials)" in str(
        bad_token.value
    )
    assert "token is missing, expired or invalid" in str(bad_token.value)

    with pytest.raises(GithubError) as missing:
        client(api).pull_request(404)
    assert missing.value.status == 404 and "check GITHUB_REPOSITORY" in str(missing.value)

    api.add_pull(1, "abc", [])
    with pytest.raises(GithubForbidden) as forbidden:
        client(api, token=READ_ONLY_TOKEN).create_comment(1, "hi")
    assert "Resource not accessible by integration" in str(forbidden.value)
    assert "pull-requests: write" in str(forbidden.value)


def test_client_pages_through_long_lists(api: FakeGithub) -> None:
    pull = api.add_pull(2, "abc", [f"dev_{i}.tf" for i in range(7)])
    pull.renamed["dev_0.tf"] = "old_dev_0.tf"
    names = client(api).pull_request_files(2)
    assert names[:2] == ["dev_0.tf", "old_dev_0.tf"] and len(names) == 8
    assert len(api.calls("GET", r"/pulls/2/files$")) == 4


def test_max_wait_comes_from_the_module_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(github_module, "MAX_WAIT_SECONDS", 0.5)
    event = github_module.GithubEvent(
        "pull_request", {}, REPO, "http://x", "http://y", "t", None, None, None, None
    )
    assert event.client().max_wait == 0.5
