"""The gate interface and the one findings model every gate reports in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from tfops.config import SEVERITY_ORDER, GateConfig, Severity

if TYPE_CHECKING:
    from tfops.console import Console
    from tfops.modules.remote import RemoteLister
    from tfops.repo import EnvironmentsRepo, Root
    from tfops.terraform import Terraform

Status = Literal["passed", "failed", "skipped", "error"]


@dataclass(frozen=True)
class Finding:
    gate: str
    severity: Severity
    rule: str
    message: str
    file: str | None = None  # relative to the environments repo root
    line: int | None = None
    end_line: int | None = None
    link: str | None = None
    environments: tuple[str, ...] = ()

    def fails(self, threshold: Severity) -> bool:
        return SEVERITY_ORDER[self.severity] >= SEVERITY_ORDER[threshold]

    @property
    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class GateResult:
    gate: str
    status: Status
    findings: list[Finding] = field(default_factory=list)
    detail: str = ""  # a skip hint, a tool's stderr, fmt's diff
    seconds: float = 0.0
    root: str = ""  # the root it ran in, relative to the repo

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "skipped")


class GateToolError(Exception):
    """The tool crashed or printed something that isn't its report."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


@dataclass
class GateContext:
    """Everything a gate may use for one Terraform root."""

    repo: EnvironmentsRepo
    root: Root
    terraform: Terraform
    config: GateConfig
    console: Console
    lister: RemoteLister
    fix: bool = False
    ensure_init: Callable[[], None] = lambda: None

    def relative(self, path: str | Path) -> str:
        """A path a tool printed (absolute, relative to the root, or `/main.tf`) → repo-relative."""
        raw = Path(str(path))
        if raw.is_absolute() and raw.exists():
            return self.repo.relative(raw)
        candidate = self.root.path / str(path).lstrip("/")
        return self.repo.relative(candidate)

    def environments_of(self, relative_file: str | None) -> tuple[str, ...]:
        if relative_file is None:
            return self.root.environments
        for name in self.root.environments:
            env = self.repo.environments[name]
            if any(self.repo.relative(p) == relative_file for p in env.files):
                return (name,)
        return self.root.environments


class Gate(Protocol):
    """One check. `tool` is the executable it needs (None: built in, always available)."""

    name: str
    tool: str | None
    install_hint: str

    def run(self, ctx: GateContext) -> list[Finding]:
        """Findings; raise GateToolError when the tool fails to produce a report."""
        ...
