"""Apply on merge, end to end: real git merges, real terraform, the plan store and locks.

A pull request is planned the way `tfops ci` does it (plans kept, environments locked),
merged with git, and then `tfops apply --merged --pr N` runs at the merge commit.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tfops
from tests.github_api import TOKEN, FakeGithub, fake_github
from tests.helpers import commit, finish, git, init_repo, start_tfops, wait_for, write_files
from tests.repos import (
    GITIGNORE,
    SLOW,
    TFOPS_YAML,
    audit_lines,
    lock_files,
    make_repo,
    merge,
    open_pr,
    quiet_session,
    resource,
    state_inputs,
)
from tfops.ci.context import CiContext
from tfops.ci.push import handle as handle_event
from tfops.console import Console
from tfops.github.event import GithubEvent
from tfops.pipeline.merge import ExplicitHistory, MergedPR, apply_merged
from tfops.pipeline.records import Records
from tfops.pipeline.review import (
    lock_pr_environments,
    release_pr_environments,
)
from tfops.plan.compare import compare
from tfops.provider.mirror import install_mirror
from tfops.records.audit import open_audit
from tfops.records.locks import open_locks
from tfops.records.store import PlanKey


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "environments", resource("app", "v1"), resource("app", "p1"))


def test_merge_with_an_unchanged_plan_applies_what_was_reviewed(repo: Path, tfops: Tfops) -> None:
    head = open_pr(
        repo,
        "feature",
        {"envs/dev/main.tf": resource("app", "v2"), "envs/prod/main.tf": resource("app", "p2")},
        12,
        ["dev", "prod"],
    )
    assert lock_files(repo) == ["dev.json", "prod.json"]
    merged = merge(repo, "feature", 12)

    result = tfops("apply", str(repo), "--merged", "--pr", "12", "--head", head, "--no-gates")
    assert result.exit_code == 0, result.output
    assert f"tfops apply on merge of #12 at {merged[:12]}:" in result.stdout
    assert "dev: applied (1 to add, 0 to change, 0 to destroy)" in result.stdout
    assert "prod: skipped" in result.stdout and "apply: manual" in result.stdout
    assert "matches the reviewed plan" in result.stderr
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v2"}
    assert state_inputs(repo / "envs/prod") == {}  # manual: not applied on merge
    assert lock_files(repo) == []  # the PR merged: its locks are gone

    (line,) = audit_lines(repo)
    assert line["environment"] == "dev" and line["result"] == "applied"
    assert (line["commit"], line["pr"], line["trigger"]) == (merged, 12, "merge")
    assert line["duration_seconds"] > 0 and line["who"]
    records = Records.open(quiet_session(repo))
    applied = records.store.records(kind="apply")
    assert [(r.environment, r.commit, r.pr) for r in applied] == [("dev", merged, 12)]
    assert line["plan_sha256"] == applied[0].sha256

    audit = tfops("audit", str(repo))
    assert f"dev          applied     {line['who']}" in audit.stdout

    # prod is applied when asked for by name, still only as reviewed
    prod = tfops("apply", str(repo), "--merged", "--pr", "12", "-e", "prod", "--no-gates")
    assert prod.exit_code == 0, prod.output
    assert "prod: applied" in prod.stdout
    assert state_inputs(repo / "envs/prod") == {"terraform_data.app": "p2"}


def test_a_change_landed_on_main_in_between_refuses(repo: Path, tfops: Tfops) -> None:
    # apply the starting point, so the PR's plan is an update
    assert tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates").exit_code == 0
    open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2")}, 12, ["dev"])
    # meanwhile on main: another resource in dev
    commit(repo, {"envs/dev/extra.tf": resource("extra", "surprise")}, "direct push")
    merge(repo, "feature", 12)
    seen: list[str] = []

    session = quiet_session(repo)
    merged = git(repo, "rev-parse", "HEAD")
    result = apply_merged(session, merged, ExplicitHistory(MergedPR(12, None, merged)), gates=False)
    seen.append(result.markdown())

    dev = result.outcome("dev")
    assert dev is not None and dev.result == "refused"
    assert "terraform_data.extra: only in the new plan (create); never reviewed" in dev.detail
    assert result.exit_code == 1
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v1"}  # nothing applied
    (comment,) = seen
    assert comment.startswith("### ⛔ tfops apply on merge of #12")
    assert "| dev | ⛔ refused |" in comment
    assert "terraform_data.extra: only in the new plan (create); never reviewed" in comment
    assert audit_lines(repo)[-1]["result"] == "refused"
    assert "terraform_data.extra" in audit_lines(repo)[-1]["detail"]
    assert lock_files(repo) == ["dev.json"]  # dev is behind: #12 keeps its lock
    assert "keep its lock" in dev.detail and "tfops unlock -e dev" in dev.detail


def test_a_changed_value_is_named_with_both_sides(repo: Path, tfops: Tfops) -> None:
    open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2")}, 12, ["dev"])
    commit(repo, {"envs/dev/main.tf": resource("app", "v3")}, "direct push")
    git(repo, "merge", "-q", "--no-ff", "-X", "ours", "feature", "-m", "Merge #12")
    result = tfops("apply", str(repo), "--merged", "--pr", "12", "--no-gates")
    assert result.exit_code == 1
    assert 'terraform_data.app: input: reviewed "v2", now "v3"' in result.stdout
    assert "not applied: the plan at the merge commit is not the reviewed plan" in result.stderr


LOCALFILE = """terraform {
  required_providers {
    localfile = {
      source  = "tfops/localfile"
      version = "0.1.0"
    }
  }
}

resource "localfile_file" "motd" {
  path    = "motd.txt"
  content = "%s"
}
"""


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_mirror(tmp_path_factory.mktemp("mirror"))


def test_refresh_noise_does_not_block_the_apply(
    tmp_path: Path, tfops: Tfops, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between review and merge the file is edited by hand. The refreshed plan's `before`
    differs from the reviewed one, but it still sets exactly the reviewed content: applied."""
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(mirror))
    repo = make_repo(tmp_path / "environments", LOCALFILE % "v1", resource("a", "p"))
    assert tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates").exit_code == 0
    motd = repo / "envs/dev/motd.txt"
    assert motd.read_text() == "v1"
    open_pr(repo, "feature", {"envs/dev/main.tf": LOCALFILE % "v2"}, 12, ["dev"])
    motd.write_text("edited by hand")
    merge(repo, "feature", 12)
    result = tfops("apply", str(repo), "--merged", "--pr", "12", "--no-gates")
    assert result.exit_code == 0, result.output
    assert "dev: applied (0 to add, 1 to change, 0 to destroy)" in result.stdout
    assert motd.read_text() == "v2"


def test_an_unplanned_environment_or_commit_is_refused(repo: Path, tfops: Tfops) -> None:
    open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2")}, 12, ["dev"])
    git(repo, "checkout", "-q", "feature")
    late = commit(repo, {"envs/dev/main.tf": resource("app", "v9")}, "pushed after the plan")
    git(repo, "checkout", "-q", "main")
    merge(repo, "feature", 12)
    result = tfops("apply", str(repo), "--merged", "--pr", "12", "--head", late, "--no-gates")
    assert result.exit_code == 1
    assert f"not of its last commit {late[:12]}: that commit was never reviewed" in result.stdout
    assert state_inputs(repo / "envs/dev") == {}
    # a PR nobody planned at all
    git(repo, "checkout", "-q", "-b", "unplanned")
    commit(repo, {"envs/dev/main.tf": resource("app", "v7")}, "never planned")
    git(repo, "checkout", "-q", "main")
    merge(repo, "unplanned", 13)
    result = tfops("apply", str(repo), "--merged", "--pr", "13", "--no-gates")
    assert result.exit_code == 1
    assert "no plan of dev was kept for #13, so there is nothing reviewed" in result.stdout
    assert [(e["pr"], e["result"]) for e in audit_lines(repo)] == [(12, "refused"), (13, "refused")]


def test_a_tampered_reviewed_plan_is_refused(repo: Path, tfops: Tfops) -> None:
    head = open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2")}, 12, ["dev"])
    merge(repo, "feature", 12)
    records = Records.open(quiet_session(repo))
    key = PlanKey(records.repo, 12, head, "dev", "plan")
    records.store.blobs.write(key.prefix + ".json", b'{"resource_changes": []}')
    result = tfops("apply", str(repo), "--merged", "--pr", "12", "--no-gates")
    assert result.exit_code == 1
    assert "does not match the sha256 recorded when it was stored" in result.stdout
    assert state_inputs(repo / "envs/dev") == {}


def test_the_checkout_must_be_the_merge_commit(repo: Path, tfops: Tfops) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, {"README.md": "x"}, "later")
    result = tfops("apply", str(repo), "--merged", "--pr", "1", "--commit", first)
    assert result.exit_code == 1
    assert f"not at the merge commit {first[:12]}" in result.stderr
    assert "check out the merge commit first" in result.stderr
    no_pr = tfops("apply", str(repo), "--pr", "3")
    assert no_pr.exit_code == 1 and "--pr, --commit and --head go with --merged" in no_pr.stderr


def test_pr_locks_keep_other_prs_out_until_merge(repo: Path, tfops: Tfops) -> None:
    open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2")}, 12, ["dev"])
    session = quiet_session(repo)
    _, refused = lock_pr_environments(session, 13, ["dev"])
    assert [r.info.describe().split(" (")[0] for r in refused] == ["locked by #12"]
    # a manual apply from elsewhere is refused too
    blocked = tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates")
    assert blocked.exit_code == 1
    assert "error: dev is locked by #12 (author, since" in blocked.stderr
    assert "tfops unlock -e dev" in blocked.stderr
    merge(repo, "feature", 12)
    assert tfops("apply", str(repo), "--merged", "--pr", "12", "--no-gates").exit_code == 0
    held, refused = lock_pr_environments(session, 13, ["dev"])
    assert [h.holder_id for h in held] == ["pr-13"] and not refused
    assert release_pr_environments(session, 13) == ["dev"]


def test_unlock_breaks_a_lock(repo: Path, tfops: Tfops) -> None:
    lock_pr_environments(quiet_session(repo), 5, ["prod"], who="mallory")
    listed = tfops("unlock", str(repo), "--list")
    assert "prod: locked by #5 (mallory, since" in listed.stdout
    result = tfops("unlock", str(repo), "-e", "prod")
    assert result.exit_code == 0
    assert "Released the lock of prod, which was locked by #5 (mallory" in result.stdout
    assert tfops("unlock", str(repo), "-e", "prod").stdout.strip() == "prod was not locked."
    assert "No environment is locked." in tfops("unlock", str(repo), "--list").stdout
    unknown = tfops("unlock", str(repo), "-e", "qa")
    assert unknown.exit_code == 1 and "qa" in unknown.stderr


def test_compare_on_real_plans_masks_sensitive_values(tmp_path: Path) -> None:
    """The comparison itself, on plan JSON from terraform: values, unknowns, secrets."""
    root = tmp_path / "root"
    variables = 'variable "secret" {\n  type      = string\n  sensitive = true\n}\n'
    body = 'resource "terraform_data" "app" {\n  input = {name = "%s", key = var.secret}\n}\n'
    write_files(root, {"main.tf": variables + body % "a"})
    session = quiet_session(root)
    (root_obj,) = session.repo.roots

    def plan(secret: str, name: str) -> dict[str, Any]:
        (root / "main.tf").write_text(variables + body % name)
        (root / "s.auto.tfvars").write_text(f'secret = "{secret}"\n')
        run = session.run_root(root_obj, ["default"], gates=False)
        assert run.plan_json is not None, run.error
        return run.plan_json

    reviewed = plan("hunter2-secret", "a")
    assert compare("default", reviewed, plan("hunter2-secret", "a")).equal  # unknown id/output
    differs = compare("default", reviewed, plan("other-secret", "b"))
    text = differs.render()
    assert 'terraform_data.app: input.name: reviewed "a", now "b"' in text
    assert "input.key: reviewed (sensitive value), now (sensitive value)" in text
    assert "hunter2" not in text and "other-secret" not in text


# ---- locks under concurrency and signals ---------------------------------------------------


def test_two_concurrent_applies_one_fails_cleanly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "environments", resource("app", "v1", SLOW % 4), resource("a", "p"))
    seen: list[str] = []
    first = start_tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates")
    wait_for(first, "Executing:", seen)
    second = start_tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates")
    second_output = finish(second, [])
    assert second.returncode == 1, second_output
    assert "error: dev is locked by " in second_output and "'s run apply-" in second_output
    assert f"pid {first.pid} on " in second_output
    assert "Traceback" not in second_output
    first_output = finish(first, seen)
    assert first.returncode == 0, first_output
    assert lock_files(repo) == []


def test_two_concurrent_applies_the_second_waits(tmp_path: Path) -> None:
    yaml = TFOPS_YAML + "locks:\n  wait_seconds: 120\n"
    repo = make_repo(
        tmp_path / "environments", resource("app", "v1", SLOW % 4), resource("a", "p"), yaml
    )
    seen: list[str] = []
    first = start_tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates")
    wait_for(first, "Executing:", seen)
    second = start_tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates")
    second_output = finish(second, [])
    first_output = finish(first, seen)
    assert first.returncode == 0, first_output
    assert second.returncode == 0, second_output
    assert "waiting up to 120s for it" in second_output
    assert "No changes in dev" in second_output  # it planned after the first one applied
    assert [e["result"] for e in audit_lines(repo)] == ["applied", "no-changes"]
    assert lock_files(repo) == []


@pytest.mark.parametrize("how", ["apply -e dev", "apply --merged"])
def test_sigterm_during_apply_leaves_no_lock_behind(tmp_path: Path, how: str) -> None:
    repo = make_repo(tmp_path / "environments", resource("app", "v1"), resource("a", "p"))
    if how == "apply --merged":
        open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2", SLOW % 60)}, 7, ["dev"])
        merge(repo, "feature", 7)
        args = ["apply", str(repo), "--merged", "--pr", "7", "--no-gates"]
    else:
        commit(repo, {"envs/dev/main.tf": resource("app", "v2", SLOW % 60)}, "slow")
        args = ["apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates"]
    seen: list[str] = []
    child = start_tfops(*args)
    wait_for(child, "Executing:", seen)
    assert lock_files(repo) == ["dev.json"]
    assert (repo / "envs/dev/.terraform.tfstate.lock.info").exists()
    child.send_signal(signal.SIGTERM)
    output = finish(child, seen)
    assert child.returncode == 130, output
    assert "Gracefully shutting down" in output  # terraform got the signal first
    assert not (repo / "envs/dev/.terraform.tfstate.lock.info").exists()
    assert lock_files(repo) == []
    assert audit_lines(repo)[-1]["result"] == "interrupted"
    locks = open_locks(quiet_session(repo).config, repo)
    assert locks.all() == []


def test_a_signed_commit_is_required_where_configured(
    tmp_path: Path, tfops: Tfops, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml = TFOPS_YAML + "    require_signed_commits: true\n"
    repo = make_repo(tmp_path / "environments", resource("app", "v1"), resource("a", "p"), yaml)
    refused = tfops("apply", str(repo), "-e", "prod", "--auto-approve", "--no-gates")
    assert refused.exit_code == 1
    assert "tfops.yaml: environments.prod.require_signed_commits: refusing to apply prod" in (
        refused.stderr
    )
    assert [(e["environment"], e["result"]) for e in audit_lines(repo)] == [("prod", "refused")]
    ssh_signing(repo, tmp_path)
    git(repo, "commit", "-q", "-S", "--allow-empty", "-m", "signed")
    assert git(repo, "verify-commit", "HEAD") == ""
    applied = tfops("apply", str(repo), "-e", "prod", "--auto-approve", "--no-gates")
    assert applied.exit_code == 0, applied.output
    assert state_inputs(repo / "envs/prod") == {"terraform_data.a": "p"}
    # a file Terraform reads, not committed: not covered by the signature
    (repo / "envs/prod/extra.tf").write_text(resource("b", "x"))
    dirty = tfops("apply", str(repo), "-e", "prod", "--auto-approve", "--no-gates")
    assert dirty.exit_code == 1 and "uncommitted changes" in dirty.stderr


def ssh_signing(repo: Path, tmp_path: Path) -> None:
    """Sign commits with a fresh SSH key that git trusts (no gpg needed)."""
    key = tmp_path / "signing_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)], check=True
    )
    public = (tmp_path / "signing_key.pub").read_text().strip()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"test@example.com {public}\n")
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key))
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))


def test_gpg_signed_merge_commit_is_accepted(
    tmp_path: Path, tfops: Tfops, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not any(os.access(Path(d) / "gpg", os.X_OK) for d in os.environ["PATH"].split(":")):
        pytest.skip("gpg is not installed (SSH signing is tested above)")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Test <test@example.com>",
         "ed25519", "sign", "never"],
        check=True, capture_output=True,
    )  # fmt: skip
    yaml = "environments:\n  dev:\n    require_signed_commits: true\n"
    repo = make_repo(tmp_path / "environments", resource("app", "v1"), resource("a", "p"), yaml)
    git(repo, "config", "user.signingkey", "test@example.com")
    open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2")}, 3, ["dev"])
    git(repo, "merge", "-q", "--no-ff", "feature", "-m", "unsigned merge")
    unsigned = tfops("apply", str(repo), "--merged", "--pr", "3", "--no-gates")
    assert unsigned.exit_code == 1
    assert "dev: refused" in unsigned.stdout
    assert "the merge commit's signature is not accepted" in unsigned.stdout
    assert state_inputs(repo / "envs/dev") == {}
    # the same merge, signed (dev is behind, #3 keeps its lock until someone releases it)
    assert tfops("unlock", str(repo), "-e", "dev").exit_code == 0
    git(repo, "reset", "-q", "--hard", "HEAD^")
    open_pr(repo, "feature2", {"envs/dev/main.tf": resource("app", "v2")}, 4, ["dev"])
    git(repo, "merge", "-q", "--no-ff", "-S", "feature2", "-m", "signed merge")
    signed = tfops("apply", str(repo), "--merged", "--pr", "4", "--no-gates")
    assert signed.exit_code == 0, signed.output
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v2"}


def test_prefix_layout_merge_targets_the_environment_and_compares_its_dependencies(
    sandbox: Path, tfops: Tfops
) -> None:
    """The bundled example: one root, one state. A PR changing dev's DNS merges while
    prod (manual) and global also have pending changes: dev is planned alone with -target,
    its dependency on global's monitoring module compared too, then applied."""
    head = open_pr(
        sandbox,
        "feature",
        {"dev_dns.tf": (sandbox / "dev_dns.tf").read_text().replace("dev.", "dev2.")},
        21,
        ["dev"],
    )
    merge(sandbox, "feature", 21)
    result = tfops("apply", str(sandbox), "--merged", "--pr", "21", "--head", head)
    assert result.exit_code == 0, result.output
    assert "planning dev alone with -target" in result.stderr
    assert "dev: applied" in result.stdout
    state = json.loads((sandbox / "terraform.tfstate").read_text())
    applied = {r.get("module", r["type"] + "." + r["name"]) for r in state["resources"]}
    assert applied == {
        "terraform_data.dev_zone",
        "localfile_file.dev_config",
        "module.dev_back_end",
        "module.dev_back_end.module.db",
        "module.dev_front_end",
    }
    assert open_audit(quiet_session(sandbox).config, sandbox).entries()[-1].result == "applied"


PREFIX_REPO = {
    ".gitignore": GITIGNORE,
    "tfops.yaml": TFOPS_YAML,
    "global_base.tf": resource("base", "b1"),
    "dev_app.tf": 'resource "terraform_data" "dev" {\n  input = terraform_data.base.output\n}\n',
    "prod_app.tf": resource("prod", "p1"),
}
DEV_CHANGED = 'resource "terraform_data" "dev" {\n  input = "${terraform_data.base.output}-x"\n}\n'


@pytest.mark.parametrize("landed_on_main", [False, True])
def test_dependencies_from_another_environment_are_compared_too(
    tmp_path: Path, tfops: Tfops, landed_on_main: bool
) -> None:
    """dev depends on global's base. Applying dev alone (-target) applies base too, so
    base's change is compared with the review as well."""
    repo = init_repo(tmp_path / "environments", PREFIX_REPO)
    open_pr(repo, "feature", {"dev_app.tf": DEV_CHANGED}, 8, ["dev"])
    if landed_on_main:
        commit(repo, {"global_base.tf": resource("base", "b2")}, "direct push")
    merge(repo, "feature", 8)
    result = tfops("apply", str(repo), "--merged", "--pr", "8", "--no-gates")
    assert "planning dev alone with -target" in result.stderr
    if landed_on_main:
        assert result.exit_code == 1
        assert 'terraform_data.base: input: reviewed "b1", now "b2"' in result.stdout
        assert state_inputs(repo) == {}
    else:
        assert result.exit_code == 0, result.output
        assert state_inputs(repo) == {"terraform_data.base": "b1", "terraform_data.dev": "b1-x"}


# ---- `tfops ci` on push: the GitHub glue ---------------------------------------------------


def ci_push(
    monkeypatch: pytest.MonkeyPatch, api: FakeGithub, repo: Path, payload: dict[str, Any]
) -> tuple[int, str]:
    """`merge.handle_event` (what `tfops ci` runs on push) on an Actions push event."""
    event = repo.parent / "push.json"
    event.write_text(json.dumps(payload))
    for name, value in {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": api.repository,
        "GITHUB_API_URL": api.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_STEP_SUMMARY": str(repo.parent / "summary.md"),
    }.items():
        monkeypatch.setenv(name, value)
    log, out = io.StringIO(), io.StringIO()
    ctx = CiContext(
        GithubEvent.from_environ(), repo, gates=False, console=Console(log, verbose=False), out=out
    )
    return handle_event(ctx), log.getvalue() + out.getvalue()


def test_a_push_event_applies_the_merged_pr_and_comments(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/environments")  # the store's repo name
    head = open_pr(repo, "feature", {"envs/dev/main.tf": resource("app", "v2")}, 12, ["dev"])
    before = git(repo, "rev-parse", "HEAD")
    merged = merge(repo, "feature", 12)
    with fake_github(repository="acme/environments") as api:
        api.add_pull(12, head, ["envs/dev/main.tf"]).merge_sha = merged
        payload = {
            "ref": "refs/heads/main",
            "before": before,
            "after": merged,
            "repository": {"default_branch": "main"},
        }
        code, output = ci_push(monkeypatch, api, repo, payload)
        assert code == 0, output
        (comment,) = api.comments_on(12)
        _, other_branch = ci_push(monkeypatch, api, repo, {**payload, "ref": "refs/heads/x"})
        api.pulls.clear()
        direct, direct_output = ci_push(monkeypatch, api, repo, payload)
    assert comment["body"].startswith("### ✅ tfops apply on merge of #12")
    assert "| dev | ✅ applied | 1 to add, 0 to change, 0 to destroy |" in comment["body"]
    assert "dev: applied (1 to add" in output
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v2"}
    assert "tfops apply on merge of #12" in (repo.parent / "summary.md").read_text()
    assert "not to the default branch main: nothing to apply" in other_branch
    assert direct == 0
    assert "since the last apply needs applying" in direct_output


def test_sigterm_while_waiting_for_a_lock_stops_at_once(tmp_path: Path) -> None:
    yaml = TFOPS_YAML + "locks:\n  wait_seconds: 300\n"
    repo = make_repo(tmp_path / "environments", resource("app", "v1"), resource("a", "p"), yaml)
    lock_pr_environments(quiet_session(repo), 9, ["dev"], who="author")
    seen: list[str] = []
    child = start_tfops("apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates")
    wait_for(child, "waiting up to 300s for it", seen)
    assert "dev is locked by #9 (author, since" in seen[-1]
    stopped = time.monotonic()
    child.send_signal(signal.SIGTERM)
    output = finish(child, seen)
    assert child.returncode == 130, output
    assert time.monotonic() - stopped < 10
    held = open_locks(quiet_session(repo).config, repo).get("dev")
    assert held is not None and held.holder_id == "pr-9"  # the PR's lock is untouched
