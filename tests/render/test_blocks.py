"""Slack messages within Slack's limits: a plan of thousands of changes still fits, a cut
leaves no half secret behind, and nothing from a plan is a mention, a link or markup."""

from __future__ import annotations

import json
import re

from tfops.masking import Masker
from tfops.plan.model import (
    AttributeChange,
    Counts,
    EnvironmentPlan,
    PlanSummary,
    ResourceChange,
)
from tfops.render import Report, blocks
from tfops.render.slack import plan_message

SECRET = "dfp_live_0123456789abcdef"


def plan(n: int, action: str = "create", value: str = '"v"') -> EnvironmentPlan:
    changes = [
        ResourceChange(
            f"module.prod_app.terraform_data.item[{i}]",
            action,
            "prod",
            "terraform_data",
            attributes=[AttributeChange("input", None, value)],
        )
        for i in range(n)
    ]
    counts = Counts(**{action: n})
    return EnvironmentPlan("prod", counts=counts, changes=changes)


def summary(
    env: EnvironmentPlan, mask: Masker | None = None, note: str | None = None
) -> list[blocks.Block]:
    """The plan blocks ChatOps posts above its buttons (the PR comment's renderer family)."""
    report = Report("acme/envs", PlanSummary("1.2", "1.11.4", {env.name: env}), commit="a" * 40)
    report.notes = ["Asked by U0ALICE for prod on main", *([note] if note else [])]
    message = plan_message(report, mask=mask or Masker(), reserve=blocks.BUTTON_BLOCKS)
    found: list[blocks.Block] = message["blocks"]
    return found


def sections(found: list[blocks.Block]) -> list[str]:
    texts = [b["text"]["text"] for b in found if b["type"] == "section"]
    texts += [e["text"] for b in found if b["type"] == "context" for e in b["elements"]]
    return texts


def test_a_plan_of_thousands_of_changes_fits_and_says_what_it_left_out() -> None:
    found = summary(plan(5000))
    assert all(len(text) <= 3000 for text in sections(found))
    assert len(found) + blocks.BUTTON_BLOCKS <= 50
    assert len(json.dumps(found)) < 13_000  # Slack's msg_blocks_too_long
    text = "\n".join(sections(found))
    assert "*prod*: 5000 to add, 0 to change, 0 to destroy" in text
    assert "```\n+ module.prod_app.terraform_data.item[0]\n" in text
    assert re.search(r"… [\d,]+ more line\(s\)", text)


def test_destroys_come_first_and_are_capped() -> None:
    found = sections(summary(plan(300, "delete")))
    warning = next(s for s in found if "will be destroyed or replaced" in s)
    assert warning.startswith(":rotating_light: *300 resource(s) will be destroyed or replaced:*")
    assert len(warning) <= 3000 and "• … and " in warning


def test_a_cut_never_leaves_half_a_secret() -> None:
    masker = Masker(["dfp_live_[0-9a-f]+"])
    long = '"' + "x" * 280 + SECRET + '"'  # the line is cut at 300, inside the secret
    text = json.dumps(summary(plan(50, value=long), masker, note=f"note {SECRET}"))
    assert "dfp_l" not in text and "***" in text


def test_nothing_from_a_plan_is_a_mention_a_link_or_markup() -> None:
    hostile = '"<!channel> <https://evil.example|click> <@U0BOSS> & ```"'
    env = plan(1, value=hostile)
    env.changes[0].address = 'terraform_data.x["`<!here>`"]'
    found = summary(env, note="<!everyone>")
    text = json.dumps(found)
    for raw in ("<!channel>", "<https://", "<@U0BOSS>", "<!here>", "<!everyone>"):
        assert raw not in text
    body = next(s for s in sections(found) if "```" in s)
    assert body.count("```") == 2 and "&lt;!channel&gt;" in body and "&amp;" in body


def test_buttons_stay_within_slacks_limits() -> None:
    name = "e" * 63  # the longest environment name tfops accepts
    actions, under = blocks.apply_buttons("id", name, ttl_minutes=15, expires=0.0, destructive=True)
    apply, cancel = actions["elements"]
    assert len(apply["text"]["text"]) <= 75 and len(apply["confirm"]["title"]["text"]) <= 100
    assert (
        apply["style"] == "danger" and "destroying or replacing" in apply["confirm"]["text"]["text"]
    )
    assert (apply["action_id"], cancel["action_id"]) == ("tfops_apply", "tfops_cancel")
    assert actions["block_id"] == f"tfops_plan:{name}" and len(actions["block_id"]) <= 255
    assert "until 00:00 UTC" in under["elements"][0]["text"]


def test_long_text_goes_on_in_sections_cut_between_lines() -> None:
    lines = [f"• <@U0ALICE> line {i} &amp; more" for i in range(400)]
    message = blocks.text("\n".join(lines))
    texts = [b["text"]["text"] for b in message["blocks"]]
    assert len(texts) > 1 and all(len(t) <= 3000 for t in texts)
    assert "\n".join(texts) == "\n".join(lines)  # nothing lost, no line cut in two
    assert blocks.text("")["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": " "}}
    ]
