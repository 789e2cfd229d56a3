"""Issue 15, row by row: what every format tells of a plan, against what Terraform tells.

Each plan is made by real Terraform (tests/plan/scenarios.py) — 1.11, and 1.0 for the old
JSON format — except where Terraform here can't make one (actions: 1.14; deferred changes:
1.10+ with -allow-deferral on a provider that defers; a nested replace path: no provider
here plans one), which are written from the documented JSON format.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.plan.scenarios import BIDI, RealPlans
from tests.render.formats import (
    DRIFT_REPORTS,
    JSON_FORMATS,
    VALUE_FORMATS,
    attribute_shown,
    render_all,
    said,
    summary_of,
)


@pytest.mark.parametrize("version", ["1.11", "1.0"])
def test_row_1_drift_is_told_in_every_format(real_plans: RealPlans, version: str) -> None:
    plan = real_plans("drift", version)
    assert "resource_drift" in plan.json
    outputs = render_all(summary_of(plan.json))
    assert said(outputs, "1 resource changed outside Terraform") == []
    assert attribute_shown(outputs, "content", '"A=1"', '"A=2"') == []  # outside: 1 → 2
    assert attribute_shown(outputs, "content", '"A=2"', '"A=1"') == []  # the plan: back


@pytest.mark.parametrize("version", ["1.11", "1.0"])
def test_row_2_a_refresh_only_plan_shows_its_drift(real_plans: RealPlans, version: str) -> None:
    plan = real_plans("drift_refresh", version)
    assert plan.exit_code == 2  # terraform: there is something to apply
    summary = summary_of(plan.json)
    assert summary.refresh_only and summary.has_changes
    outputs = render_all(summary)
    assert said(outputs, "No changes") == list(outputs)  # said nowhere
    assert said(outputs, "refresh-only plan") == DRIFT_REPORTS  # a drift check plans in full
    assert said(outputs, "changed outside Terraform") == []
    assert attribute_shown(outputs, "content", '"A=1"', '"A=2"') == []


def test_row_3_drift_that_is_only_a_move_is_shown(real_plans: RealPlans) -> None:
    plan = real_plans("drift_move")
    assert "terraform_data.a has moved to terraform_data.b" in plan.human
    assert plan.exit_code == 0  # Terraform: nothing to apply
    summary = summary_of(plan.json)
    assert not summary.has_changes
    assert said(render_all(summary), "moved from terraform_data.a") == []
    (moved,) = summary.environments["dev"].drift
    assert (moved.address, moved.moved_from) == ("terraform_data.b", "terraform_data.a")


def test_row_4_a_list_element_not_yet_known(real_plans: RealPlans) -> None:
    plan = real_plans("unknown")
    assert "+ (known after apply)," in plan.human
    outputs = render_all(summary_of(plan.json))
    listed = '["hello", (known after apply), "world"]'
    assert attribute_shown(outputs, "input", None, listed) == []  # created
    assert attribute_shown(outputs, "input[1]", '"x"', "(known after apply)") == []  # updated
    assert said(outputs, "null") == list(outputs)  # no element shown as null


def test_row_5_object_keys_not_yet_known_in_an_update(real_plans: RealPlans) -> None:
    plan = real_plans("unknown")
    assert "+ b = (known after apply)" in plan.human
    outputs = render_all(summary_of(plan.json))
    assert attribute_shown(outputs, "input.b", None, "(known after apply)") == []


@pytest.mark.parametrize("version", ["1.0"])
def test_row_4_5_old_format_unknown_values(real_plans: RealPlans, version: str) -> None:
    plan = real_plans("unknown", version)
    outputs = render_all(summary_of(plan.json))
    assert attribute_shown(outputs, "content", '"A=1"', "(known after apply)") == []


def test_row_6_a_nested_change_in_what_forces_replacement(real_plans: RealPlans) -> None:
    plan = real_plans("replace")
    assert plan.json["resource_changes"][0]["change"]["replace_paths"] == [["triggers_replace"]]
    outputs = render_all(summary_of(plan.json))
    shown = attribute_shown(outputs, "triggers_replace.b", '"2"', '"3"', forces=True)
    assert shown == []


# A replace path inside a list of blocks, as AWS plans have it (no provider here plans
# one): the documented format, `replace_paths` as arrays of steps.
NESTED_REPLACE: dict[str, Any] = {
    "format_version": "1.2",
    "terraform_version": "1.11.4",
    "resource_changes": [
        {
            "address": "aws_instance.web",
            "mode": "managed",
            "type": "aws_instance",
            "name": "web",
            "change": {
                "actions": ["delete", "create"],
                "before": {
                    "ami": "ami-1",
                    "root_block_device": [{"volume_size": 8, "volume_type": "gp3"}],
                    "tags": {"Name": "web"},
                },
                "after": {
                    "ami": "ami-1",
                    "root_block_device": [{"volume_size": 16, "volume_type": "gp3"}],
                    "tags": {"Name": "web2"},
                },
                "after_unknown": {"root_block_device": [{}], "tags": {}},
                "before_sensitive": {"root_block_device": [{}], "tags": {}},
                "after_sensitive": {"root_block_device": [{}], "tags": {}},
                "replace_paths": [["root_block_device", 0, "volume_size"]],
            },
        }
    ],
}


def test_row_6_a_nested_attribute_forcing_replacement_is_marked() -> None:
    outputs = render_all(summary_of(NESTED_REPLACE))
    marked = attribute_shown(outputs, "root_block_device[0].volume_size", "8", "16", forces=True)
    assert marked == []
    assert attribute_shown(outputs, "tags.Name", '"web"', '"web2"') == []
    for fmt in VALUE_FORMATS:
        assert 'tags.Name: "web"' in outputs[fmt] and 'web2"  # forces' not in outputs[fmt]


def test_row_7_forget_is_not_no_changes(real_plans: RealPlans) -> None:
    plan = real_plans("forget")
    assert "will no longer be managed by Terraform, but will not be destroyed" in plan.human
    assert plan.exit_code == 2
    summary = summary_of(plan.json)
    assert summary.has_changes
    outputs = render_all(summary)
    assert said(outputs, "no longer managed by Terraform") == []
    assert said(outputs, "No changes") == list(outputs)
    for fmt in ("text", "markdown", "comment", "drift text"):
        assert "0 to add, 0 to change, 0 to destroy (1 no longer managed)" in outputs[fmt], fmt
    assert "~ terraform_data.a" not in outputs["text"]


# Terraform 1.14's action invocations, as its JSON format documents them
# (jsonplan.ActionInvocation): one run by a resource's lifecycle, one by `-invoke`.
ACTIONS: dict[str, Any] = {
    "format_version": "1.2",
    "terraform_version": "1.14.0",
    "applyable": True,
    "complete": True,
    "resource_changes": [
        {
            "address": "aws_lambda_function.job",
            "mode": "managed",
            "type": "aws_lambda_function",
            "name": "job",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"function_name": "job"},
                "after_unknown": {"arn": True},
                "before_sensitive": False,
                "after_sensitive": {},
            },
        }
    ],
    "action_invocations": [
        {
            "address": "action.aws_lambda_invoke.notify",
            "type": "aws_lambda_invoke",
            "name": "notify",
            "config_values": {"function_name": "notify", "payload": '{"x":1}'},
            "config_sensitive": {},
            "config_unknown": {},
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "lifecycle_action_trigger": {
                "triggering_resource_address": "aws_lambda_function.job",
                "action_trigger_event": "AfterCreate",
                "action_trigger_block_index": 0,
                "actions_list_index": 0,
            },
        },
        {
            "address": "action.aws_lambda_invoke.warm",
            "type": "aws_lambda_invoke",
            "name": "warm",
            "config_values": {"function_name": "warm"},
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "invoke_action_trigger": {},
        },
    ],
}


def test_row_8_action_invocations_are_counted_and_listed() -> None:
    summary = summary_of(ACTIONS)
    assert summary.has_changes
    outputs = render_all(summary)
    assert said(outputs, "2 actions to invoke") == []
    assert said(outputs, "action.aws_lambda_invoke.notify") == ["drift slack"]  # 1 line/env
    for fmt in VALUE_FORMATS:
        assert "invoked after create of aws_lambda_function.job" in outputs[fmt], fmt
        assert 'function_name: "notify"' in outputs[fmt], fmt


# Deferred changes (Terraform 1.10+, `-allow-deferral`), as jsonplan documents them.
DEFERRED: dict[str, Any] = {
    "format_version": "1.2",
    "terraform_version": "1.11.4",
    "applyable": True,
    "complete": False,
    "resource_changes": [
        {
            "address": "terraform_data.cluster",
            "mode": "managed",
            "type": "terraform_data",
            "name": "cluster",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"input": "c"},
                "after_unknown": {"id": True},
            },
        }
    ],
    "deferred_changes": [
        {
            "reason": "provider_config_unknown",
            "resource_change": {
                "address": 'kubernetes_namespace.apps["web"]',
                "mode": "managed",
                "type": "kubernetes_namespace",
                "name": "apps",
                "index": "web",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"metadata": [{"name": "web"}]},
                    "after_unknown": {"id": True},
                },
            },
        }
    ],
}


def test_row_9_deferred_changes_and_an_incomplete_plan_are_told() -> None:
    summary = summary_of(DEFERRED)
    outputs = render_all(summary)
    partial = "This plan is partial: 1 change can only be planned after it is applied"
    assert said(outputs, partial) == DRIFT_REPORTS  # the drift report tells drift only
    assert said(outputs, 'kubernetes_namespace.apps["web"]') == ["drift slack"]
    for fmt in VALUE_FORMATS:
        assert "its provider's configuration is not known yet" in outputs[fmt], fmt


def test_row_10_an_errored_plan_is_a_failed_plan(real_plans: RealPlans) -> None:
    plan = real_plans("errored")
    assert plan.exit_code == 1 and plan.json["errored"] is True
    summary = summary_of(plan.json)
    assert summary.errored
    outputs = render_all(summary)
    assert said(outputs, "No changes") == list(outputs)
    assert said(outputs, "Terraform could not finish this plan") == DRIFT_REPORTS
    assert said(outputs, "Terraform stopped with an error part-way through planning") == []
    # what Terraform planned before the error is still shown
    assert attribute_shown(outputs, "input", '"x"', '"y"') == []


def test_row_11_a_new_output_in_a_drift_report(real_plans: RealPlans) -> None:
    plan = real_plans("new_output")
    assert '+ test = "bar"' in plan.human
    outputs = render_all(summary_of(plan.json))
    assert '    + output.test: "bar"\n' in outputs["drift text"]
    assert "None" not in outputs["drift text"]
    assert '+ output.test: "bar"\n' in outputs["drift markdown"]
    assert '  + output.test: "bar"\n' in outputs["text"]


@pytest.mark.parametrize("version", ["1.11", "1.0"])
def test_row_12_non_ascii_values_as_terraform_shows_them(
    real_plans: RealPlans, version: str
) -> None:
    plan = real_plans("unicode", version)
    assert "für Zürich ✓" in plan.human
    outputs = render_all(summary_of(plan.json))
    assert said(outputs, '"für Zürich ✓"') == ["drift slack"]  # it names attributes only
    for fmt, text in outputs.items():
        assert "\\u00fc" not in text and "\\u2713" not in text, fmt
    if version == "1.11":
        # a character that reorders the text around it is escaped, as Terraform does
        assert "invoice\\u202egpj.exe" in plan.human
        assert said(outputs, '"invoice\\u202egpj.exe"') == ["drift slack"]
        for fmt, text in outputs.items():
            assert BIDI not in text and "\u202e" not in text, fmt


def test_row_14_an_invalid_plan_is_a_clear_error() -> None:
    from tfops.plan.reader import PlanJsonError

    with pytest.raises(PlanJsonError) as raised:
        summary_of(json.loads('{"resource_changes": "invalid"}'))
    assert str(raised.value).startswith(
        'the plan JSON: `resource_changes` is a string ("invalid"), not a list'
    )


def test_every_format_is_rendered() -> None:
    assert set(render_all(summary_of(ACTIONS))) == {*VALUE_FORMATS, *JSON_FORMATS, "drift slack"}
