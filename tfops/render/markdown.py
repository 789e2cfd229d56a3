"""Markdown reports from jinja2 templates in `tfops/render/templates/`.

Masking: a report is masked as a whole once it is rendered, but Markdown escaping changes
how a secret is spelled (`a|b` becomes `a\\|b`), and a mask can't find the escaped form. So
the `md` and `code` filters mask the raw text first, with the `mask` each render is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tfops.plan.model import ActionInvocation, EnvironmentPlan, OutputChange, ResourceChange
from tfops.render import (
    ACTION_SYMBOLS,
    Report,
    count_columns,
    counts_row,
    shown,
    slack_code,
    slack_escape,
)

# In Markdown diff blocks an update is `!`, which GitHub colours (a `~` it leaves plain);
# so is a forget, which Terraform warns about.
DIFF_SYMBOLS = {**ACTION_SYMBOLS, "update": "!", "forget": "!", "create-forget": "+/!"}

if TYPE_CHECKING:
    import jinja2


def _identity(text: str) -> str:
    return text


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

    def masked(escaper: Callable[[str], str]) -> Callable[[Any, object], str]:
        """A filter that escapes, masking with the render's `mask` first where escaping
        changes the text (elsewhere the mask of the whole rendered text finds it as is)."""

        @jinja2.pass_context
        def apply(context: Any, value: object) -> str:
            text = str(value)
            escaped = escaper(text)
            if text in escaped:
                return escaped
            return escaper(context.get("mask", _identity)(text))

        return apply

    env.filters["md"] = masked(escape)
    env.filters["code"] = masked(inline_code)
    env.filters["slack"] = masked(slack_escape)
    env.filters["slack_code"] = masked(slack_code)
    env.filters["fence"] = fence
    env.filters["untrusted"] = untrusted
    env.filters["code_span"] = code_span
    env.globals["diff_lines"] = diff_lines
    env.globals["count_columns"] = count_columns
    env.globals["counts_row"] = counts_row
    env.globals["env_sections"] = env_sections
    return env


def diff_lines(
    changes: Sequence[ResourceChange],
    outputs: Sequence[OutputChange] = (),
    limit: int | None = None,
    actions: Sequence[ActionInvocation] = (),
    drift: bool = False,
) -> str:
    """Changes as diff lines for a ```diff block: the marker in column 0 makes GitHub colour
    the line (`+` green, `-` red, `!` orange). At most `limit` resources, then a note.

    Plain Python, not a template macro: a big plan has tens of thousands of these lines.
    """
    shown_changes = changes if limit is None else changes[:limit]
    out: list[str] = []
    for change in shown_changes:
        symbol = DIFF_SYMBOLS.get(change.action, "!")
        notes = change.notes(drift=drift)
        line = f"{symbol} {shown(change.address)}"
        if notes:
            line += f"  ({', '.join(notes)})"
        out.append(line)
        for attr in change.attributes:
            before = f"{attr.before} -> " if attr.before is not None else ""
            forces = "  # forces replacement" if attr.forces_replacement else ""
            out.append(f"{symbol}     {attr.name}: {before}{attr.after}{forces}")
    if len(changes) > len(shown_changes):
        out.append(
            f"# … {len(changes) - len(shown_changes)} more resource(s) not shown here; "
            "the full report is in the run's log"
        )
    for action in actions:
        out.append(f"! {shown(action.address)}  ({', '.join(action.notes())})")
        out += [f"!     {a.name}: {a.after}" for a in action.config]
    for output in outputs:
        before = f"{output.before} -> " if output.before is not None else ""
        symbol = DIFF_SYMBOLS.get(output.action, "!")
        out.append(f"{symbol} output.{shown(output.name)}: {before}{output.after}")
    return "".join(f"{line}\n" for line in out)


def env_sections(env: EnvironmentPlan) -> list[tuple[str, str, str, bool]]:
    """An environment's collapsed sections: (key, title, diff lines, open?)."""
    out = []
    if env.changes or env.outputs or env.actions:
        counted = [
            f"{len(env.changes)} resource change(s)",
            *([f"{len(env.actions)} action(s)"] if env.actions else []),
            *([f"{len(env.outputs)} output change(s)"] if env.outputs else []),
        ]
        title = (
            f"Planned before the error: {', '.join(counted)}"
            if env.error
            else f"Show the {', '.join(counted)}"
        )
        out.append(
            ("changes", title, diff_lines(env.changes, env.outputs, actions=env.actions), False)
        )
    if env.drift:
        title = f"Changed outside Terraform: {_count(len(env.drift), 'resource')}"
        out.append(("drift", title, diff_lines(env.drift, drift=True), env.refresh_only))
    if env.deferred:
        title = f"Deferred to a later plan: {_count(len(env.deferred), 'resource')}"
        out.append(("deferred", title, diff_lines(env.deferred), False))
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def escape(text: object) -> str:
    """Escape text for a Markdown table cell or line (not for code blocks)."""
    return (
        shown(str(text).replace("\n", " "))
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
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
    return inline_code(value)


def inline_code(text: str) -> str:
    """`text` as inline code that its own backticks can't end (CommonMark code spans)."""
    text = shown(text.replace("\n", " "))
    if "`" not in text:
        return f"`{text}`"
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(text: str) -> str:
    """A code fence long enough that the content can't close it."""
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


_BACKTICK_RUNS = re.compile("`+")


def render_template(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_markdown(report: Report, mask: Callable[[str], str] = _identity) -> str:
    return render_template("plan.md.j2", report=report, summary=report.summary, mask=mask)
