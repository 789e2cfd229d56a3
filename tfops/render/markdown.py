"""Markdown reports from jinja2 templates in `tfops/render/templates/`."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tfops.render import ACTION_SYMBOLS, Report

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
    env.filters["symbol"] = lambda action: ACTION_SYMBOLS.get(action, "~")
    env.filters["fence"] = fence
    return env


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


def fence(text: str) -> str:
    """A code fence long enough that the content can't close it."""
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


_BACKTICK_RUNS = re.compile("`+")


def render_template(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_markdown(report: Report) -> str:
    return render_template("plan.md.j2", report=report, summary=report.summary)
