"""The one guarded path that changes infrastructure.

    lock → plan → verify → approve → apply → record → Outcome

`tfops apply`, apply on merge, `/tfops apply`, drift heal, the watcher and Slack all come
through `apply_change`; they differ only in their *approve* step (a person at a prompt,
"equals the reviewed plans", "policy says auto") and in who holds the lock. The lock of
every environment changed is held from before the plan until the audit line is written,
so nothing plans outside it, and the plan file applied is the one planned here, checked
by its sha256 right before terraform runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tfops.errors import Interrupted, TfopsError
from tfops.modules.lock import moved_tags
from tfops.pipeline.guards import (
    plan_problem,
    signature_error,
    signed_commit_refusals,
    targets_for,
)
from tfops.pipeline.outcome import Outcome, RootOutcome
from tfops.pipeline.records import AuditTrail, Records
from tfops.pipeline.session import RootRun, Session
from tfops.plan.compare import changes
from tfops.records.locks import LockHeld, LockHolder, held
from tfops.records.store import StoredPlan
from tfops.repo.environments import SHARED, Root


@dataclass(frozen=True)
class Change:
    """A request to bring some environments of one root to the checked-out commit."""

    root: Root
    environments: list[str]
    trigger: str  # manual | merge | comment | drift | watch | watch-heal | slack
    commit: str
    holder: LockHolder
    pr: int | None = None
    gates: bool = True
    take_over: frozenset[str] = frozenset()  # lock holders this run may take over (its PRs)
    hand_back: bool = False  # give taken-over locks back afterwards (an apply from an open PR)
    check_worktree: bool = True  # signed commits: uncommitted changes refuse (local runs)
    whole_root_first: bool = False  # plan the whole root; target only if others change too
    stored: StoredPlan | None = None  # apply this plan made earlier instead of planning


@dataclass
class Planned:
    """The plan made under the lock, handed to the approver."""

    change: Change
    run: RootRun
    note: str | None = None  # why -target is used, when it is
    targeted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def environments(self) -> list[str]:
        return self.change.environments

    def environment_of(self, session: Session, address: str) -> str:
        return session.repo.environment_of_address(address, self.change.root)


@dataclass(frozen=True)
class Approval:
    granted: bool
    reason: str = ""
    outcome: Outcome = Outcome.DECLINED  # when not granted: DECLINED (a person) or REFUSED
    why: str = ""  # when granted: shown after "Applying ENV", e.g. " (as reviewed on #12)"

    @classmethod
    def grant(cls, why: str = "") -> Approval:
        return cls(True, why=why)

    @classmethod
    def decline(cls, reason: str) -> Approval:
        return cls(False, reason, Outcome.DECLINED)

    @classmethod
    def refuse(cls, reason: str) -> Approval:
        return cls(False, reason, Outcome.REFUSED)


class Approver(Protocol):
    def __call__(self, planned: Planned) -> Approval: ...


def by_policy(why: str = "") -> Approver:
    """Approve without asking: the trusted configuration already said yes (apply: auto,
    heal: true), or a person asked for exactly this (--auto-approve)."""
    return lambda planned: Approval.grant(why)


def apply_change(
    session: Session,
    records: Records,
    change: Change,
    approve: Approver,
    *,
    on_planned: Callable[[Planned], None] | None = None,
) -> RootOutcome:
    """Run `change` through the pipeline. Every outcome is audited and returned; only an
    interrupt is raised (after it is audited), so a watcher or a batch carries on. An audit
    line the store refused waits in the local spool; `audit_problem` says so."""
    trail = AuditTrail(
        records,
        change.holder.who,
        change.commit,
        change.pr,
        change.trigger,
        session.binary.version,
        change.holder.run_url,
    )
    outcome = _run(session, records, trail, change, approve, on_planned)
    if trail.not_written:
        outcome.audit_problem = "; ".join(
            exc.after(outcome.outcome.value) for exc in trail.not_written
        )
        # the spool may be on a runner that is thrown away: the log keeps the lines too
        lines = [e.to_json() for exc in trail.not_written for e in exc.entries]
        session.console.warn(outcome.audit_problem + "".join(f"\n  {line}" for line in lines))
    return outcome


def _run(
    session: Session,
    records: Records,
    trail: AuditTrail,
    change: Change,
    approve: Approver,
    on_planned: Callable[[Planned], None] | None,
) -> RootOutcome:
    console = session.console
    envs = sorted(change.environments)
    targets, note = targets_for(session, change.root, envs)
    if note and not targets:
        return RootOutcome(envs, Outcome.NO_CHANGES, f"{', '.join(envs)} declares nothing")
    refusals = signed_commit_refusals(
        session, envs, change.commit, check_worktree=change.check_worktree
    )
    if refusals:
        detail = str(signature_error(refusals, change.commit))
        trail.write(envs, Outcome.REFUSED, detail=detail)
        return RootOutcome(envs, Outcome.REFUSED, detail)
    audited = False
    try:
        with held(
            records.locks,
            envs,
            change.holder,
            wait_seconds=session.config.locks.wait_seconds,
            take_over=change.take_over,
            hand_back=change.hand_back,
            warn=console.warn,
        ):
            console.note(f"Locked {', '.join(envs)} ({change.holder.holder_id}).")
            trail.start()
            planned: Planned | None = None
            try:
                planned = _plan(session, change, envs, targets, note)
                if on_planned is not None:
                    on_planned(planned)
                outcome = _verify_approve_apply(session, records, trail, planned, approve)
                audited = True
                return outcome
            except Interrupted as exc:
                audited = True
                trail.write(envs, Outcome.INTERRUPTED, detail=exc.message)
                raise
            finally:
                if planned is not None:
                    planned.run.discard()
    except Interrupted:
        raise
    except LockHeld as exc:
        trail.write(envs, Outcome.REFUSED, detail=str(exc))
        return RootOutcome(envs, Outcome.REFUSED, str(exc))
    except TfopsError as exc:
        detail = session.masker(str(exc))
        if not audited:
            trail.write(envs, Outcome.FAILED, detail=detail)
        return RootOutcome(envs, Outcome.FAILED, detail)


def _plan(
    session: Session, change: Change, envs: list[str], targets: list[str], note: str | None
) -> Planned:
    """Plan under the lock. A merge plans the whole root first (the fullest comparison) and
    falls back to -target only when other environments of the root change too. A stored
    plan (shown to someone earlier) is loaded instead: terraform refuses to apply it if the
    state changed since."""
    if change.stored is not None:
        stored = change.stored
        run = session.load_plan(change.root, envs, stored.planfile, stored.plan_json)
        run.targets = list(stored.record.targets)
        return Planned(change, run, targeted=bool(run.targets))
    if change.whole_root_first and targets:
        run = session.run_root(change.root, envs, gates=change.gates)
        if run.plan_json is None or plan_problem(run) is not None:
            return Planned(change, run)
        others = {
            session.repo.environment_of_address(c.address, change.root)
            for c in changes(run.plan_json)
        } - {*envs, SHARED}
        if not others:
            return Planned(change, run)
        run.discard()
        session.console.warn(
            f"{', '.join(sorted(others))} also change(s) in this Terraform root and "
            f"is not applied now; planning {', '.join(envs)} alone with -target."
        )
        run = session.run_root(change.root, envs, gates=False, targets=targets)
        return Planned(change, run, note, targeted=True)
    if note:
        session.console.warn(note)
    run = session.run_root(change.root, envs, gates=change.gates, targets=targets)
    return Planned(change, run, note, targeted=bool(targets))


def _moved_tags(session: Session, planned: Planned) -> str:
    """A locked module tag that now names another commit: a supply-chain alarm, checked on
    every apply — with `--no-gates` too, where the pins gate (which reports the same) did
    not run. A stored plan carries the module code it was shown with."""
    if planned.change.stored is not None or any(g.gate == "pins" for g in planned.run.gates):
        return ""
    envs = [session.repo.environments[n] for n in planned.environments]
    return "\n".join(m.message() for m in moved_tags(session.repo, envs, session.lister))


def _verify_approve_apply(
    session: Session,
    records: Records,
    trail: AuditTrail,
    planned: Planned,
    approve: Approver,
) -> RootOutcome:
    envs = planned.environments
    run = planned.run
    problem = plan_problem(run)
    if problem:
        problem = session.masker(problem)
        outcome = Outcome.FAILED if run.gates_ok else Outcome.GATES_FAILED
        trail.write(envs, outcome, detail=problem)
        return RootOutcome(envs, outcome, problem)
    assert run.summary is not None
    counts = {n: run.summary.environment(n).counts.phrase() for n in envs}
    moved = _moved_tags(session, planned)
    if moved:
        trail.write(envs, Outcome.REFUSED, detail=moved)
        return RootOutcome(envs, Outcome.REFUSED, moved, changes=counts)
    if not run.summary.has_changes:
        trail.write(envs, Outcome.NO_CHANGES)
        return RootOutcome(envs, Outcome.NO_CHANGES, changes=counts)
    approval = approve(planned)
    if not approval.granted:
        reason = session.masker(approval.reason)
        trail.write(envs, approval.outcome, detail=reason)
        return RootOutcome(envs, approval.outcome, reason, changes=counts)
    kept = records.keep(
        session,
        run,
        envs,
        kind="apply",
        commit=trail.commit,
        pr=trail.pr,
        who=trail.who,
    )
    sha = {env: record.sha256 for env, record in kept.items()}
    session.console.step(f"Applying {', '.join(envs)}{approval.why}")
    try:
        run.planfile_bytes()  # the bytes about to be applied are the bytes planned and kept
        assert run.planfile is not None
        session.terraform(planned.change.root, session.console.sink(run.label)).apply(run.planfile)
    except Interrupted:
        raise
    except TfopsError as exc:
        detail = session.masker(str(exc))
        trail.write(envs, Outcome.FAILED, sha=sha, detail=detail)
        return RootOutcome(envs, Outcome.FAILED, detail, changes=counts, plan_sha256=sha)
    unchanged = [n for n in envs if not run.summary.environment(n).has_changes]
    trail.write([n for n in envs if n not in unchanged], Outcome.APPLIED, sha=sha)
    trail.write(unchanged, Outcome.NO_CHANGES, sha=sha)
    return RootOutcome(envs, Outcome.APPLIED, changes=counts, plan_sha256=sha, unchanged=unchanged)
