"""The gate interface and the one findings model every gate reports in."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from tfops.config import SEVERITY_ORDER, GateConfig, Severity
from tfops.terraform import process

if TYPE_CHECKING:
    from tfops.console import Console
    from tfops.modules.remote import RemoteLister
    from tfops.repo.environments import EnvironmentsRepo, Root
    from tfops.terraform.runner import Terraform

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


class FmtResults(Protocol):
    """`fmt -check` results of many directories from one terraform run (gates/fmt.py)."""

    def modules(self, root: Path) -> dict[Path, tuple[str, ...]] | None: ...

    def results(self, root: Path, directories: list[Path]) -> list[process.Result] | None: ...


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
    environments: tuple[str, ...] = ()  # the selected ones in this root; empty: all of them
    # Where reported paths are relative to: the repo's root by default. A module repo's
    # root when the gates check one of its modules (a root with no environments).
    base: Path | None = None
    fmt_batch: FmtResults | None = None  # one fmt run for every root of this run
    validated_by_plan: bool = False  # a plan that just succeeded said all validate would

    @property
    def selected(self) -> tuple[str, ...]:
        return self.environments or self.root.environments

    @property
    def root_name(self) -> str:
        """The root's path as results name it (`.`, `envs/prod`, `modules/back_end`)."""
        return self._from_repo(self.root.path)

    def relative(self, path: str | Path) -> str:
        """A path a tool printed (absolute, relative to the root, or `/main.tf`) → repo-relative.

        An absolute path that does not exist here (tfsec in a container prints `/src/main.tf`,
        checkov `/main.tf`) is matched by its longest tail that exists under the root.
        """
        raw = Path(str(path))
        if raw.is_absolute():
            if raw.exists():
                return self._from_repo(raw)
            tails = (Path(*raw.parts[i:]) for i in range(1, len(raw.parts)))
            existing = next((t for t in tails if (self.root.path / t).exists()), None)
            if existing is not None:
                return self._from_repo(self.root.path / existing)
        return self._from_repo(self.root.path / str(path).lstrip("/"))

    def _from_repo(self, path: Path) -> str:
        """Repo-relative; a file outside the repo (a sibling module) as `../modules/…`."""
        resolved = self.repo.resolved(path)
        return Path(os.path.relpath(resolved, self.base or self.repo.root)).as_posix()

    def ignores(self, *rule_ids: str | None) -> bool:
        """Whether config ignores a finding known by any of these ids (tools have two)."""
        return any(r in self.config.ignore for r in rule_ids if r)

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


def severity_of(value: object, default: Severity = "medium") -> Severity:
    """A tool's severity (`HIGH`, `Critical`, …) in tfops's scale; `default` when it has none."""
    text = str(value or "").strip().lower()
    return cast(Severity, text) if text in SEVERITY_ORDER else default


def run_tool(ctx: GateContext, argv: Sequence[str]) -> tuple[Any, process.Result]:
    """Run a linter in the root and parse the JSON report it prints on stdout.

    Exit codes differ between tools and versions, so the report decides; output that is
    not JSON (a crash, a usage error) is a GateToolError carrying what the tool printed.
    """
    name = Path(argv[0]).name
    result = process.run(
        argv,
        cwd=ctx.root.path,
        env=process.clean_env(),
        timeout=ctx.terraform.config.timeout_minutes * 60,
        what=name,
    )
    try:
        return json.loads(result.stdout), result
    except ValueError:
        raise GateToolError(
            f"{name} exited {result.returncode} without a JSON report", tool_output(result)
        ) from None


def tool_output(result: process.Result, limit: int = 4000) -> str:
    """What a failing tool said: stderr, else stdout, the last `limit` characters."""
    text = (result.stderr.strip() or result.stdout.strip())[-limit:]
    return text or f"(no output; exit code {result.returncode})"
