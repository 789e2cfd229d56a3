"""/tfops in Slack against a real watcher: signed requests on its real HTTP server, real
terraform and git, and what a person in the channel sees posted to the response URL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chatops.conftest import Chat
from tests.conftest import Tfops
from tests.helpers import commit, git
from tests.repos import lock_files, resource
from tests.slack_app import Sent, buttons, message_text
from tfops.config import load_config
from tfops.records.locks import LockHolder, open_locks
from tfops.records.store import open_store


def shown_plan(chat: Chat, text: str = "deploy prod", **who: str) -> tuple[Sent, dict[str, Any]]:
    """Ask for a plan to apply; run the job; the message with the buttons."""
    sent = chat.slack.command(text, **who)
    assert sent.code == 200, sent.body
    chat.run_jobs()
    (message,) = chat.receiver.to(sent.response_url)
    return sent, message


def press(chat: Chat, message: dict[str, Any], action: str = "tfops_apply", **who: str) -> Sent:
    block_id, found = buttons(message)
    pressed = chat.slack.press(found[action], block_id, **who)
    assert (pressed.code, pressed.body) == (200, "\n")
    assert pressed.seconds < 3
    assert chat.watcher.chat is not None and chat.watcher.chat.responder.flush()
    return pressed


def answers(chat: Chat, sent: Sent) -> list[str]:
    return [message_text(m) for m in chat.receiver.to(sent.response_url)]


def chat_records(chat: Chat) -> list[Any]:
    return open_store(load_config(chat.clone)[0], chat.clone).records(kind="chat")


def head(chat: Chat) -> str:
    return git(chat.repo, "rev-parse", "HEAD")


# ---- the whole way ------------------------------------------------------------------------
def test_deploy_production_shows_the_plan_and_apply_applies_exactly_it(chat: Chat) -> None:
    sent = chat.slack.command("Deploy production")
    assert sent.code == 200 and sent.seconds < 3  # Slack's 3 seconds
    assert sent.json["response_type"] == "in_channel"
    assert sent.text == (
        ":hourglass_flowing_sand: <@U0ALICE> asked to apply *prod*: planning the newest "
        "commit of `main`…"
    )
    assert chat.receiver.to(sent.response_url) == []  # the plan comes later, from the job

    chat.run_jobs()
    (shown,) = chat.receiver.to(sent.response_url)
    text = message_text(shown)
    assert f"tfops plan · environments @ {head(chat)[:12]}" in text
    assert "Asked by U0ALICE for prod on main" in text
    assert "*prod*: 1 to add, 0 to change, 0 to destroy" in text
    assert '```\n+ terraform_data.prod\n+     input: "one"\n```' in text
    assert "Apply within 15 minutes" in text
    block_id, found = buttons(shown)
    assert block_id == "tfops_plan:prod" and set(found) == {"tfops_apply", "tfops_cancel"}
    assert found["tfops_apply"]["value"] == found["tfops_cancel"]["value"]
    assert found["tfops_apply"]["confirm"]["title"]["text"] == "Apply prod?"
    assert chat.prod() is None  # shown, not applied
    assert lock_files(chat.clone) == []  # planned under the lock; released after
    (kept,) = chat_records(chat)
    assert (kept.environment, kept.commit, kept.who) == (
        "prod",
        head(chat),
        "alice (Slack U0ALICE)",
    )

    pressed = press(chat, shown)
    (applying,) = chat.receiver.to(pressed.response_url)
    assert applying["replace_original"] is True
    assert "actions" not in [b["type"] for b in applying["blocks"]]  # nobody presses twice
    assert "Applying *prod* for <@U0ALICE>" in message_text(applying)
    assert chat.prod() is None  # the job runs in the watcher's loop

    chat.run_jobs()
    _, updated, news = chat.receiver.to(pressed.response_url)
    assert chat.prod() == "one"
    assert "*Applied prod*" in message_text(updated) and updated["replace_original"] is True
    assert news["response_type"] == "in_channel" and news["replace_original"] is False
    assert message_text(news).startswith(":white_check_mark: *Applied prod* at `")
    (line,) = chat.audit(environment="prod", trigger="slack")
    assert line["who"] == "alice (Slack U0ALICE)" and line["result"] == "applied"
    assert line["commit"] == head(chat) and line["plan_sha256"] == kept.sha256  # that plan

    again = press(chat, shown)  # the same button, pressed again
    chat.run_jobs()
    (said,) = answers(chat, again)
    assert said.startswith("Nothing done: this plan was applied (Apply pressed by <@U0ALICE> at ")
    assert len(chat.audit(environment="prod", trigger="slack")) == 1


def test_plan_is_open_to_the_workspace_and_shows_no_buttons(chat: Chat) -> None:
    sent = chat.slack.command("plan prod", user="U0CAROL", name="carol")
    chat.run_jobs()
    (shown,) = chat.receiver.to(sent.response_url)
    assert "*prod*: 1 to add" in message_text(shown)
    assert "actions" not in [b["type"] for b in shown["blocks"]]
    assert chat_records(chat) == [] and chat.audit(trigger="slack") == []


# ---- who may ------------------------------------------------------------------------------
def test_a_non_applier_is_refused_and_audited(chat: Chat) -> None:
    sent = chat.slack.command("deploy prod", user="U0BOB", name="bob")
    assert sent.json["response_type"] == "ephemeral"
    assert sent.text == (
        ":no_entry: U0BOB may not apply prod from Slack: not in slack.appliers.prod of "
        "tfops.yaml on main"
    )
    assert chat.watcher._jobs.qsize() == 0  # nothing to do
    (line,) = chat.audit(trigger="slack")
    assert (line["who"], line["environment"], line["result"]) == (
        "bob (Slack U0BOB)",
        "prod",
        "refused",
    )

    _, shown = shown_plan(chat)  # alice's
    pressed = press(chat, shown, user="U0BOB", name="bob")
    (said,) = answers(chat, pressed)
    assert "U0BOB may not apply prod from Slack" in said
    assert chat.watcher._jobs.qsize() == 0 and chat.prod() is None
    assert [line["result"] for line in chat.audit(trigger="slack")] == ["refused", "refused"]

    pressed = press(chat, shown)  # the plan stayed open for an applier
    chat.run_jobs()
    assert chat.prod() == "one"


def test_who_may_apply_is_read_from_the_branch_when_the_job_runs(chat: Chat) -> None:
    text = (chat.repo / "tfops.yaml").read_text().replace("prod: [U0ALICE]", "prod: []")
    commit(chat.repo, {"tfops.yaml": text}, "nobody applies prod from Slack")
    sent = chat.slack.command("deploy prod")  # the watcher has not seen the commit yet
    assert "asked to apply *prod*" in sent.text
    chat.run_jobs()  # the job fetches first
    (said,) = answers(chat, sent)
    assert "U0ALICE may not apply prod from Slack" in said
    assert chat_records(chat) == [] and chat.prod() is None


def test_cancel_declines_and_nothing_is_applied(chat: Chat) -> None:
    _, shown = shown_plan(chat)
    for user, name in (("U0CAROL", "carol"), ("U0BOB", "bob")):  # bob applies dev only
        pressed = press(chat, shown, "tfops_cancel", user=user, name=name)
        assert answers(chat, pressed) == ["Only an applier of prod or who asked for it can cancel."]
    pressed = press(chat, shown, "tfops_cancel")
    (cancelled,) = chat.receiver.to(pressed.response_url)
    assert cancelled["replace_original"] is True
    assert "Cancelled by <@U0ALICE>: nothing was applied to *prod*." in message_text(cancelled)
    (line,) = chat.audit(trigger="slack")
    assert (line["result"], line["who"]) == ("declined", "alice (Slack U0ALICE)")
    assert line["detail"] == "cancelled in Slack by alice (Slack U0ALICE)"

    pressed = press(chat, shown)  # Apply after Cancel
    chat.run_jobs()
    (said,) = answers(chat, pressed)
    assert said.startswith("Nothing done: this plan was cancelled by <@U0ALICE> at ")
    assert chat.prod() is None


# ---- a plan that is no longer the one to apply ----------------------------------------------
def test_an_expired_plan_is_not_applied(chat: Chat) -> None:
    _, shown = shown_plan(chat)
    chat.later(minutes=16)
    pressed = press(chat, shown)
    (said,) = chat.receiver.to(pressed.response_url)
    assert said["replace_original"] is True  # its buttons are gone
    assert "Not applied: the plan expired at " in message_text(said)
    assert "(slack.plan_ttl_minutes: 15); run /tfops apply prod for a new one" in message_text(said)
    assert chat.watcher._jobs.qsize() == 0
    chat.run_jobs()
    assert chat.prod() is None
    (line,) = chat.audit(trigger="slack")
    assert line["result"] == "refused" and "expired" in line["detail"]


def test_a_plan_of_a_commit_the_branch_moved_on_from_is_not_applied(chat: Chat) -> None:
    _, shown = shown_plan(chat)
    planned = head(chat)
    moved = commit(chat.repo, {"envs/prod/main.tf": resource("prod", "two")}, "prod: two")
    pressed = press(chat, shown)
    chat.run_jobs()
    _, refused = answers(chat, pressed)
    assert (
        f"Not applied: main moved on to {moved[:12]} since this plan of {planned[:12]}" in refused
    )
    assert chat.prod() is None
    (line,) = chat.audit(trigger="slack")
    assert (line["result"], line["commit"]) == ("refused", planned)
    # the job fetched the new commit; the clone is back where the watcher reconciled
    assert git(chat.clone, "rev-parse", "HEAD") == chat.watcher.state.commit == planned


def test_a_plan_made_stale_by_another_apply_is_refused_by_terraform(
    chat: Chat, tfops: Tfops
) -> None:
    _, shown = shown_plan(chat)
    applied = tfops("-q", "apply", str(chat.clone), "-e", "prod", "--auto-approve")
    assert applied.exit_code == 0, applied.output  # the state changed after the plan
    pressed = press(chat, shown)
    chat.run_jobs()
    _, updated, news = answers(chat, pressed)
    assert news in updated  # the plan message ends with the news
    assert "*prod was not applied* (failed)" in news
    assert "Saved plan is stale" in news
    assert "The state changed since this plan was made, so Terraform refused it" in news
    (line,) = chat.audit(trigger="slack")
    assert line["result"] == "failed" and "Saved plan is stale" in line["detail"]


def test_a_newer_plan_of_an_environment_replaces_the_older(chat: Chat) -> None:
    _, first = shown_plan(chat)
    _, second = shown_plan(chat)
    assert buttons(first)[1]["tfops_apply"]["value"] != buttons(second)[1]["tfops_apply"]["value"]
    pressed = press(chat, first)
    assert chat.watcher._jobs.qsize() == 0
    (said,) = answers(chat, pressed)
    assert said.startswith("Nothing done: a newer plan of prod replaced this one (asked for by")
    assert chat.prod() is None
    press(chat, second)
    chat.run_jobs()
    assert chat.prod() == "one"


def test_a_kept_plan_replaced_in_the_store_is_not_applied(chat: Chat) -> None:
    _, shown = shown_plan(chat)
    (kept,) = chat_records(chat)
    store = open_store(load_config(chat.clone)[0], chat.clone)
    other = store.get(kept.key)
    store.put(kept.key, other.planfile + b"\0", other.plan_json, terraform_version="1.11.4")
    pressed = press(chat, shown)
    chat.run_jobs()
    _, refused = answers(chat, pressed)
    assert "Not applied: the plan kept in the plan store is not the one shown here" in refused
    assert chat.prod() is None
    (line,) = chat.audit(trigger="slack")
    assert line["result"] == "refused" and line["plan_sha256"] == kept.sha256


def test_a_kept_plan_damaged_in_the_store_is_not_applied(chat: Chat) -> None:
    _, shown = shown_plan(chat)
    (kept,) = chat_records(chat)
    planfile = next((chat.clone / ".tfops" / "plans").rglob("chat.tfplan"))
    planfile.write_bytes(planfile.read_bytes() + b"\0")  # the metadata still says the old sha
    pressed = press(chat, shown)
    chat.run_jobs()
    _, refused = answers(chat, pressed)
    assert "does not match the sha256 recorded when it was stored" in refused
    assert chat.prod() is None
    (line,) = chat.audit(trigger="slack")
    assert line["result"] == "refused" and line["plan_sha256"] == kept.sha256


# ---- what a button press can't do -----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "block_id"),
    [
        ("forged", "tfops_plan:prod"),
        ("", "tfops_plan:prod"),
        (None, "tfops_plan:dev"),  # a real plan id, in a message about another environment
        (None, "elsewhere"),
    ],
)
def test_a_button_naming_no_plan_tfops_showed_does_nothing(
    chat: Chat, value: str | None, block_id: str
) -> None:
    _, shown = shown_plan(chat)
    _, found = buttons(shown)
    pressed = chat.slack.press(found["tfops_apply"], block_id, value=value)
    assert pressed.code == 200
    assert chat.watcher.chat is not None and chat.watcher.chat.responder.flush()
    assert answers(chat, pressed) == ["This button names no plan tfops showed: nothing done."]
    assert chat.watcher._jobs.qsize() == 0
    assert chat.prod() is None and chat.audit(trigger="slack") == []
    assert "pressed a button naming no plan tfops showed" in chat.log.getvalue()


def test_other_buttons_are_ignored(chat: Chat) -> None:
    pressed = chat.slack.press({"action_id": "approve_all", "value": "x"}, "tfops_plan:prod")
    assert pressed.code == 200
    assert chat.watcher._jobs.qsize() == 0 and chat.receiver.posts == []


def test_a_response_url_that_is_not_slacks_gets_nothing(chat: Chat) -> None:
    for url in ("https://hooks.slack.com.evil.example/commands/T0/1/x", "http://169.254.169.254/"):
        sent = chat.slack.command("deploy prod", response_url=url)
        assert sent.code == 200 and sent.json["response_type"] == "ephemeral"
        assert sent.text.startswith(
            "tfops can't answer here: the response_url is not on http://127.0.0.1:"
        )
    assert chat.watcher._jobs.qsize() == 0 and chat.receiver.posts == []


# ---- status, unlock, drift, help --------------------------------------------------------------
def test_help_and_status_answer_at_once(chat: Chat) -> None:
    sent = chat.slack.command("help", user="U0CAROL", name="carol")
    assert sent.seconds < 3 and sent.json["response_type"] == "ephemeral"
    assert "`/tfops apply ENV` (or `deploy ENV`)" in sent.text
    assert "`dev` (appliers: <@U0ALICE>, <@U0BOB>), `prod` (appliers: <@U0ALICE>)" in sent.text
    wrong = chat.slack.command("destroy everything")
    assert wrong.text.startswith(":thinking_face: there is no command 'destroy'")

    _, shown = shown_plan(chat)
    press(chat, shown)
    chat.run_jobs()
    status = chat.slack.command("status production", user="U0CAROL", name="carol")
    assert status.seconds < 3 and status.json["response_type"] == "ephemeral"
    assert "• *prod* (manual): planned (1 to add, 0 to change, 0 to destroy) at `" in status.text
    assert "last apply: applied by alice (Slack U0ALICE) (slack)" in status.text
    assert "*dev*" not in status.text
    everything = chat.slack.command("status")
    assert "• *dev* (auto): applied" in everything.text
    assert chat.receiver.to(status.response_url) == []  # all of it in the answer


def test_unlock_is_for_appliers_and_leaves_running_applies_alone(chat: Chat) -> None:
    locks = open_locks(load_config(chat.clone)[0], chat.clone)
    locks.acquire("prod", LockHolder.for_pr(7, who="dave"))
    refused = chat.slack.command("unlock prod", user="U0CAROL", name="carol")
    assert "U0CAROL may not unlock prod from Slack" in refused.text
    assert locks.get("prod") is not None
    status = chat.slack.command("status prod")
    assert ":lock: locked by #7 (dave, since " in status.text
    blocked = chat.slack.command("deploy prod")
    chat.run_jobs()
    assert answers(chat, blocked)[0].startswith(":lock: Not planned: prod is locked by #7 (dave")

    released = chat.slack.command("unlock prod")
    assert released.json["response_type"] == "in_channel"
    assert released.text.startswith(":unlock: <@U0ALICE> released the lock on *prod*: locked by #7")
    assert locks.get("prod") is None
    assert chat.slack.command("unlock prod").text == "prod was not locked."

    locks.acquire("prod", LockHolder.for_run(kind="apply", who="erin"))  # alive: this process
    running = chat.slack.command("unlock prod")
    assert "a run is still applying it. Wait for it to finish." in running.text
    assert locks.get("prod") is not None


def test_drift_checks_and_applies_nothing(chat: Chat) -> None:
    sent = chat.slack.command("drift", user="U0CAROL", name="carol")
    assert "asked for a drift check: checking *every environment*" in sent.text
    chat.run_jobs()
    (report,) = answers(chat, sent)
    assert ":white_check_mark: *dev*: no drift" in report
    assert ":warning: *prod*: to match the repo: 1 to add, 0 to change, 0 to destroy" in report
    assert "`terraform_data.prod`" in report
    assert chat.prod() is None and chat.audit(trigger="slack") == []


# ---- what a plan says in Slack ----------------------------------------------------------------
def test_plan_text_can_mention_nobody_link_nowhere_and_leaks_no_secret(chat: Chat) -> None:
    text = (chat.repo / "tfops.yaml").read_text() + "mask: ['dfp_live_[0-9a-f]+']\n"
    hostile = "<!channel> <https://evil.example|click> ``` dfp_live_0123abcd"
    commit(
        chat.repo,
        {"tfops.yaml": text, "envs/prod/main.tf": resource("prod", hostile)},
        "hostile",
    )
    _, shown = shown_plan(chat)
    body = str(shown)
    assert "<!channel>" not in body and "<https://" not in body
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt;" in message_text(shown)
    assert "dfp_live_0123abcd" not in body and "***" in message_text(shown)
    code = next(
        b["text"]["text"]
        for b in shown["blocks"]
        if b["type"] == "section" and "```" in b["text"]["text"]
    )
    assert code.count("```") == 2  # the plan's backticks can't close the block
