"""`tfops show PLAN`: any plan — made by another CI, Terraform Cloud, a teammate — told the
way tfops tells its own (the PR comment's renderer).

PLAN is `terraform show -json` output (a file, or `-` for stdin) or a saved binary plan
file, which `terraform show -json` reads in the current directory (it needs the providers
the plan was made with: `terraform init` there first). In an environments repo the changes
are split per environment by address, as `tfops plan` splits them; elsewhere they are one
group, named after the directory when it is a Terraform root.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

import click

from tfops.config import TerraformConfig, TfopsConfig
from tfops.console import Console
from tfops.errors import ExitCode, TerraformError, TfopsError
from tfops.masking import Masker
from tfops.plan.model import PlanSummary, summarize
from tfops.plan.reader import HINT, PlanJsonError, keep, sensitive_values
from tfops.render import Report
from tfops.render.output import write_report
from tfops.repo.environments import DEFAULT_ENVIRONMENT, TF_SUFFIXES, EnvironmentsRepo

ZIP_MAGIC = b"PK\x03\x04"  # a saved plan file is a zip archive
PLAN_KEYS = ("resource_changes", "resource_drift", "output_changes", "planned_values")
ONE_GROUP = "plan"


@dataclass
class Grouping:
    """How a plan's addresses are split into environments here."""

    label: str  # the report's title: the repo or directory
    config: TfopsConfig
    repo: EnvironmentsRepo | None = None

    def environments(self) -> list[str]:
        return list(self.repo.environments) if self.repo else [self.label]

    def environment_of(self, address: str) -> str:
        if self.repo is None:
            return self.label
        return self.repo.environment_of_address(address, self.repo.roots[0])


@click.command("show")
@click.argument("plan", metavar="PLAN", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0: no changes, 2: changes, 1: error.")
@click.pass_obj
def show_command(state: Any, plan: str, output_format: str, detailed_exitcode: bool) -> None:
    """Show any plan (`terraform show -json` output, or a saved plan file) as tfops does."""
    code = run(
        plan,
        output_format=output_format,
        detailed_exitcode=detailed_exitcode,
        console=state.console,
        out=sys.stdout,
        color=state.color,
    )
    sys.exit(code)


def run(
    plan: str,
    *,
    output_format: str,
    detailed_exitcode: bool,
    console: Console,
    out: TextIO,
    color: bool,
    cwd: Path | None = None,
    stdin: IO[bytes] | None = None,
) -> ExitCode:
    cwd = (cwd or Path.cwd()).resolve()
    grouping = grouping_for(cwd)
    source = "stdin" if plan == "-" else plan
    data = (stdin or sys.stdin.buffer).read() if plan == "-" else _read(Path(plan))
    plan_json = read_plan(data, source, cwd, grouping.config.terraform)
    masker = Masker(grouping.config.mask, sensitive_values(plan_json))
    summary = summarize(plan_json, grouping.environment_of, grouping.environments(), source=source)
    report = Report(repo=grouping.label, summary=summary, notes=[_origin(source, summary)])
    write_report(report, output_format, out, color=color, masker=masker)
    if summary.errored:
        console.error("this plan failed: Terraform could not finish it, so it can't be applied.")
        return ExitCode.ERROR
    if detailed_exitcode and summary.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def grouping_for(cwd: Path) -> Grouping:
    """An environments repo splits by address; any other directory is one group."""
    try:
        repo = EnvironmentsRepo(cwd)
    except TfopsError:
        if any(p.name.endswith(TF_SUFFIXES) for p in cwd.iterdir()):
            raise  # a Terraform directory whose tfops.yaml is wrong: say so
        return Grouping(ONE_GROUP, TfopsConfig())
    if repo.layout == "prefix" and list(repo.environments) != [DEFAULT_ENVIRONMENT]:
        return Grouping(repo.root.name, repo.config, repo)
    return Grouping(cwd.name or ONE_GROUP, repo.config)


def read_plan(data: bytes, source: str, cwd: Path, config: TerraformConfig) -> dict[str, Any]:
    """The plan JSON in `data`: as given, or from `terraform show -json` of a plan file."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:4]
    if head.startswith(ZIP_MAGIC):
        return _show_json(Path(source), cwd, config)
    if not head.startswith(b"{"):
        raise TfopsError(
            "is neither plan JSON nor a saved plan file",
            where=source,
            hint="pass what `terraform show -json PLANFILE` prints, or the plan file itself",
        )
    try:
        full = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PlanJsonError(f"is not valid JSON: {exc}", where=source, hint=HINT) from None
    if not isinstance(full, dict):
        raise PlanJsonError("is not a JSON object", where=source, hint=HINT)
    if "values" in full and not any(key in full for key in PLAN_KEYS):
        raise PlanJsonError(
            "is the JSON of a state, not of a plan",
            where=source,
            hint="`terraform show -json` of a state shows what exists; tfops shows plans: "
            "`terraform plan -out=tfplan && terraform show -json tfplan`",
        )
    return keep(full)


def _show_json(planfile: Path, cwd: Path, config: TerraformConfig) -> dict[str, Any]:
    from tfops.terraform.runner import Terraform, find_terraform

    terraform = Terraform(find_terraform(config), cwd, config, label=cwd.name)
    try:
        return terraform.show_json(planfile.resolve())
    except TerraformError as exc:
        raise TerraformError(
            f"terraform could not read the plan file {planfile}",
            diagnostics=exc.diagnostics,
            hint="run tfops show in the directory the plan was made in, after "
            "`terraform init` there (Terraform needs the plan's providers to read it)",
        ) from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TfopsError("no such file", where=str(path), hint="pass a plan file") from None
    except OSError as exc:
        raise TfopsError(exc.strerror or str(exc), where=str(path)) from None


def _origin(source: str, summary: PlanSummary) -> str:
    made = f" by Terraform {summary.terraform_version}" if summary.terraform_version else ""
    return f"The plan in {source}, made{made} (plan JSON format {summary.format_version or '?'})."
