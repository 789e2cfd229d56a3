"""Drift: where the real infrastructure no longer matches what the environments repo says.

`detect` plans every root holding the environments asked for and reports each one's drift
(the report and how it is rendered: `tfops.render.drift`). The plan of each root is kept
with the report, so healing can apply exactly what was reported. Healing itself lives in
`tfops.commands.drift` (it applies, with locks and audit).
"""

from __future__ import annotations

from dataclasses import dataclass

from tfops import gitutil
from tfops.pipeline.session import RootRun, Session, merged_summary
from tfops.records.audit import now_iso
from tfops.render.drift import HEALED, SLACK_RESOURCES, DriftReport, EnvironmentDrift
from tfops.repo.environments import SHARED

__all__ = [
    "HEALED",
    "SLACK_RESOURCES",
    "Detection",
    "DriftReport",
    "EnvironmentDrift",
    "detect",
]


@dataclass
class Detection:
    """A drift report and the plans behind it (one per root), which healing may apply."""

    report: DriftReport
    runs: list[RootRun]


def detect(session: Session, names: list[str]) -> Detection:
    """Plan every root holding one of `names` (no gates: the repo is not under review) and
    report each environment's drift. A plan that fails is that environment's error."""
    envs = session.select(names)
    names = [e.name for e in envs]
    runs = [session.run_root(root, names, gates=False) for root in session.roots_for(envs)]
    return Detection(drift_report(session, runs, names), runs)


def drift_report(session: Session, runs: list[RootRun], names: list[str]) -> DriftReport:
    """Each environment's drift, from plans of the roots holding `names`."""
    summary = merged_summary(runs, names)
    report = DriftReport(
        repo=session.repo.root.name,
        commit=gitutil.head_commit(session.repo.root),
        checked_at=now_iso(),
        terraform_version=summary.terraform_version or session.binary.version,
    )
    for name in [*names, SHARED]:
        plan = summary.environments.get(name)
        if plan is None:
            continue
        env = EnvironmentDrift(name, list(plan.drift), plan, plan.error)
        if name == SHARED:
            if not env.drifted:
                continue
            report.notes.append(
                "Blocks in the shared files drifted too (under `shared`); healing an "
                "environment does not put them back: apply the whole root."
            )
        report.environments[name] = env
    return report
