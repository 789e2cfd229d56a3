"""Prefix repo: a real-scale prefix-layout root, and one 3 MB `.tf` file, as a user runs tfops.

The generated root is shaped like cloudposse's components flattened into one prefix
root: 4 environments (dev, staging, prod, global) × 65 components × 5 files (context,
main, remote-state, variables, outputs) plus 4 shared files — 1,304 `.tf` files, about
110,000 lines. Each component calls the registry's `cloudposse/label/null` (context) and
`cloudposse/stack-config/yaml//modules/remote-state` at exact versions, and one git module
from 10 local repositories with 50 tags each: prod and staging pinned as public repos
write it (`?ref=tags/v1.4.2`), dev on a branch, global floating.

Measured, each in a fresh `tfops` process, *cold* (empty cache directory) then *warm*
(the cache the cold run left; median of 3): `tfops envs`, `tfops matrix --files` (one
changed component file), `tfops check --gate pins`. And one 3 MB file (~175,000 lines of
resources with a module block every 500, as `terraform fmt` writes them) in a prefix
root: `tfops check --gate fmt --gate pins` (most of it is `terraform fmt` itself),
`check --gate pins` alone (what tfops reads), and the tfops process's peak memory
(ru_maxrss; terraform's own processes not included).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.big_repo import build_module_repo, tag_names
from bench.common import WORK, Figure, bench_env, fresh_dir, python_json

NAME = "prefix repo"
ENVIRONMENTS = ("dev", "staging", "prod", "global")
TARGETS = {"envs": 2.0, "matrix": 2.0, "pins": 5.0}  # cold seconds; warm: ≤ 1 s each
BIG_FILE_TARGET_S = 10.0
BIG_FILE_TARGET_MB = 200.0


class Shape:
    def __init__(self, components: int = 65, module_repos: int = 10, tags_per_repo: int = 50):
        self.components = components
        self.module_repos = module_repos
        self.tags_per_repo = tags_per_repo

    @classmethod
    def quick(cls) -> Shape:
        return cls(4, 2, 6)

    def as_dict(self) -> dict[str, int]:
        return {**vars(self), "tf_files": len(ENVIRONMENTS) * self.components * 5 + 4}


# ---- the generated repo ---------------------------------------------------------------
LABEL_VARIABLES = (
    "enabled", "namespace", "tenant", "environment", "stage", "name", "delimiter",
    "attributes", "labels_as_tags", "tags", "additional_tag_map", "label_order",
    "regex_replace_chars", "id_length_limit", "label_key_case", "label_value_case",
    "descriptor_formats",
)  # fmt: skip


def _context(prefix: str) -> str:
    """cloudposse's context.tf: the label module and its ~20 documented variables."""
    inputs = "\n".join(f"  {v:<20} = var.{prefix}_{v}" for v in LABEL_VARIABLES)
    out = [
        f'module "{prefix}_this" {{\n  source  = "cloudposse/label/null"\n  version = "0.25.0"\n\n'
        f"{inputs}\n\n  context = var.{prefix}_context\n}}\n",
        f'variable "{prefix}_context" {{\n  type = any\n  default = {{\n'
        + "".join(f"    {v:<20} = null\n" for v in LABEL_VARIABLES)
        + "  }\n  description = <<-EOT\n    Single object for setting entire context at once.\n"
        "    See description of individual variables for details.\n"
        "    Leave string and numeric variables as `null` to use default value.\n"
        "    Individual variable settings (non-null) override settings in context object,\n"
        "    except for attributes, tags, and additional_tag_map, which are merged.\n  EOT\n\n"
        "  validation {\n"
        f'    condition     = lookup(var.{prefix}_context, "label_key_case", null) == null\n'
        f'    error_message = "Allowed values: `lower`, `title`, `upper`."\n  }}\n}}\n',
    ]
    for v in LABEL_VARIABLES:
        out.append(
            f'variable "{prefix}_{v}" {{\n  type        = any\n  default     = null\n'
            f"  description = <<-EOT\n    The {v.replace('_', ' ')} of this component.\n"
            "    Set it in the stack configuration, or leave it null to inherit it\n"
            "    from the context object (`var.context`), which the label module merges\n"
            "    with the values set here. Lists are concatenated, maps merged, and\n"
            "    strings and numbers replaced by the non-null value set here.\n"
            "    Default value: `null`.\n  EOT\n}\n"
        )
    return "\n".join(out)


def _main(prefix: str, env: str, index: int, shape: Shape, work: Path, releases: list[str]) -> str:
    repo = index % shape.module_repos
    kind = ("network", "compute", "storage")[index % 3]
    url = (work / "mods" / f"mod{repo:02d}").as_uri()
    ref = {
        "prod": f"?ref=tags/{releases[(index * 7) % len(releases)]}",
        "staging": f"?ref=tags/{releases[(index * 3) % len(releases)]}",
        "dev": "?ref=main",
        "global": "",
    }[env]
    locals_block = "\n".join(
        f'    {name} = "{prefix}-{name}-${{module.{prefix}_this.id}}"'
        for name in ("bucket", "queue", "topic", "role", "policy", "alarm", "dashboard")
    )
    resources = "\n".join(
        f'resource "terraform_data" "{prefix}_{name}" {{\n  count = module.{prefix}_this.enabled'
        f" ? 1 : 0\n\n  input = {{\n    name = local.{prefix}_names.{name}\n"
        f"    tags = module.{prefix}_this.tags\n  }}\n}}\n"
        for name in ("bucket", "queue", "topic", "role", "policy", "alarm")
    )
    return (
        f'module "{prefix}" {{\n  source = "git::{url}//modules/{kind}{ref}"\n\n'
        f'  name = "{prefix}"\n  tags = module.{prefix}_this.tags\n}}\n\n'
        f"locals {{\n  {prefix}_names = {{\n{locals_block}\n  }}\n}}\n\n{resources}"
    )


def _remote_state(prefix: str) -> str:
    return (
        f'module "{prefix}_vpc" {{\n'
        '  source  = "cloudposse/stack-config/yaml//modules/remote-state"\n'
        '  version = "1.5.0"\n\n  component = "vpc"\n\n'
        f"  context = module.{prefix}_this.context\n}}\n"
    )


def _variables(prefix: str) -> str:
    names = ("region", "availability_zones", "instance_type", "min_size", "max_size",
             "kms_key_arn", "log_retention_days")  # fmt: skip
    return "\n".join(
        f'variable "{prefix}_{n}" {{\n  description = "The {n.replace("_", " ")}."\n'
        f'  type        = string\n  default     = "{n}"\n}}\n'
        for n in names
    )


def _outputs(prefix: str) -> str:
    return "\n".join(
        f'output "{prefix}_{n}" {{\n  value       = terraform_data.{prefix}_{n}[*].output\n'
        f'  description = "The {n}."\n}}\n'
        for n in ("bucket", "queue", "topic", "role")
    )


SHARED = {
    "main.tf": 'locals {\n  region = "eu-west-1"\n}\n',
    "providers.tf": "# providers are configured per stack\n",
    "variables.tf": 'variable "stage" {\n  type    = string\n  default = "dev"\n}\n',
    "versions.tf": 'terraform {\n  required_version = ">= 1.4.0"\n}\n',
}


def build_repo(work: Path, shape: Shape) -> Path:
    tags = tag_names(shape.tags_per_repo)
    releases = [t for t in tags if "-" not in t]
    for repo in range(shape.module_repos):
        build_module_repo(work / "mods" / f"mod{repo:02d}", tags)
    root = work / "environments"
    root.mkdir(parents=True)
    for name, text in SHARED.items():
        (root / name).write_text(text)
    for env in ENVIRONMENTS:
        for index in range(shape.components):
            prefix = f"{env}_c{index:03d}"
            files = {
                "context": _context(prefix),
                "main": _main(prefix, env, index, shape, work, releases),
                "remote_state": _remote_state(prefix),
                "variables": _variables(prefix),
                "outputs": _outputs(prefix),
            }
            for kind, text in files.items():
                (root / f"{prefix}_{kind}.tf").write_text(text)
    return root


def build_big_file(work: Path, megabytes: float = 3.0, env: dict[str, str] | None = None) -> Path:
    """A prefix root whose prod file is one `megabytes`-MB `.tf` file."""
    root = work / "big_file"
    root.mkdir(parents=True)
    (root / "main.tf").write_text(SHARED["main.tf"])
    parts, size, index = [], 0, 0
    while size < megabytes * 1_000_000:
        if index % 500 == 0:
            text = (
                f'module "prod_label_{index}" {{\n  source  = "cloudposse/label/null"\n'
                f'  version = "0.25.0"\n\n  name = "r{index}"\n}}\n\n'
            )
        else:
            text = (
                f'resource "terraform_data" "prod_r{index}" {{\n  input = {{\n'
                f'    name  = "prod-r{index}"\n    zone  = local.region\n'
                f'    size  = {index % 7}\n    tags  = {{ owner = "team-{index % 9}" }}\n'
                f"  }}\n}}\n\n"
            )
        parts.append(text)
        size += len(text)
        index += 1
    (root / "prod_big.tf").write_text("".join(parts).rstrip("\n") + "\n")
    subprocess.run(["terraform", "fmt", "-list=false"], cwd=root, env=env, check=True)
    return root


# ---- measuring (a fresh interpreter per run) ------------------------------------------
def cli(argv: list[str]) -> dict[str, Any]:
    """Run the tfops CLI in this process; its wall time, exit code and peak memory."""
    import contextlib
    import io

    started = time.perf_counter()
    code: int | str | None = 0
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            from tfops.cli import cli as tfops_cli

            tfops_cli(["--color", "never", *argv], prog_name="tfops")
        except SystemExit as exc:
            code = exc.code
    return {
        "seconds": time.perf_counter() - started,
        "exit_code": code,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _measure(argv: list[str], env: dict[str, str], work: Path, warm_runs: int) -> dict[str, Any]:
    fresh_dir(work / "cache")
    run = ["-m", "bench.prefix_repo", "cli", "--", *argv]
    cold = python_json(run, env=env, cwd=work)
    warm = [python_json(run, env=env, cwd=work) for _ in range(warm_runs)]
    for result in (cold, *warm):
        if result["exit_code"] not in (0, 3, None):  # 3: the gates found something
            raise RuntimeError(f"tfops {' '.join(argv)} exited {result['exit_code']}")
    return {
        "exit_code": cold["exit_code"],
        "cold_s": cold["seconds"],
        "warm_s": statistics.median(r["seconds"] for r in warm),
        "cold_peak_mb": cold["peak_mb"],
        "warm_runs": [r["seconds"] for r in warm],
    }


def run(quick: bool = False, work: Path | None = None) -> list[Figure]:
    work = work or WORK / "prefix_repo"
    shape = Shape.quick() if quick else Shape()
    fresh_dir(work)
    started = time.perf_counter()
    env = bench_env(work)
    root = build_repo(work, shape)
    big = build_big_file(work, 0.05 if quick else 3.1, env)  # formatted, as committed
    build_s = time.perf_counter() - started
    warm_runs = 1 if quick else 3
    lines = sum(p.read_text().count("\n") for p in root.glob("*.tf"))
    common = {"shape": shape.as_dict(), "lines": lines, "build_s": round(build_s, 1)}
    commands = {
        "envs": ["envs", str(root)],
        "matrix": ["matrix", str(root), "--files", "prod_c001_main.tf"],
        "pins": ["check", str(root), "--gate", "pins"],
    }
    figures = []
    for name, argv in commands.items():
        result = _measure(argv, env, work, warm_runs)
        shown = f"`tfops {' '.join(a for a in argv if a != str(root))}`"
        details = {**common, **result}
        figures.append(
            Figure(NAME, f"{shown}, cold", result["cold_s"], " s", TARGETS[name], details=details)
        )
        figures.append(Figure(NAME, f"{shown}, warm", result["warm_s"], " s", 1.0, details=details))
    big_result = _measure(["check", str(big), "--gate", "fmt", "--gate", "pins"], env, work, 1)
    pins_only = _measure(["check", str(big), "--gate", "pins"], env, work, 1)
    size_mb = (big / "prod_big.tf").stat().st_size / 1_000_000
    details = {"file_mb": round(size_mb, 2), **big_result, "pins_only": pins_only}
    figures += [
        Figure(
            NAME,
            f"one {size_mb:.1f} MB .tf file: `check --gate fmt --gate pins`, cold",
            big_result["cold_s"],
            " s",
            BIG_FILE_TARGET_S,
            details=details,
        ),
        Figure(
            NAME,
            "the same file, `check --gate pins` (tfops's own reading, no terraform), cold",
            pins_only["cold_s"],
            " s",
            None,
            details=details,
        ),
        Figure(
            NAME,
            "`check --gate fmt --gate pins` on it: tfops's peak memory",
            big_result["cold_peak_mb"],
            " MB",
            BIG_FILE_TARGET_MB,
            details=details,
        ),
    ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    cli_cmd = sub.add_parser("cli", help="run tfops ARGS in this process, print JSON figures")
    cli_cmd.add_argument("args", nargs=argparse.REMAINDER)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.command == "cli":
        argv = args.args[1:] if args.args[:1] == ["--"] else args.args
        print(json.dumps(cli(argv)))
        return
    for figure in run(args.quick):
        print(json.dumps(figure.to_dict()))


if __name__ == "__main__":
    sys.exit(main())
