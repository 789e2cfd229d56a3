"""The sticky PR comment and the job summary, within GitHub's size limits.

GitHub rejects a comment body over 65,536 characters and a job summary over 1 MiB. The
full report is rendered first; when it is too long, the per-environment details (the
planned changes, what changed outside Terraform, what is deferred) are cut at line
boundaries, largest first, and, when even that is not enough, replaced by a note saying
where the full plan is. The header, the notices, the destroy/replace and forget warnings,
the gates and the counts table are never cut.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Any

from tfops.github.body import BODY_LIMIT, utf16_length
from tfops.plan.model import EnvironmentPlan, ResourceChange
from tfops.render import Report
from tfops.render.markdown import diff_lines, env_sections, fence, render_template

COMMENT_LIMIT = BODY_LIMIT  # GitHub counts a comment in UTF-16 code units
SUMMARY_LIMIT = 1024 * 1024  # bytes
MAX_ERROR_CHARS = 20_000  # terraform's error, per environment
MIN_USEFUL_DETAIL = 400  # a cut shorter than this shows nothing but the note
FENCE_LINE_EXTRA = 8  # "diff", line breaks and the blank lines around a detail block
WARNING_CAPS = (200, 50, 10)  # listed destroyed resources, when nothing else is left to cut
_SLOT = re.compile("\ue000\\d+\ue001")  # where a detail goes, in private-use characters


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Budget:
    limit: int
    measure: Callable[[str], int]

    def fits(self, text: str) -> bool:
        return self.measure(text) <= self.limit


COMMENT_BUDGET = Budget(COMMENT_LIMIT, utf16_length)
SUMMARY_BUDGET = Budget(SUMMARY_LIMIT, utf8_length)


@dataclass(frozen=True)
class Detail:
    """One collapsed section of an environment's lines as shown: all, the first part, or
    none."""

    title: str
    text: str
    omitted_lines: int = 0
    fence: str = "```"
    open: bool = False


@dataclass(frozen=True)
class Section:
    """An environment's section before cutting: its title and its (masked) lines."""

    title: str
    lines: Lines
    open: bool = False

    def cut(self, cap: int | None) -> Detail:
        kept = self.lines.kept(cap)
        text = "".join(self.lines.lines[:kept])
        return Detail(self.title, text, len(self.lines.lines) - kept, self.lines.fence, self.open)


class Lines:
    """An environment's masked change lines with running lengths, for cutting by size."""

    def __init__(self, text: str):
        self.lines = text.splitlines(keepends=True)
        self.ends = list(accumulate(len(line) for line in self.lines))
        self.fence = fence(text)  # long enough for any part of the text too

    def kept(self, cap: int | None) -> int:
        """How many lines a cap of `cap` characters keeps."""
        total = self.ends[-1] if self.ends else 0
        if cap is None or total <= cap:
            return len(self.lines)
        if cap < MIN_USEFUL_DETAIL:
            return 0
        return bisect_right(self.ends, cap)

    def size(self, cap: int | None) -> int:
        kept = self.kept(cap)
        return self.ends[kept - 1] if kept else 0


def marker(key: str = "") -> str:
    """The hidden first line that finds tfops's comment again. `key`: one per tfops root."""
    return f"<!-- tfops:plan{':' + key if key else ''} -->"


def render_report(
    report: Report,
    *,
    budget: Budget,
    full_plan_at: str,
    marker: str | None = None,
    footer: str | None = None,
    mask: Callable[[str], str] = lambda text: text,
) -> str:
    """The report as Markdown no longer than `budget`; cuts say they point to `full_plan_at`."""
    envs = report.summary.environments
    # Details are masked once up front; each render below masks only the rest and slots the
    # (cut) details in afterwards, so a 10,000-change plan isn't masked twenty times.
    sections = {
        (name, key): Section(title, Lines(mask(text)), opened)
        for name, env in envs.items()
        for key, title, text, opened in env_sections(env)
    }
    lines = {key: section.lines for key, section in sections.items()}
    destructive = [c for env in envs.values() for c in env.destructive]
    forgotten = [c for env in envs.values() for c in env.forgotten]
    base: dict[str, Any] = {
        "report": report,
        "summary": report.summary,
        "marker": marker,
        "footer": footer,
        "full_plan_at": full_plan_at,
        "modules": [row for row in report.modules if row.pinned],
        "errors": {name: _capped(env.error) for name, env in envs.items() if env.error},
        "mask": mask,
    }

    def render(cap: int | None, warning_cap: int | None = None) -> str:
        shown: list[ResourceChange] = destructive[:warning_cap] if warning_cap else destructive
        let_go: list[ResourceChange] = forgotten[:warning_cap] if warning_cap else forgotten
        cut = {key: section.cut(cap) for key, section in sections.items()}
        slots = {f"\ue000{i}\ue001": d.text for i, d in enumerate(cut.values())}
        details: dict[str, dict[str, Detail]] = {}
        for ((name, key), detail), slot in zip(cut.items(), slots, strict=True):
            details.setdefault(name, {})[key] = replace(detail, text=slot if detail.text else "")
        skeleton = mask(
            render_template(
                "comment.md.j2",
                **base,
                details=details,
                destructive=shown,
                destructive_more=len(destructive) - len(shown),
                forgotten=let_go,
                forgotten_more=len(forgotten) - len(let_go),
            )
        )
        return _SLOT.sub(lambda m: slots[m.group(0)], skeleton)

    text = render(None)
    if budget.fits(text):
        return text
    # The largest cap on each environment's details that fits: the biggest plans lose
    # lines first, small ones stay whole. Cap 0 drops every detail. The cap is found on
    # sizes (the report without details, plus each cut detail and its fences), then the
    # comment is rendered and, should the estimate be short, the cap lowered by the excess.
    bare = render(0)
    if budget.fits(bare):
        room = budget.limit - budget.measure(bare)

        def needed(cap: int) -> int:
            return sum(
                size + 2 * len(t.fence) + FENCE_LINE_EXTRA
                for t in lines.values()
                if (size := t.size(cap))
            )

        low, high = 0, max((t.ends[-1] for t in lines.values() if t.ends), default=0)
        while low < high:
            cap = (low + high + 1) // 2
            low, high = (cap, high) if needed(cap) <= room else (low, cap - 1)
        cap = low
        while cap > 0:
            candidate = render(cap)
            excess = budget.measure(candidate) - budget.limit
            if excess <= 0:
                return candidate
            cap = max(0, cap - excess)
        return bare
    for warning_cap in WARNING_CAPS:
        text = render(0, warning_cap)
        if budget.fits(text):
            return text
    return _hard_cut(text, budget, full_plan_at)


def change_text(env: EnvironmentPlan) -> str:
    """The diff lines of one environment's planned changes (markers in column 0)."""
    return diff_lines(env.changes, env.outputs, actions=env.actions)


def _capped(error: str | None) -> str:
    text = error or ""
    if len(text) <= MAX_ERROR_CHARS:
        return text
    return (
        text[:MAX_ERROR_CHARS].rstrip() + f"\n… ({len(text) - MAX_ERROR_CHARS:,} more characters)"
    )


def _hard_cut(text: str, budget: Budget, full_plan_at: str) -> str:
    """Last resort (thousands of gate findings): cut the tail so GitHub accepts the body."""
    note = f"\n\n✂️ This report was cut to fit; the full report is in {full_plan_at}.\n"
    keep = budget.limit - budget.measure(note)
    cut = text[:keep]
    while budget.measure(cut) > keep:
        cut = cut[: len(cut) - max(1, (budget.measure(cut) - keep) // 2)]
    return cut + note
