"""The one plan-JSON reader: what it accepts, what it refuses (row 14), and that the
summary reviewers see and the merge comparison read every plan the same way."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from tests.plan.scenarios import SCENARIOS, RealPlans
from tests.render.test_rows import ACTIONS, DEFERRED, NESTED_REPLACE
from tfops.plan.compare import UNKNOWN, changes
from tfops.plan.model import summarize
from tfops.plan.reader import PlanJsonError, read


@pytest.mark.parametrize(
    ("plan", "says"),
    [
        (
            '{"resource_changes": "invalid"}',
            '`resource_changes` is a string ("invalid"), not a list',
        ),
        ('{"resource_changes": ["x"]}', '`resource_changes[0]` is a string ("x"), not an object'),
        ('{"resource_changes": [{"change": {}}]}', "`resource_changes[0].address` is missing"),
        (
            '{"resource_changes": [{"address": "a.b", "change": []}]}',
            "`resource_changes[0].change` (a.b) is a list, not an object",
        ),
        (
            '{"resource_changes": [{"address": "a.b", "change": {"actions": "create"}}]}',
            '`resource_changes[0].change.actions` (a.b) is a string ("create"), not a list',
        ),
        ('{"resource_drift": {}}', "`resource_drift` is an object, not a list"),
        ('{"output_changes": []}', "`output_changes` is a list, not an object of outputs"),
        ('{"output_changes": {"o": 1}}', "`output_changes.o` is a number (1), not an object"),
        (
            '{"deferred_changes": [{"reason": "x"}]}',
            "`deferred_changes[0].resource_change` is missing",
        ),
        ('{"action_invocations": [{}]}', "`action_invocations[0].address` is missing"),
        ('{"format_version": "2.0"}', "plan JSON format 2.0 is newer than tfops understands"),
        ("[1, 2]", "the plan is a list, not a JSON object"),
    ],
)
def test_a_plan_not_shaped_like_terraforms_is_a_clear_error(plan: str, says: str) -> None:
    for reader in (
        lambda p: list(read(p, "bad.json").changes()),
        lambda p: summarize(p, lambda _: "dev", source="bad.json"),
    ):
        with pytest.raises(PlanJsonError) as raised:
            reader(json.loads(plan))
        assert str(raised.value).startswith(f"bad.json: {says}"), str(raised.value)
        assert "\n  hint: " in str(raised.value)
    with pytest.raises(PlanJsonError):
        changes(json.loads(plan))  # the merge comparison refuses it the same way


def _agree(plan: dict[str, Any]) -> None:
    """The summary lists every change the comparison compares, and shows every attribute
    path it compares (or a whole value holding it)."""
    summary = summarize(plan, lambda _: "dev", ["dev"])
    shown = {c.address: c for c in summary.environments["dev"].changes}
    for change in changes(plan):
        if change.action == "create":  # what a create leaves unset or unknown isn't shown
            change = replace(
                change,
                attributes={
                    k: v for k, v in change.attributes.items() if v is not None and v is not UNKNOWN
                },
            )
        if change.address.startswith("output."):
            outputs = {f"output.{o.name}": o for o in summary.environments["dev"].outputs}
            assert change.address in outputs
            continue
        assert change.address in shown, change.address
        assert shown[change.address].action == change.action
        assert shown[change.address].moved_from == change.moved_from
        assert shown[change.address].importing == change.importing
        names = [a.name for a in shown[change.address].attributes]
        for path in change.attributes:
            assert any(path == n or path.startswith((n + ".", n + "[")) for n in names), (
                f"{change.address}: {path} is compared but not shown ({names})"
            )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_summary_and_the_comparison_read_real_plans_alike(
    real_plans: RealPlans, name: str
) -> None:
    _agree(real_plans(name).json)


@pytest.mark.parametrize(
    "plan", [NESTED_REPLACE, ACTIONS, DEFERRED], ids=["nested", "actions", "deferred"]
)
def test_the_summary_and_the_comparison_read_documented_plans_alike(plan: dict[str, Any]) -> None:
    _agree(plan)


def test_a_deleted_data_source_is_not_a_change() -> None:
    """Terraform doesn't list it (jsonformat: "Don't render anything for deleted data
    sources"); tfops counted it as a destroy."""
    plan = {
        "resource_changes": [
            {"address": "data.x.y", "mode": "data", "type": "x", "change": {"actions": ["delete"]}}
        ]
    }
    summary = summarize(plan, lambda _: "dev", ["dev"])
    assert summary.environments["dev"].counts.delete == 0
    assert not summary.has_changes and changes(plan) == []
