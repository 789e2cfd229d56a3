"""Overhead: `tfops plan` on the bundled example vs the same terraform commands run bare.

The sandbox is `make demo`'s (scripts/demo.py): a modules repo with release tags and the
environments repo, where prod pins `?ref=v1.1.0`. Both sides do the same work with the same
flags in the same directory: init, fmt -check, validate, plan -out, show -json. tfops runs
with its default gates. Both share a warm `.terraform` directory, plugin cache and CLI
config (with the localfile provider's offline mirror, which the example may use). A first
`tfops plan` warms them and writes the override file bare terraform needs to plan prod's
pinned modules. Runs alternate bare/tfops; the figure is the median of the per-pair ratios.

The informational "fresh checkout" figure deletes `.terraform` before every run of both
sides, as a CI job on a fresh checkout does: init then clones the modules.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from bench.common import (
    WORK,
    Figure,
    bench_env,
    fresh_dir,
    median,
    tfops_argv,
    timed_run,
)
from scripts.demo import build_environments, build_modules

NAME = "overhead"
TARGET_RATIO = 1.10

BARE_SCRIPT = """\
set -u
terraform init -input=false -no-color || exit 1
terraform fmt -check -diff -list=true -no-color || exit 1
terraform validate -json -no-color || exit 1
terraform plan -input=false -no-color -detailed-exitcode -lock-timeout=60s -out="$1"
test $? -ne 1 || exit 1
terraform show -json -no-color "$1" || exit 1
"""


def build(work: Path) -> Path:
    """The demo sandbox under `work`; returns the environments repo."""
    sandbox = fresh_dir(work / "demo")
    build_modules(sandbox / "modules")
    build_environments(sandbox / "environments")
    return sandbox / "environments"


def measure(work: Path, pairs: int, *, fresh_checkout: bool = False) -> dict[str, object]:
    from tfops.provider.mirror import install_mirror

    environments = work / "demo" / "environments"
    # the example may use the localfile provider (tfops/provider): offline, from a mirror
    env = bench_env(work, cli_config=install_mirror(work / "mirror"))
    env["TF_PLUGIN_CACHE_DIR"] = str(work / "cache" / "tfops" / "plugin-cache")
    script = work / "bare.sh"
    script.write_text(BARE_SCRIPT)
    planfile = environments / ".tfops" / "bare.tfplan"
    tfops = [*tfops_argv(), "plan", str(environments)]
    bare = ["bash", str(script), str(planfile)]

    # warm-up: .terraform, the override file, tfops's HCL cache, the OS page cache
    timed_run(tfops, cwd=environments, env=env)
    timed_run(bare, cwd=environments, env=env)

    def one(argv: list[str]) -> float:
        if fresh_checkout:
            shutil.rmtree(environments / ".terraform", ignore_errors=True)
        return timed_run(argv, cwd=environments, env=env)[0]

    bare_times, tfops_times, ratios = [], [], []
    for index in range(pairs):
        # alternate which side goes first, so neither always runs on a warmer machine
        if index % 2:
            t, b = one(tfops), one(bare)
        else:
            b, t = one(bare), one(tfops)
        bare_times.append(b)
        tfops_times.append(t)
        ratios.append(t / b)
    return {
        "pairs": pairs,
        "ratio": median(ratios),
        "bare_s": median(bare_times),
        "tfops_s": median(tfops_times),
        "overhead_ms": (median(tfops_times) - median(bare_times)) * 1000,
        "ratios": [round(r, 3) for r in ratios],
    }


def python_startup(work: Path, runs: int = 5) -> dict[str, float]:
    """How much of the overhead is the interpreter starting and importing tfops."""
    env = bench_env(work)
    bare = [timed_run([sys.executable, "-c", "pass"], cwd=work, env=env)[0] for _ in range(runs)]
    imports = [
        timed_run([sys.executable, "-c", "import tfops.commands.plan"], cwd=work, env=env)[0]
        for _ in range(runs)
    ]
    return {"python_ms": median(bare) * 1000, "python_and_imports_ms": median(imports) * 1000}


def run(quick: bool = False, work: Path | None = None) -> list[Figure]:
    work = work or WORK / NAME
    fresh_dir(work)
    build(work)
    warm = measure(work, 2 if quick else 9)
    startup = python_startup(work, 2 if quick else 5)
    figures = [
        Figure(
            NAME,
            "tfops plan / bare terraform (warm .terraform), median ratio",
            float(warm["ratio"]),  # type: ignore[arg-type]
            "×",
            TARGET_RATIO,
            details={**warm, **startup},
        ),
        Figure(
            NAME,
            "tfops's own time per run (median tfops − median bare)",
            float(warm["overhead_ms"]),  # type: ignore[arg-type]
            " ms",
            details={"of which Python start + imports (ms)": startup["python_and_imports_ms"]},
        ),
    ]
    if not quick:
        cold = measure(work, 5, fresh_checkout=True)
        figures.append(
            Figure(
                NAME,
                "same, fresh checkout (no .terraform: init clones modules)",
                float(cold["ratio"]),  # type: ignore[arg-type]
                "×",
                details=cold,
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
    main()
