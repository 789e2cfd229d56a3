"""tfops.yaml is validated (PyYAML, pydantic) once per content; later runs read what it
validated to (issue 14). The settings are the same either way, and a bad file is always
reported as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfops.config import TfopsConfig, load_config, parse_config
from tfops.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = """\
environments:
  prod:
    apply: manual
    var_files: [prod.tfvars]
  dev:
    pinned: false
gates:
  tflint:
    required: true
    ignore: [terraform_unused_declarations]
mask: ["acct-[0-9]+"]
slack:
  appliers:
    prod: [U0ALICE]
"""
PROBE = """\
import json, sys
from pathlib import Path
from tfops.config import load_config
config, _ = load_config(Path(sys.argv[1]))
print(json.dumps({"imported": [m for m in ("pydantic", "yaml") if m in sys.modules],
                  "settings": config.to_dict()}))
"""


def in_a_fresh_process(repo: Path, cache: Path) -> dict:  # type: ignore[type-arg]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo)],
        env={**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return found


def test_a_tfops_yaml_seen_before_is_read_without_pydantic(tmp_path: Path) -> None:
    (tmp_path / "tfops.yaml").write_text(CONFIG)
    first = in_a_fresh_process(tmp_path, tmp_path / "cache")
    assert first["imported"] == ["pydantic", "yaml"]
    second = in_a_fresh_process(tmp_path, tmp_path / "cache")
    assert second["imported"] == []
    assert second["settings"] == first["settings"]
    assert second["settings"]["environments"]["prod"]["apply"] == "manual"
    assert second["settings"]["gates"]["tflint"]["ignore"] == ["terraform_unused_declarations"]

    (tmp_path / "tfops.yaml").write_text(CONFIG.replace("manual", "auto"))
    third = in_a_fresh_process(tmp_path, tmp_path / "cache")
    assert third["imported"] == ["pydantic", "yaml"]  # a new content is validated
    assert third["settings"]["environments"]["prod"]["apply"] == "auto"


def test_no_tfops_yaml_needs_neither(tmp_path: Path) -> None:
    assert in_a_fresh_process(tmp_path, tmp_path / "cache")["imported"] == []


def test_cached_settings_are_the_validated_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    validated = parse_config(CONFIG, Path("tfops.yaml"))
    cached = parse_config(CONFIG, Path("tfops.yaml"))
    assert cached == validated and isinstance(cached, TfopsConfig)
    assert cached.env("prod").var_files == ["prod.tfvars"]
    assert cached.is_pinned("prod") and not cached.is_pinned("dev")
    assert cached.slack.may_apply("U0ALICE", "prod")


def test_a_bad_file_is_reported_every_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "tfops.yaml").write_text("environments:\n  prod:\n    pined: true\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"^tfops.yaml:3: environments.prod.pined"):
            load_config(tmp_path)


def test_a_damaged_cache_entry_is_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "tfops.yaml").write_text(CONFIG)
    expected, _ = load_config(tmp_path)
    [entry] = (tmp_path / "cache" / "tfops" / "config").iterdir()
    for damage in ("{not json", json.dumps({"settings": {"gates": {"fmt": 5}}}), "[]"):
        entry.write_text(damage)
        assert load_config(tmp_path)[0] == expected
