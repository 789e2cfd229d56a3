"""The one guarded path: every outcome of `apply_change`, on real terraform and git.

lock → plan → verify → approve → apply → record: each test drives one way through it and
checks what a user would see — the state, the audit line, the lock, the outcome.
"""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import commit, git, init_repo
from tests.repos import (
    GITIGNORE,
    TFOPS_YAML,
    audit_lines,
    lock_files,
    make_repo,
    quiet_session,
    resource,
    state_inputs,
)
from tfops.pipeline.apply import Approval, Change, Planned, apply_change, by_policy
from tfops.pipeline.outcome import Outcome, RootOutcome
from tfops.pipeline.records import Records
from tfops.records.locks import LockHolder, lock_for_pr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "environments", resource("app", "v1"), resource("app", "p1"))


def run(repo: Path, approve: object = None, *, env: str = "dev", **options: object) -> RootOutcome:
    session = quiet_session(repo)
    records = Records.open(session)
    (root,) = session.roots_for(session.select([env]))
    change = Change(
        root,
        [env],
        "manual",
        git(repo, "rev-parse", "HEAD"),
        LockHolder.for_run(who="tester"),
        gates=bool(options.pop("gates", False)),
        **options,  # type: ignore[arg-type]
    )
    return apply_change(session, records, change, approve or by_policy())  # type: ignore[arg-type]


def test_applied_then_no_changes(repo: Path) -> None:
    first = run(repo)
    assert (first.outcome, first.changes) == (
        Outcome.APPLIED,
        {"dev": "1 to add, 0 to change, 0 to destroy"},
    )
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v1"}
    second = run(repo)
    assert second.outcome is Outcome.NO_CHANGES
    assert [(e["environment"], e["result"]) for e in audit_lines(repo)] == [
        ("dev", "applied"),
        ("dev", "no-changes"),
    ]
    assert audit_lines(repo)[0]["plan_sha256"] == first.plan_sha256["dev"]
    assert lock_files(repo) == []


def test_the_lock_is_held_from_before_the_plan_to_the_approval(repo: Path) -> None:
    seen: list[list[str]] = []

    def planned(plan: Planned) -> None:
        seen.append(lock_files(repo))

    def approve(plan: Planned) -> Approval:
        seen.append(lock_files(repo))
        return Approval.decline("no, thank you")

    session = quiet_session(repo)
    (root,) = session.roots_for(session.select(["dev"]))
    change = Change(root, ["dev"], "manual", "c0", LockHolder.for_run(), gates=False)
    outcome = apply_change(session, Records.open(session), change, approve, on_planned=planned)
    assert seen == [["dev.json"], ["dev.json"]]
    assert (outcome.outcome, outcome.detail) == (Outcome.DECLINED, "no, thank you")
    assert state_inputs(repo / "envs/dev") == {}
    assert audit_lines(repo)[-1]["result"] == "declined"
    assert lock_files(repo) == []


def test_a_refusal_applies_nothing_and_says_why(repo: Path) -> None:
    outcome = run(repo, lambda plan: Approval.refuse("the plan differs from the review"))
    assert outcome.outcome is Outcome.REFUSED and not outcome.ok
    assert state_inputs(repo / "envs/dev") == {}
    assert audit_lines(repo)[-1]["detail"] == "the plan differs from the review"


def test_a_held_lock_refuses_before_anything_is_planned(repo: Path) -> None:
    session = quiet_session(repo)
    lock_for_pr(Records.open(session).locks, ["dev"], 5, who="alice")
    planned: list[Planned] = []

    def approve(plan: Planned) -> Approval:
        planned.append(plan)
        return Approval.grant()

    outcome = run(repo, approve)
    assert outcome.outcome is Outcome.REFUSED
    assert "dev is locked by #5 (alice, since" in outcome.detail
    assert planned == [] and state_inputs(repo / "envs/dev") == {}
    # the merge of #5 may take it over
    taken = run(repo, take_over=frozenset({"pr-5"}))
    assert taken.outcome is Outcome.APPLIED


def test_failed_gates_and_a_failed_plan(repo: Path) -> None:
    commit(repo, {"envs/dev/main.tf": 'resource "terraform_data" "app" {\ninput="v1"\n}\n'})
    gates = run(repo, gates=True)
    assert gates.outcome is Outcome.GATES_FAILED and "gates failed: fmt" in gates.detail
    commit(repo, {"envs/dev/main.tf": resource("app", "${var.nope}")})
    failed = run(repo)
    assert failed.outcome is Outcome.FAILED
    assert "Reference to undeclared input variable" in failed.detail
    assert [e["result"] for e in audit_lines(repo)] == ["gates-failed", "failed"]


def test_a_plan_file_changed_after_the_approval_is_not_applied(repo: Path) -> None:
    def swap(plan: Planned) -> Approval:
        assert plan.run.planfile is not None
        plan.run.planfile.write_bytes(b"someone else's plan")
        return Approval.grant()

    outcome = run(repo, swap)
    assert outcome.outcome is Outcome.FAILED
    assert "changed after it was planned and shown" in outcome.detail
    assert state_inputs(repo / "envs/dev") == {}


def test_a_stored_plan_is_applied_as_is_and_refused_once_stale(repo: Path) -> None:
    session = quiet_session(repo)
    records = Records.open(session)
    (root,) = session.roots_for(session.select(["dev"]))
    shown = session.run_root(root, ["dev"], gates=False)
    (record,) = records.keep(
        session, shown, ["dev"], kind="plan", commit="c1", pr=None, who="alice"
    ).values()
    stored = records.store.get(record.key)
    commit(repo, {"envs/dev/main.tf": resource("app", "v9")}, "moved on")  # not what was shown
    applied = run(repo, stored=stored)
    assert applied.outcome is Outcome.APPLIED
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v1"}  # the shown plan
    assert applied.plan_sha256["dev"] == record.sha256
    stale = run(repo, stored=stored)  # the state changed since that plan was made
    assert stale.outcome is Outcome.FAILED
    assert "Saved plan is stale" in stale.detail


PREFIX = {
    ".gitignore": GITIGNORE,
    "tfops.yaml": TFOPS_YAML,
    "global_base.tf": resource("base", "b1"),
    "dev_app.tf": resource("dev", "d1"),
    "prod_app.tf": resource("prod", "p1"),
}


def test_two_runs_in_one_checkout_never_share_a_plan_file(tmp_path: Path) -> None:
    """An interactive `tfops apply -e dev` waits at its prompt while another `tfops plan`
    runs in the same checkout; the apply then applies dev's plan, never the other one."""
    repo = init_repo(tmp_path / "environments", PREFIX)
    controller, terminal = pty.openpty()
    tfops = [sys.executable, "-m", "tfops", "--color", "never"]
    child = subprocess.Popen(
        [*tfops, "apply", str(repo), "-e", "dev", "--no-gates"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    os.close(terminal)
    assert child.stdout is not None
    output = ""
    deadline = time.monotonic() + 120
    while "Apply these changes to dev?" not in output:
        assert time.monotonic() < deadline, output
        output += os.read(child.stdout.fileno(), 4096).decode()
    other = subprocess.run(
        [sys.executable, "-m", "tfops", "-q", "plan", str(repo), "--no-gates"],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0, other.stdout + other.stderr
    os.write(controller, b"y\n")
    rest, _ = child.communicate(timeout=120)
    os.close(controller)
    assert child.returncode == 0, output + rest.decode()
    assert state_inputs(repo) == {"terraform_data.dev": "d1"}  # not prod, not global
    assert [(e["environment"], e["result"]) for e in audit_lines(repo)] == [("dev", "applied")]


def test_an_apply_whose_audit_line_the_store_refuses_still_says_it_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 goes away while terraform applies: the infrastructure changed, so tfops says so,
    keeps the audit line locally, and writes it on the next run."""
    from tests.records.test_audit_faults import StoppableS3

    s3 = StoppableS3()
    try:
        s3.client().create_bucket(Bucket="plans")
        for name, value in {
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{s3.port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        yaml = TFOPS_YAML + "store:\n  url: s3://plans/envs\n"
        slow = resource("app", "v1", '  provisioner "local-exec" {\n    command = "sleep 3"\n  }\n')
        repo = make_repo(tmp_path / "environments", slow, resource("app", "p1"), yaml)

        def approve(plan: Planned) -> Approval:
            threading.Timer(1.0, s3.stop).start()  # after the plan is kept, during the apply
            return Approval.grant()

        outcome = run(repo, approve)

        assert outcome.outcome is Outcome.APPLIED
        assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v1"}
        assert outcome.audit_problem is not None
        assert outcome.audit_problem.startswith(
            "applied; the audit record of dev could not be written to s3://plans/envs/audit/"
        )
        spool = repo / ".tfops" / "audit-pending"
        assert len(list(spool.iterdir())) == 1
        s3.start()
        session = quiet_session(repo)
        (entry,) = Records.open(session).audit.entries()  # the next run writes it first
        assert (entry.environment, entry.result) == ("dev", "applied")
        assert not list(spool.iterdir())
    finally:
        with contextlib.suppress(Exception):
            s3.stop()


def test_a_moved_tag_refuses_the_apply_even_without_gates(sandbox: Path) -> None:
    """The module lock's tag check is a safety check, not a lint: `--no-gates` keeps it."""
    from tests.conftest import Tfops

    tfops = Tfops()
    assert tfops("modules", "lock", str(sandbox)).exit_code == 0
    modules = sandbox.parent / "modules"
    git(modules, "tag", "-f", "v1.1.0", "main")  # someone moves the release tag

    result = tfops("apply", str(sandbox), "-e", "prod", "--auto-approve", "--no-gates")

    assert result.exit_code == 1, result.output
    assert "tag 'v1.1.0' moved: tfops.lock.json records" in result.stderr
    assert not (sandbox / "terraform.tfstate").exists()
    assert audit_lines(sandbox)[-1]["result"] == "refused"
