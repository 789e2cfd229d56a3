"""`make bench`: run every benchmark and print one table of figures against their targets.

    python bench/run.py                 # the full benchmarks (a few minutes)
    python bench/run.py --quick         # the small variants the test suite runs
    python bench/run.py --only big_plan --json

Timings are wall-clock on this machine: run it on an otherwise idle machine (the load
average is printed with the table). Generated repos, plans and caches go to build/bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import big_plan, big_repo, fmt_roots, overhead, overview, parallel, prefix_repo
from bench.common import WORK, Figure

BENCHMARKS: dict[str, Callable[[bool, Path], list[Figure]]] = {
    "overhead": overhead.run,
    "big_repo": big_repo.run,
    "prefix_repo": prefix_repo.run,
    "fmt_roots": fmt_roots.run,
    "big_plan": big_plan.run,
    "parallel": parallel.run,
    "overview": overview.run,
}


def table(figures: list[Figure]) -> str:
    rows = [("benchmark", "figure", "measured", "target", "result")]
    for f in figures:
        result = {True: "pass", False: "FAIL", None: "info"}[f.passed]
        if "error" in f.details:
            result = "ERROR"
        rows.append((f.benchmark, f.name, f.shown, f.target_shown, result))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def machine() -> str:
    terraform = shutil.which("terraform")
    version = ""
    if terraform:
        out = subprocess.run([terraform, "version", "-json"], capture_output=True, text=True)
        try:
            version = json.loads(out.stdout)["terraform_version"]
        except (ValueError, KeyError):
            version = "?"
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Terraform {version or 'not found'}, load average {os.getloadavg()[0]:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run tfops's benchmarks.")
    parser.add_argument("--quick", action="store_true", help="the small, fast variants")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only these (repeatable)"
    )
    parser.add_argument(
        "--work", type=Path, default=WORK, help=f"where generated files go (default {WORK})"
    )
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    before = machine()
    figures: list[Figure] = []
    failed = False
    for name in names:
        print(f"running {name}{' (quick)' if args.quick else ''} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            figures += BENCHMARKS[name](args.quick, args.work.resolve() / name)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed = True
            figures.append(Figure(name, "did not run", 0.0, "", details={"error": str(exc)}))
        print(f"  {name}: {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"machine": before, "figures": [f.to_dict() for f in figures]}))
    else:
        print(f"\nmachine: {before}; after: load average {os.getloadavg()[0]:.2f}\n")
        print(table(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
