"""Apply on merge, exactly as reviewed — including the merges whose own run never ran.

Actions cancels a pending run when a newer one joins its concurrency group, and a merge
queue lands several pull requests in one push. So on a push to the default branch tfops
does not trust the event's `before`: per environment it looks up, in its own audit log,
the last commit it applied there (or found unchanged), and applies every pull request
merged since, in merge order. The plan at the pushed commit must equal the *union* of those
pull requests' reviewed plans (later ones override earlier ones attribute by attribute); a
pull request applied before its merge (`/tfops apply`) is already in the state and drops
out of the union. Equal → apply; different → nothing in that Terraform root is applied, and
the result names each pull request and what differs.

Environments with `apply: manual` are not applied on merge, only when named
(`tfops apply --merged -e prod`, `/tfops apply -e prod`). Every apply holds the
environments' locks, taking over those of the merged pull requests; when the merge has
been handled their locks are released: a merged pull request has nothing left to guard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tfops import gitutil
from tfops.errors import ExitCode, TfopsError
from tfops.pipeline.apply import Approval, Approver, Change, Planned, apply_change
from tfops.pipeline.guards import signed_commit_refusals
from tfops.pipeline.outcome import Outcome
from tfops.pipeline.records import AuditTrail, Records
from tfops.pipeline.review import reviewed_plans
from tfops.pipeline.session import Session
from tfops.plan.compare import Comparison, changes, compare
from tfops.records.locks import LockHolder
from tfops.records.store import IntegrityError, PlanRecord
from tfops.render.markdown import render_template
from tfops.repo.environments import SHARED, Root
from tfops.terraform import process

MAX_CATCH_UP_COMMITS = 100  # more than this since the last apply is for a person to look at
MAX_HISTORY = 5000  # first-parent commits searched for the last apply
APPLIED = (Outcome.APPLIED.value, Outcome.NO_CHANGES.value)


@dataclass(frozen=True)
class MergedPR:
    number: int
    head: str | None  # the pull request's last commit: its plan is the one reviewed
    merge_commit: str


class History(Protocol):
    """Which pull requests a commit of the default branch merged (GitHub in Actions)."""

    def merged_by(self, commit: str) -> list[MergedPR]: ...


@dataclass
class ExplicitHistory:
    """The CLI's `--merged --pr N`: the one pull request a person names."""

    pr: MergedPR

    def merged_by(self, commit: str) -> list[MergedPR]:
        return [self.pr] if commit == self.pr.merge_commit else []


@dataclass
class EnvironmentOutcome:
    environment: str
    result: Outcome
    detail: str = ""
    changes: str = ""  # "1 to add, 0 to change, 0 to destroy"
    prs: list[int] = field(default_factory=list)  # the pull requests applied in this apply
    plan_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.result.ok


@dataclass
class MergeResult:
    commit: str
    prs: list[int] = field(default_factory=list)  # every pull request this run handled
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

    @property
    def title(self) -> str:
        prs = ", ".join(f"#{n}" for n in self.prs) or "no pull request"
        return f"apply on merge of {prs} at `{self.commit[:12]}`"

    def markdown(self, mask: Callable[[str], str] = str) -> str:
        """The PR comment: a table of environments and, per environment, what happened
        (`mask` masks each value before it is escaped)."""
        return render_template("apply.md.j2", result=self, mask=mask)

    def text(self) -> str:
        lines = [f"tfops {self.title.replace('`', '')}:"]
        for o in self.outcomes:
            lines.append(
                f"  {o.environment}: {o.result}" + (f" ({o.changes})" if o.changes else "")
            )
            lines += [f"    {line}" for line in o.detail.splitlines()]
        lines += [f"  note: {note}" for note in self.notes]
        if not self.outcomes:
            lines.append("  nothing to apply.")
        return "\n".join(lines) + "\n"


# ---- git --------------------------------------------------------------------------------


def resolve_commit(session: Session, ref: str) -> str:
    result = process.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=session.repo.root
    )
    if result.returncode != 0:
        raise TfopsError(
            f"{ref!r} is not a commit in {session.repo.root}", hint="fetch it or check the SHA"
        )
    return result.stdout.strip()


def _git(session: Session, *args: str) -> str | None:
    result = process.run(["git", *args], cwd=session.repo.root)
    return result.stdout if result.returncode == 0 else None


def _affected(session: Session, base: str | None, commit: str) -> list[str]:
    """Environments the files changed between `base` (default: the first parent) and
    `commit` affect."""
    out = _git(
        session, "diff", "--name-only", "--no-renames", "--relative", base or f"{commit}^1", commit
    )
    if out is None:  # the first commit: everything is new
        out = _git(session, "ls-tree", "-r", "--name-only", "--full-tree", commit) or ""
    return session.repo.affected_environments(out.split())


def _require_history(session: Session) -> None:
    if (_git(session, "rev-parse", "--is-shallow-repository") or "").strip() == "true":
        raise TfopsError(
            "the checkout is shallow, so tfops can't see what was merged since it last applied",
            hint="check out the full history: `fetch-depth: 0` on actions/checkout",
        )


# ---- what is pending --------------------------------------------------------------------


@dataclass
class Pending:
    """One environment's merges since it was last applied."""

    environment: str
    since: str | None  # the last commit applied there, from the audit log
    prs: list[MergedPR]
    affected: bool  # files changed since `since` affect the environment


def last_applied(session: Session, records: Records, env: str, commit: str) -> str | None:
    """The commit of the default branch at which `env` was last applied (or found unchanged).

    Only commits on `commit`'s first-parent line count: a pull request's head applied
    before its merge (`/tfops apply`) is not where the default branch was. The newest such
    apply wins, even at an older commit: a hand-applied rollback is where the state is.
    """
    line = _git(session, "rev-list", "--first-parent", f"--max-count={MAX_HISTORY}", commit)
    on_line = set((line or "").split())
    for entry in reversed(records.audit.entries(environment=env)):
        if entry.result in APPLIED and entry.commit in on_line:
            return entry.commit
    return None


def pending_merges(
    session: Session, records: Records, commit: str, history: History, envs: Sequence[str]
) -> dict[str, Pending]:
    """Per environment, the pull requests merged since it was last applied."""
    by_commit: dict[str, list[MergedPR]] = {}
    out: dict[str, Pending] = {}
    for env in envs:
        since = last_applied(session, records, env, commit)
        if since == commit:
            out[env] = Pending(env, since, [], False)
            continue
        if since is None:
            steps = [commit]
        else:
            listed = _git(session, "rev-list", "--first-parent", "--reverse", f"{since}..{commit}")
            steps = (listed or commit).split()
        if len(steps) > MAX_CATCH_UP_COMMITS:
            raise TfopsError(
                f"{env} was last applied at {since and since[:12]}, {len(steps)} commits ago: "
                "tfops will not catch up that much on its own",
                hint=f"plan {env} at {commit[:12]}, review it, and apply it with "
                f"`tfops apply -e {env}`; later merges then start from there",
            )
        prs: list[MergedPR] = []
        for step in steps:
            if step not in by_commit:
                by_commit[step] = history.merged_by(step)
            prs += [p for p in by_commit[step] if p.number not in {q.number for q in prs}]
        affected = env in _affected(session, since, commit)
        out[env] = Pending(env, since, prs, affected)
    return out


def environments_to_apply(
    session: Session, commit: str, history: History, records: Records | None = None
) -> list[str]:
    """The `apply: auto` environments with merged work since their last apply: what a push
    fans out to (one job per environment, each waiting for its GitHub environment's
    reviewers — so not the ones with nothing to do)."""
    _require_history(session)
    records = records or Records.open(session)
    auto = [n for n, e in session.repo.environments.items() if e.apply_mode == "auto"]
    pending = pending_merges(session, records, resolve_commit(session, commit), history, auto)
    reviewed: dict[int, dict[str, PlanRecord]] = {}
    out = []
    for env, pend in pending.items():
        for pr in pend.prs:
            reviewed.setdefault(pr.number, reviewed_plans(records, pr.number))
        if pend.affected or any(env in reviewed[pr.number] for pr in pend.prs):
            out.append(env)
    return sorted(out)


# ---- applying -----------------------------------------------------------------------------


def apply_merged(
    session: Session,
    commit: str,
    history: History,
    *,
    environments: Sequence[str] = (),
    gates: bool = True,
    trigger: str = "merge",
    records: Records | None = None,
) -> MergeResult:
    """Apply every pull request merged into `commit` (checked out) since the last apply.

    environments: only these; naming an `apply: manual` environment applies it too.
    """
    console = session.console
    commit = resolve_commit(session, commit)
    checked_out = gitutil.head_commit(session.repo.root)
    if checked_out != commit:
        raise TfopsError(
            f"the checkout is at {str(checked_out)[:12]}, not at the merge commit {commit[:12]}",
            hint="check out the merge commit first (actions/checkout does on push events)",
        )
    _require_history(session)
    records = records or Records.open(session)
    requested = [e.name for e in session.select(environments)] if environments else []
    result = MergeResult(commit)
    pending = pending_merges(
        session, records, commit, history, requested or list(session.repo.environments)
    )
    merged = sorted({p.number for pend in pending.values() for p in pend.prs})
    reviewed = {n: reviewed_plans(records, n) for n in merged}
    holder = LockHolder.for_run(pr=merged[-1] if merged else None)
    trail = AuditTrail(
        records,
        holder.who,
        commit,
        merged[-1] if merged else None,
        trigger,
        session.binary.version,
        holder.run_url,
    )
    screened: dict[str, list[tuple[MergedPR, PlanRecord]]] = {}
    trail.start()
    for env, pend in sorted(pending.items()):
        before = len(result.outcomes)
        union = _screen(session, records, result, trail, pend, reviewed, env in requested)
        if union is not None:
            screened[env] = union
        if union is not None or len(result.outcomes) > before:  # this run handles them
            result.prs = sorted({*result.prs, *(p.number for p in pend.prs)})
    for env, problem in signed_commit_refusals(
        session, list(screened), commit, check_worktree=False
    ).items():
        del screened[env]
        _refuse(result, trail, env, f"the merge commit's signature is not accepted: {problem}")
    console.step(
        f"Apply on merge at {commit[:12]} of {', '.join(f'#{n}' for n in result.prs) or '-'}: "
        + (", ".join(screened) or "no environment to apply")
    )
    try:
        for root in session.roots_for(session.select(screened)) if screened else []:
            in_root = sorted(n for n in screened if n in root.environments)
            _apply_root(session, records, trail, holder, root, in_root, screened, gates, result)
    finally:
        _release_merged(records, result, merged)
    result.outcomes.sort(key=lambda o: o.environment)
    return result


def _release_merged(records: Records, result: MergeResult, merged: list[int]) -> None:
    """A merged pull request's locks have done their job once its environments are applied
    (or skipped, or untouched); where the apply was refused or failed they stay, so other
    pull requests see that the environment is behind."""
    pending = {o.environment for o in result.outcomes if not o.ok}
    for info in records.locks.all():
        number = info.pr if info.is_pr_lock else None
        if number in merged and info.environment not in pending:
            with contextlib.suppress(TfopsError):
                records.locks.release(info.environment, info.holder_id)
                result.notes.append(f"Released the lock #{number} held on {info.environment}.")


def _screen(
    session: Session,
    records: Records,
    result: MergeResult,
    trail: AuditTrail,
    pend: Pending,
    reviewed: dict[int, dict[str, PlanRecord]],
    requested: bool,
) -> list[tuple[MergedPR, PlanRecord]] | None:
    """The reviewed plans to compare `pend`'s environment with, in merge order; None when it
    is not applied now (its outcome is recorded here)."""
    env = pend.environment
    mine = [p for p in pend.prs if env in reviewed[p.number]]
    if not pend.affected and not mine and not requested:
        return None  # nothing merged touches it
    prs = [p.number for p in pend.prs]
    if env not in session.repo.environments:
        _refuse(result, trail, env, f"{env} is no longer an environment of this repository.", prs)
        return None
    if session.repo.environments[env].apply_mode == "manual" and not requested:
        result.outcomes.append(
            EnvironmentOutcome(
                env,
                Outcome.SKIPPED,
                f"{env} is `apply: manual`: apply it with `/tfops apply -e {env}` on a pull "
                f"request, or `tfops apply --merged -e {env}` at this commit.",
                prs=prs,
            )
        )
        return None
    if not pend.prs:
        _refuse(
            result,
            trail,
            env,
            f"no pull request was merged into {env} since it was last applied "
            f"({(pend.since or 'never')[:12]}), but its files changed: those changes were never "
            "reviewed. Open a pull request, or review a plan and apply it with "
            f"`tfops apply -e {env}`.",
        )
        return None
    union: list[tuple[MergedPR, PlanRecord]] = []
    for pr in pend.prs:
        record = reviewed[pr.number].get(env)
        if record is None:
            continue
        if pr.head and record.commit != pr.head:
            _refuse(
                result,
                trail,
                env,
                f"the last plan of {env} kept for #{pr.number} is of {record.commit[:12]}, not of "
                f"its last commit {pr.head[:12]}: that commit was never reviewed.",
                prs,
            )
            return None
        if _applied_before_merge(records, env, pr, record):
            continue
        union.append((pr, record))
    if not union and not mine:
        _refuse(
            result,
            trail,
            env,
            f"no plan of {env} was kept for {', '.join(f'#{n}' for n in prs)}, so there is "
            "nothing reviewed to compare with. Plan it on the pull request first.",
            prs,
        )
        return None
    return union


def _applied_before_merge(records: Records, env: str, pr: MergedPR, record: PlanRecord) -> bool:
    """`/tfops apply` applied this PR's reviewed commit before it merged: it is in the state."""
    return any(
        e.pr == pr.number and e.result in APPLIED and e.commit == record.commit
        for e in records.audit.entries(environment=env)
    )


def _refuse(
    result: MergeResult,
    trail: AuditTrail,
    env: str,
    detail: str,
    prs: list[int] | None = None,
) -> None:
    result.outcomes.append(EnvironmentOutcome(env, Outcome.REFUSED, detail, prs=prs or []))
    trail.write([env], Outcome.REFUSED, detail=detail)


def _apply_root(
    session: Session,
    records: Records,
    trail: AuditTrail,
    holder: LockHolder,
    root: Root,
    in_root: list[str],
    screened: dict[str, list[tuple[MergedPR, PlanRecord]]],
    gates: bool,
    result: MergeResult,
) -> None:
    """Plan one root at the merge commit, compare with the union of the reviews, apply."""
    prs_of = {env: [pr for pr, _ in screened[env]] for env in in_root}
    numbers = sorted({pr.number for env in in_root for pr in prs_of[env]})
    try:
        reviewed = {
            env: [records.store.get(rec.key).plan_json for _, rec in screened[env]]
            for env in in_root
        }
    except IntegrityError as exc:
        for env in in_root:
            _refuse(result, trail, env, str(exc), numbers)
        return
    comparisons: list[Comparison] = []
    approve = reviewed_approver(session, reviewed, prs_of, comparisons)
    commit = result.commit
    change = Change(
        root,
        in_root,
        trail.trigger,
        commit,
        holder,
        pr=numbers[-1] if numbers else None,
        gates=gates,
        take_over=frozenset(f"pr-{n}" for n in result.prs),
        hand_back=True,  # released below where applied; kept where refused
        check_worktree=False,
        whole_root_first=True,
    )
    outcome = apply_change(session, records, change, approve)
    own = {c.environment for c in comparisons if not c.equal}
    for env in in_root:
        detail = outcome.detail
        if outcome.outcome is Outcome.REFUSED and own and env not in own and len(in_root) > 1:
            detail = (
                "matches its review, but this Terraform root also holds changes that differ "
                "from theirs, so nothing in it was applied:\n" + outcome.detail
            )
        if outcome.outcome is Outcome.REFUSED and comparisons:
            detail += "\n\n" + _how_to_proceed(env, commit, numbers)
        result.outcomes.append(
            EnvironmentOutcome(
                env,
                outcome.result_of(env),
                detail,
                changes=outcome.changes.get(env, ""),
                prs=[pr.number for pr in prs_of[env]],
                plan_sha256=outcome.plan_sha256.get(env),
            )
        )


def _how_to_proceed(env: str, commit: str, prs: list[int]) -> str:
    what = ", ".join(f"#{n}" for n in prs) or "the merged pull requests"
    return (
        f"Nothing was applied to {env}; {what} stay pending until it is, and keep its lock. "
        "To proceed, fix forward with a pull request (its merge compares everything pending "
        f"again), or review a plan of {env} at {commit[:12]} and apply it by hand "
        f"(`tfops unlock -e {env}`, then `tfops apply -e {env}` in a checkout of "
        f"{commit[:12]}); later merges start from there."
    )


def reviewed_approver(
    session: Session,
    reviewed: dict[str, list[dict[str, Any]]],
    prs_of: dict[str, list[MergedPR]],
    comparisons: list[Comparison] | None = None,
    now: str = "the plan at the merge commit",
) -> Approver:
    """Approve a plan only when it equals what was reviewed: per environment the union of
    its pull requests' reviewed plans (merge order). `comparisons` receives the results."""
    numbers = sorted({pr.number for prs in prs_of.values() for pr in prs})
    seen = comparisons if comparisons is not None else []

    def approve(planned: Planned) -> Approval:
        compared = _compare_root(session, planned, reviewed, prs_of)
        seen[:] = [c for c, _ in compared]
        text = session.masker("\n".join(c.render(names=names) for c, names in compared))
        if any(not c.equal for c in seen):
            session.console.error(f"not applied: {now} is not the reviewed plan.")
            session.console.info(text)
            differing = "\n".join(c.render(names=n) for c, n in compared if not c.equal)
            return Approval.refuse(differing)
        session.console.info(text)
        return Approval.grant(f" (as reviewed on {', '.join(f'#{n}' for n in numbers)})")

    return approve


def _compare_root(
    session: Session,
    planned: Planned,
    reviewed: dict[str, list[dict[str, Any]]],
    prs_of: dict[str, list[MergedPR]],
) -> list[tuple[Comparison, list[str]]]:
    """One comparison per group of addresses the apply touches, with the names of the
    pull requests whose reviews it compared with (in merge order).

    Applied environments (and, untargeted, the shared blocks) are compared in full with the
    union of their reviews; other groups only where the new plan changes them (dependencies
    pulled in by -target), against every review of the root.
    """
    plan_json = planned.run.plan_json
    assert plan_json is not None
    in_root = planned.environments

    def env_of(address: str) -> str:
        return planned.environment_of(session, address)

    changed = {c.address for c in changes(plan_json)}
    full = set(in_root) | (set() if planned.targeted else {SHARED})
    groups = sorted(full | {env_of(a) for a in changed})
    everything = _all_reviews(reviewed, prs_of)
    out = []
    for group in groups:
        against = reviewed.get(group, everything[1])
        names = [f"#{pr.number}" for pr in prs_of[group]] if group in reviewed else everything[0]
        in_full = group in full

        def include(address: str, group: str = group, in_full: bool = in_full) -> bool:
            if env_of(address) != group:
                return False
            if planned.targeted and address.startswith("output."):
                return address in changed  # a targeted apply leaves root outputs alone
            return in_full or address in changed

        out.append((compare(group, against, plan_json, include), names))
    return out


def _all_reviews(
    reviewed: dict[str, list[dict[str, Any]]], prs_of: dict[str, list[MergedPR]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every reviewed plan of the root once per pull request, in merge order, and their
    pull requests' names."""
    by_pr: dict[int, dict[str, Any]] = {}
    for env, plans in reviewed.items():
        for pr, plan in zip(prs_of[env], plans, strict=True):
            by_pr.setdefault(pr.number, plan)
    numbers = sorted(by_pr)
    return [f"#{n}" for n in numbers], [by_pr[n] for n in numbers]
