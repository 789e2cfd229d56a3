"""The benchmarks' small variants, so `make bench` keeps working; and the behaviour of the
performance changes they drove (the `types=` parse filter, the shared parse pool, the
remembered terraform version).

These assert that each benchmark produces its figures and that what it measured is the
real thing (right environments, no secret in the comment, grouped output) — not that the
targets are met: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import big_plan, big_repo, fmt_roots, overhead, parallel
from bench import run as bench_run
from bench.common import PROJECT, Figure
from tfops.config import TerraformConfig
from tfops.errors import HclSyntaxError
from tfops.repo.environments import EnvironmentsRepo
from tfops.repo.hcl import HclCache
from tfops.terraform.runner import find_terraform


def _measured(figures: list[Figure], count: int) -> None:
    assert len(figures) == count
    for figure in figures:
        assert math.isfinite(figure.value) and figure.value > 0, figure
        assert figure.passed in (True, False)  # every figure here has a target


def test_overhead_compares_tfops_with_the_bare_sequence_on_the_seed_repo(tmp_path: Path) -> None:
    figures = overhead.run(quick=True, work=tmp_path)
    by_name = {f.name: f for f in figures}
    targeted = [f for f in figures if f.target is not None]
    _measured(targeted, 6)  # warm and fresh checkout (wall, CPU), --help, envs
    for figure in figures:
        assert math.isfinite(figure.value) and figure.value > 0, figure
    warm = by_name["seed repo, warm: tfops plan / bare, wall"].details
    assert warm["pairs"] == 2 and len(warm["wall_ratios"]) == 2 == len(warm["cpu_ratios"])
    assert warm["a_cpu_s"] > 0 and warm["b_cpu_s"] > 0
    assert warm["python_and_imports_ms"] > warm["python_ms"] > 0
    seed = tmp_path / "seed"
    # both sides planned the seed repo: tfops wrote the override the bare side wrote by hand
    override = (seed / "environments" / "tfops_override.tf").read_text()
    assert "backend//infrastructure/modules/back_end?ref=v2.0.0" in override
    assert "?ref=v2.0.0" in (seed / "bare" / "bare_override.tf").read_text()
    assert (seed / "bare" / "x").exists()
    # the sibling repo has the release the pin names, and main moved on from it
    tags = subprocess.run(
        ["git", "tag"], cwd=seed / "backend", capture_output=True, text=True, check=True
    )
    assert tags.stdout.split() == ["v1.0.0", "v2.0.0"]


def test_big_repo_resolves_every_module_and_finds_the_affected_environments(
    tmp_path: Path,
) -> None:
    cold, warm = big_repo.run(quick=True, work=tmp_path)
    _measured([cold, warm], 2)
    shape = big_repo.Shape.quick()
    for figure in (cold, warm):
        details = figure.details
        assert details["environments"] == shape.environments
        assert details["kinds"] == {"tag": shape.module_blocks, "local": shape.environments}
        # env001's file, env002's new file, and every env calling local module 00
        assert details["affected"] == ["env000", "env001", "env002", "env004", "env006"]
    assert cold.details["hcl_misses"] > 0
    assert warm.details["hcl_misses"] == 0  # the fresh process answered from the disk cache
    tags = big_repo.tag_names(shape.tags_per_repo)
    listed = subprocess.run(
        ["git", "tag"], cwd=tmp_path / "mod00", capture_output=True, text=True, check=True
    )
    assert sorted(listed.stdout.split()) == sorted(tags)


def test_big_plan_summarises_renders_and_masks(tmp_path: Path) -> None:
    elapsed, memory, comment = big_plan.run(quick=True, work=tmp_path)
    _measured([elapsed, memory, comment], 3)
    details = elapsed.details
    assert set(details["environments"]) == {"dev", "stage", "prod"}
    counted = sum(
        n for env in details["environments"].values() for k, n in env.items() if k != "read"
    )
    assert counted > 0 and details["changes_shown"] <= 500
    assert details["secrets"] > 0 and details["secrets_leaked"] == 0
    assert comment.value <= big_plan.COMMENT_LIMIT


def test_big_plan_time_includes_the_json_parse(tmp_path: Path) -> None:
    elapsed, *_ = big_plan.run(quick=True, work=tmp_path)
    details = elapsed.details
    assert elapsed.value == details["total_s"] >= details["json_s"] + details["summary_s"] > 0
    assert math.isclose(details["total_s"], details["json_s"] + details["processing_s"])


def test_fmt_roots_times_the_gate_against_one_recursive_fmt(tmp_path: Path) -> None:
    ratio, cached = fmt_roots.run(quick=True, work=tmp_path)
    _measured([ratio], 1)
    details = ratio.details
    assert details["roots"] == fmt_roots.ROOTS and details["gate_s"] > 0
    assert ratio.value == details["gate_s"] / details["terraform_s"]
    # the gate found exactly the files terraform lists: two roots' and a module's (once per
    # root that loads it)
    assert details["files_found"] == details["files_terraform_lists"]
    assert details["files_found"] == ["envs/017/main.tf", "envs/123/main.tf", "modules/m03/main.tf"]
    assert details["findings"] == 2 + fmt_roots.ROOTS // fmt_roots.MODULES
    assert cached.target is None and cached.value < details["gate_s"]


def test_big_plan_generator_is_shaped_like_terraform_show_json() -> None:
    plan = big_plan.generate_plan(300)
    changes = plan["resource_changes"]
    assert len(changes) == 300
    actions = {tuple(c["change"]["actions"]) for c in changes}
    assert {("create",), ("update",), ("delete",), ("delete", "create"), ("no-op",)} <= actions
    assert any('["' in c["address"] and "." in c["address"].split('["')[1] for c in changes)
    assert any(c["change"]["after_sensitive"] not in (False, {}) for c in changes)
    assert plan["planned_values"]["root_module"]["child_modules"]


def test_parallel_plans_are_measured_and_stay_grouped(tmp_path: Path) -> None:
    cpu, busy, io = parallel.run(quick=True, work=tmp_path)
    _measured([io], 1)
    assert cpu.target is None and math.isfinite(cpu.value) and cpu.value > 0  # information
    assert 0 < busy.value <= 2.5 and busy.details["ceiling"] > 0
    for figure in (cpu, io):
        assert figure.details["output_grouped"] is True
        assert figure.details["sequential_s"] > 0 and figure.details["parallel_s"] > 0


def test_grouping_check_notices_interleaved_output() -> None:
    assert parallel.grouped("  env0 | a\n  env0 | b\n  env1 | c\n")
    assert not parallel.grouped("  env0 | a\n  env1 | b\n  env0 | c\n")
    assert not parallel.grouped("no environment output at all\n")


def test_run_prints_one_table() -> None:
    figures = [
        Figure("a", "fast", 0.5, " s", 1.0),
        Figure("a", "slow", 2.0, " s", 1.0),
        Figure("b", "speedup", 1.7, "×", 1.6, higher_is_better=True),
        Figure("b", "info", 3.0, "×"),
    ]
    lines = bench_run.table(figures).splitlines()
    assert [cell.strip() for cell in lines[0].split("|")] == [
        "benchmark",
        "figure",
        "measured",
        "target",
        "result",
    ]
    assert lines[2].endswith("pass") and "≤ 1 s" in lines[2]
    assert lines[3].endswith("FAIL")
    assert lines[4].endswith("pass") and "≥ 1.6×" in lines[4]
    assert lines[5].endswith("info")


def test_run_cli_quick_json(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "bench/run.py", "--quick", "--only", "big_plan", "--json"),
            *("--work", str(tmp_path)),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "cores" in data["machine"]
    assert [f["benchmark"] for f in data["figures"]] == ["big plan"] * 3
    assert (tmp_path / "big_plan" / "plan.json").exists()  # nothing written to build/bench


# ---- the performance changes keep behaviour ------------------------------------------
MIXED = """\
locals {
  a = module.net.id # a reference, not a block
}

resource "terraform_data" "x" {
  input = local.a
}
"""
MODULE = 'module "net" {\n  source = "./modules/net"\n}\n'


def test_types_filter_parses_only_files_that_can_declare_those_blocks(tmp_path: Path) -> None:
    (tmp_path / "mixed.tf").write_text(MIXED)
    (tmp_path / "module.tf").write_text(MODULE)
    (tmp_path / "both.tf").write_text(MIXED + MODULE)
    files = sorted(tmp_path.glob("*.tf"))
    cache = HclCache(tmp_path / "cache")
    only = cache.parse_files(files, types=("module",))
    assert cache.misses == 2  # mixed.tf was never parsed
    assert {p.name: [b.type for b in f.blocks] for p, f in only.items()} == {
        "both.tf": ["module"],
        "mixed.tf": [],
        "module.tf": ["module"],
    }
    full = cache.parse_files(files)
    assert [b.type for b in full[tmp_path / "both.tf"].blocks] == ["locals", "resource", "module"]
    assert [b.type for b in full[tmp_path / "mixed.tf"].blocks] == ["locals", "resource"]


def test_repo_blocks_and_local_module_dirs_with_the_filter(tmp_path: Path) -> None:
    (tmp_path / "modules" / "net").mkdir(parents=True)
    (tmp_path / "dev_main.tf").write_text(MIXED + MODULE)
    (tmp_path / "dev_other.tf").write_text(MIXED.replace('"x"', '"y"'))
    repo = EnvironmentsRepo(tmp_path, hcl=HclCache(tmp_path / ".cache"))
    dev = repo.environments["dev"]
    assert repo.local_module_dirs(dev) == [(tmp_path / "modules" / "net").resolve()]
    assert repo.affected_environments(["modules/net/main.tf"]) == ["dev"]
    assert [b.address for _, b in repo.blocks(dev)] == [
        None,
        "terraform_data.x",
        "module.net",
        None,
        "terraform_data.y",
    ]
    assert repo.target_addresses(dev) == ["terraform_data.x", "module.net", "terraform_data.y"]


def test_relative_resolves_symlinked_files_like_before(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "shared.tf").write_text(MIXED)
    (tmp_path / "dev_main.tf").write_text(MODULE)
    (tmp_path / "dev_link.tf").symlink_to(tmp_path / "common" / "shared.tf")
    repo = EnvironmentsRepo(tmp_path, hcl=HclCache(tmp_path / ".cache"))
    assert repo.relative(tmp_path / "dev_link.tf") == "common/shared.tf"
    assert repo.relative(tmp_path / "dev_main.tf") == "dev_main.tf"
    assert repo.relative(tmp_path / "sub" / ".." / "dev_main.tf") == "dev_main.tf"
    assert repo.relative(Path("/elsewhere/x.tf")) == "/elsewhere/x.tf"


def test_syntax_error_from_the_parse_pool_names_the_file(tmp_path: Path) -> None:
    files = []
    for index in range(40):  # above the pool threshold
        path = tmp_path / f"f{index}.tf"
        path.write_text(MIXED.replace('"x"', f'"x{index}"'))
        files.append(path)
    files[17].write_text('locals {\n  a = "x\n}\n')
    cache = HclCache(tmp_path / "cache", base=tmp_path)
    with pytest.raises(HclSyntaxError, match=r"^f17\.tf:2"):
        cache.parse_files(files)


def test_parse_pool_is_used_for_later_small_batches(tmp_path: Path) -> None:
    cache = HclCache(tmp_path / "cache")
    for batch in range(4):  # 4 × 10 files: like a repo parsed one environment at a time
        paths = []
        for index in range(10):
            path = tmp_path / f"b{batch}_{index}.tf"
            path.write_text(MIXED.replace('"x"', f'"x{batch}_{index}"'))
            paths.append(path)
        parsed = cache.parse_files(paths)
        assert parsed[paths[3]].blocks[1].labels == ("terraform_data", f"x{batch}_3")
    assert cache.misses == 40


def test_terraform_version_is_remembered_per_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = find_terraform(TerraformConfig())
    store = tmp_path / "cache" / "tfops" / "terraform-versions.json"
    [(key, version)] = json.loads(store.read_text()).items()
    assert version == first.version and key.split(":")[0] == os.path.realpath(first.path)
    store.write_text(json.dumps({key: "9.9.9"}))  # proves the second lookup runs nothing
    assert find_terraform(TerraformConfig()).version == "9.9.9"


def test_a_wrapper_script_is_asked_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    script = tmp_path / "bin" / "terraform"
    script.parent.mkdir()
    script.write_text('#!/bin/sh\necho \'{"terraform_version": "1.7.0"}\'\n')
    script.chmod(0o755)
    config = TerraformConfig(binary=str(script))
    assert find_terraform(config).version == "1.7.0"
    script.write_text('#!/bin/sh\necho \'{"terraform_version": "1.8.0"}\'\n')
    assert find_terraform(config).version == "1.8.0"
    assert not (tmp_path / "cache" / "tfops" / "terraform-versions.json").exists()
