"""`tfops unlock` does not break the lock of a run that is still applying (issue 13 #16)."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import Tfops
from tests.helpers import start_tfops, wait_for, write_files
from tests.records.test_locks import dead_pid
from tfops.records.locks import FileLocks, LockHolder

SLOW_APPLY = """resource "terraform_data" "slow" {
  input = "x"
  provisioner "local-exec" {
    command = "for i in $(seq 120); do echo tick $i; sleep 0.25; done"
  }
}
"""


def test_unlock_refuses_a_running_apply_unless_forced(tmp_path: Path, tfops: Tfops) -> None:
    write_files(tmp_path, {"main.tf": SLOW_APPLY})
    child = start_tfops("apply", str(tmp_path), "-e", "default", "--auto-approve", "--no-gates")
    seen: list[str] = []
    try:
        wait_for(child, "tick 2", seen)
        refused = tfops("unlock", str(tmp_path), "-e", "default")
        assert refused.exit_code == 1
        message = " ".join(refused.stderr.split())
        assert "not unlocking default: it is locked by" in message
        assert f"(pid {child.pid} on " in message and "that run is still running" in message
        assert "tfops unlock -e default --force" in message
        assert (tmp_path / ".tfops" / "locks" / "default.json").exists()

        forced = tfops("unlock", str(tmp_path), "-e", "default", "--force")
        assert forced.exit_code == 0
        assert "Released the lock of default, which was locked by" in forced.stdout
        assert not (tmp_path / ".tfops" / "locks" / "default.json").exists()
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)


def test_unlock_breaks_a_dead_runs_lock_and_a_pr_lock(tmp_path: Path, tfops: Tfops) -> None:
    write_files(tmp_path, {"dev_a.tf": "", "prod_a.tf": ""})
    locks = FileLocks(tmp_path / ".tfops" / "locks")
    locks.acquire("dev", LockHolder("apply-dead", "carol", pid=dead_pid()))
    locks.acquire("prod", LockHolder.for_pr(7, who="alice"))
    result = tfops("unlock", str(tmp_path), "-e", "dev", "-e", "prod")
    assert result.exit_code == 0, result.output
    assert "Released the lock of dev, which was locked by carol's run apply-dead" in result.stdout
    assert "Released the lock of prod, which was locked by #7 (alice" in result.stdout
    assert locks.all() == []


def test_a_run_on_another_host_with_a_fresh_lease_needs_force(tmp_path: Path, tfops: Tfops) -> None:
    write_files(tmp_path, {"main.tf": ""})
    locks = FileLocks(tmp_path / ".tfops" / "locks")
    locks.acquire("default", LockHolder("apply-remote", "ci", pid=4242, host="runner-7"))
    refused = tfops("unlock", str(tmp_path), "-e", "default")
    assert refused.exit_code == 1
    assert "its lease is still being renewed (until " in refused.stderr
    assert tfops("unlock", str(tmp_path), "-e", "default", "--force").exit_code == 0
