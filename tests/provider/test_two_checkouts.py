"""Two checkouts of tfops on one machine (issue 14): each has its own virtualenv, so the
bundled localfile provider's launcher names a different Python in each. They share the
machine's cache directory, and neither breaks the other's working directories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import build_sandbox
from tfops.provider.mirror import install_mirror


def second_virtualenv(target: Path) -> Path:
    """A virtualenv at another path with the same packages (as a second checkout's
    `make` makes one): its own `bin/python`, the first one's `lib`. Returns its python."""
    first = Path(sys.prefix)
    (target / "bin").mkdir(parents=True)
    shutil.copy(first / "pyvenv.cfg", target / "pyvenv.cfg")
    (target / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    (target / "lib").symlink_to(first / "lib")
    return target / "bin" / "python"


def tfops(
    python: Path, *args: str, cli_config: Path, cache: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "XDG_CACHE_HOME": str(cache)}
    return subprocess.run(
        [str(python), "-m", "tfops", "--color", "never", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_two_checkouts_apply_side_by_side(tmp_path: Path) -> None:
    cache = tmp_path / "home-cache"  # the machine's ~/.cache, shared by both
    checkouts = []
    for name, python in (
        ("a", Path(sys.executable)),
        ("b", second_virtualenv(tmp_path / "b" / ".venv")),
    ):
        sandbox = build_sandbox(tmp_path / name / "demo")
        cli_config = install_mirror(tmp_path / name / "provider-mirror", python=str(python))
        checkouts.append((name, python, sandbox, cli_config))
    launchers = {
        name: next((tmp_path / name / "provider-mirror").rglob("terraform-provider-*")).read_text()
        for name, *_ in checkouts
    }
    assert launchers["a"] != launchers["b"]  # each names its own Python

    for name, python, sandbox, cli_config in checkouts:
        applied = tfops(
            python,
            "apply",
            str(sandbox),
            "-e",
            "dev",
            "--auto-approve",
            cli_config=cli_config,
            cache=cache,
        )
        assert applied.returncode == 0, f"checkout {name}:\n{applied.stdout}{applied.stderr}"
        assert (sandbox.parent / "rendered" / "dev" / "app.env").exists()

    # checkout a's working directory still holds: the provider its .terraform links to is
    # the package its lock file's checksums name (terraform itself checks, no init first)
    _, _, first, cli_config = checkouts[0]
    planned = subprocess.run(
        ["terraform", "plan", "-input=false", "-no-color", "-lock=false"],
        cwd=first,
        env={**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert len(list((cache / "tfops" / "plugin-cache").iterdir())) == 2  # one per virtualenv
