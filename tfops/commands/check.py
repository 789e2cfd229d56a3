"""`tfops check`: run the gates without planning, and report what they found.

Findings go to the terminal (or `--format json`), to a SARIF file for GitHub code
scanning (`--sarif`), and, inside GitHub Actions, to workflow-command annotations that
show up on the pull request's diff.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

import click

from tfops import gitutil
from tfops.commands.options import CliState, environments_option, path_argument
from tfops.console import Console
from tfops.errors import ExitCode, TfopsError
from tfops.gates import ADAPTERS, ORDER, GateResult
from tfops.pipeline.session import Session
from tfops.plan.model import PlanSummary
from tfops.render import Report
from tfops.render.annotations import annotate
from tfops.render.sarif import sarif
from tfops.render.text import TextRenderer


@click.command("check")
@path_argument
@environments_option()
@click.option("--all", "keep_going", is_flag=True, help="Run every gate even after one fails.")
@click.option("--fix", is_flag=True, help="Format the files (terraform fmt) before checking.")
@click.option(
    "--gate",
    "only",
    multiple=True,
    type=click.Choice(ORDER),
    help="Run only this gate, even if disabled in tfops.yaml (repeatable).",
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the findings as SARIF 2.1.0 to FILE (for GitHub code scanning).",
)
@click.pass_obj
def check_command(
    state: CliState,
    path: Path,
    environments: tuple[str, ...],
    keep_going: bool,
    fix: bool,
    only: tuple[str, ...],
    output_format: str,
    sarif_file: Path | None,
) -> None:
    """Run the gates (fmt, pins, validate, tflint, tfsec, …) and report their findings."""
    sys.exit(
        run(
            path,
            environments=environments,
            keep_going=keep_going,
            fix=fix,
            only=only,
            output_format=output_format,
            sarif_file=sarif_file,
            console=state.console,
            out=sys.stdout,
            color=state.color,
        )
    )


def run(
    path: Path,
    *,
    environments: tuple[str, ...],
    keep_going: bool,
    fix: bool,
    only: tuple[str, ...],
    output_format: str,
    sarif_file: Path | None,
    console: Console,
    out: TextIO,
    color: bool,
) -> ExitCode:
    missing = [g for g in only if g not in ADAPTERS]
    if missing:
        raise TfopsError(
            f"gate {', '.join(map(repr, missing))} is not available in this tfops",
            hint=f"available gates: {', '.join(ADAPTERS)}",
        )
    session = Session.open(path, console)
    roots = session.roots_for(session.select(environments))
    results = session.check_roots(roots, only=only, keep_going=keep_going, fix=fix)

    masker = session.masker
    if output_format == "json":
        out.write(masker(json.dumps(report_json(session, results), indent=2)) + "\n")
    else:
        report = Report(
            repo=session.repo.root.name,
            summary=PlanSummary(format_version="", terraform_version=""),
            gates=results,
            commit=gitutil.head_commit(session.repo.root),
        )
        out.write(masker(TextRenderer(color=color).render(report)))
        out.write(summary_line(results) + "\n")
    out.flush()
    if sarif_file is not None:
        document = sarif(results, gitutil.checkout_prefix(session.repo.root))
        sarif_file.write_text(masker(json.dumps(document, indent=2)) + "\n", encoding="utf-8")
        console.note(f"SARIF written to {sarif_file}")
    stream = out if output_format == "text" else console.stream
    annotate(results, session.repo.root, stream, masker)
    if any(not r.ok for r in results):
        console.error("gates failed; the findings are above.")
        return ExitCode.GATES_FAILED
    return ExitCode.OK


def report_json(session: Session, results: list[GateResult]) -> dict[str, object]:
    return {
        "repo": session.repo.root.name,
        "commit": gitutil.head_commit(session.repo.root),
        "gates_passed": all(r.ok for r in results),
        "findings": sum(len(r.findings) for r in results),
        "gates": [asdict(r) for r in results],
    }


def summary_line(results: list[GateResult]) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    findings = sum(len(r.findings) for r in results)
    parts = [f"{n} {status}" for status, n in counts.items()]
    return f"\nGates: {', '.join(parts) or 'none ran'} · {findings} finding(s)"
