"""Secrets in every escaping (issue 15, row 13, for every row's plan).

The masker finds a secret as it is spelled in the text it masks. Each format escapes values
its own way — JSON (`"` → `\\"`, and `ö` → `\\u00f6` unless told not to), Markdown table
cells (`|` → `\\|`, `<` → `&lt;`), Slack (`&` → `&amp;`), and the plan's own value quoting
(`"` → `\\"`) — so a secret with such characters must be masked before the escaping, by the
renderer itself. Terraform 1.11 leaves one copy unmarked on its own: terraform_data's prior
`output` when its `input` is sensitive (DESIGN.md, facts checked).

These use the masker as it is (raw values only) and hold the renderers to masking their
own escaping; they don't need the masker to know escaped forms.
"""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.plan.scenarios import SECRET_NEW, SECRET_OLD, RealPlans
from tests.render.formats import identity, render_all, summary_of
from tests.render.test_rows import ACTIONS, DEFERRED, NESTED_REPLACE
from tfops.masking import Masker
from tfops.plan.reader import sensitive_values
from tfops.render import slack_escape
from tfops.render.markdown import escape


def spellings(secret: str) -> set[str]:
    """Every way a format could spell `secret` (HTML entities are decoded before checking
    Slack, so the raw spelling covers what Slack shows)."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(json.dumps(secret, ensure_ascii=False))[1:-1],  # a value quoted, in JSON
        escape(secret),
        slack_escape(secret),
        html.escape(secret),
    }


def leaks(outputs: dict[str, str], secrets: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for fmt, text in outputs.items():
        hits = [form for s in secrets for form in spellings(s) if form in text]
        if hits:
            found[fmt] = hits
    return found


@pytest.mark.parametrize("version", ["1.11", "1.0"])
def test_row_13_a_sensitive_value_in_no_escaping(real_plans: RealPlans, version: str) -> None:
    plan = real_plans("sensitive", version)
    secrets = sensitive_values(plan.json)
    assert SECRET_NEW in secrets
    if version == "1.11":  # the unmarked copy Terraform leaves
        before = plan.json["resource_changes"][0]["change"]["before"]
        assert before["output"] == SECRET_OLD and plan.json["resource_changes"][0]["change"][
            "before_sensitive"
        ] == {"input": True}
    summary = summary_of(plan.json)
    assert leaks(render_all(summary, Masker(values=secrets)), [SECRET_OLD, SECRET_NEW]) == {}
    # the renderers' own escaping: without any masker at all, no copy is shown either
    assert leaks(render_all(summary, identity), [SECRET_OLD, SECRET_NEW]) == {}


SECRET = 'tok"en\\wört|<&>42'


def _leak_into(plan: dict[str, Any], where: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Mark SECRET sensitive (a sensitive output), and leave an unmarked copy of it where
    the row's plan shows values, the way terraform_data leaves its prior output."""
    plan.setdefault("output_changes", {})["token"] = {
        "actions": ["create"],
        "before": None,
        "after": SECRET,
        "after_unknown": False,
        "before_sensitive": False,
        "after_sensitive": True,
    }
    plan.setdefault("planned_values", {}).setdefault("outputs", {})["token"] = {"sensitive": True}
    where(plan)["leaked"] = f"prefix {SECRET} suffix"


def _first_after(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def find(plan: dict[str, Any]) -> dict[str, Any]:
        entry = plan[key][0]
        change = entry.get("change") or entry["resource_change"]["change"]
        return change["after"]  # type: ignore[no-any-return]

    return find


ROWS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "1 drift": ("drift", _first_after("resource_drift")),
    "2 refresh-only": ("drift_refresh", _first_after("resource_drift")),
    "4-5 unknown": ("unknown", _first_after("resource_changes")),
    "6 replace": ("replace", _first_after("resource_changes")),
    "10 errored": ("errored", _first_after("resource_changes")),
    "12 unicode": ("unicode", _first_after("resource_changes")),
}
DOCUMENTED: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "6 nested replace": (NESTED_REPLACE, _first_after("resource_changes")),
    "8 actions": (ACTIONS, lambda plan: plan["action_invocations"][0]["config_values"]),
    "9 deferred": (DEFERRED, _first_after("deferred_changes")),
}


@pytest.mark.parametrize("row", list(ROWS))
def test_each_rows_plan_masks_escaped_secrets(real_plans: RealPlans, row: str) -> None:
    name, where = ROWS[row]
    plan = copy.deepcopy(real_plans(name).json)
    _leak_into(plan, where)
    masker = Masker(values=sensitive_values(plan))
    outputs = render_all(summary_of(plan), masker)
    assert "prefix *** suffix" in outputs["text"] or row.startswith("10")
    assert leaks(outputs, [SECRET]) == {}


@pytest.mark.parametrize("row", list(DOCUMENTED))
def test_each_documented_plan_masks_escaped_secrets(row: str) -> None:
    source, where = DOCUMENTED[row]
    plan = copy.deepcopy(source)
    _leak_into(plan, where)
    outputs = render_all(summary_of(plan), Masker(values=sensitive_values(plan)))
    assert leaks(outputs, [SECRET]) == {}


def test_notes_and_errors_are_masked_before_markdown_and_slack_escape_them() -> None:
    """Text tfops didn't make (a note, terraform's error) escaped by the formats."""
    plan = copy.deepcopy(NESTED_REPLACE)
    summary = summary_of(plan)
    summary.environments["dev"].error = f'Error: invalid value "{SECRET}"'
    masker = Masker(values=[SECRET])
    outputs = render_all(summary, masker)
    assert leaks(outputs, [SECRET]) == {}
