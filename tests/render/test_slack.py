"""The plan summary as a Slack message: the PR comment's content, within Slack's limits,
sent to a webhook stand-in that refuses what Slack refuses."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.plan.scenarios import RealPlans
from tests.render.formats import slack_text, summary_of
from tests.slack_webhook import Slack, slack_webhook
from tfops.plan.model import summarize
from tfops.render import Report
from tfops.render.slack import MAX_BLOCKS, MAX_SECTION, plan_message


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Slack]:
    with slack_webhook(monkeypatch) as hook:
        yield hook


def post(slack: Slack, message: dict[str, Any]) -> int:
    request = urllib.request.Request(slack.url, data=json.dumps(message).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def big_plan(envs: int, per_env: int) -> dict[str, Any]:
    changes = [
        {
            "address": f"module.{env}_app.terraform_data.item[{i}]",
            "mode": "managed",
            "type": "terraform_data",
            "change": {
                "actions": ["delete", "create"] if i % 7 == 0 else ["update"],
                "before": {"input": {"name": f"old-{i}", "size": i}},
                "after": {"input": {"name": f"new-{i}", "size": i + 1}},
                "after_unknown": {},
                "replace_paths": [["input", "name"]],
            },
        }
        for env in (f"e{n:02d}" for n in range(envs))
        for i in range(per_env)
    ]
    return {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": changes}


def report_of(plan: dict[str, Any]) -> Report:
    summary = summarize(
        plan, lambda a: a.split(".")[1].split("_")[0] if a.startswith("module.") else "dev"
    )
    return Report("environments", summary, commit="a" * 40, run_url="https://github.test/run/9")


def test_a_real_plan_reads_like_the_pr_comment(real_plans: RealPlans, slack: Slack) -> None:
    message = plan_message(Report("environments", summary_of(real_plans("drift").json)))
    assert post(slack, message) == 200, slack.refused
    text = slack_text(message)
    assert (
        "*dev*: 0 to add, 1 to change, 0 to destroy; 1 resource changed outside Terraform" in text
    )
    assert '! localfile_file.app\n!     content: "A=2" -> "A=1"' in text
    assert 'content: "A=1" -> "A=2"' in text  # the drift
    assert message["text"].startswith("tfops plan · environments: dev: 0 to add, 1 to change")


@pytest.mark.parametrize(("envs", "per_env"), [(3, 2000), (80, 3)])
def test_big_plans_fit_slacks_limits(slack: Slack, envs: int, per_env: int) -> None:
    report = report_of(big_plan(envs, per_env))
    message = plan_message(report, link="https://github.test/pr/1#comment")
    assert post(slack, message) == 200, slack.refused[0][1]
    blocks = message["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in blocks if b["type"] == "section")
    text = slack_text(message)
    # never cut: the warning's count and one line per environment
    destroyed = sum(len(e.destructive) for e in report.summary.environments.values())
    assert f"*{destroyed} resource(s) will be destroyed or replaced:*" in text
    for name in report.summary.environments:
        assert f"*{name}*: " in text
    if envs == 3:
        assert "more line(s)" in text and "# forces replacement" in text
    else:
        link = "<https://github.test/pr/1#comment|the full plan>"
        assert f"section(s) of changes not shown here: see {link}." in text


def test_a_hostile_address_cant_ping_or_break_out(slack: Slack) -> None:
    hostile = 'terraform_data.x["<!channel> *hi* ``` <https://evil|click>"]'
    plan = {
        "resource_changes": [
            {
                "address": hostile,
                "mode": "managed",
                "type": "terraform_data",
                "change": {"actions": ["delete"], "before": {"input": "x"}, "after": None},
            }
        ]
    }
    message = plan_message(report_of(plan))
    assert post(slack, message) == 200, slack.refused
    raw = json.dumps(message)
    assert "<!channel>" not in raw and "<https://evil" not in raw
    assert "&lt;!channel&gt;" in raw
    for block in message["blocks"]:
        if block["type"] == "section" and "```" in block["text"]["text"]:
            assert block["text"]["text"].count("```") == 2  # the content can't close it
