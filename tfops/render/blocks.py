"""Slack messages of the chat commands: Block Kit JSON within Slack's limits.

The plan summary is the PR comment's, in Slack's terms: the same diff lines
(`render.markdown.diff_lines`), the destroy/replace warning first, the counts, and the
change lines cut at line boundaries to what one section holds (3,000 characters), saying
how many lines were left out. Text is masked before it is cut (a cut must not leave half a
secret behind) and escaped as Slack asks (`&`, `<`, `>`), so nothing from a plan or a
message can mention a channel, link somewhere or break out of a code block. The mrkdwn
texts are templates (`templates/chat_*.slack.j2`); this module builds the blocks.

Slack's limits kept here: 3,000 characters per section text, 75 per button label, 2,000
per button value, 50 blocks per message, and a plain-text fallback for notifications.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tfops.plan.model import EnvironmentPlan
from tfops.render.markdown import diff_lines, environment

if TYPE_CHECKING:
    import jinja2

SECTION_LIMIT = 3000
FALLBACK_LIMIT = 3000
WARNING_LINES = 10  # destroyed or replaced resources listed before "… and N more"
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
    """The Markdown templates' environment (same loader, same whitespace rules), with
    Slack's escaping filters: values are escaped by `slack`, `slack_code`, `slack_block`."""
    env = environment()
    env.filters.update(slack=escape, slack_code=code, slack_block=code_block)
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


# ---- the plan ------------------------------------------------------------------------------


def plan_summary(
    env: EnvironmentPlan,
    *,
    repo: str,
    branch: str,
    commit: str,
    asked_by: str,
    note: str | None,
    mask: Mask,
) -> list[Block]:
    """The plan of one environment as blocks (no buttons): head, counts, the change lines."""
    destructive = env.destructive
    head = render(
        "chat_plan.slack.j2",
        env=env,
        repo=repo,
        branch=branch,
        commit=commit,
        asked_by=asked_by,
        destructive=destructive[:WARNING_LINES],
        destructive_more=max(0, len(destructive) - WARNING_LINES),
    )
    blocks = [section(mask(head))]
    if env.error:
        blocks.append(section(_code_section(mask(env.error), "the rest of the error")))
    elif env.has_changes:
        lines = mask(diff_lines(env.changes, env.outputs))
        blocks.append(section(_code_section(lines, "line(s): the whole plan is in the log")))
    if note:
        blocks.append(context(escape(mask(note))))
    return blocks


def _code_section(body: str, rest: str) -> str:
    """A code block of `body`'s first lines that fits one section; a note on what is left."""
    lines = body.splitlines()
    room = SECTION_LIMIT - 120  # the fences and the note
    shown: list[str] = []
    used = 0
    for line in lines:
        line = code_block(line if len(line) <= 300 else line[:299] + "…")
        if used + len(line) + 1 > room:
            break
        shown.append(line)
        used += len(line) + 1
    out = "```\n" + "\n".join(shown) + "\n```"
    if len(shown) < len(lines):
        out += f"\n… {len(lines) - len(shown):,} more {rest}"
    return out


def plan_fallback(env: EnvironmentPlan, commit: str) -> str:
    if env.error:
        return f"tfops plan of {env.name} at {commit[:12]} failed"
    what = env.counts.phrase() if env.has_changes else "no changes"
    return f"tfops plan of {env.name} at {commit[:12]}: {what}"


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
