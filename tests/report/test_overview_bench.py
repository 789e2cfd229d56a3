"""The overview page benchmark's small variant (bench/overview.py), so `make bench` keeps
working: it serves the deployed demo's page and measures the real thing."""

from __future__ import annotations

import math
from pathlib import Path

from bench import overview


def test_the_page_benchmark_serves_the_demo_page(tmp_path: Path) -> None:
    first, later = overview.run(quick=True, work=tmp_path)
    for figure in (first, later):
        assert math.isfinite(figure.value) and figure.value > 0
        assert figure.details["audit_entries"] == 50 and figure.details["kept_plans"] == 10
        assert figure.details["page_bytes"] > 10_000
    assert first.passed is None and later.passed in (True, False)
    assert (tmp_path / "demo" / "environments" / ".tfops" / "plans" / "audit.jsonl").exists()
