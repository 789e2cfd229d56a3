"""Deploy production from Slack in the seed's layout: the bundled demo, one Terraform root
and one state for every environment, prod pinned to released module tags. prod is applied
alone, with -target, and the plan says so."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.chatops.conftest import Chat
from tests.chatops.test_slack_flow import answers, press, shown_plan
from tests.helpers import commit
from tests.slack_app import message_text


def test_deploy_production_in_the_demo(sandbox: Path, start_chat: Callable[[Path], Chat]) -> None:
    config = (sandbox / "tfops.yaml").read_text()
    commit(sandbox, {"tfops.yaml": config + "slack:\n  appliers:\n    prod: [U0ALICE]\n"})
    chat = start_chat(sandbox)
    _, shown = shown_plan(chat, "Deploy production")
    text = message_text(shown)
    assert "*prod*: 6 to add, 0 to change, 0 to destroy" in text
    assert "prod shares a Terraform root and state with dev, global" in text  # -target
    assert "+ module.prod_back_end" in text and "module.dev_" not in text

    pressed = press(chat, shown)
    chat.run_jobs()
    _, _, news = answers(chat, pressed)
    assert news.startswith(":white_check_mark: *Applied prod* at `")
    state = json.loads((chat.clone / "terraform.tfstate").read_text())
    modules = {r.get("module", "") for r in state["resources"]}
    assert {"module.prod_back_end", "module.prod_front_end"} <= modules
    (line,) = chat.audit(trigger="slack")
    assert (line["environment"], line["result"]) == ("prod", "applied")
