"""Overhead: `tfops plan` against the terraform commands a team would script without it.

The seed-shaped case (the GitOps article's layout): one root; `dev_back_end.tf` floats on
a sibling module repository (`../backend/infrastructure/modules/back_end`, its latest
commit), `prod_back_end.tf` pins it with `?ref=v2.0.0` (the sibling convention tfops
resolves), a local monitoring module, `terraform_data` resources only. The bare side is
what a team writes by hand:

    terraform init && terraform fmt -check -recursive && terraform validate &&
    terraform plan -out=x && terraform show -json x

in its own checkout of the same repo, with a hand-written override file that points prod's
module at the tag (what tfops generates). tfops runs `tfops plan` with its default gates.

Figures, each the median of paired runs (the two sides alternate, and which goes first
alternates too, so neither always runs on a warmer machine), as wall time and as CPU time
(user + system of the command and every process it waited for):
- warm: `.terraform` initialised, tfops's caches (under XDG_CACHE_HOME) filled;
- fresh checkout: both sides start from a new checkout (no `.terraform`, no `.tfops`, no
  override file tfops generated) on a machine that has run tfops before;
- fresh machine (informational): the same with tfops's caches emptied too, as on a new CI
  runner; the plugin cache (shared by both sides) stays, there is nothing in it here;
- the bundled example (informational): `make demo`'s sandbox, which plans the localfile
  provider (tfops/provider) as well, against the same commands tfops runs (init, fmt
  -check, validate -json, plan -out, show -json);
- `tfops --help` and `tfops envs` on the seed repo, wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    WORK,
    Figure,
    Usage,
    bench_env,
    fresh_dir,
    measured_run,
    median,
    paired,
    tfops_argv,
    timed_run,
)
from scripts.demo import build_environments, build_modules

NAME = "overhead"
TARGET_WALL = 0.90
TARGET_CPU = 1.0
TARGET_STARTUP_S = 0.12

SEED_BARE = (
    "terraform init >/dev/null && terraform fmt -check -recursive && "
    "terraform validate >/dev/null && terraform plan -out=x >/dev/null && "
    "terraform show -json x >/dev/null"
)
DEMO_BARE = """\
set -u
terraform init -input=false -no-color || exit 1
terraform fmt -check -diff -list=true -no-color || exit 1
terraform validate -json -no-color || exit 1
terraform plan -input=false -no-color -detailed-exitcode -lock-timeout=60s -out="$1"
test $? -ne 1 || exit 1
terraform show -json -no-color "$1" || exit 1
"""

BACK_END = """\
variable "environment" {
  type = string
}

variable "alarms_topic_arn" {
  type = string
}

resource "terraform_data" "api" {
  input = {
    environment = var.environment
    memory      = MEMORY
    alarms      = var.alarms_topic_arn
  }
}

output "api_url" {
  value = "https://api.${var.environment}.example.com"
}
"""
MONITORING = """\
variable "name" {
  type = string
}

resource "terraform_data" "alarms" {
  input = var.name
}

output "alarms_topic_arn" {
  value = "arn:aws:sns:eu-west-1:123456789012:${var.name}-alarms"
}
"""
ENVIRONMENT_FILES = {
    "main.tf": """\
terraform {
  required_version = ">= 1.4.0"
}

locals {
  dev_environment = "dev"
  environment     = "prod"
}
""",
    "global_monitoring.tf": """\
module "monitoring" {
  source = "./modules/monitoring"

  name = "demo-app"
}
""",
    "dev_back_end.tf": """\
module "dev_back_end" {
  source = "../backend/infrastructure/modules/back_end"

  alarms_topic_arn = module.monitoring.alarms_topic_arn
  environment      = local.dev_environment
}
""",
    "prod_back_end.tf": """\
module "prod_back_end" {
  source = "../backend/infrastructure/modules/back_end?ref=v2.0.0"

  alarms_topic_arn = module.monitoring.alarms_topic_arn
  environment      = local.environment
}
""",
    "modules/monitoring/main.tf": MONITORING,
}
# The override a team writes by hand so that terraform can plan the pinned sibling ref.
BARE_OVERRIDE = """\
module "prod_back_end" {{
  source = "git::{url}//infrastructure/modules/back_end?ref=v2.0.0"
}}
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def build_seed(work: Path) -> tuple[Path, Path]:
    """The seed-shaped sandbox: `backend/` (tags v1.0.0, v2.0.0, main a commit ahead),
    `environments/` (tfops's checkout) and `bare/` (a clone, with the hand-written
    override). Returns (tfops's checkout, the bare checkout)."""
    sandbox = fresh_dir(work / "seed")
    backend = sandbox / "backend"
    module = backend / "infrastructure" / "modules" / "back_end"
    module.mkdir(parents=True)
    git(backend, "init", "-q", "-b", "main")
    for memory, tag in (("128", "v1.0.0"), ("256", "v2.0.0"), ("512", None)):
        (module / "main.tf").write_text(BACK_END.replace("MEMORY", memory))
        git(backend, "add", "-A")
        git(backend, "commit", "-q", "-m", f"memory {memory}")
        if tag:
            git(backend, "tag", "-a", tag, "-m", f"Release {tag}")
    environments = sandbox / "environments"
    for name, text in ENVIRONMENT_FILES.items():
        (environments / name).parent.mkdir(parents=True, exist_ok=True)
        (environments / name).write_text(text)
    git(environments, "init", "-q", "-b", "main")
    git(environments, "add", "-A")
    git(environments, "commit", "-q", "-m", "Environments for demo-app")
    bare = sandbox / "bare"
    git(sandbox, "clone", "-q", str(environments), str(bare))
    (bare / "bare_override.tf").write_text(BARE_OVERRIDE.format(url=backend.as_uri()))
    return environments, bare


def build_demo(work: Path) -> Path:
    """The demo sandbox under `work`; returns the environments repo."""
    sandbox = fresh_dir(work / "demo")
    build_modules(sandbox / "modules")
    build_environments(sandbox / "environments")
    return sandbox / "environments"


def _clear(*paths: Path) -> Callable[[], None]:
    def clear() -> None:
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    return clear


def _runner(
    argv: list[str], cwd: Path, env: dict[str, str], before: Callable[[], None] | None = None
) -> Callable[[], Usage]:
    def one() -> Usage:
        if before is not None:
            before()
        return measured_run(argv, cwd=cwd, env=env)

    return one


def measure_seed(work: Path, pairs: int) -> dict[str, dict[str, Any]]:
    environments, bare = build_seed(work)
    env = bench_env(work)
    env["TF_PLUGIN_CACHE_DIR"] = str(work / "cache" / "tfops" / "plugin-cache")
    Path(env["TF_PLUGIN_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
    tfops = [*tfops_argv(), "plan", str(environments)]
    bare_argv = ["sh", "-ec", SEED_BARE]
    # warm-up: .terraform on both sides, tfops's caches and bytecode, the OS page cache
    for _ in range(2):
        timed_run(tfops, cwd=environments, env=env)
        timed_run(bare_argv, cwd=bare, env=env)
    figures = {
        "warm": paired(_runner(tfops, environments, env), _runner(bare_argv, bare, env), pairs)
    }

    new_checkout = _clear(
        environments / ".terraform", environments / ".tfops", environments / "tfops_override.tf"
    )
    bare_checkout = _clear(bare / ".terraform", bare / "x")
    figures["fresh"] = paired(
        _runner(tfops, environments, env, new_checkout),
        _runner(bare_argv, bare, env, bare_checkout),
        pairs,
    )

    def new_machine() -> None:
        new_checkout()
        tfops_cache = work / "cache" / "tfops"
        _clear(*(p for p in tfops_cache.iterdir() if p.name != "plugin-cache"))()

    figures["fresh_machine"] = paired(
        _runner(tfops, environments, env, new_machine),
        _runner(bare_argv, bare, env, bare_checkout),
        max(2, pairs // 2),
    )
    for name, argv in (("help", [*tfops_argv(), "--help"]), ("envs", [*tfops_argv(), "envs"])):
        timed_run(argv, cwd=environments, env=env)
        runs = [measured_run(argv, cwd=environments, env=env) for _ in range(pairs)]
        figures[name] = {
            "wall_s": median([r.wall for r in runs]),
            "cpu_s": median([r.cpu for r in runs]),
            "runs": len(runs),
        }
    return figures


def measure_demo(work: Path, pairs: int) -> dict[str, Any]:
    from tfops.provider.mirror import install_mirror

    environments = build_demo(work)
    # the example uses the localfile provider (tfops/provider): offline, from a mirror
    env = bench_env(work, cli_config=install_mirror(work / "mirror"))
    env["TF_PLUGIN_CACHE_DIR"] = str(work / "cache" / "tfops" / "plugin-cache")
    script = work / "bare.sh"
    script.write_text(DEMO_BARE)
    planfile = environments / ".tfops" / "bare.tfplan"
    tfops = [*tfops_argv(), "plan", str(environments)]
    bare = ["bash", str(script), str(planfile)]
    # warm-up: .terraform, the override file bare terraform needs, tfops's caches
    timed_run(tfops, cwd=environments, env=env)
    timed_run(bare, cwd=environments, env=env)
    return paired(_runner(tfops, environments, env), _runner(bare, environments, env), pairs)


def python_startup(work: Path, runs: int = 5) -> dict[str, float]:
    """How long the interpreter takes to start, and to import what `tfops plan` needs."""
    env = bench_env(work)
    bare = [timed_run([sys.executable, "-c", "pass"], cwd=work, env=env)[0] for _ in range(runs)]
    imports = [
        timed_run(
            [sys.executable, "-c", "import tfops.cli, tfops.commands.plan"], cwd=work, env=env
        )[0]
        for _ in range(runs)
    ]
    return {"python_ms": median(bare) * 1000, "python_and_imports_ms": median(imports) * 1000}


def run(quick: bool = False, work: Path | None = None) -> list[Figure]:
    work = work or WORK / NAME
    fresh_dir(work)
    pairs = 2 if quick else 9
    seed = measure_seed(work, pairs)
    startup = python_startup(work, 2 if quick else 5)
    warm, fresh, machine = seed["warm"], seed["fresh"], seed["fresh_machine"]
    figures = [
        Figure(
            NAME,
            "seed repo, warm: tfops plan / bare, wall",
            warm["wall_ratio"],
            "×",
            TARGET_WALL,
            details={**warm, **startup},
        ),
        Figure(
            NAME,
            "seed repo, warm: tfops plan / bare, CPU",
            warm["cpu_ratio"],
            "×",
            TARGET_CPU,
            details=warm,
        ),
        Figure(
            NAME,
            "seed repo, fresh checkout: tfops plan / bare, wall",
            fresh["wall_ratio"],
            "×",
            TARGET_WALL,
            details=fresh,
        ),
        Figure(
            NAME,
            "seed repo, fresh checkout: tfops plan / bare, CPU",
            fresh["cpu_ratio"],
            "×",
            TARGET_CPU,
            details=fresh,
        ),
        Figure(
            NAME,
            "seed repo, fresh machine (tfops's caches empty too), wall",
            machine["wall_ratio"],
            "×",
            details=machine,
        ),
        Figure(NAME, "seed repo, fresh machine, CPU", machine["cpu_ratio"], "×", details=machine),
        Figure(
            NAME,
            "tfops --help",
            seed["help"]["wall_s"],
            " s",
            TARGET_STARTUP_S,
            details=seed["help"],
        ),
        Figure(
            NAME,
            "tfops envs (seed repo)",
            seed["envs"]["wall_s"],
            " s",
            TARGET_STARTUP_S,
            details=seed["envs"],
        ),
    ]
    if not quick:
        demo = measure_demo(work, 5)
        figures += [
            Figure(
                NAME,
                "bundled example (localfile provider): tfops plan / bare, wall",
                demo["wall_ratio"],
                "×",
                details=demo,
            ),
            Figure(
                NAME,
                "bundled example: tfops plan / bare, CPU",
                demo["cpu_ratio"],
                "×",
                details=demo,
            ),
        ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for figure in run(args.quick):
        print(json.dumps(figure.to_dict()))


if __name__ == "__main__":
    main()
