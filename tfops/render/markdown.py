"""Markdown reports from jinja2 templates in `tfops/render/templates/`."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tfops.plan import EnvironmentPlan
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
    env.globals["diff_lines"] = diff_lines
    return env


def diff_lines(env: EnvironmentPlan) -> str:
    """One environment's changes as diff lines, markers in column 0 so GitHub colours them.

    Plain Python, not a template macro: a big plan has tens of thousands of these lines.
    """
    out: list[str] = []
    for change in env.changes:
        symbol = ACTION_SYMBOLS.get(change.action, "~")
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
    for output in env.outputs:
        before = f"{output.before} -> " if output.before is not None else ""
        out.append(
            f"{ACTION_SYMBOLS.get(output.action, '~')} output.{output.name}: {before}{output.after}"
        )
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


def fence(text: str) -> str:
    """A code fence long enough that the content can't close it."""
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


_BACKTICK_RUNS = re.compile("`+")


def render_template(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_markdown(report: Report) -> str:
    return render_template("plan.md.j2", report=report, summary=report.summary)
