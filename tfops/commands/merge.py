"""Apply on merge, exactly as reviewed.

When a pull request merges, tfops loads the plans kept for it (the plan store), plans again
at the merge commit, and compares the two per environment (`tfops.compare`): equal →
apply that new plan; different → apply nothing in that Terraform root and say what
differs. Environments with `apply: manual` are not applied on merge — only when named
(`tfops apply --merged --pr N -e prod`, `/tfops apply -e prod`, workflow_dispatch).

Every apply holds the environment's lock (taken over from the PR's own lock), keeps the
plan it applied, and writes an audit line. When the merge has been handled, the PR's
remaining locks are released.

`apply_merged()` is the entry for `tfops ci` (push events) and `tfops apply --merged`;
`record_pr_plans()` and `lock_pr_environments()` are for the pull request flow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tfops import gitutil
from tfops.commands.apply import (
    AuditTrail,
    Records,
    apply_plan,
    signed_commit_refusals,
    targets_for,
)
from tfops.console import Console
from tfops.errors import ExitCode, Interrupted, TfopsError
from tfops.github.client import GithubError
from tfops.pipeline.session import RootRun, Session
from tfops.plan.compare import Comparison, changes, compare
from tfops.records.locks import (
    LockHeld,
    LockHolder,
    LockInfo,
    held,
    lock_for_pr,
    release_pr_locks,
)
from tfops.records.store import IntegrityError, PlanRecord, StoredPlan
from tfops.render.markdown import render_template
from tfops.repo.environments import SHARED, Root
from tfops.terraform import process

if TYPE_CHECKING:
    from tfops.commands.ci import CiContext

Notify = Callable[[str], None]
OK_RESULTS = ("applied", "no-changes", "skipped")


@dataclass
class EnvironmentOutcome:
    environment: str
    result: str  # applied | no-changes | skipped | refused | failed | interrupted
    detail: str = ""
    changes: str = ""  # "1 to add, 0 to change, 0 to destroy"
    reviewed_commit: str | None = None
    plan_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.result in OK_RESULTS


@dataclass
class MergeResult:
    pr: int
    commit: str
    outcomes: list[EnvironmentOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.ERROR

    def outcome(self, environment: str) -> EnvironmentOutcome | None:
        return next((o for o in self.outcomes if o.environment == environment), None)

    def markdown(self) -> str:
        """The PR comment: a table of environments and, per environment, what happened."""
        return render_template("apply.md.j2", result=self)

    def text(self) -> str:
        lines = [f"Apply on merge of #{self.pr} at {self.commit[:12]}:"]
        for o in self.outcomes:
            lines.append(
                f"  {o.environment}: {o.result}" + (f" ({o.changes})" if o.changes else "")
            )
            lines += [f"    {line}" for line in o.detail.splitlines()]
        lines += [f"  note: {note}" for note in self.notes]
        if not self.outcomes:
            lines.append("  nothing to apply.")
        return "\n".join(lines) + "\n"


# ---- the pull request side ------------------------------------------------------------


def record_pr_plans(
    session: Session,
    runs: Sequence[RootRun],
    pr: int,
    commit: str,
    environments: Sequence[str],
    *,
    records: Records | None = None,
    who: str = "",
) -> list[PlanRecord]:
    """Keep the plan of each environment a PR planned: what apply on merge compares with."""
    records = records or Records.open(session)
    kept: list[PlanRecord] = []
    for run in runs:
        if run.planfile is None or run.plan_json is None or run.summary is None or run.error:
            continue
        envs = sorted(set(environments) & set(run.root.environments))
        kept += records.keep(
            session, run, envs, kind="plan", commit=commit, pr=pr, who=who
        ).values()
    return kept


def lock_pr_environments(
    session: Session, pr: int, environments: Sequence[str], *, who: str | None = None
) -> tuple[list[LockInfo], list[LockHeld]]:
    """Take the locks of the environments a PR plans (see `tfops.locks.lock_for_pr`)."""
    locks = Records.open(session).locks
    return lock_for_pr(locks, environments, pr, who=who)


def release_pr_environments(session: Session, pr: int) -> list[str]:
    """The PR merged or closed: release its locks. Returns the environments released."""
    return release_pr_locks(Records.open(session).locks, pr)


# ---- the merge side -------------------------------------------------------------------


def resolve_commit(root: Path, ref: str) -> str:
    result = process.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=root)
    if result.returncode != 0:
        raise TfopsError(f"{ref!r} is not a commit in {root}", hint="fetch it or check the SHA")
    return result.stdout.strip()


def merged_environments(session: Session, base: str, commit: str) -> list[str]:
    """Environments the files changed between `base` and `commit` affect (committed only)."""
    result = process.run(
        ["git", "diff", "--name-only", "--no-renames", "--relative", base, commit],
        cwd=session.repo.root,
    )
    if result.returncode != 0:  # e.g. the first commit: there is no base
        return []
    return session.repo.affected_environments(result.stdout.split())


def apply_merged(
    session: Session,
    pr: int,
    merge_commit: str,
    *,
    head_commit: str | None = None,
    base: str | None = None,
    environments: Sequence[str] = (),
    gates: bool = True,
    trigger: str = "merge",
    notify: Notify | None = None,
    records: Records | None = None,
) -> MergeResult:
    """Apply what PR `pr` reviewed, at `merge_commit` (which must be checked out).

    head_commit: the PR's last commit; when given, its plans must be the ones kept.
    base: the commit before the merge (a push event's `before`); default merge_commit^1.
    environments: only these; naming an `apply: manual` environment applies it too.
    notify: called once with the Markdown result, for the PR comment.
    """
    console = session.console
    root_dir = session.repo.root
    commit = resolve_commit(root_dir, merge_commit)
    checked_out = gitutil.head_commit(root_dir)
    if checked_out != commit:
        raise TfopsError(
            f"the checkout is at {str(checked_out)[:12]}, not at the merge commit {commit[:12]}",
            hint="check out the merge commit first (actions/checkout does on push events)",
        )
    records = records or Records.open(session)
    result = MergeResult(pr, commit)
    requested = [e.name for e in session.select(environments)] if environments else []
    reviewed = _reviewed_plans(records, pr)
    affected = merged_environments(session, base or f"{commit}^1", commit)
    candidates = sorted(set(reviewed) | set(affected) | set(requested))
    if requested:
        candidates = [c for c in candidates if c in requested]
    console.step(
        f"Apply on merge of #{pr} at {commit[:12]}: "
        + (", ".join(candidates) if candidates else "no environment to apply")
    )
    holder = LockHolder.for_run(pr=pr)
    trail = AuditTrail(
        records, holder.who, commit, pr, trigger, session.binary.version, holder.run_url
    )
    try:
        to_apply = _screen(session, result, candidates, reviewed, requested, head_commit, trail)
        for env, problem in signed_commit_refusals(
            session, to_apply, commit, check_worktree=False
        ).items():
            to_apply.remove(env)
            _refuse(result, trail, env, f"the merge commit's signature is not accepted: {problem}")
        selected = session.select(to_apply) if to_apply else []
        for root in session.roots_for(selected):
            in_root = sorted(n for n in to_apply if n in root.environments)
            _merge_root(session, records, root, in_root, reviewed, holder, trail, gates, result)
    finally:
        with contextlib.suppress(TfopsError):
            released = release_pr_locks(records.locks, pr)
            if released:
                result.notes.append(f"Released the locks #{pr} held on {', '.join(released)}.")
    result.outcomes.sort(key=lambda o: o.environment)
    if notify is not None:
        notify(session.masker(result.markdown()))
    return result


def _reviewed_plans(records: Records, pr: int) -> dict[str, PlanRecord]:
    latest: dict[str, PlanRecord] = {}
    for record in records.store.records(repo=records.repo, pr=pr, kind="plan"):
        latest[record.environment] = record  # oldest first: the last one wins
    return latest


def _screen(
    session: Session,
    result: MergeResult,
    candidates: list[str],
    reviewed: dict[str, PlanRecord],
    requested: list[str],
    head_commit: str | None,
    trail: AuditTrail,
) -> list[str]:
    """The environments that may be applied; the rest get their outcome here."""
    pr = result.pr
    to_apply = []
    for env in candidates:
        record = reviewed.get(env)
        outcome = EnvironmentOutcome(
            env, "refused", reviewed_commit=record.commit if record else None
        )
        if env not in session.repo.environments:
            outcome.detail = f"{env} is no longer an environment of this repository."
        elif session.repo.environments[env].apply_mode == "manual" and env not in requested:
            outcome.result = "skipped"
            outcome.detail = (
                f"{env} is `apply: manual`: apply it with `/tfops apply -e {env}` or "
                f"`tfops apply --merged --pr {pr} -e {env}`."
            )
        elif record is None:
            outcome.detail = (
                f"no plan of {env} was kept for #{pr}, so there is nothing reviewed to compare "
                "with. Plan it on the pull request first."
            )
        elif head_commit and record.commit != head_commit:
            outcome.detail = (
                f"the last plan of {env} kept for #{pr} is of {record.commit[:12]}, not of the "
                f"pull request's last commit {head_commit[:12]}: that commit was never reviewed."
            )
        else:
            to_apply.append(env)
            continue
        result.outcomes.append(outcome)
        if outcome.result == "refused":
            trail.write([env], "refused", detail=outcome.detail)
    return to_apply


def _refuse(result: MergeResult, trail: AuditTrail, env: str, detail: str) -> None:
    result.outcomes.append(EnvironmentOutcome(env, "refused", detail))
    trail.write([env], "refused", detail=detail)


def _merge_root(
    session: Session,
    records: Records,
    root: Root,
    in_root: list[str],
    reviewed: dict[str, PlanRecord],
    holder: LockHolder,
    trail: AuditTrail,
    gates: bool,
    result: MergeResult,
) -> None:
    """Plan one root at the merge commit, compare, and apply when everything matches."""
    console = session.console
    try:
        stored = {env: records.store.get(reviewed[env].key) for env in in_root}
    except IntegrityError as exc:
        for env in in_root:
            _refuse(result, trail, env, str(exc))
        return
    try:
        with held(
            records.locks,
            in_root,
            holder,
            wait_seconds=session.config.locks.wait_seconds,
            take_over=f"pr-{result.pr}",
            warn=console.warn,
        ):
            trail.start()
            with trail.interrupted_is_recorded(in_root):
                _plan_compare_apply(session, root, in_root, stored, trail, gates, result)
    except LockHeld as exc:
        for env in in_root:
            _refuse(result, trail, env, f"not applied: {exc.message}")


def _plan_compare_apply(
    session: Session,
    root: Root,
    in_root: list[str],
    stored: dict[str, StoredPlan],
    trail: AuditTrail,
    gates: bool,
    result: MergeResult,
) -> None:
    console = session.console

    def env_of(address: str) -> str:
        return session.repo.environment_of_address(address, root)

    run = session.run_root(root, in_root, gates=gates)
    targeted = False
    if _ok(run):
        assert run.plan_json is not None
        others = {env_of(c.address) for c in changes(run.plan_json)} - {*in_root, SHARED}
        if others:
            targets, _ = targets_for(session, root, in_root)
            console.warn(
                f"{', '.join(sorted(others))} also change(s) in this Terraform root and "
                f"is not applied now; planning {', '.join(in_root)} alone with -target."
            )
            run = session.run_root(root, in_root, gates=False, targets=targets)
            targeted = True
    if not _ok(run):
        detail = session.masker(run.error or "gates failed at the merge commit")
        for env in in_root:
            result.outcomes.append(EnvironmentOutcome(env, "failed", detail))
        trail.write(in_root, "failed", detail=detail)
        return
    assert run.plan_json is not None and run.summary is not None and run.planfile is not None
    comparisons = _compare_root(run.plan_json, stored, in_root, env_of, targeted)
    differing = [c for c in comparisons if not c.equal]
    summary = run.summary
    for env in in_root:
        outcome = EnvironmentOutcome(
            env,
            "refused" if differing else "no-changes",
            changes=summary.environment(env).counts.phrase(),
            reviewed_commit=stored[env].record.commit,
        )
        result.outcomes.append(outcome)
    outcomes = result.outcomes[-len(in_root) :]
    if differing:
        text = session.masker("\n".join(c.render() for c in differing))
        console.error("not applied: the plan at the merge commit is not the reviewed plan.")
        console.info(text)
        for outcome in outcomes:
            own = any(c.environment == outcome.environment for c in differing)
            outcome.detail = (
                text
                if own or len(in_root) == 1
                else "matches its review, but this Terraform root also holds changes that "
                "differ from theirs, so nothing in it was applied:\n" + text
            )
        trail.write(in_root, "refused", detail=text)
        return
    console.info("\n".join(c.render() for c in comparisons))
    if not summary.has_changes:
        trail.write(in_root, "no-changes")
        return

    def note_hashes(sha: dict[str, str]) -> None:
        for outcome in outcomes:
            outcome.plan_sha256 = sha[outcome.environment]

    try:
        apply_plan(
            session,
            root,
            in_root,
            run,
            trail,
            stored=note_hashes,
            why=f" (as reviewed on #{trail.pr})",
        )
    except Interrupted:
        raise
    except TfopsError as exc:  # audited by apply_plan; the merge reports it per environment
        for outcome in outcomes:
            outcome.result, outcome.detail = "failed", session.masker(str(exc))
        return
    for outcome in outcomes:
        outcome.result = "applied"


def _ok(run: RootRun) -> bool:
    return run.gates_ok and not run.error and run.plan_json is not None


def _compare_root(
    plan_json: dict[str, Any],
    stored: dict[str, StoredPlan],
    in_root: list[str],
    env_of: Callable[[str], str],
    targeted: bool,
) -> list[Comparison]:
    """One comparison per group of addresses the apply touches.

    Applied environments (and, untargeted, the shared blocks) are compared in full; other
    groups only where the new plan changes them (dependencies pulled in by -target).
    """
    changed = {c.address for c in changes(plan_json)}
    full = set(in_root) | (set() if targeted else {SHARED})
    groups = sorted(full | {env_of(a) for a in changed})
    out = []
    for group in groups:
        reviewed = stored.get(group) or stored[in_root[0]]
        in_full = group in full

        def include(address: str, group: str = group, in_full: bool = in_full) -> bool:
            if env_of(address) != group:
                return False
            if targeted and address.startswith("output."):
                return address in changed  # a targeted apply leaves root outputs alone
            return in_full or address in changed

        out.append(compare(group, reviewed.plan_json, plan_json, include))
    return out


# ---- GitHub Actions: `tfops ci` on push -------------------------------------------------

ZERO_SHA = "0" * 40


def handle_event(ctx: CiContext) -> ExitCode:
    """A push to the default branch: apply what the merged pull request reviewed."""
    event, console = ctx.event, ctx.console
    payload = event.payload
    ref = str(payload.get("ref") or "")
    default = str((payload.get("repository") or {}).get("default_branch") or "")
    if default and ref != f"refs/heads/{default}":
        console.info(f"Push to {ref}, not to the default branch {default}: nothing to apply.")
        return ExitCode.OK
    session = Session.open(ctx.path, console)
    if event.token:
        session.masker.add_values([event.token])
    commit = resolve_commit(session.repo.root, str(payload.get("after") or "HEAD"))
    before = str(payload.get("before") or "")
    client = ctx.client()
    merged = [p for p in client.pull_requests_for_commit(commit) if p.get("merged_at")]
    if not merged:
        console.info(
            f"{commit[:12]} is not the merge of a pull request: nothing applied "
            "(tfops applies only what a pull request reviewed)."
        )
        return ExitCode.OK
    pull = merged[0]
    number = int(pull["number"])
    head = str((pull.get("head") or {}).get("sha") or "") or None

    def notify(body: str) -> None:
        try:
            client.create_comment(number, body)
        except GithubError as exc:
            console.warn(f"could not comment on #{number}: {exc.message}")

    result = apply_merged(
        session,
        number,
        commit,
        head_commit=head,
        base=before if before and before != ZERO_SHA else None,
        environments=ctx.environments,
        gates=ctx.gates,
        notify=notify if session.config.github.comment else None,
    )
    ctx.out.write(session.masker(result.text()))
    ctx.out.flush()
    if event.step_summary is not None:
        with event.step_summary.open("a", encoding="utf-8") as handle:
            handle.write(session.masker(result.markdown()) + "\n")
    return result.exit_code


# ---- the command ----------------------------------------------------------------------


def find_merged_pr(commit: str) -> tuple[int, str | None]:
    """The merged PR of `commit` and its last commit, from the GitHub API."""
    from tfops.github.event import GithubEvent

    pulls = GithubEvent.from_environ().client().pull_requests_for_commit(commit)
    merged = [p for p in pulls if p.get("merged_at")]
    if not merged:
        raise TfopsError(
            f"commit {commit[:12]} is not the merge of a pull request, so nothing was reviewed",
            hint="tfops applies on merge only what a pull request reviewed; pass --pr N if "
            "GitHub does not know the pull request",
        )
    head = (merged[0].get("head") or {}).get("sha")
    return int(merged[0]["number"]), str(head) if head else None


def run(
    path: Path,
    *,
    pr: int | None,
    commit: str | None,
    head: str | None,
    environments: tuple[str, ...],
    gates: bool,
    console: Console,
    out: TextIO,
) -> ExitCode:
    session = Session.open(path, console)
    commit = resolve_commit(session.repo.root, commit or "HEAD")
    if pr is None:
        pr, found_head = find_merged_pr(commit)
        head = head or found_head
    result = apply_merged(
        session, pr, commit, head_commit=head, environments=environments, gates=gates
    )
    out.write(session.masker(result.text()))
    out.flush()
    return result.exit_code
