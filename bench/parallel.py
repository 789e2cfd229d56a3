"""Parallel environments: 8 environments in the directory layout, planned sequentially
(`--parallelism 1`) and concurrently (`--parallelism 4`), with the default gates.

Two workloads, because where a plan spends its time decides what parallelism can win:

- *terraform_data*: built-in resources only. Every second of it is CPU (terraform's own
  start-up, init, validate, plan, show). Terraform walks its graph with several threads
  and tfops runs validate alongside the plan, so even the sequential run keeps ~1.4 of
  the 2 cores busy: the speedup can't exceed cores ÷ that, and the figure is reported
  as information, with the cores-busy figure that bounds it.
- *provider API latency*: 25 `localfile_file` resources per environment, applied first, so
  the plan refreshes each one; the provider's Read waits 250 ms
  (`TFOPS_LOCALFILE_READ_LATENCY_MS`), the way a cloud provider waits on its API.
  Terraform refreshes 10 resources at a time, so each plan waits about 0.75 s. The
  provider is a Python program, so starting it costs CPU too.

The target (≥ 1.6×) is held to the provider-latency workload, which is where real cloud
plans spend their time. The figure is the speedup of the parallel run over the
sequential one (median of the per-pair ratios). The parallel run's stderr is checked:
each environment's lines form one block (no interleaving).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import WORK, Figure, bench_env, fresh_dir, median, tfops_argv, timed_run

NAME = "parallel envs"
TARGET_SPEEDUP = 1.6
PARALLELISM = 4
LATENCY_MS = 250

TERRAFORM_DATA = """\
terraform {{
  required_version = ">= 1.4.0"
}}

locals {{
  environment = "{env}"
}}
{resources}
output "ids" {{
  value = [for item in terraform_data.item : item.id]
}}
"""

TERRAFORM_DATA_ITEM = """
resource "terraform_data" "item" {{
  count = {count}

  input = {{
    name        = "${{local.environment}}-item-${{count.index}}"
    environment = local.environment
  }}
}}

resource "terraform_data" "summary" {{
  input = length(terraform_data.item)
}}
"""

LOCALFILE = """\
terraform {{
  required_providers {{
    localfile = {{
      source  = "tfops/localfile"
      version = "0.1.0"
    }}
  }}
}}

resource "localfile_file" "item" {{
  count = {count}

  path    = "${{path.module}}/out/item-${{count.index}}.txt"
  content = "{env} item ${{count.index}}\\n"
}}
"""


def build(work: Path, workload: str, environments: int, resources: int) -> Path:
    """An environments repo with `environments` directories under envs/."""
    root = fresh_dir(work / workload / "environments")
    for index in range(environments):
        env = f"env{index}"
        directory = root / "envs" / env
        directory.mkdir(parents=True)
        if workload == "terraform_data":
            text = TERRAFORM_DATA.format(
                env=env, resources=TERRAFORM_DATA_ITEM.format(count=resources)
            )
        else:
            text = LOCALFILE.format(env=env, count=resources)
        (directory / "main.tf").write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root


def terraform_env(work: Path, workload: str) -> dict[str, str]:
    if workload == "terraform_data":
        return bench_env(work)
    from tfops.provider.mirror import install_mirror

    return bench_env(work, cli_config=install_mirror(work / "mirror"))


def apply_all(root: Path, env: dict[str, str]) -> None:
    """Create the resources, so every plan refreshes them (Read is where latency waits)."""
    for directory in sorted((root / "envs").iterdir()):
        for argv in (
            ["terraform", "init", "-input=false", "-no-color"],
            ["terraform", "apply", "-input=false", "-no-color", "-auto-approve"],
        ):
            timed_run(argv, cwd=directory, env=env)


def grouped(stderr: str) -> bool:
    """Each environment's `  envN | …` lines form one contiguous block."""
    labels = [m.group(1) for m in re.finditer(r"^  (env\d+) \| ", stderr, re.MULTILINE)]
    blocks = [label for i, label in enumerate(labels) if i == 0 or labels[i - 1] != label]
    return bool(labels) and len(blocks) == len(set(blocks))


def measure(
    work: Path, workload: str, *, environments: int, resources: int, pairs: int
) -> dict[str, Any]:
    root = build(work, workload, environments, resources)
    env = terraform_env(work, workload)
    if workload != "terraform_data":
        apply_all(root, env)
        env[_latency_env()] = str(LATENCY_MS)

    busy: dict[int, list[float]] = {1: [], PARALLELISM: []}

    def plan(parallelism: int) -> tuple[float, str]:
        argv = [*tfops_argv(), "plan", str(root), "--parallelism", str(parallelism)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, result = timed_run(
            argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        busy.setdefault(parallelism, []).append(cpu / seconds)
        return seconds, result.stderr

    plan(PARALLELISM)  # warm-up: .terraform directories, plugin cache, HCL cache
    sequential, parallel, ratios, all_grouped = [], [], [], True
    for index in range(pairs):
        if index % 2:
            p, p_err = plan(PARALLELISM)
            s, _ = plan(1)
        else:
            s, _ = plan(1)
            p, p_err = plan(PARALLELISM)
        sequential.append(s)
        parallel.append(p)
        ratios.append(s / p)
        all_grouped = all_grouped and grouped(p_err)
    return {
        "environments": environments,
        "resources_per_env": resources,
        "parallelism": PARALLELISM,
        "pairs": pairs,
        "speedup": median(ratios),
        "sequential_s": median(sequential),
        "parallel_s": median(parallel),
        "output_grouped": all_grouped,
        # cores kept busy (CPU seconds / wall seconds): terraform walks its graph with
        # several threads, so a CPU-bound plan already uses more than one core on its own
        "cores_busy_sequential": median(busy[1][1:] or busy[1]),
        "cores_busy_parallel": median(busy[PARALLELISM][1:] or busy[PARALLELISM]),
        "load_average": os.getloadavg()[0],
    }


def _latency_env() -> str:
    from tfops.provider.localfile import READ_LATENCY_ENV

    return READ_LATENCY_ENV


def run(quick: bool = False, work: Path | None = None) -> list[Figure]:
    work = work or WORK / "parallel"
    fresh_dir(work)
    environments = 3 if quick else 8
    pairs = 1 if quick else 3
    figures = []
    data = measure(work, "terraform_data", environments=environments, resources=10, pairs=pairs)
    # Informational: a CPU-bound plan can't beat cores ÷ cores-already-busy; the figure
    # beside it says how busy the sequential run already keeps the machine.
    figures.append(
        Figure(
            NAME,
            f"speedup, --parallelism {PARALLELISM} vs 1, terraform_data (CPU-bound)",
            data["speedup"],
            "×",
            details=data,
        )
    )
    figures.append(
        Figure(
            NAME,
            "cores the sequential CPU-bound run already keeps busy",
            data["cores_busy_sequential"],
            "",
            details={"ceiling": (os.cpu_count() or 1) / data["cores_busy_sequential"]},
        )
    )
    data = measure(
        work, "api_latency", environments=environments, resources=6 if quick else 25, pairs=pairs
    )
    figures.append(
        Figure(
            NAME,
            f"speedup, same, provider API latency {LATENCY_MS} ms per read",
            data["speedup"],
            "×",
            TARGET_SPEEDUP,
            higher_is_better=True,
            details=data,
        )
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for figure in run(args.quick):
        print(json.dumps(figure.to_dict()))


if __name__ == "__main__":
    sys.exit(main())
