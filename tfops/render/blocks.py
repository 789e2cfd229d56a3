"""Slack messages of the chat commands: Block Kit JSON within Slack's limits.

The plan itself is `render.slack.plan_message` (the PR comment's summary in Slack's
terms); this module builds the rest — the Apply and Cancel buttons, status, help, the
outcome. Text is masked before it is cut (a cut must not leave half a secret behind) and
escaped as Slack asks (`&`, `<`, `>`), so nothing from a plan or a message can mention a
channel, link somewhere or break out of a code block. The mrkdwn texts are templates
(`templates/chat_*.slack.j2`).

Slack's limits kept here: 3,000 characters per section text, 75 per button label, 2,000
per button value, 50 blocks per message, and a plain-text fallback for notifications.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tfops.render.markdown import environment

if TYPE_CHECKING:
    import jinja2

SECTION_LIMIT = 3000
FALLBACK_LIMIT = 3000
APPLY_ACTION = "tfops_apply"
CANCEL_ACTION = "tfops_cancel"
PLAN_BLOCK = "tfops_plan:"  # + environment: the actions block of a plan shown in Slack

Block = dict[str, Any]
Message = dict[str, Any]
Mask = Callable[[str], str]


def escape(text: object) -> str:
    """Slack's three control characters, as Slack asks: then `<!channel>`, `<@U…>` and
    `<http://…|…>` in a value are text, not a mention or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object, limit: int = 200) -> str:
    """Inside `…`: one line, no backtick to close it early."""
    value = " ".join(str(text).split()).replace("`", "ʼ")
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return escape(value)


def code_block(text: object) -> str:
    """Inside ```…```: a run of three backticks can't end the block early."""
    return escape(str(text).replace("```", "`\u200b``"))


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    """The Markdown templates' environment (same loader, same whitespace rules) with the
    chat messages' escaping filters — `slack`, `slack_code`, `slack_block` — in an overlay
    of its own, so the reports' filters of those names stay as they are."""
    env = environment().overlay(cache_size=50)
    env.filters = {**env.filters, "slack": escape, "slack_code": code, "slack_block": code_block}
    return env


def render(name: str, **context: Any) -> str:
    return _templates().get_template(name).render(**context).strip()


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}]}


def message(
    blocks: list[Block],
    fallback: str,
    *,
    ephemeral: bool = False,
    replace_original: bool | None = None,
) -> Message:
    out: Message = {
        "response_type": "ephemeral" if ephemeral else "in_channel",
        "text": _cut(fallback, FALLBACK_LIMIT),
        "blocks": blocks[:50],
    }
    if replace_original is not None:
        out["replace_original"] = replace_original
    return out


def text(mrkdwn: str, *, ephemeral: bool = True, replace_original: bool | None = None) -> Message:
    """Text in sections: long text goes on in more of them (at most 10), cut between lines
    so that no mention, link or escape is cut in two."""
    parts: list[str] = []
    for line in mrkdwn.splitlines() or [" "]:
        if parts and len(parts[-1]) + 1 + len(line) <= SECTION_LIMIT:
            parts[-1] += "\n" + line
        else:
            parts.append(line)
    return message(
        [section(p) for p in parts[:10]],
        mrkdwn,
        ephemeral=ephemeral,
        replace_original=replace_original,
    )


# ---- the buttons ------------------------------------------------------------------------

BUTTON_BLOCKS = 2  # apply_buttons' blocks: what the plan summary leaves room for


def apply_buttons(
    plan_id: str, environment: str, *, ttl_minutes: int, expires: float, destructive: bool
) -> list[Block]:
    """Apply and Cancel for one stored plan; Apply asks once more before it acts."""
    until = time.strftime("%H:%M UTC", time.gmtime(expires))
    confirm = {
        "title": {"type": "plain_text", "text": f"Apply {environment}?"[:100]},
        "text": {
            "type": "plain_text",
            "text": f"Apply exactly this plan to {environment}"
            + (", destroying or replacing resources" if destructive else "")
            + "?",
        },
        "confirm": {"type": "plain_text", "text": "Apply"},
        "deny": {"type": "plain_text", "text": "Back"},
    }
    apply_button: Block = {
        "type": "button",
        "action_id": APPLY_ACTION,
        "text": {"type": "plain_text", "text": f"Apply {environment}"[:75]},
        "value": plan_id,
        "style": "danger" if destructive else "primary",
        "confirm": confirm,
    }
    cancel_button: Block = {
        "type": "button",
        "action_id": CANCEL_ACTION,
        "text": {"type": "plain_text", "text": "Cancel"},
        "value": plan_id,
    }
    return [
        {
            "type": "actions",
            "block_id": PLAN_BLOCK + environment,
            "elements": [apply_button, cancel_button],
        },
        context(
            render("chat_apply.slack.j2", ttl=ttl_minutes, until=until, environment=environment)
        ),
    ]


def closed(summary: list[Block], line: str) -> list[Block]:
    """The plan as shown, its buttons replaced by what became of it."""
    return [*summary, context(line)]


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
