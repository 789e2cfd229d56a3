"""Reports: one model, rendered as terminal text, Markdown (jinja2 templates) or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tfops.gates.base import GateResult
from tfops.plan.model import PlanSummary

if TYPE_CHECKING:
    from tfops.modules.inventory import ModuleStatus  # its builder imports GitPython

ACTION_SYMBOLS = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "replace": "-/+",
    "read": "<=",
    "no-op": " ",
}


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
