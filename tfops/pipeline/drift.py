"""Drift: where the real infrastructure no longer matches what the environments repo says.

A drift check is a plan (with refresh) of the current checkout, which should be empty.
Two things show up in it, and either is drift:
- resources changed outside Terraform (`resource_drift`): the attributes that differ,
  before → after, with sensitive values masked;
- what the plan would change to make reality match the repo again (the other side of that
  drift, or commits that were never applied).

The plan of each root is kept with the report, so healing can apply exactly what was
reported. Healing itself lives in `tfops.commands.drift` (it applies, with locks and audit).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from tfops import gitutil
from tfops.pipeline.session import RootRun, Session, merged_summary
from tfops.plan.model import EnvironmentPlan, ResourceChange
from tfops.records.audit import now_iso
from tfops.render.comment import COMMENT_BUDGET
from tfops.render.text import TextRenderer
from tfops.repo.environments import SHARED

# Resources listed per environment in a Slack message; the issue and the log list all.
SLACK_RESOURCES = 5
HEALED = "applied"


@dataclass
class EnvironmentDrift:
    name: str
    outside: list[ResourceChange] = field(default_factory=list)  # changed outside Terraform
    plan: EnvironmentPlan | None = None  # what a plan would change
    error: str | None = None  # the check itself failed
    heal: str | None = None  # applied | no-changes | refused | failed, when healing was tried
    heal_detail: str = ""

    @property
    def drifted(self) -> bool:
        return bool(self.outside) or (self.plan is not None and self.plan.has_changes)

    @property
    def healed(self) -> bool:
        return self.heal == HEALED

    @property
    def status(self) -> str:
        """error | clean | drift | healed | heal-failed"""
        if self.error:
            return "error"
        if not self.drifted:
            return "clean"
        if self.heal is None:
            return "drift"
        return "healed" if self.healed else "heal-failed"

    @property
    def changes(self) -> list[ResourceChange]:
        return self.plan.changes if self.plan else []

    def headline(self) -> str:
        """One line: "1 resource changed outside Terraform; the plan: 0 to add, 1 to change…"."""
        if self.error:
            return "the drift check failed"
        if not self.drifted:
            return "no drift"
        parts = []
        if self.outside:
            parts.append(f"{_count(len(self.outside), 'resource')} changed outside Terraform")
        if self.plan is not None and self.plan.has_changes:
            parts.append(f"to match the repo: {self.plan.counts.phrase()}")
        return "; ".join(parts)

    def fingerprint(self) -> str:
        """Stable over checks that find the same drift (to tell new drift from old)."""
        if not self.drifted:
            return ""
        data: list[Any] = [
            (c.address, c.action, [(a.name, a.before, a.after) for a in c.attributes])
            for c in [*self.outside, *self.changes]
        ]
        data += [(o.name, o.action, o.after) for o in (self.plan.outputs if self.plan else [])]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "drifted": self.drifted,
            "summary": self.headline(),
            "changed_outside_terraform": [asdict(c) for c in self.outside],
            "planned_changes": [asdict(c) for c in self.changes],
            "counts": self.plan.counts.as_dict() if self.plan else None,
            "outputs": [asdict(o) for o in self.plan.outputs] if self.plan else [],
            "error": self.error,
            "heal": self.heal,
            "heal_detail": self.heal_detail,
        }


@dataclass
class DriftReport:
    repo: str
    commit: str | None
    checked_at: str
    terraform_version: str = ""
    environments: dict[str, EnvironmentDrift] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run_url: str | None = None

    @property
    def drifted(self) -> list[EnvironmentDrift]:
        return [e for e in self.environments.values() if e.drifted]

    @property
    def errored(self) -> list[EnvironmentDrift]:
        return [e for e in self.environments.values() if e.error]

    @property
    def heal_failed(self) -> list[EnvironmentDrift]:
        return [e for e in self.environments.values() if e.status == "heal-failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "commit": self.commit,
            "checked_at": self.checked_at,
            "terraform_version": self.terraform_version,
            "drift": bool(self.drifted),
            "drifted": [e.name for e in self.drifted],
            "notes": self.notes,
            "environments": {name: env.to_dict() for name, env in self.environments.items()},
        }

    # ---- rendering ---------------------------------------------------------------------
    def json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def text(self, *, color: bool = False) -> str:
        painter = TextRenderer(color=color)
        head = f"tfops drift · {self.repo}"
        if self.commit:
            head += f" @ {self.commit[:12]}"
        if self.terraform_version:
            head += f" · terraform {self.terraform_version}"
        out = [painter.bold(head)]
        out += [f"note: {note}" for note in self.notes]
        for env in self.environments.values():
            out.append(painter.bold(f"{env.name}: {_status_text(env)}"))
            if env.error:
                out += [f"  {line}" for line in env.error.splitlines()]
            if env.outside:
                out.append("  Changed outside Terraform:")
                for change in env.outside:
                    out += painter.change(change, indent="  ")
            if env.plan is not None and env.plan.has_changes:
                out.append(f"  To match the repo, Terraform would ({env.plan.counts.phrase()}):")
                for change in env.plan.changes:
                    out += painter.change(change, indent="  ")
                for output in env.plan.outputs:
                    out.append(f"      ~ output.{output.name}: {output.before} → {output.after}")
            if env.heal_detail:
                out += [f"  {line}" for line in env.heal_detail.splitlines()]
        return "\n".join(out) + "\n"

    def markdown(
        self,
        names: list[str] | None = None,
        *,
        marker: str | None = None,
        footer: str | None = None,
        limit: int = COMMENT_BUDGET.limit,
    ) -> str:
        """Markdown of some environments (all by default), cut to fit `limit` characters:
        attribute lines go first, then resources, never the summary."""
        from tfops.render.markdown import render_template

        envs = [
            self.environments[n] for n in (names or self.environments) if n in self.environments
        ]

        def render(max_resources: int | None) -> str:
            return render_template(
                "drift.md.j2",
                report=self,
                environments=envs,
                marker=marker,
                footer=footer,
                max_resources=max_resources,
            )

        text = render(None)
        cap = max((len(e.outside) + len(e.changes) for e in envs), default=0)
        while COMMENT_BUDGET.measure(text) > limit and cap > 0:
            cap //= 2
            text = render(cap)
        return text

    def slack(self) -> str:
        from tfops.render.markdown import render_template

        return render_template(
            "drift.slack.j2",
            report=self,
            environments=[e for e in self.environments.values() if e.drifted or e.error],
            max_resources=SLACK_RESOURCES,
        )


def _status_text(env: EnvironmentDrift) -> str:
    if env.status == "healed":
        return f"drift, healed — {env.headline()}"
    if env.status == "heal-failed":
        return f"drift, not healed ({env.heal}) — {env.headline()}"
    if env.status == "drift":
        return f"drift — {env.headline()}"
    return env.headline() + ("." if env.status == "clean" else ":")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# ---- detection -------------------------------------------------------------------------


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
