"""A run's lock knows the processes it started (issue 13 #2): a lock whose tfops is gone
is not taken over while its terraform still runs — on both backends."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.records.test_locks import Factory, dead_pid
from tfops.children import CHILDREN, Child, start_ticks
from tfops.records.locks import LockBackend, LockHeld, LockHolder, held

pytest_plugins = ["tests.moto_server"]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


def orphaned_lock(locks: LockBackend, child_pid: int) -> LockHolder:
    """A lock as a killed tfops leaves it: its own pid gone, its terraform's recorded."""
    holder = LockHolder("apply-killed", "carol", pid=dead_pid())
    info = replace(
        holder.lock("prod", lease=600),
        children=(Child(child_pid, "terraform", start_ticks(child_pid)),),
    )
    assert locks._create("prod", info)  # type: ignore[attr-defined]
    return holder


def test_a_lock_is_not_taken_over_while_its_terraform_runs(
    backend_factory: Factory,
    sleeper: subprocess.Popen[bytes],
) -> None:
    warnings: list[str] = []
    locks = backend_factory(warn=warnings.append)
    orphaned_lock(locks, sleeper.pid)
    assert locks.get("prod").children[0].pid == sleeper.pid  # type: ignore[union-attr]
    with pytest.raises(LockHeld) as info:
        locks.acquire("prod", LockHolder.for_run(who="dave"))
    assert f"terraform (pid {sleeper.pid}), which it started, is still running" in str(info.value)
    assert warnings == []
    sleeper.kill()
    sleeper.wait()
    assert locks.acquire("prod", LockHolder.for_run(who="dave")).who == "dave"
    assert f"is gone, and so is terraform (pid {sleeper.pid})" in warnings[0]


def test_a_reused_pid_is_not_mistaken_for_the_terraform(
    locks: LockBackend,
    sleeper: subprocess.Popen[bytes],
) -> None:
    holder = LockHolder("apply-killed", "carol", pid=dead_pid())
    ticks = start_ticks(sleeper.pid)
    assert ticks is not None
    other = Child(sleeper.pid, "terraform", ticks - 1)  # same pid, another process
    assert not other.alive() and Child(sleeper.pid, "terraform", ticks).alive()
    info = replace(holder.lock("prod", lease=600), children=(other,))
    assert locks._create("prod", info)  # type: ignore[attr-defined]
    assert locks.acquire("prod", LockHolder.for_run(who="dave")).who == "dave"


def test_the_running_children_reach_the_lock_at_once(locks: LockBackend) -> None:
    run = LockHolder.for_run(who="ci")
    with held(locks, ["prod"], run):
        assert locks.get("prod").children == ()  # type: ignore[union-attr]
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            CHILDREN.add(child.pid, "terraform")
            deadline = time.monotonic() + 5
            while not locks.get("prod").children:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "never recorded"
            recorded = locks.get("prod").children  # type: ignore[union-attr]
            assert [(c.pid, c.command) for c in recorded] == [(child.pid, "terraform")]
        finally:
            CHILDREN.remove(child.pid)
            child.kill()
            child.wait()
