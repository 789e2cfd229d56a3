"""The drift report: its model and how it is told (terminal, Markdown, JSON, Slack).

A drift check is a plan (with refresh) of the current checkout, which should be empty.
Two things show up in it, and either is drift:
- resources changed outside Terraform (`resource_drift`): the attributes that differ,
  before → after, with sensitive values masked;
- what the plan would change to make reality match the repo again (the other side of that
  drift, or commits that were never applied).

Detection and healing live in `tfops.pipeline.drift` and `tfops.commands.drift`; this is
the report they produce, rendered with the same pieces as the plan report (`TextRenderer`,
`diff_lines`, the headline and notes of `plan.model`), so drift reads like a plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tfops.plan.model import EnvironmentPlan, ResourceChange
from tfops.render.as_json import dumps
from tfops.render.comment import COMMENT_BUDGET
from tfops.render.text import TextRenderer

# Resources listed per environment in a Slack message; the issue and the log list all.
SLACK_RESOURCES = 5
SLACK_TEXT_LIMIT = 40_000  # Slack truncates a message's text beyond this
HEALED = "applied"


def _identity(text: str) -> str:
    return text


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
            "changed_outside_terraform": [c.as_dict(drift=True) for c in self.outside],
            "planned_changes": [c.as_dict() for c in self.changes],
            "planned_actions": [a.as_dict() for a in self.plan.actions] if self.plan else [],
            "deferred": [c.as_dict() for c in self.plan.deferred] if self.plan else [],
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
    def json(self, mask: Callable[[str], str] = _identity) -> str:
        return dumps(self.to_dict(), mask)

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
                    out += painter.change(change, indent="  ", drift=True)
            plan = env.plan
            if plan is not None and plan.has_changes:
                out.append(f"  To match the repo, Terraform would ({plan.counts.phrase()}):")
                for change in plan.changes:
                    out += painter.change(change, indent="  ")
                for action in plan.actions:
                    out += painter.action(action, indent="  ")
                out += painter.outputs(plan.outputs, indent="    ")
            if plan is not None and plan.deferred:
                out.append("  Deferred to a later plan:")
                for change in plan.deferred:
                    out += painter.change(change, indent="  ")
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
        mask: Callable[[str], str] = _identity,
    ) -> str:
        """Markdown of some environments (all by default), cut to fit `limit` characters:
        attribute lines go first, then resources, never the summary. `mask` masks each
        value before Markdown escapes it."""
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
                mask=mask,
            )

        text = render(None)
        cap = max((len(e.outside) + len(e.changes) for e in envs), default=0)
        while COMMENT_BUDGET.measure(text) > limit and cap > 0:
            cap //= 2
            text = render(cap)
        return text

    def slack(self, mask: Callable[[str], str] = _identity) -> str:
        """Slack incoming-webhook text (mrkdwn) for the drifted or failed environments.
        `mask` masks each value before it is escaped for Slack; the text stays under
        Slack's cap."""
        from tfops.render.markdown import render_template

        text = render_template(
            "drift.slack.j2",
            report=self,
            environments=[e for e in self.environments.values() if e.drifted or e.error],
            max_resources=SLACK_RESOURCES,
            mask=mask,
        )
        if len(text) > SLACK_TEXT_LIMIT:
            text = text[: SLACK_TEXT_LIMIT - 40].rsplit("\n", 1)[0] + "\n… (cut to fit Slack)\n"
        return text


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
