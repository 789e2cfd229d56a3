"""What every benchmark shares: the figure model, timing, and an isolated terraform setup."""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / "build" / "bench"  # generated repos, caches and plans live here


@dataclass
class Figure:
    """One measured figure and the target it is held to (None: informational)."""

    benchmark: str
    name: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def shown(self) -> str:
        return f"{self.value:.2f}{self.unit}" if self.unit != "" else f"{self.value:g}"

    @property
    def target_shown(self) -> str:
        if self.target is None:
            return "—"
        sign = "≥" if self.higher_is_better else "≤"
        return f"{sign} {self.target:g}{self.unit}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed: ...; elapsed()` — seconds since the block started."""
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


def timed_run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    ok_codes: tuple[int, ...] = (0,),
    stdout: int | None = subprocess.DEVNULL,
    stderr: int | None = subprocess.DEVNULL,
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command; return its wall time and result. An unexpected exit code raises."""
    started = time.perf_counter()
    result = subprocess.run(
        list(argv), cwd=cwd, env=dict(env), stdout=stdout, stderr=stderr, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode not in ok_codes:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode} in {cwd}\n"
            f"{(result.stdout or '')[-2000:]}{(result.stderr or '')[-4000:]}"
        )
    return seconds, result


@dataclass(frozen=True)
class Usage:
    """One finished command: wall seconds, and CPU seconds (user + system) of it and of
    every process it waited for (the OS's accounting of reaped children)."""

    wall: float
    cpu: float


def measured_run(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], ok_codes: tuple[int, ...] = (0,)
) -> Usage:
    """Run a command with its output thrown away; its wall and CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, _ = timed_run(argv, cwd=cwd, env=env, ok_codes=ok_codes)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Usage(wall, cpu)


def paired(a: Callable[[], Usage], b: Callable[[], Usage], pairs: int) -> dict[str, Any]:
    """Run `a` and `b` in turn, `pairs` times, alternating which goes first so neither
    always runs on a warmer machine; the medians of each side and of the per-pair ratios
    a/b, wall and CPU."""
    runs: list[tuple[Usage, Usage]] = []
    for index in range(pairs):
        if index % 2:
            x = a()
            y = b()
        else:
            y = b()
            x = a()
        runs.append((x, y))
    wall = [x.wall / y.wall for x, y in runs]
    cpu = [x.cpu / y.cpu for x, y in runs]
    return {
        "pairs": pairs,
        "wall_ratio": median(wall),
        "cpu_ratio": median(cpu),
        "a_wall_s": median([x.wall for x, _ in runs]),
        "b_wall_s": median([y.wall for _, y in runs]),
        "a_cpu_s": median([x.cpu for x, _ in runs]),
        "b_cpu_s": median([y.cpu for _, y in runs]),
        "wall_ratios": [round(r, 3) for r in wall],
        "cpu_ratios": [round(r, 3) for r in cpu],
    }


def tfops_argv() -> list[str]:
    """How a user runs tfops: the console script next to this interpreter, else `-m tfops`."""
    script = Path(sys.executable).parent / "tfops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tfops"]


def bench_env(work: Path, *, cli_config: Path | None = None) -> dict[str, str]:
    """The process environment for terraform and tfops runs, isolated under `work`.

    A CLI config of our own (the machine's TF_CLI_CONFIG_FILE points at a missing file),
    our own XDG cache (tfops's HCL cache and the plugin cache), no checkpoint calls.
    Python may write bytecode (`PYTHONDONTWRITEBYTECODE` is dropped): an installed tfops
    has it, and without it every run would compile tfops's modules again.
    """
    work.mkdir(parents=True, exist_ok=True)
    if cli_config is None:
        cli_config = work / "terraformrc"
        if not cli_config.exists():
            cli_config.write_text("# the benchmark's own terraform CLI config\n")
    leaky = ("TF_CLI_ARGS", "TF_PLUGIN_CACHE", "TF_DATA_DIR", "TF_WORKSPACE", "TF_VAR_", "TF_LOG")
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaky)}
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "XDG_CACHE_HOME": str(work / "cache"),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "NO_COLOR": "1",
            "PYTHONPATH": str(PROJECT),
        }
    )
    env.pop("GITHUB_ACTIONS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def python_json(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """Run `python -m bench.X ...` in a fresh interpreter and read the JSON it prints last."""
    _, result = timed_run(
        [sys.executable, *argv], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data
