"""Environment locks on both backends: a file lock, and DynamoDB on moto's server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tfops.config import LocksConfig, TfopsConfig
from tfops.errors import ConfigError, TfopsError
from tfops.records.locks import (
    DynamoLocks,
    FileLocks,
    LockBackend,
    LockHeld,
    LockHolder,
    held,
    lock_for_pr,
    open_locks,
    release_pr_locks,
)

if TYPE_CHECKING:
    from tests.moto_server import Aws

pytest_plugins = ["tests.moto_server"]

Factory = Callable[..., LockBackend]


@pytest.fixture(params=["file", "dynamodb"])
def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """Makes backends that share one lock store (as two runs of tfops would)."""
    if request.param == "file":
        directory = tmp_path / "locks"
        return lambda **kw: FileLocks(directory, **kw)
    aws: Aws = request.getfixturevalue("aws")
    table = aws.lock_table()
    return lambda **kw: DynamoLocks(table, **kw)


@pytest.fixture
def locks(backend_factory: Factory) -> LockBackend:
    return backend_factory()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_pr_lock_refuses_another_pr_and_says_by_whom(locks: LockBackend) -> None:
    mine = locks.acquire("prod", LockHolder.for_pr(12, who="alice"))
    assert (mine.holder_id, mine.who, mine.pr, mine.pid) == ("pr-12", "alice", 12, None)
    assert mine.since.endswith("Z")
    with pytest.raises(LockHeld) as info:
        locks.acquire("prod", LockHolder.for_pr(13, who="bob"))
    assert info.value.info.holder_id == "pr-12"
    assert str(info.value).startswith(f"prod is locked by #12 (alice, since {mine.since})")
    assert "tfops unlock -e prod" in str(info.value)
    # other environments are independent
    assert locks.acquire("dev", LockHolder.for_pr(13, who="bob")).holder_id == "pr-13"


def test_the_same_holder_may_take_its_lock_again(locks: LockBackend) -> None:
    holder = LockHolder.for_pr(12, who="alice")
    first = locks.acquire("prod", holder)
    time.sleep(1.1)
    again = locks.acquire("prod", holder)
    assert again.since == first.since  # "since when" is when it was first taken


def test_release_only_by_the_holder_and_break_by_anyone(locks: LockBackend) -> None:
    locks.acquire("prod", LockHolder.for_pr(12, who="alice"))
    locks.release("prod", "pr-13")
    assert locks.get("prod") is not None and locks.get("prod").holder_id == "pr-12"  # type: ignore[union-attr]
    broken = locks.break_lock("prod")
    assert broken is not None and broken.pr == 12
    assert locks.get("prod") is None
    assert locks.break_lock("prod") is None
    locks.acquire("prod", LockHolder.for_pr(13, who="bob"))
    locks.release("prod", "pr-13")
    assert locks.get("prod") is None


def test_all_lists_the_locks(locks: LockBackend) -> None:
    locks.acquire("prod", LockHolder.for_pr(1, who="a"))
    locks.acquire("dev", LockHolder.for_run(who="b"))
    assert [(i.environment, i.who) for i in locks.all()] == [("dev", "b"), ("prod", "a")]


def test_a_run_lock_whose_process_is_gone_is_taken_over(backend_factory: Factory) -> None:
    warnings: list[str] = []
    locks = backend_factory(warn=warnings.append)
    dead = LockHolder("apply-dead", "carol", pid=dead_pid())
    locks.acquire("prod", dead)
    taken = locks.acquire("prod", LockHolder.for_run(who="dave"))
    assert taken.who == "dave"
    assert len(warnings) == 1
    assert "took over the lock of prod from apply-dead (carol" in warnings[0]
    assert "is gone" in warnings[0]


def test_a_live_run_lock_is_not_taken_over(locks: LockBackend) -> None:
    locks.acquire("prod", LockHolder.for_run(who="carol"))  # this process: alive
    with pytest.raises(LockHeld, match="locked by carol's run apply-"):
        locks.acquire("prod", LockHolder.for_run(who="dave"))


def test_a_pr_lock_is_never_stale(locks: LockBackend) -> None:
    pr = LockHolder("pr-5", "erin", pr=5, host="elsewhere")
    locks.acquire("prod", pr)
    assert locks.get("prod").stale_reason() is None  # type: ignore[union-attr]
    with pytest.raises(LockHeld, match="locked by #5"):
        locks.acquire("prod", LockHolder.for_run(who="dave"))


def test_a_run_on_another_host_goes_stale_when_its_lease_expires(
    backend_factory: Factory,
) -> None:
    warnings: list[str] = []
    short = backend_factory(lease_seconds=1, warn=warnings.append)
    short.acquire("prod", LockHolder("apply-remote", "frank", pid=1, host="runner-7"))
    with pytest.raises(LockHeld):
        short.acquire("prod", LockHolder.for_run(who="dave"))
    time.sleep(2.1)
    assert short.acquire("prod", LockHolder.for_run(who="dave")).who == "dave"
    assert "lease expired" in warnings[0]


def test_an_apply_waits_for_the_lock(locks: LockBackend) -> None:
    first = LockHolder.for_run(who="a")
    locks.acquire("prod", first)
    threading.Timer(1.5, lambda: locks.release("prod", first.holder_id)).start()
    started = time.monotonic()
    with pytest.raises(LockHeld):
        locks.acquire("prod", LockHolder.for_run(who="b"), wait_seconds=0.5)
    got = locks.acquire("prod", LockHolder.for_run(who="b"), wait_seconds=10)
    assert got.who == "b"
    assert 1.4 < time.monotonic() - started < 5


def test_the_merge_apply_takes_over_its_own_pr_lock_only(locks: LockBackend) -> None:
    locks.acquire("prod", LockHolder.for_pr(12, who="alice"))
    with pytest.raises(LockHeld):
        locks.acquire("prod", LockHolder.for_run(who="ci", pr=13), take_over={"pr-13"})
    run = LockHolder.for_run(who="ci", pr=12)
    assert locks.acquire("prod", run, take_over={"pr-12"}).holder_id == run.holder_id
    # a second apply of the same merge (a re-run) does not get in
    with pytest.raises(LockHeld):
        locks.acquire("prod", LockHolder.for_run(who="ci", pr=12), take_over={"pr-12"})


def test_held_releases_on_error_and_can_hand_back_to_the_pr(locks: LockBackend) -> None:
    run = LockHolder.for_run(who="ci")
    with pytest.raises(RuntimeError), held(locks, ["prod", "dev"], run):
        assert {i.environment for i in locks.all()} == {"dev", "prod"}
        raise RuntimeError("apply failed")
    assert locks.all() == []

    pr_lock = locks.acquire("prod", LockHolder.for_pr(7, who="alice"))
    with held(locks, ["prod"], LockHolder.for_run(pr=7), take_over={"pr-7"}, hand_back=True):
        assert locks.get("prod").holder_id.startswith("apply-")  # type: ignore[union-attr]
    assert locks.get("prod") == pr_lock
    with held(locks, ["prod"], LockHolder.for_run(pr=7), take_over={"pr-7"}):
        pass
    assert locks.get("prod") is None  # merged: the PR's lock is gone with the apply


def test_held_keeps_renewing_the_lease(backend_factory: Factory) -> None:
    locks = backend_factory(lease_seconds=2)
    run = replace(LockHolder.for_run(who="ci"), host="elsewhere")  # only the lease protects it
    with held(locks, ["prod"], run):
        time.sleep(4.5)
        with pytest.raises(LockHeld):
            locks.acquire("prod", LockHolder.for_run(who="other"))


def test_only_one_of_many_concurrent_holders_wins(backend_factory: Factory) -> None:
    locks = backend_factory()
    winners: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def contend(index: int) -> None:
        barrier.wait()
        try:
            winners.append(locks.acquire("prod", LockHolder.for_pr(index, who=str(index))).who)
        except LockHeld:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(winners) == 1
    assert locks.get("prod").who == winners[0]  # type: ignore[union-attr]


def test_file_locks_exclude_other_processes(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from tfops.records.locks import FileLocks, LockHolder, LockHeld\n"
        "try:\n"
        "    FileLocks(Path(sys.argv[1])).acquire('prod', LockHolder.for_pr(int(sys.argv[2]), "
        "who='p'))\n"
        "    print('won')\n"
        "except LockHeld:\n"
        "    print('lost')\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "locks"), str(i)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    outcomes = sorted(child.communicate(timeout=60)[0].strip() for child in children)
    assert outcomes == ["lost"] * 5 + ["won"]
    lock_file = json.loads((tmp_path / "locks" / "prod.json").read_text())
    assert lock_file["holder_id"].startswith("pr-")


def test_pr_lock_helpers(locks: LockBackend) -> None:
    locks.acquire("prod", LockHolder.for_pr(1, who="a"))
    taken, refused = lock_for_pr(locks, ["dev", "prod", "dev"], 2, who="b")
    assert [i.environment for i in taken] == ["dev"]
    assert [r.info.describe().split(" (")[0] for r in refused] == ["locked by #1"]
    assert lock_for_pr(locks, ["dev"], 2)[0][0].holder_id == "pr-2"  # idempotent
    assert release_pr_locks(locks, 2) == ["dev"]
    assert [i.environment for i in locks.all()] == ["prod"]


def test_open_locks_follows_the_config(tmp_path: Path, aws: Aws) -> None:
    config = TfopsConfig()
    backend = open_locks(config, tmp_path)
    assert isinstance(backend, FileLocks) and backend.directory == tmp_path / ".tfops/locks"
    with pytest.raises(ConfigError, match="no table is named") as info:
        open_locks(TfopsConfig(locks=LocksConfig(backend="dynamodb")), tmp_path)
    assert info.value.where == "tfops.yaml: locks.table"
    missing = open_locks(TfopsConfig(locks=LocksConfig(backend="dynamodb", table="nope")), tmp_path)
    with pytest.raises(TfopsError) as error:
        missing.get("prod")
    assert "lock table 'nope' does not exist" in str(error.value)
    assert "create-table" in str(error.value)


def test_the_lock_records_host_pid_and_run_url(
    locks: LockBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/envs")
    monkeypatch.setenv("GITHUB_RUN_ID", "99")
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    info = locks.acquire("prod", LockHolder.for_run(pr=4))
    assert (info.who, info.pr, info.pid, info.host) == (
        "octocat",
        4,
        os.getpid(),
        socket.gethostname(),
    )
    assert info.run_url == "https://github.com/acme/envs/actions/runs/99"
    assert locks.get("prod") == info
