"""The plan summary as a Slack message: what the PR comment says, trimmed to Slack's limits.

Block Kit limits (docs.slack.dev/reference/block-kit/blocks): at most 50 blocks in a
message; a section's text at most 3,000 characters; a header's at most 150; a context block
at most 10 elements. Slack also refuses a message whose blocks are long in total
(`msg_blocks_too_long`, reported near 13,000 characters, not documented), so all the text
stays under MAX_TOTAL. What is cut first: the diff lines, largest environment first, then
whole environments' details; never the header, the notices, the warnings or the one line
per environment.

Every value is masked, then escaped for mrkdwn (`&`, `<`, `>`): a secret with one of
those in it would no longer match a mask once escaped. Addresses can't ping a channel
(`<!channel>` arrives as text) and can't end a code block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tfops.plan.model import ResourceChange
from tfops.render import Report, slack_code, slack_escape
from tfops.render.markdown import env_sections

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TOTAL = 12_000
MAX_FALLBACK = 300  # the notification text
MIN_DETAIL = 200  # a detail block with less room than this is left out


def _identity(text: str) -> str:
    return text


def plan_message(
    report: Report,
    *,
    mask: Callable[[str], str] = _identity,
    link: str | None = None,
    reserve: int = 0,
) -> dict[str, Any]:
    """A chat.postMessage / incoming-webhook payload: `{"text": …, "blocks": […]}`.
    `link` (the PR comment or the run) is where the cut parts are; `reserve` blocks are
    left free for the caller's own (ChatOps' Apply and Cancel buttons)."""

    def esc(text: str) -> str:
        return slack_escape(mask(text))

    def code(text: str) -> str:
        return slack_code(mask(text))

    summary = report.summary
    title = f"tfops plan · {report.repo}" + (f" @ {report.commit[:12]}" if report.commit else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(mask(title), MAX_HEADER)}}
    ]
    context = []
    if report.commit:
        context.append(f"Commit {code(report.commit)}")
    if report.run_url and _safe_url(report.run_url):
        context.append(f"<{report.run_url}|workflow run>")
    if summary.terraform_version:
        context.append(f"Terraform {esc(summary.terraform_version)}")
    if context:
        blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context))]})
    for notice in summary.notices():
        blocks.append(_section(f":warning: {esc(notice)}"))
    envs = list(summary.environments.values())
    destructive = [c for e in envs for c in e.destructive]
    if destructive:
        head = f":rotating_light: *{len(destructive)} resource(s) will be destroyed or replaced:*"
        blocks.append(_section(_listing(head, destructive, code, esc)))
    forgotten = [c for e in envs for c in e.forgotten]
    if forgotten:
        head = (
            f":warning: *{len(forgotten)} resource(s) will no longer be managed by Terraform, "
            "but will not be destroyed:*"
        )
        blocks.append(_section(_listing(head, forgotten, code, esc)))
    for note in report.notes:
        blocks.append({"type": "context", "elements": [_mrkdwn(_cut(esc(note), MAX_SECTION))]})
    if report.gates:
        failed = [g.gate for g in report.gates if not g.ok]
        blocks.append(
            _section(
                f"*Gates* :x: failed: {esc(', '.join(failed))}"
                if failed
                else "*Gates* :white_check_mark: passed"
            )
        )
    lines = [f"*{esc(e.name)}*: {esc(_headline(e))}" for e in envs]
    blocks += [_section(chunk) for chunk in _chunks(lines, MAX_SECTION)]
    _add_details(blocks, report, mask, link, reserve)
    fallback = f"{title}: " + "; ".join(f"{e.name}: {_headline(e)}" for e in envs)
    return {"text": _cut(mask(fallback), MAX_FALLBACK), "blocks": blocks}


def _add_details(
    blocks: list[dict[str, Any]],
    report: Report,
    mask: Callable[[str], str],
    link: str | None,
    reserve: int,
) -> None:
    """The environments' diff lines in code blocks, as much as the limits leave room for."""
    details = [
        (env.name, title, slack_escape(mask(text)).replace("`", "ˋ"))
        for env in report.summary.environments.values()
        for title, text in [
            *([("the plan failed", env.error + "\n")] if env.error else []),
            *((title, text) for _, title, text, _ in env_sections(env)),
        ]
        if text
    ]
    used = sum(_size(b) for b in blocks) + reserve * MAX_SECTION // 4
    room_blocks = MAX_BLOCKS - reserve - len(blocks) - 1  # one for the note on what was cut
    left_out = 0
    for position, (name, title, text) in enumerate(details):
        remaining = len(details) - position
        share = min(MAX_SECTION, (MAX_TOTAL - used) // max(1, remaining))
        head = f"*{slack_escape(mask(name))}* · {slack_escape(title)}\n"
        room = share - len(head) - 8  # the fences and their line breaks
        if room_blocks <= 0 or room < MIN_DETAIL:
            left_out += 1
            continue
        body, omitted = _cut_lines(text, room - 60)  # 60: the note on omitted lines
        if omitted:
            body += f"… {omitted:,} more line(s)\n"
        block = _section(f"{head}```\n{body}```")
        blocks.append(block)
        used += _size(block)
        room_blocks -= 1
    if left_out:
        where = f"<{link}|the full plan>" if link and _safe_url(link) else "the full plan"
        blocks.append(
            {
                "type": "context",
                "elements": [
                    _mrkdwn(f"{left_out} more section(s) of changes not shown here: see {where}.")
                ],
            }
        )


def _headline(env: Any) -> str:
    return "the plan failed" if env.error else env.headline()


def _listing(
    head: str,
    changes: list[ResourceChange],
    code: Callable[[str], str],
    esc: Callable[[str], str],
) -> str:
    text = head
    for shown_count, change in enumerate(changes):
        line = f"\n• {code(change.address)} ({change.action}, {esc(change.environment)})"
        more = f"\n• … and {len(changes) - shown_count} more"
        if len(text) + len(line) + len(more) > MAX_SECTION:
            return text + more
        text += line
    return text


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(_cut(text, MAX_SECTION))}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _chunks(lines: list[str], limit: int) -> list[str]:
    """Lines joined into texts of at most `limit` characters (a longer line is cut)."""
    out: list[str] = []
    current = ""
    for line in lines:
        line = _cut(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def _cut_lines(text: str, room: int) -> tuple[str, int]:
    """The lines of `text` that fit in `room` characters, and how many were left out."""
    lines = text.splitlines(keepends=True)
    kept, size = 0, 0
    for line in lines:
        if size + len(line) > room:
            break
        size += len(line)
        kept += 1
    return "".join(lines[:kept]), len(lines) - kept


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(block: dict[str, Any]) -> int:
    text = block.get("text")
    if isinstance(text, dict):
        return len(str(text.get("text", "")))
    return sum(len(str(e.get("text", ""))) for e in block.get("elements", []))


def _safe_url(url: str) -> bool:
    """A URL Slack's `<url|label>` can hold: http(s), and none of `|<>` or spaces."""
    return url.startswith(("https://", "http://")) and not any(c in url for c in "|<> \n")
