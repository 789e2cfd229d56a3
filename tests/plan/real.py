"""Plan JSON made by real Terraform, for the plan and render tests.

A scenario is a list of steps run in one working directory: a configuration (written to
main.tf and applied, except the last, which is only planned), or a function that changes
something behind Terraform's back (drift). The last plan is saved, and `terraform show
-json` of it is what the tests read, exactly as tfops reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.provider_helpers import TerraformBin, mirror_env, run_terraform
from tfops.plan.reader import load_plan

LOCALFILE = """terraform {
  required_providers {
    localfile = {
      source  = "tfops/localfile"
      version = "0.1.0"
    }
  }
}
"""

Step = str | Callable[[Path], None]


@dataclass
class RealPlan:
    json: dict[str, Any]  # as tfops keeps it (load_plan)
    full: dict[str, Any]  # all of `terraform show -json`
    human: str  # terraform's own plan output
    exit_code: int  # of `terraform plan -detailed-exitcode`
    workdir: Path
    planfile: Path


def make_plan(
    binary: TerraformBin,
    workdir: Path,
    cli_config: Path,
    steps: Sequence[Step],
    *plan_args: str,
) -> RealPlan:
    env = mirror_env(cli_config)
    workdir.mkdir(parents=True)
    configs = [i for i, step in enumerate(steps) if isinstance(step, str)]
    for index, step in enumerate(steps):
        if not isinstance(step, str):
            step(workdir)
            continue
        (workdir / "main.tf").write_text(step, encoding="utf-8")
        if index == configs[0]:
            run_terraform(binary, workdir, env, "init", "-input=false")
        if index != configs[-1]:
            run_terraform(binary, workdir, env, "apply", "-input=false", "-auto-approve")
    planned = run_terraform(
        binary,
        workdir,
        env,
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        "-out=plan.bin",
        *plan_args,
        codes=(0, 1, 2),
    )
    shown = run_terraform(binary, workdir, env, "show", "-json", "plan.bin")
    full = json.loads(shown.stdout)
    return RealPlan(
        load_plan(shown.stdout),
        full,
        planned.stdout + planned.stderr,
        planned.returncode,
        workdir,
        workdir / "plan.bin",
    )
