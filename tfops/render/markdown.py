"""Markdown reports from jinja2 templates in `tfops/render/templates/`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tfops.plan.model import OutputChange, ResourceChange
from tfops.render import ACTION_SYMBOLS, Report

# In Markdown diff blocks an update is `!`, which GitHub colours (a `~` it leaves plain).
DIFF_SYMBOLS = {**ACTION_SYMBOLS, "update": "!"}

if TYPE_CHECKING:
    import jinja2


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    import jinja2  # ~30 ms to import: only runs that render Markdown pay for it

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tfops.render", "templates"),
        autoescape=False,  # Markdown, not HTML; values are escaped by the `md` filter
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = escape
    env.filters["fence"] = fence
    env.filters["untrusted"] = untrusted
    env.filters["code_span"] = code_span
    env.globals["diff_lines"] = diff_lines
    return env


def diff_lines(
    changes: Sequence[ResourceChange],
    outputs: Sequence[OutputChange] = (),
    limit: int | None = None,
) -> str:
    """Changes as diff lines for a ```diff block: the marker in column 0 makes GitHub colour
    the line (`+` green, `-` red, `!` orange). At most `limit` resources, then a note.

    Plain Python, not a template macro: a big plan has tens of thousands of these lines.
    """
    shown = changes if limit is None else changes[:limit]
    out: list[str] = []
    for change in shown:
        symbol = DIFF_SYMBOLS.get(change.action, "!")
        line = f"{symbol} {change.address}"
        if change.moved_from:
            line += f"  (moved from {change.moved_from})"
        if change.importing:
            line += "  (import)"
        out.append(line)
        for attr in change.attributes:
            before = f"{attr.before} -> " if attr.before is not None else ""
            forces = "  # forces replacement" if attr.forces_replacement else ""
            out.append(f"{symbol}     {attr.name}: {before}{attr.after}{forces}")
    if len(changes) > len(shown):
        out.append(
            f"# … {len(changes) - len(shown)} more resource(s) not shown here; "
            "the full report is in the run's log"
        )
    for output in outputs:
        before = f"{output.before} -> " if output.before is not None else ""
        symbol = DIFF_SYMBOLS.get(output.action, "!")
        out.append(f"{symbol} output.{output.name}: {before}{output.after}")
    return "".join(f"{line}\n" for line in out)


def escape(text: object) -> str:
    """Escape text for a Markdown table cell or line (not for code blocks)."""
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
    )


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=:])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def untrusted(text: object, limit: int = 300) -> str:
    """Text from someone tfops does not trust (a commenter), made inert in Markdown: no
    mention (`@org/team` pings a whole team), no link, no emphasis, no HTML, one line,
    at most `limit` characters."""
    value = _CONTROL.sub(" ", str(text))
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", value).replace("@", "&#64;")


def code_span(text: object, limit: int = 200) -> str:
    """Text from someone tfops does not trust, quoted as inline code: GitHub renders no
    mention, link or markup inside it, and the delimiter is longer than any backtick run
    in the text, so nothing can close it early."""
    value = _CONTROL.sub(" ", str(text)).strip()
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    ticks = "`" * (max((len(run) for run in _BACKTICK_RUNS.findall(value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def fence(text: str) -> str:
    """A code fence long enough that the content can't close it."""
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


_BACKTICK_RUNS = re.compile("`+")


def render_template(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_markdown(report: Report) -> str:
    return render_template("plan.md.j2", report=report, summary=report.summary)
