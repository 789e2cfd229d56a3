"""The pull request side of the pipeline: what a PR's plan leaves for its merge.

A PR's plan of each environment is kept in the plan store (kind "plan"): it is what the
merge compares with, because it is what reviewers saw. A PR that is ready for review takes
the lock of every environment it plans and holds it until it merges or closes, so two PRs
never race for one environment; a draft is planned but takes no locks.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfops.pipeline.records import Records
from tfops.pipeline.session import RootRun, Session
from tfops.records.locks import LockHeld, LockInfo, lock_for_pr, release_pr_locks
from tfops.records.store import PlanRecord


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


def reviewed_plans(records: Records, pr: int) -> dict[str, PlanRecord]:
    """The newest plan kept for PR `pr`, per environment."""
    latest: dict[str, PlanRecord] = {}
    for record in records.store.records(repo=records.repo, pr=pr, kind="plan"):
        latest[record.environment] = record  # oldest first: the last one wins
    return latest


def lock_pr_environments(
    session: Session, pr: int, environments: Sequence[str], *, who: str | None = None
) -> tuple[list[LockInfo], list[LockHeld]]:
    """Take the locks of the environments a PR plans (see `tfops.records.locks.lock_for_pr`)."""
    return lock_for_pr(Records.open(session).locks, environments, pr, who=who)


def release_pr_environments(session: Session, pr: int) -> list[str]:
    """The PR merged or closed: release its locks. Returns the environments released."""
    return release_pr_locks(Records.open(session).locks, pr)
