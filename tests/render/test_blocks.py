"""Slack messages within Slack's limits: a plan of thousands of changes still fits, a cut
leaves no half secret behind, and nothing from a plan is a mention, a link or markup."""

from __future__ import annotations

import json
import re

from tfops.masking import Masker
from tfops.plan.model import AttributeChange, Counts, EnvironmentPlan, ResourceChange
from tfops.render import blocks

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
    return blocks.plan_summary(
        env, repo="acme/envs", branch="main", commit="a" * 40, asked_by="U0ALICE",
        note=note, mask=mask or Masker(),
    )  # fmt: skip


def sections(found: list[blocks.Block]) -> list[str]:
    texts = [b["text"]["text"] for b in found if b["type"] == "section"]
    texts += [e["text"] for b in found if b["type"] == "context" for e in b["elements"]]
    return texts


def test_a_plan_of_thousands_of_changes_fits_and_says_what_it_left_out() -> None:
    found = summary(plan(5000))
    assert all(len(text) <= 3000 for text in sections(found))
    head, body = sections(found)
    assert "*prod*: 5000 to add, 0 to change, 0 to destroy." in head
    assert body.startswith("```\n+ module.prod_app.terraform_data.item[0]\n")
    shown = body.split("```")[1].strip("\n").splitlines()
    left_out = re.search(r"… ([\d,]+) more line\(s\): the whole plan is in the log", body)
    assert left_out is not None
    assert len(shown) + int(left_out[1].replace(",", "")) == 10_000  # resource + attribute
    message = blocks.message(found, blocks.plan_fallback(plan(5000), "a" * 40))
    assert len(message["blocks"]) <= 50 and len(json.dumps(message)) < 10_000


def test_destroys_come_first_and_are_capped() -> None:
    head = sections(summary(plan(30, "delete")))[0]
    assert ":warning: *30 resource(s) will be destroyed or replaced:*" in head
    assert head.count("(delete)") == 10 and "• … and 20 more" in head


def test_a_cut_never_leaves_half_a_secret() -> None:
    masker = Masker(["dfp_live_[0-9a-f]+"])
    long = '"' + "x" * 280 + SECRET + '"'  # the line is cut at 300, inside the secret
    text = json.dumps(summary(plan(50, value=long), masker, note=f"note {SECRET}"))
    assert "dfp_l" not in text and "***" in text


def test_nothing_from_a_plan_is_a_mention_a_link_or_markup() -> None:
    hostile = '"<!channel> <https://evil.example|click> <@U0BOSS> & ```"'
    env = plan(1, value=hostile)
    env.changes[0].address = 'terraform_data.x["`<!here>`"]'
    env.error = None
    found = summary(env, note="<!everyone>")
    text = json.dumps(found)
    for raw in ("<!channel>", "<https://", "<@U0BOSS>", "<!here>", "<!everyone>"):
        assert raw not in text
    body = sections(found)[1]
    assert body.count("```") == 2 and "&lt;!channel&gt;" in body and "&amp;" in body
    assert "<@U0ALICE>" in sections(found)[0]  # tfops's own mention of who asked stays


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
