"""The real-scale prefix bench's small variant: it measures what it says, on a repo shaped
like the real one (not held to the targets here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench import prefix_repo
from tests.conftest import Tfops


def test_prefix_repo_measures_envs_matrix_pins_and_the_big_file(
    tmp_path: Path, tfops: Tfops
) -> None:
    figures = prefix_repo.run(quick=True, work=tmp_path)
    assert len(figures) == 9
    assert all(math.isfinite(f.value) and f.value > 0 for f in figures)
    shape = prefix_repo.Shape.quick().as_dict()
    assert figures[0].details["shape"] == shape
    root = tmp_path / "environments"
    assert len(list(root.glob("*.tf"))) == shape["tf_files"]

    data = tfops.json("envs", str(root))
    assert [e["name"] for e in data["environments"]] == ["dev", "global", "prod", "staging"]
    matrix = json.loads(tfops("matrix", str(root), "--files", "prod_c001_main.tf").stdout)
    assert matrix == {"include": [{"environment": "prod", "root": "."}]}
    pins = tfops.json("check", str(root), "--gate", "pins")
    findings = [f for g in pins["gates"] for f in g["findings"]]
    assert {f["rule"] for f in findings} == {"lock-missing"}  # tags/… resolve; not yet locked
    assert {f["environments"][0] for f in findings} == {"prod"}
