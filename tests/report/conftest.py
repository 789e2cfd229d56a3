from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.report.demo_state import deployed_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, provider_cli_config: Path) -> Iterator[Path]:
    """The deployed demo with what a hostile author could slip in (see demo_state); built
    once per test module: it runs real applies and a real drift check."""
    base = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TF_CLI_CONFIG_FILE", str(provider_cli_config))
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
        patch.setenv("CHECKPOINT_DISABLE", "1")
        patch.delenv("GITHUB_ACTIONS", raising=False)
        patch.delenv("GITHUB_REPOSITORY", raising=False)
        yield deployed_demo(base, hostile=True)


@pytest.fixture(scope="module")
def page_file(demo: Path) -> Path:
    """The page as the Actions workflow examples make it: `tfops report . --html FILE`."""
    result = subprocess.run(
        [sys.executable, "-m", "tfops", "report", ".", "--html", "tfops-report.html"],
        cwd=demo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Wrote tfops-report.html (3 environment(s), 6 module(s), 2 behind a release)." in (
        result.stderr
    )
    return demo / "tfops-report.html"
