"""Every way tfops tells a plan, for tests that hold each one to the same facts."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from tfops.plan.model import PlanSummary, summarize
from tfops.render import Report
from tfops.render.as_json import dumps
from tfops.render.comment import COMMENT_BUDGET, SUMMARY_BUDGET, render_report
from tfops.render.drift import DriftReport, EnvironmentDrift
from tfops.render.markdown import render_markdown
from tfops.render.slack import plan_message
from tfops.render.text import TextRenderer

SHA = "0123456789abcdef0123456789abcdef01234567"
ENV = "dev"


def identity(text: str) -> str:
    return text


def summary_of(plan: dict[str, Any], env: str = ENV) -> PlanSummary:
    return summarize(plan, lambda _: env, [env])


def drift_report(summary: PlanSummary) -> DriftReport:
    return DriftReport(
        "environments",
        SHA,
        "2026-12-04T10:00:00Z",
        summary.terraform_version,
        {
            name: EnvironmentDrift(name, list(env.drift), env, env.error)
            for name, env in summary.environments.items()
        },
    )


def slack_text(message: dict[str, Any]) -> str:
    """What Slack shows of a message: every block's text, entities decoded."""
    parts = [message["text"]]
    for block in message["blocks"]:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text["text"])
        parts += [e.get("text", "") for e in block.get("elements", [])]
    return html.unescape("\n".join(parts))


def render_all(summary: PlanSummary, mask: Callable[[str], str] = identity) -> dict[str, str]:
    """Each format's text as tfops writes it (masked with `mask` the way its callers do)."""
    report = Report("environments", summary, commit=SHA, run_url="https://github.test/run/1")
    drift = drift_report(summary)
    where = "the job summary"
    return {
        "text": mask(TextRenderer().render(report)),
        "markdown": mask(render_markdown(report, mask=mask)),
        "comment": render_report(report, budget=COMMENT_BUDGET, full_plan_at=where, mask=mask),
        "job summary": render_report(report, budget=SUMMARY_BUDGET, full_plan_at=where, mask=mask),
        "json": mask(dumps(report.to_dict(), mask)),
        "slack": slack_text(plan_message(report, mask=mask)),
        "drift text": mask(drift.text()),
        "drift markdown": mask(drift.markdown(mask=mask)),
        "drift slack": html.unescape(mask(drift.slack(mask=mask))),
        "drift json": mask(drift.json(mask)),
    }


def as_json(text: str) -> Any:
    return json.loads(text)


VALUE_FORMATS = (
    "text",
    "markdown",
    "comment",
    "job summary",
    "slack",
    "drift text",
    "drift markdown",
)
JSON_FORMATS = ("json", "drift json")
DRIFT_REPORTS = ["drift text", "drift markdown", "drift slack", "drift json"]


def strings(value: Any) -> list[str]:
    """Every string in a parsed JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def attributes(value: Any) -> list[dict[str, Any]]:
    """Every attribute change (name, before, after) in a parsed JSON report."""
    if isinstance(value, dict):
        found = [value] if {"name", "before", "after"} <= value.keys() else []
        return found + [a for item in value.values() for a in attributes(item)]
    if isinstance(value, list):
        return [a for item in value for a in attributes(item)]
    return []


def said(outputs: dict[str, str], fragment: str) -> list[str]:
    """The formats that do NOT say `fragment` (JSON formats: in one of their strings)."""
    missing = []
    for name, text in outputs.items():
        haystack = "\n".join(strings(json.loads(text))) if name in JSON_FORMATS else text
        if fragment not in haystack:
            missing.append(name)
    return missing


def attribute_shown(
    outputs: dict[str, str], name: str, before: str | None, after: str, forces: bool = False
) -> list[str]:
    """The formats that do NOT show the attribute change `name: before -> after`."""
    missing = []
    for fmt in VALUE_FORMATS:
        text = outputs[fmt]
        arrow = "→" if fmt in ("text", "drift text") else "->"
        line = f"{name}: " + (f"{before} {arrow} " if before is not None else "") + after
        if forces:
            line += "  # forces replacement"
        if line not in text:
            missing.append(fmt)
    for fmt in JSON_FORMATS:
        wanted = {"name": name, "before": before, "after": after}
        found = [
            a for a in attributes(json.loads(outputs[fmt])) if {k: a[k] for k in wanted} == wanted
        ]
        if not found or (forces and not found[0].get("forces_replacement")):
            missing.append(fmt)
    return missing
