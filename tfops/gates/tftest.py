"""`terraform test -json` (Terraform ≥ 1.6): run a module's `*.tftest.hcl` files.

Each `run` block instantiates the module (plan or apply), checks its assertions and,
at the end of the file, destroys what it created. A failing or erroring run becomes a
finding at the failed assertion (or at the run block, when the error is elsewhere) with
the run's name and the assertion's `error_message`; the runs and their outcomes are kept
for the record `tfops release` writes into the tag.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tfops.config import Severity
from tfops.errors import Interrupted, TerraformError, TfopsError
from tfops.gates.base import Finding, GateContext, GateResult, Status, tool_output
from tfops.modules.discovery import TEST_SUFFIXES
from tfops.terraform import process
from tfops.terraform.process import Sink
from tfops.terraform.versions import satisfies

GATE = "test"
MINIMUM_VERSION = "1.6.0"
RunStatus = Literal["pass", "fail", "error", "skip", "pending"]
_STATUSES: dict[str, RunStatus] = {"pass": "pass", "fail": "fail", "error": "error", "skip": "skip"}
VERBS: dict[RunStatus, str] = {
    "pass": "passed",
    "fail": "failed",
    "error": "errored",
    "skip": "was skipped",
    "pending": "did not finish",
}
SEVERITIES: dict[str, Severity] = {"error": "high", "warning": "low"}


@dataclass
class TftestRun:
    file: str  # as terraform names it: relative to the module (`tests/main.tftest.hcl`)
    name: str
    status: RunStatus = "pending"


@dataclass
class Diagnostic:
    file: str | None  # the test file it belongs to (@testfile)
    run: str | None  # the run it belongs to (@testrun)
    body: dict[str, Any]

    @property
    def severity(self) -> str:
        return str(self.body.get("severity") or "error")

    @property
    def text(self) -> str:
        summary = str(self.body.get("summary") or "").strip()
        detail = str(self.body.get("detail") or "").strip()
        if summary == "Test assertion failed" and detail:
            return detail  # the assertion's error_message
        return f"{summary}: {detail}" if detail else summary

    @property
    def span(self) -> tuple[str | None, int | None, int | None]:
        span = self.body.get("range") or {}
        return (
            span.get("filename") or None,
            (span.get("start") or {}).get("line"),
            (span.get("end") or {}).get("line"),
        )


@dataclass
class TftestReport:
    """What one `terraform test` printed: every run with its outcome, and the diagnostics."""

    runs: list[TftestRun] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    terraform_version: str = ""

    def find(self, file: str | None, name: str | None) -> TftestRun | None:
        return next((r for r in self.runs if r.file == file and r.name == name), None)

    def run(self, file: str, name: str) -> TftestRun:
        """The run of that name in that file, added when terraform had not listed it."""
        found = self.find(file, name)
        if found is None:
            found = TftestRun(file, name)
            self.runs.append(found)
        return found

    def count(self, status: RunStatus) -> int:
        return sum(1 for r in self.runs if r.status == status)

    @property
    def ok(self) -> bool:
        """Terraform said `pass`, and no run failed and no error was printed."""
        failed = any(r.status in ("fail", "error") for r in self.runs)
        errors = any(d.severity == "error" for d in self.diagnostics)
        passed = self.summary is not None and self.summary.get("status") == "pass"
        return passed and not failed and not errors

    def describe(self) -> str:
        """`3 passed, 1 failed` — the counts that are not zero."""
        words: dict[RunStatus, str] = {**VERBS, "skip": "skipped", "pending": "unfinished"}
        counts = [(words[status], self.count(status)) for status in words]
        return ", ".join(f"{n} {word}" for word, n in counts if n) or "no runs"


def parse_test_output(stdout: str) -> TftestReport:
    """Read terraform's JSON lines (machine-readable UI, `type` per message)."""
    report = TftestReport()
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        kind = message.get("type")
        if kind == "version":
            report.terraform_version = str(message.get("terraform") or "")
        elif kind == "test_abstract":
            for file, names in (message.get("test_abstract") or {}).items():
                for name in names or []:
                    report.run(str(file), str(name))
        elif kind == "test_run":
            body = message.get("test_run") or {}
            if body.get("progress") == "complete":
                run = report.run(str(body.get("path")), str(body.get("run")))
                run.status = _STATUSES.get(str(body.get("status")), "error")
        elif kind == "diagnostic" and isinstance(message.get("diagnostic"), dict):
            report.diagnostics.append(
                Diagnostic(message.get("@testfile"), message.get("@testrun"), message["diagnostic"])
            )
        elif kind == "test_summary":
            report.summary = message.get("test_summary") or {}
    return report


class ProgressSink:
    """Streams terraform's human messages (`"defaults"... pass`), not its raw JSON."""

    def __init__(self, sink: Sink | None):
        self.sink = sink or process.NullSink()

    def line(self, text: str, *, stderr: bool = False) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self.sink.line(text, stderr=stderr)
            return
        if isinstance(message, dict) and message.get("@message"):
            self.sink.line(str(message["@message"]), stderr=stderr)

    def heartbeat(self, what: str, elapsed: float) -> None:
        self.sink.heartbeat(what, elapsed)

    def heartbeat_interval(self) -> float:
        return self.sink.heartbeat_interval()


def run_tests(ctx: GateContext, files: list[Path]) -> tuple[GateResult, TftestReport | None]:
    """Run `terraform test` in the module; the result in the gates' model, and the runs."""
    started = time.monotonic()
    root = ctx.root_name
    version = ctx.terraform.binary.version
    names = ", ".join(p.relative_to(ctx.root.path).as_posix() for p in files)
    if not satisfies(version, f">= {MINIMUM_VERSION}"):
        note = (
            f"terraform {version} has no `terraform test` (it needs {MINIMUM_VERSION} or "
            f"newer): {names} not run"
        )
        return GateResult(GATE, "skipped", detail=note, root=root), None
    terraform = ctx.terraform
    try:
        ctx.ensure_init()
        result = process.run(
            [*terraform.argv("test"), "-json", *ctx.config.args],
            cwd=terraform.workdir,
            env=terraform.env,
            sink=ProgressSink(terraform.sink),
            timeout=terraform.config.timeout_minutes * 60,
            what="terraform test",
        )
    except Interrupted:
        raise
    except TerraformError as exc:
        detail = f"terraform init failed, so the tests could not run:\n{exc.diagnostics.strip()}"
        return _result(ctx, "error", [], detail, started), None
    except TfopsError as exc:
        return _result(ctx, "error", [], str(exc), started), None
    report = parse_test_output(result.stdout)
    if report.summary is None and not report.diagnostics:
        detail = f"terraform test exited {result.returncode} without a report\n"
        return _result(ctx, "error", [], detail + tool_output(result), started), report
    findings = [_finding(ctx, report, d) for d in report.diagnostics]
    findings += _silent_failures(ctx, report)
    findings = [f for f in findings if not ctx.ignores(f.rule)]
    ok = report.ok and result.returncode == 0
    detail = f"{len(report.runs)} run(s): {report.describe()}"
    return _result(ctx, "passed" if ok else "failed", findings, detail, started), report


def _result(
    ctx: GateContext, status: Status, findings: list[Finding], detail: str, started: float
) -> GateResult:
    return GateResult(
        GATE,
        status,
        findings,
        detail=detail,
        seconds=time.monotonic() - started,
        root=ctx.root_name,
    )


def _finding(ctx: GateContext, report: TftestReport, diagnostic: Diagnostic) -> Finding:
    """Where it happened: the assertion in the test file, else the run block that errored."""
    where, line, end_line = diagnostic.span
    message = diagnostic.text
    test_file = diagnostic.file or (where if where and where.endswith(TEST_SUFFIXES) else None)
    rule = "terraform-test" if diagnostic.severity == "error" else "terraform-test-warning"
    run = report.find(diagnostic.file, diagnostic.run)
    if diagnostic.run:
        status = run.status if run else "error"
        message = f'run "{diagnostic.run}" {VERBS[status]}: {message}'
        if diagnostic.severity == "error" and status == "error":
            rule = "terraform-test-error"
    if test_file and where != test_file:
        # the error is in the module's code (or elsewhere): point at the run (or the file)
        if where:
            message += f" (at {ctx.relative(where)}:{line})" if line else f" (in {where})"
        where = test_file
        line = _run_line(ctx.root.path / test_file, diagnostic.run)
        end_line = None
    return Finding(
        gate=GATE,
        severity=SEVERITIES.get(diagnostic.severity, "high"),
        rule=rule,
        message=message,
        file=ctx.relative(where) if where else None,
        line=line,
        end_line=end_line,
    )


def _silent_failures(ctx: GateContext, report: TftestReport) -> list[Finding]:
    """A failed run that printed no diagnostic still gets a finding, at its run block."""
    noted = {(d.file, d.run) for d in report.diagnostics if d.severity == "error"}
    out = []
    for run in report.runs:
        if run.status in ("fail", "error") and (run.file, run.name) not in noted:
            verb = VERBS[run.status]
            out.append(
                Finding(
                    gate=GATE,
                    severity="high",
                    rule="terraform-test" if run.status == "fail" else "terraform-test-error",
                    message=f'run "{run.name}" {verb}',
                    file=ctx.relative(run.file),
                    line=_run_line(ctx.root.path / run.file, run.name),
                )
            )
    return out


def _run_line(path: Path, name: str | None) -> int | None:
    """The line of `run "NAME" {` in a test file (terraform's JSON does not say)."""
    if not name:
        return None
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(rf'^[ \t]*run[ \t]+"{re.escape(name)}"[ \t]*\{{', text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None
