"""The PR comment and job summary: what they say, and how they stay within GitHub's limits."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.github_api import TOKEN, fake_github
from tfops.gates.base import Finding, GateResult
from tfops.github.client import GithubClient
from tfops.masking import Masker
from tfops.modules.inventory import ModuleStatus
from tfops.plan.model import PlanSummary, summarize
from tfops.render import Report
from tfops.render.comment import (
    COMMENT_BUDGET,
    COMMENT_LIMIT,
    SUMMARY_BUDGET,
    Budget,
    marker,
    render_report,
    utf16_length,
)

RUN_URL = "https://github.test/acme/environments/actions/runs/77"
WHERE = f"the job summary of [this workflow run]({RUN_URL})"
SHA = "0123456789abcdef0123456789abcdef01234567"


def resource(address: str, actions: list[str], before: Any, after: Any) -> dict[str, Any]:
    return {
        "address": address,
        "type": "terraform_data",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {},
            "replace_paths": [["input"]] if actions == ["delete", "create"] else [],
        },
    }


def plan_json(counts: dict[str, int], replaced: int = 0) -> dict[str, Any]:
    """A plan with `counts[env]` creates per environment and `replaced` replaces in prod."""
    changes = [
        resource(
            f"module.{env}_app.terraform_data.item[{i}]",
            ["create"],
            None,
            {"input": {"name": f"{env}-item-{i}", "size": i, "tags": {"team": "platform"}}},
        )
        for env, count in counts.items()
        for i in range(count)
    ]
    changes += [
        resource(
            f"module.prod_app.terraform_data.db[{i}]",
            ["delete", "create"],
            {"input": "postgres-14"},
            {"input": "postgres-16"},
        )
        for i in range(replaced)
    ]
    return {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": changes}


def summary_of(plan: dict[str, Any], envs: list[str]) -> PlanSummary:
    return summarize(plan, lambda address: address.split(".")[1].split("_")[0], envs)


def report(summary: PlanSummary, **extra: Any) -> Report:
    return Report("environments", summary, commit=SHA, run_url=RUN_URL, **extra)


def comment(rep: Report, budget: Budget = COMMENT_BUDGET) -> str:
    return render_report(rep, budget=budget, full_plan_at=WHERE, marker=marker())


def test_the_comment_reads_top_down() -> None:
    summary = summary_of(plan_json({"dev": 2}, replaced=1), ["dev", "prod", "global"])
    summary.environment("global").error = (
        "terraform plan failed in environments (exit 1)\nError: Invalid reference\n\n"
        '  on global_monitoring.tf line 3, in module "monitoring":'
    )
    gates = [
        GateResult("fmt", "passed"),
        GateResult(
            "tflint",
            "passed",
            [Finding("tflint", "info", "terraform_naming", "odd name", "dev_app.tf", 4)],
        ),
    ]
    modules = [
        ModuleStatus(
            "prod", "prod_app", "../modules/app?ref=v1.1.0", "sibling", "prod_app.tf", 1,
            True, "v1.1.0", "a" * 40, "v1.2.0", 1,
        ),
        ModuleStatus("dev", "dev_app", "../modules/app", "sibling", "dev_app.tf", 1, False),
    ]  # fmt: skip
    body = comment(report(summary, gates=gates, modules=modules))

    lines = body.splitlines()
    assert lines[0] == "<!-- tfops:plan -->"
    assert lines[1] == "### tfops plan · environments @ `0123456789ab`"
    # the warning comes before everything else and lists what is destroyed
    warning = body.index("> [!CAUTION]")
    assert warning < body.index("#### Gates") < body.index("#### Plan")
    assert "> - `module.prod_app.terraform_data.db[0]` (replace, prod)" in body
    assert "`terraform_naming` in `dev_app.tf:4`: odd name" in body
    assert "| **dev** | 2 | 0 | 0 | 0 | 0 | 0 |  |" in body
    assert "| **prod** | 0 | 0 | 0 | 1 | 0 | 0 |  |" in body
    # pinned modules with their refs; floating ones are not listed
    assert "| prod | `prod_app` | `../modules/app?ref=v1.1.0` | `v1.1.0` |" in body
    assert "`dev_app`" not in body.split("#### Pinned modules")[1].split("**dev**")[0]
    # per environment: the summary outside a collapsed details block, diff markers in column 0
    assert "**dev**: 2 to add, 0 to change, 0 to destroy.\n\n<details>" in body
    diff = body.split("```diff\n")[1].split("```")[0]
    assert diff.startswith("+ module.dev_app.terraform_data.item[0]\n")
    assert all(re.match(r"(\+|-/\+|-|~|<=) ", line) for line in diff.splitlines())
    assert "**prod**: 1 to add, 0 to change, 1 to destroy (1 replaced)." in body
    assert '-/+     input: "postgres-14" -> "postgres-16"  # forces replacement' in body
    # a failed plan shows terraform's error
    assert "**global**: ❌ the plan failed." in body
    assert "Error: Invalid reference\n\n  on global_monitoring.tf line 3" in body
    assert "✂️" not in body  # nothing was cut


def test_no_changes_is_said_plainly() -> None:
    body = comment(report(summary_of(plan_json({}), ["dev", "prod"])))
    assert "**dev**: No changes. The infrastructure matches the configuration." in body
    assert "**prod**: No changes." in body
    assert "<details>" not in body and "CAUTION" not in body


def test_a_3000_resource_plan_fits_in_one_comment() -> None:
    summary = summary_of(plan_json({"dev": 12, "prod": 3000}, replaced=25), ["dev", "prod"])
    rep = report(summary, gates=[GateResult("fmt", "passed")])
    full = comment(rep, Budget(10**9, utf16_length))
    assert len(full) > 5 * COMMENT_LIMIT  # far too long for GitHub as it is

    started = time.monotonic()
    body = comment(rep)
    seconds = time.monotonic() - started

    assert utf16_length(body) <= COMMENT_LIMIT
    assert seconds < 2.0, f"rendering took {seconds:.2f}s"
    # never cut: header, warning (all 25 listed), gates, counts, per-environment summaries
    assert "**25 resource(s) will be destroyed or replaced:**" in body
    assert body.count("(replace, prod)") == 25
    assert "| **prod** | 3000 | 0 | 0 | 25 | 0 | 0 |  |" in body
    assert "**prod**: 3025 to add, 0 to change, 25 to destroy (25 replaced)." in body
    assert "| fmt | ✅ passed | 0 |" in body
    # the small environment keeps all its lines; the big one is cut and says where the rest is
    dev = body.split("**dev**")[2].split("**prod**")[0]
    assert "item[11]" in dev and "✂️" not in dev
    prod = body.split("**prod**: 3025 to add")[1]
    cut = re.search(r"✂️ ([\d,]+) more line\(s\) not shown here: the full plan is in (.+)\.", prod)
    assert cut is not None and cut.group(2) == WHERE
    shown = prod.split("```diff\n")[1].split("```")[0].splitlines()
    assert len(shown) > 100 and shown[-1].startswith(("+", "-/+"))  # cut at a line boundary
    assert len(shown) + int(cut.group(1).replace(",", "")) == 2 * 3025
    assert prod.count("<details>") == prod.count("</details>") == 1

    # GitHub (here: its stand-in, which refuses bodies over 65,536 characters) takes it
    with fake_github() as api:
        api.add_pull(1, SHA, [])
        GithubClient(api.url, TOKEN, api.repository).create_comment(1, body)
        assert api.comments_on(1)[0]["body"] == body

    # the job summary (1 MiB) still has every line
    summary_text = render_report(rep, budget=SUMMARY_BUDGET, full_plan_at="the log")
    assert "item[2999]" in summary_text and "✂️" not in summary_text


def test_the_largest_details_are_cut_first_then_dropped() -> None:
    summary = summary_of(plan_json({"dev": 5, "qa": 60, "prod": 400}), ["dev", "qa", "prod"])
    rep = report(summary)
    whole_dev_and_qa = comment(rep, Budget(12_000, utf16_length))
    assert utf16_length(whole_dev_and_qa) <= 12_000
    assert "item[4]" in whole_dev_and_qa.split("**qa**: ")[0]
    prod = whole_dev_and_qa.split("**prod**: ")[1]
    assert "✂️" in prod and "prod-item-0" in prod

    tiny = comment(rep, Budget(2_400, utf16_length))
    assert utf16_length(tiny) <= 2_400
    assert "| **prod** | 400 |" in tiny and "**prod**: 400 to add" in tiny
    assert "```diff" not in tiny  # every environment's details replaced by the note
    for lines in (10, 120, 800):
        assert f"✂️ {lines} more line(s) not shown here: the full plan is in {WHERE}." in tiny


def test_secrets_are_masked_before_measuring() -> None:
    plan = plan_json({"dev": 1})
    plan["resource_changes"][0]["change"]["after"]["input"]["name"] = "dfp_live_00ff"
    masker = Masker([r"dfp_live_[0-9a-f]+"])
    body = render_report(
        report(summary_of(plan, ["dev"])), budget=COMMENT_BUDGET, full_plan_at=WHERE, mask=masker
    )
    assert "dfp_live_00ff" not in body and '"name": "***"' in body


def test_a_report_too_big_even_without_details_is_still_accepted() -> None:
    findings = [
        Finding("tfsec", "high", f"rule-{i}", "x" * 200, f"dev_{i}.tf", i) for i in range(600)
    ]
    rep = report(summary_of(plan_json({"dev": 3}), ["dev"]))
    rep.gates = [GateResult("tfsec", "failed", findings)]
    body = comment(rep)
    assert utf16_length(body) <= COMMENT_LIMIT
    assert "#### Gates ❌ failed" in body
    assert body.rstrip().endswith(f"the full report is in {WHERE}.")


def test_markers_tell_tfops_roots_apart() -> None:
    assert marker() == "<!-- tfops:plan -->"
    assert marker("infra") == "<!-- tfops:plan:infra -->"
    assert not marker("infra").startswith(marker())
