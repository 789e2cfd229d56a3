"""terraform outlives a tfops that is killed (issue 13 #2), and its lock says so."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import start_tfops, wait_for, write_files
from tfops.terraform import process

# A replacement whose new resource takes a while to create, printing as it goes (the
# output is what killed terraform with SIGPIPE once tfops was gone).
SLOW_REPLACE = """variable "generation" {
  type = number
}

resource "terraform_data" "app" {
  triggers_replace = var.generation
  provisioner "local-exec" {
    command = var.generation > 1 ? "for i in $(seq 40); do echo tick $i; sleep 0.25; done" : "true"
  }
}
"""


def lock_of(root: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((root / ".tfops" / "locks" / "default.json").read_text())


def terraform_child(root: Path) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = lock_of(root).get("children", [])
        found = [c for c in children if c["command"] in ("terraform", "slow-to-stop")]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"the lock never named terraform: {lock_of(root)}")


def wait_gone(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still runs")


def apply(root: Path) -> subprocess.CompletedProcess[str]:
    argv = ["apply", str(root), "-e", "default", "--auto-approve", "--no-gates"]
    return subprocess.run(
        [sys.executable, "-m", "tfops", "--color", "never", *argv], capture_output=True, text=True
    )


def applied_once(root: Path, config: str = "") -> None:
    files = {"main.tf": SLOW_REPLACE, "terraform.tfvars": "generation = 1\n"}
    if config:
        files["tfops.yaml"] = config
    write_files(root, files)
    first = apply(root)
    assert first.returncode == 0, first.stdout + first.stderr
    write_files(root, {"terraform.tfvars": "generation = 2\n"})


def kill_tfops_mid_apply(root: Path) -> tuple[subprocess.Popen[str], list[str]]:
    child = start_tfops("apply", str(root), "-e", "default", "--auto-approve", "--no-gates")
    seen: list[str] = []
    wait_for(child, "tick 3", seen)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    return child, seen


def test_terraform_survives_kill_9_of_tfops_and_leaves_its_state_whole(tmp_path: Path) -> None:
    root = tmp_path / "root"
    applied_once(root)
    _, seen = kill_tfops_mid_apply(root)
    terraform = terraform_child(root)
    wait_gone(terraform["pid"])
    state = json.loads((root / "terraform.tfstate").read_text())
    resources = {r["name"]: r for r in state["resources"]}
    # The old resource was destroyed and the new one is in state: told to stop as by
    # Ctrl-C, terraform cancelled the provisioner, kept the resource (tainted, to be
    # replaced by the next apply) and released its state lock.
    assert "app" in resources, "".join(seen)
    assert resources["app"]["instances"][0].get("status") == "tainted"
    assert not (root / ".terraform.tfstate.lock.info").exists()


# A terraform that takes a few seconds to stop after an interrupt, as one waiting for a
# cloud API to finish an operation does.
SLOW_TO_STOP = """#!/bin/sh
"{terraform}" "$@" &
pid=$!
trap 'touch "{marker}"; sleep 4; kill -INT $pid' INT
wait $pid
status=$?
while kill -0 $pid 2>/dev/null; do wait $pid; status=$?; done
exit $status
"""


def test_the_lock_of_a_killed_tfops_is_kept_while_its_terraform_runs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    wrapper = tmp_path / "bin" / "slow-to-stop"
    marker = tmp_path / "interrupted"
    real = process._executable("terraform", None)
    write_files(wrapper.parent, {wrapper.name: SLOW_TO_STOP.format(terraform=real, marker=marker)})
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    applied_once(root, f"terraform:\n  binary: {wrapper}\n")
    killed, _ = kill_tfops_mid_apply(root)
    terraform = terraform_child(root)

    second = apply(root)
    assert second.returncode == 1
    assert "took over" not in second.stderr
    assert f"pid {killed.pid}" in second.stderr
    assert f"slow-to-stop (pid {terraform['pid']}), which it started, is still running" in (
        " ".join(second.stderr.split())
    )
    assert marker.exists()  # tfops's death was passed on as an interrupt

    wait_gone(terraform["pid"])
    third = apply(root)
    assert third.returncode == 0, third.stderr
    assert f"took over the lock of default from {lock_of_holder(second.stderr)}" in third.stderr


def lock_of_holder(message: str) -> str:
    return message.split("'s run ", 1)[1].split(" ", 1)[0]


def test_output_is_streamed_and_kept_without_a_pipe(tmp_path: Path) -> None:
    script = (
        "import sys; print('out'); print('err', file=sys.stderr); sys.stdout.write('no newline')"
    )
    lines: list[tuple[str, bool]] = []

    class Sink(process.NullSink):
        def line(self, text: str, *, stderr: bool = False) -> None:
            lines.append((text, stderr))

    result = process.run([sys.executable, "-c", script], cwd=tmp_path, sink=Sink())
    assert result.stdout == "out\nno newline" and result.stderr == "err\n"
    assert sorted(lines) == [("err\n", True), ("no newline", False), ("out\n", False)]
    assert os.listdir(tmp_path) == []


PDEATHSIG_OF_SELF = (
    "import ctypes; s = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(s), 0, 0, 0); "
    "print(s.value)"
)


@pytest.mark.parametrize("how", ["setpriv", "prctl between fork and exec"])
def test_terraform_is_set_to_get_sigint_when_tfops_dies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signals are Linux's")
    process._parent_death_signal.cache_clear()
    if how != "setpriv":
        real_which = process.shutil.which
        monkeypatch.setattr(
            process.shutil, "which", lambda n, **k: None if n == "setpriv" else real_which(n, **k)
        )
    try:
        argv = [sys.executable, "-c", PDEATHSIG_OF_SELF]
        told = process.run(argv, cwd=tmp_path, stop_with_tfops=True)
        quick = process.run(argv, cwd=tmp_path)
    finally:
        process._parent_death_signal.cache_clear()
    assert told.stdout.strip() == str(int(signal.SIGINT))
    assert quick.stdout.strip() == "0"  # a quick tool (git) is spared the setpriv exec
