"""The terraform runner: binary and version checks, live output, timeouts, signals."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import start_tfops, wait_for, write_files
from tfops.config import TerraformConfig
from tfops.errors import TfopsError
from tfops.repo.hcl import HclCache
from tfops.terraform import process
from tfops.terraform.runner import check_required_version, find_terraform

SLOW_APPLY = """resource "terraform_data" "slow" {
  input = "x"
  provisioner "local-exec" {
    command = "sleep 60"
  }
}
"""


def test_missing_configured_binary_names_the_setting() -> None:
    with pytest.raises(TfopsError) as info:
        find_terraform(TerraformConfig(binary="/nonexistent/terraform"))
    assert "tfops.yaml: terraform.binary" in str(info.value)


def test_required_version_is_checked_with_file_and_line(tmp_path: Path) -> None:
    write_files(tmp_path, {"main.tf": 'terraform {\n  required_version = ">= 99.0"\n}\n'})
    binary = find_terraform(TerraformConfig())
    with pytest.raises(TfopsError) as info:
        check_required_version(binary, tmp_path, HclCache(tmp_path / "c"))
    assert str(info.value).startswith(
        "main.tf:2: required_version '>= 99.0' is not satisfied by terraform 1."
    )


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def line(self, text: str, *, stderr: bool = False) -> None:
        self.lines.append((time.monotonic(), text.strip()))

    def heartbeat(self, what: str, elapsed: float) -> None:
        self.lines.append((time.monotonic(), f"heartbeat {what}"))

    def heartbeat_interval(self) -> float:
        return 0.5


def test_output_streams_while_the_command_runs(tmp_path: Path) -> None:
    script = "import time; print('first', flush=True); time.sleep(1.5); print('second', flush=True)"
    sink = Recorder()
    result = process.run([sys.executable, "-c", script], cwd=tmp_path, sink=sink, what="slow step")
    finished = time.monotonic()
    first = next(t for t, text in sink.lines if text == "first")
    assert finished - first > 1.0  # seen live, not after the end
    assert any(text == "heartbeat slow step" for _, text in sink.lines)
    assert result.stdout == "first\nsecond\n"


def test_timeout_interrupts_the_command(tmp_path: Path) -> None:
    with pytest.raises(TfopsError, match="timed out after 1s"):
        process.run([sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path, timeout=1)


def test_terraform_diagnostics_are_shown(tmp_path: Path, tfops: Tfops) -> None:
    write_files(
        tmp_path, {"main.tf": 'resource "terraform_data" "x" {\n  input = tonumber("abc")\n}\n'}
    )
    result = tfops("plan", str(tmp_path), "--no-gates")
    assert result.exit_code == 1
    assert "Invalid function argument" in result.stdout  # in the report, not just the log
    assert "terraform plan failed" in result.stderr


@pytest.mark.parametrize("how", ["SIGTERM to tfops", "Ctrl-C in the terminal"])
def test_interrupt_reaches_terraform_which_releases_its_lock(tmp_path: Path, how: str) -> None:
    write_files(tmp_path, {"main.tf": SLOW_APPLY})
    child = start_tfops("apply", str(tmp_path), "-e", "default", "--auto-approve", "--no-gates")
    seen: list[str] = []
    wait_for(child, "Executing:", seen)
    assert (tmp_path / ".terraform.tfstate.lock.info").exists()  # terraform holds its state lock
    if how == "SIGTERM to tfops":
        child.send_signal(signal.SIGTERM)
    else:  # a terminal sends SIGINT to the whole foreground process group
        os.killpg(child.pid, signal.SIGINT)
    output, _ = child.communicate(timeout=60)
    output = "".join(seen) + output
    assert child.returncode == 130, output
    assert "Interrupt received" in output and "Gracefully shutting down" in output
    assert "Two interrupts received" not in output  # exactly one SIGINT reached terraform
    assert not (tmp_path / ".terraform.tfstate.lock.info").exists()
    state = json.loads((tmp_path / "terraform.tfstate").read_text())
    assert state["resources"][0]["instances"][0]["status"] == "tainted"  # state was saved
