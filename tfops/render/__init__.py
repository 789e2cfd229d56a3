"""Reports: one model, rendered as terminal text, Markdown (jinja2 templates), JSON or Slack."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tfops.gates.base import GateResult
from tfops.plan.model import EnvironmentPlan, PlanSummary
from tfops.plan.values import escape_unprintable

if TYPE_CHECKING:
    from tfops.modules.inventory import ModuleStatus  # its builder imports GitPython

# Terraform's symbols (format.DiffActionSymbol): `.` forget, `+/.` create then forget.
ACTION_SYMBOLS = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "replace": "-/+",
    "read": "<=",
    "forget": ".",
    "create-forget": "+/.",
    "no-op": " ",
}
# The counts every table shows, then those shown only when some environment has them.
COUNT_COLUMNS = (
    ("create", "Add"),
    ("update", "Change"),
    ("delete", "Destroy"),
    ("replace", "Replace"),
    ("import", "Import"),
    ("move", "Move"),
)
OPTIONAL_COLUMNS = (
    ("forget", "Forget"),
    ("actions", "Actions"),
    ("drift", "Drifted"),
    ("deferred", "Deferred"),
)


@dataclass
class Report:
    repo: str
    summary: PlanSummary
    gates: list[GateResult] = field(default_factory=list)
    commit: str | None = None
    notes: list[str] = field(default_factory=list)
    run_url: str | None = None
    modules: list[ModuleStatus] = field(default_factory=list)  # shown for pinned environments

    @property
    def gates_failed(self) -> bool:
        return any(not g.ok for g in self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "commit": self.commit,
            "gates": [asdict(g) for g in self.gates],
            "gates_passed": not self.gates_failed,
            "notes": self.notes,
            "modules": [asdict(m) for m in self.modules],
            **self.summary.to_dict(),
        }


def counts_row(env: EnvironmentPlan) -> dict[str, int]:
    """An environment's numbers for the counts table, by column key."""
    row = env.counts.as_dict()
    row["drift"] = len(env.drift)
    row["deferred"] = len(env.deferred)
    return row


def count_columns(envs: list[EnvironmentPlan]) -> list[tuple[str, str]]:
    """The table's columns: the six Terraform reviewers always see, and the rarer ones
    (forget, actions, drift, deferred) when some environment has them."""
    rows = [counts_row(e) for e in envs]
    return [*COUNT_COLUMNS, *(c for c in OPTIONAL_COLUMNS if any(r[c[0]] for r in rows))]


def shown(text: str) -> str:
    """An address or name as it may be printed: characters that don't print are escaped,
    so a hostile `for_each` key can't fake or hide a line. (Attribute names come printable
    from the reader.)"""
    return text if text.isprintable() else escape_unprintable(text)


def slack_escape(text: str) -> str:
    """Slack mrkdwn: `&`, `<` and `>` are control characters (links, `<!channel>`).
    Line breaks are kept; what else doesn't print is escaped."""
    return (
        "\n".join(shown(line) for line in text.split("\n"))
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def slack_code(text: str) -> str:
    """Inline code in Slack, which has no way to escape a backtick inside one."""
    return "`" + slack_escape(text).replace("`", "ˋ").replace("\n", " ") + "`"
