"""fmt over many roots: the fmt gate over 200 roots against one `terraform fmt -check
-recursive` over the same repo.

A generated environments repo in the directory layout: 200 roots (`envs/NNN/`, each a
`main.tf` calling one of 10 local modules, with a few resources and locals, a
`variables.tf` and an `outputs.tf`, ~70 lines), and the modules in `modules/`. Three files
are not formatted: two roots' `main.tf` and one module's (loaded by 20 roots), so the
gate has findings to report, split back per root.

The figure is the fmt gate's own time as `tfops check --gate fmt` reports it (the sum of
its per-root seconds), in a fresh process, with tfops's fmt results cache emptied before
every run: one terraform process checks every root and module directory. Beside it:
`terraform fmt -check -recursive` at the repo's top (median of the same number of runs),
the whole `tfops check` process, and the gate on a second run, answered from the cache.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.common import WORK, Figure, bench_env, fresh_dir, median, tfops_argv, timed_run

NAME = "fmt roots"
TARGET_RATIO = 1.5
ROOTS = 200
MODULES = 10
UNFORMATTED_ROOTS = (17, 123)
UNFORMATTED_MODULE = 3  # loaded by every root whose number ends in 3

MODULE = """\
variable "name" {
  type        = string
  description = "The application's name."
}

variable "size" {
  type    = number
  default = 1
}

locals {
  labels = {
    name    = var.name
    managed = "terraform"
  }
}

resource "terraform_data" "app" {
  count = var.size
  input = merge(local.labels, { index = count.index })
}

output "ids" {
  value = terraform_data.app[*].id
}
"""
MAIN = """\
module "app" {
  source = "../../modules/mMODULE"

  name = "app-INDEX"
  size = var.size
}

locals {
  environment = "env-INDEX"
  tags = {
    environment = local.environment
    owner       = var.owner
  }
}

resource "terraform_data" "dns" {
  input = "${local.environment}.example.com"
}

resource "terraform_data" "config" {
  input = jsonencode(local.tags)
}
"""
VARIABLES = """\
variable "size" {
  type    = number
  default = 2
}

variable "owner" {
  type    = string
  default = "platform"
}

variable "region" {
  type    = string
  default = "eu-west-1"
}
"""
OUTPUTS = """\
output "app_ids" {
  value = module.app.ids
}

output "dns" {
  value = terraform_data.dns.output
}
"""


def unformat(text: str) -> str:
    """The text with its alignment lost, as a hasty edit leaves it."""
    return text.replace("  name = ", "  name=").replace("  input = ", "  input=")


def build(target: Path) -> Path:
    repo = fresh_dir(target)
    for index in range(MODULES):
        text = unformat(MODULE) if index == UNFORMATTED_MODULE else MODULE
        (repo / "modules" / f"m{index:02d}").mkdir(parents=True)
        (repo / "modules" / f"m{index:02d}" / "main.tf").write_text(text)
    for index in range(ROOTS):
        root = repo / "envs" / f"{index:03d}"
        root.mkdir(parents=True)
        main = MAIN.replace("MODULE", f"{index % MODULES:02d}").replace("INDEX", f"{index:03d}")
        (root / "main.tf").write_text(unformat(main) if index in UNFORMATTED_ROOTS else main)
        (root / "variables.tf").write_text(VARIABLES)
        (root / "outputs.tf").write_text(OUTPUTS)
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "roots"], cwd=repo, check=True)
    return repo


def measure(work: Path, runs: int) -> dict[str, Any]:
    repo = build(work / "repo")
    env = bench_env(work)
    fmt_cache = work / "cache" / "tfops" / "fmt"
    check = [*tfops_argv(), "check", "--gate", "fmt", "--format", "json", str(repo)]
    recursive = ["terraform", "fmt", "-check", "-recursive"]

    def gate() -> tuple[float, float, dict[str, Any]]:
        wall, result = timed_run(check, cwd=repo, env=env, ok_codes=(3,), stdout=subprocess.PIPE)
        report = json.loads(result.stdout)
        return sum(g["seconds"] for g in report["gates"]), wall, report

    timed_run(recursive, cwd=repo, env=env, ok_codes=(3,))  # warm-up: page cache, bytecode
    gate()
    terraform_s, gate_s, check_s = [], [], []
    report: dict[str, Any] = {}
    for _ in range(runs):
        terraform_s.append(timed_run(recursive, cwd=repo, env=env, ok_codes=(3,))[0])
        shutil.rmtree(fmt_cache, ignore_errors=True)
        seconds, wall, report = gate()
        gate_s.append(seconds)
        check_s.append(wall)
    cached_s = gate()[0]
    listed = timed_run(recursive, cwd=repo, env=env, ok_codes=(3,), stdout=subprocess.PIPE)[1]
    findings = [f for g in report["gates"] for f in g["findings"]]
    return {
        "runs": runs,
        "roots": len(report["gates"]),
        "gate_s": median(gate_s),
        "terraform_s": median(terraform_s),
        "ratio": median(gate_s) / median(terraform_s),
        "tfops_check_s": median(check_s),
        "gate_cached_s": cached_s,
        "findings": len(findings),
        "files_found": sorted({f["file"] for f in findings}),
        "files_terraform_lists": sorted(listed.stdout.split()),
    }


def run(quick: bool = False, work: Path | None = None) -> list[Figure]:
    work = work or WORK / "fmt_roots"
    fresh_dir(work)
    result = measure(work, 2 if quick else 7)
    return [
        Figure(
            NAME,
            f"fmt gate over {result['roots']} roots / one terraform fmt -check -recursive",
            result["ratio"],
            "×",
            TARGET_RATIO,
            details=result,
        ),
        Figure(
            NAME,
            "the same gate, files unchanged since its last run (cache)",
            result["gate_cached_s"],
            " s",
            details={"tfops_check_s": result["tfops_check_s"]},
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for figure in run(args.quick):
        print(json.dumps(figure.to_dict()))


if __name__ == "__main__":
    main()
