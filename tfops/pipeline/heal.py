"""Drift checks that heal: put a drifted environment back to what the repo says.

An environment to be healed (`heal: true`, or every one with `--heal`) is checked *inside*
the pipeline: its lock is taken before the drift plan, and the very plan that reported the
drift is what gets applied, with the lock held until the audit line is written. Nothing is
applied from a plan made outside the lock. Environments that only get checked are planned
without a lock — nothing will apply that plan.

In a shared root (prefix layout) where only some environments are healed, the root is
checked once without a lock for the report, and the healed ones are then planned again,
under their lock, with -target.
"""

from __future__ import annotations

from collections.abc import Callable

from tfops.pipeline.apply import Change, Planned, apply_change, by_policy
from tfops.pipeline.drift import DriftReport, drift_report
from tfops.pipeline.outcome import Outcome, RootOutcome
from tfops.pipeline.records import Records
from tfops.pipeline.session import RootRun, Session
from tfops.records.drift import record_drift
from tfops.records.locks import LockHolder
from tfops.repo.environments import Root

NOTHING_TO_HEAL = (
    "nothing to apply: Terraform would change nothing, so this drift is only in attributes "
    "the configuration does not set (`terraform apply -refresh-only` accepts it into the state)"
)

HealRule = Callable[[str], bool]


def heal_rule(session: Session, heal_all: bool) -> HealRule:
    """Every environment with --heal; otherwise those with `heal: true`."""
    return lambda name: heal_all or session.repo.environments[name].config.heal


def check(
    session: Session,
    names: list[str],
    *,
    heal: HealRule,
    trigger: str,
    records: Records | None = None,
) -> DriftReport:
    """Check `names` for drift, healing those `heal` says yes to; the report says both."""
    names = [e.name for e in session.select(names)]
    runs: list[RootRun] = []
    outcomes: dict[str, RootOutcome] = {}
    holder = LockHolder.for_run(kind="heal")
    for root in session.roots_for(session.select(names)):
        in_root = [n for n in names if n in root.environments]
        to_heal = [n for n in in_root if heal(n)]
        if to_heal and set(to_heal) == set(root.environments):
            records = records or Records.open(session)
            run, outcome = _check_and_heal(session, records, root, to_heal, holder, trigger)
            runs.append(run)
            outcomes.update(dict.fromkeys(to_heal, outcome))
            continue
        run = session.run_root(root, in_root, gates=False)
        runs.append(run)
        run.discard()
        drifted = [n for n in to_heal if _drifted(run, n)]
        if drifted:
            records = records or Records.open(session)
            session.console.step(f"Healing {', '.join(drifted)}: applying the repo's configuration")
            change = Change(root, drifted, trigger, _commit(session), holder, gates=False)
            outcome = apply_change(session, records, change, by_policy(" (healing drift)"))
            outcomes.update(dict.fromkeys(drifted, outcome))
    report = drift_report(session, runs, names)
    _record_heals(session, report, outcomes)
    record_drift(
        session.config,
        session.repo.root,
        report.to_dict(),
        trigger=trigger,
        mask=session.masker,
        warn=session.console.warn,
    )
    return report


def _record_heals(session: Session, report: DriftReport, outcomes: dict[str, RootOutcome]) -> None:
    for name, outcome in outcomes.items():
        env = report.environments.get(name)
        if env is None or not env.drifted:
            continue
        env.heal = outcome.result_of(name).value
        env.heal_detail = outcome.detail or (
            NOTHING_TO_HEAL if outcome.outcome is Outcome.NO_CHANGES else ""
        )
        if env.healed:
            session.console.info(f"Healed {name}: {outcome.changes.get(name, '')}.")
        else:
            session.console.error(f"{name} was not healed ({env.heal}).")


def _check_and_heal(
    session: Session,
    records: Records,
    root: Root,
    envs: list[str],
    holder: LockHolder,
    trigger: str,
) -> tuple[RootRun, RootOutcome]:
    """The drift plan of a root that is healed whole, made and applied under its lock."""
    session.console.step(f"Checking {', '.join(envs)} for drift, to heal it")
    seen: list[RootRun] = []

    def planned(plan: Planned) -> None:
        seen.append(plan.run)

    change = Change(root, envs, trigger, _commit(session), holder, gates=False)
    outcome = apply_change(
        session, records, change, by_policy(" (healing drift)"), on_planned=planned
    )
    if not seen:  # refused before planning (a lock held, a signature): check without healing
        run = session.run_root(root, envs, gates=False)
        run.discard()
        return run, outcome
    return seen[0], outcome


def _drifted(run: RootRun, name: str) -> bool:
    if run.summary is None or run.error:
        return False
    plan = run.summary.environments.get(name)
    return plan is not None and (plan.has_changes or bool(plan.drift))


def _commit(session: Session) -> str:
    from tfops import gitutil

    return gitutil.head_commit(session.repo.root) or "uncommitted"
