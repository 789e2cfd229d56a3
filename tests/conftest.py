from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.helpers import build_sandbox
from tfops.cli import cli
from tfops.provider.mirror import install_mirror

pytest_plugins = ["tests.actions"]  # the `api` and `actions` fixtures: GitHub Actions runs


@pytest.fixture(scope="session")
def provider_cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A terraform CLI config that installs the localfile provider from an offline mirror."""
    return install_mirror(tmp_path_factory.getbasetemp() / "provider-mirror")


@pytest.fixture(autouse=True)
def _isolated_terraform(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    provider_cli_config: Path,
) -> None:
    """A CLI config of our own (the machine's points at a missing file) with the localfile
    provider's mirror, so the example's `localfile_file` inits offline; a shared cache."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(provider_cli_config))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """The bundled example as in `make demo`: returns the environments repo path."""
    return build_sandbox(tmp_path / "demo")


class Tfops:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(
            cli, ["--color", "never", *args], input=input, catch_exceptions=False
        )

    def json(self, *args: str) -> dict:  # type: ignore[type-arg]
        result = self(*args, "--format", "json")
        assert result.exit_code in (0, 2), result.output
        return json.loads(result.stdout)


@pytest.fixture
def tfops() -> Iterator[Tfops]:
    yield Tfops()
