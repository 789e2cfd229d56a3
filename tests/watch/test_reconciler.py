"""`tfops watch`, end to end: the bundled example's two real git repos, real terraform, the
localfile provider for real drift. One pass at a time with --once; the loop itself in a
subprocess, driven through its /status endpoint, for failing commits and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Tfops
from tests.helpers import commit, git, init_repo
from tests.pipeline.test_drift import ORIGINAL
from tests.slack_webhook import Slack, slack_webhook
from tfops.config import load_config
from tfops.console import Console
from tfops.records.audit import open_audit
from tfops.records.locks import LockHolder, open_locks
from tfops.server.health import HealthServer
from tfops.watch import Watcher, WatchOptions, backoff_seconds, exclusive

BAD_DEV_DNS = 'resource "terraform_data" "dev_zone" {\n  input = var.nope\n}\n'


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Slack]:
    with slack_webhook(monkeypatch) as hook:
        yield hook


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "watch-state"


def watch(tfops: Tfops, repo: Path, state_dir: Path, *args: str) -> Result:
    """One pass of the watcher (drift checks off unless asked for)."""
    if "--drift-interval" not in args:
        args = (*args, "--drift-interval", "0")
    return tfops("-q", "watch", str(repo), "--once", "--state-dir", str(state_dir), *args)


def state(state_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state_dir / "state.json").read_text())
    return data


def clone(state_dir: Path) -> Path:
    return state_dir / "checkout" / "environments"


def rendered(state_dir: Path) -> Path:
    """dev's config file as the watcher's own deployment writes it (next to its clones)."""
    return state_dir / "checkout" / "rendered" / "dev" / "app.env"


def audit(state_dir: Path) -> list[Any]:
    return open_audit(load_config(clone(state_dir))[0], clone(state_dir)).entries()


def tf_state(state_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((clone(state_dir) / "terraform.tfstate").read_text())
    return data


# ---- one pass at a time -----------------------------------------------------------------
def test_a_new_commit_is_applied_to_the_environments_it_affects(
    sandbox: Path, tfops: Tfops, state_dir: Path
) -> None:
    first = watch(tfops, sandbox, state_dir)
    assert first.exit_code == 0, first.output
    runs = state(state_dir)["runs"]
    assert (runs["dev"]["result"], runs["dev"]["trigger"]) == ("applied", "initial")
    assert runs["global"]["result"] == "applied"
    assert runs["prod"]["result"] == "planned"  # apply: manual
    assert runs["prod"]["changes"] == "6 to add, 0 to change, 0 to destroy"
    assert "tfops apply -e prod" in runs["prod"]["detail"]
    assert rendered(state_dir).read_text() == ORIGINAL
    assert {e.environment for e in audit(state_dir)} == {"dev", "global"}

    config = sandbox / "dev_config.tf"
    sha = commit(
        sandbox,
        {"dev_config.tf": config.read_text().replace("    API_URL", "    LOG=debug\n    API_URL")},
    )
    second = watch(tfops, sandbox, state_dir)
    assert second.exit_code == 0, second.output
    after = state(state_dir)
    assert after["commit"] == after["seen"] == sha
    dev = after["runs"]["dev"]
    assert (dev["result"], dev["trigger"], dev["commit"]) == ("applied", "commit", sha)
    assert dev["reason"] == f"commit {sha[:12]}"
    assert dev["changes"] == "0 to add, 1 to change, 0 to destroy"
    assert "LOG=debug" in rendered(state_dir).read_text()
    assert after["runs"]["prod"] == runs["prod"] and after["runs"]["global"] == runs["global"]
    last = audit(state_dir)[-1]
    assert (last.environment, last.result, last.trigger, last.commit) == (
        "dev",
        "applied",
        "watch",
        sha,
    )
    assert not (sandbox.parent / "rendered").exists()  # the watcher deploys from its clone

    idle = watch(tfops, sandbox, state_dir)  # a restart: nothing new, nothing done
    assert idle.exit_code == 0, idle.output
    assert "Reconciling" not in idle.stderr
    assert state(state_dir)["runs"] == after["runs"] and state(state_dir)["ticks"] == 3


def test_a_module_commit_reapplies_the_floating_environments_only(
    sandbox: Path, tfops: Tfops, state_dir: Path
) -> None:
    assert watch(tfops, sandbox, state_dir).exit_code == 0
    before = state(state_dir)
    modules = sandbox.parent / "modules"
    back_end = modules / "back_end" / "main.tf"
    text = back_end.read_text()
    locks = open_locks(load_config(clone(state_dir))[0], clone(state_dir))
    locks.acquire("dev", LockHolder.for_pr(9, who="alice"))  # a pull request is on dev
    first = commit(modules, {"back_end/main.tf": text.replace("memory  = 256", "memory  = 384")})

    refused = watch(tfops, sandbox, state_dir)
    assert refused.exit_code == 1  # --once says something failed
    dev = state(state_dir)["runs"]["dev"]
    assert (dev["result"], dev["trigger"]) == ("refused", "module")
    assert dev["detail"].startswith("dev is locked by #9 (alice, since ")
    assert state(state_dir)["modules"] == {"modules": first}

    locks.release("dev", "pr-9")
    sha = commit(modules, {"back_end/main.tf": text.replace("memory  = 256", "memory  = 512")})
    result = watch(tfops, sandbox, state_dir)
    assert result.exit_code == 0, result.output
    after = state(state_dir)
    assert after["modules"] == {"modules": sha}
    assert after["commit"] == before["commit"]  # the environments repo did not move
    dev = after["runs"]["dev"]
    assert (dev["result"], dev["trigger"]) == ("applied", "module")
    assert dev["reason"] == f"module repo modules at {sha[:12]}; its last run did not succeed"
    assert after["runs"]["global"]["result"] == "no-changes"  # floats on monitoring, unchanged
    assert after["runs"]["prod"] == before["runs"]["prod"]  # pinned to v1.1.0: not touched
    functions = {
        r["module"]: r["instances"][0]["attributes"]["input"]["value"]["memory"]
        for r in tf_state(state_dir)["resources"]
        if r["name"] == "function"
    }
    assert functions == {"module.dev_back_end": 512}
    assert "Reconciling dev, global at" in result.stderr


def test_drift_is_found_reported_once_and_healed(
    sandbox: Path, tfops: Tfops, state_dir: Path, slack: Slack
) -> None:
    assert watch(tfops, sandbox, state_dir).exit_code == 0
    rendered(state_dir).write_text("edited by hand\n")

    found = watch(tfops, sandbox, state_dir, "--drift-interval", "0.0001")
    assert found.exit_code == 0, found.output
    assert "dev: drift — 1 resource changed outside Terraform" in found.stderr
    drift = state(state_dir)["drift"]
    assert drift["drifted"] == ["dev", "prod"]  # prod is apply: manual, never applied here
    assert drift["environments"]["dev"]["status"] == "drift"
    assert rendered(state_dir).read_text() == "edited by hand\n"
    assert len(slack.messages) == 1

    again = watch(tfops, sandbox, state_dir, "--drift-interval", "0.0001")
    assert again.exit_code == 0, again.output
    assert len(slack.messages) == 1  # the same drift is not announced every interval

    healed = watch(tfops, sandbox, state_dir, "--drift-interval", "0.0001", "--heal")
    assert healed.exit_code == 0, healed.output
    assert rendered(state_dir).read_text() == ORIGINAL
    dev = state(state_dir)["runs"]["dev"]
    assert (dev["trigger"], dev["result"]) == ("heal", "applied")
    environments = state(state_dir)["drift"]["environments"]
    assert environments["dev"]["status"] == "healed"
    assert environments["prod"]["status"] == "drift"  # --heal leaves apply: manual alone
    assert len(slack.messages) == 2
    assert "*dev*" in slack.messages[1]["text"] and "healed" in slack.messages[1]["text"]
    assert "prod" not in slack.messages[1]["text"]  # old news
    entries = [e for e in audit(state_dir) if e.trigger == "watch-heal"]
    assert [(e.environment, e.result) for e in entries] == [("dev", "applied")]

    checked = state(state_dir)["drift"]["checked_at"]
    not_due = watch(tfops, sandbox, state_dir, "--drift-interval", "60")
    assert not_due.exit_code == 0, not_due.output
    assert state(state_dir)["drift"]["checked_at"] == checked  # next check in an hour


def test_fetch_errors_back_off_and_the_watcher_recovers(
    tmp_path: Path, tfops: Tfops, state_dir: Path
) -> None:
    repo = tmp_path / "environments"
    first = watch(tfops, repo, state_dir)
    assert first.exit_code == 1
    assert f"git clone of {repo} failed" in first.stderr and "retrying in 60s" in first.stderr
    fetch = state(state_dir)["fetch"]
    assert fetch["failures"] == 1 and "failed" in fetch["last_error"]
    second = watch(tfops, repo, state_dir)
    assert "(failure 2; retrying in 120s)" in second.stderr
    assert 110 < state(state_dir)["fetch"]["next_at"] - time.time() <= 120
    assert [backoff_seconds(n, 60) for n in (1, 2, 3, 4, 5, 9)] == [60, 120, 240, 480, 900, 900]

    init_repo(repo, {"dev_main.tf": 'resource "terraform_data" "web" {\n  input = "dev"\n}\n'})
    recovered = watch(tfops, repo, state_dir)
    assert recovered.exit_code == 0, recovered.output
    after = state(state_dir)
    assert after["fetch"]["failures"] == 0 and after["fetch"]["last_error"] is None
    assert after["runs"]["dev"]["result"] == "applied"


def test_the_loop_waits_out_its_backoff(tmp_path: Path, state_dir: Path) -> None:
    state_dir.mkdir()
    watcher = Watcher(
        WatchOptions(str(tmp_path / "nowhere"), state_dir=state_dir), Console(verbose=False)
    )
    watcher.state.fetch.failures = 3
    watcher.state.fetch.next_at = time.time() + 100
    assert watcher.tick() is True  # nothing tried, nothing failed
    assert not (state_dir / "checkout").exists()
    assert watcher.state.fetch.failures == 3


def test_one_watcher_per_state_directory(sandbox: Path, tfops: Tfops, state_dir: Path) -> None:
    state_dir.mkdir()
    with exclusive(state_dir):
        result = watch(tfops, sandbox, state_dir)
    assert result.exit_code == 1
    assert f"another tfops watch (pid {os.getpid()}) is using {state_dir}" in result.stderr
    assert not (state_dir / "checkout").exists()


def test_healthz_turns_503_when_the_loop_is_stuck(tmp_path: Path) -> None:
    watcher = Watcher(WatchOptions("x", interval=1, state_dir=tmp_path), Console(verbose=False))
    server = HealthServer("127.0.0.1", 0, status=watcher.status, health=watcher.health).start()
    try:
        assert get(server.url + "/healthz") == (200, "ok\n")
        watcher._beat -= 10  # no progress for 10 s, 3 intervals allowed
        code, text = get(server.url + "/healthz")
        assert code == 503 and text.startswith("stuck: no progress for 10s (idle; allowed 3s)")
        code, text = get(server.url + "/status")
        assert code == 200 and json.loads(text)["healthy"] is False
        assert get(server.url + "/nope")[0] == 404
    finally:
        server.stop()


# ---- the loop, in a subprocess ----------------------------------------------------------
def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class WatchProcess:
    """`tfops watch` running in its own process, watched through /status."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tfops", "-q", "--color", "never", "watch", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self._wait_line(r"status on (http://\S+)/status")

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def _wait_line(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match.group(1)
            assert self.proc.poll() is None, self.output
            time.sleep(0.05)
        raise AssertionError(f"no line like {pattern!r}:\n{self.output}")

    def status(self) -> dict[str, Any]:
        code, text = get(self.url + "/status")
        assert code == 200
        data: dict[str, Any] = json.loads(text)
        return data

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output
            status = self.status()
            if predicate(status):
                return status
            time.sleep(0.1)
        raise AssertionError(f"timed out; last status {self.status()}\n{self.output}")

    def wait_idle(self) -> None:
        """Right after a pass ends: a whole interval of idling lies ahead."""
        ticks = self.status()["ticks"]
        self.wait_for(lambda s: s["ticks"] > ticks)
        self.wait_for(lambda s: s["activity"] is None)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def processes() -> Iterator[list[WatchProcess]]:
    started: list[WatchProcess] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def test_a_failing_commit_does_not_stop_the_watcher(
    sandbox: Path, state_dir: Path, processes: list[WatchProcess]
) -> None:
    start = git(sandbox, "rev-parse", "HEAD")
    watcher = WatchProcess(
        str(sandbox),
        "--state-dir",
        str(state_dir),
        "--interval",
        "2",
        "--drift-interval",
        "0",
        "--listen",
        "127.0.0.1:0",
    )
    processes.append(watcher)
    status = watcher.wait_for(lambda s: s["last_commit_reconciled"] == start)
    assert status["runs"]["dev"]["result"] == "applied"
    assert get(watcher.url + "/healthz") == (200, "ok\n")

    bad = commit(sandbox, {"dev_dns.tf": BAD_DEV_DNS}, "a broken reference")
    status = watcher.wait_for(lambda s: s["last_commit_reconciled"] == bad)
    dev = status["runs"]["dev"]
    assert (dev["result"], dev["commit"]) == ("gates-failed", bad)
    assert "gates failed: validate" in dev["detail"]
    assert "Reference to undeclared input variable" in dev["detail"]
    assert status["runs"]["global"]["commit"] == start  # unaffected by the commit

    yaml = (sandbox / "tfops.yaml").read_text()
    unreadable = commit(sandbox, {"tfops.yaml": "environments: [\n"}, "broken config")
    status = watcher.wait_for(lambda s: (s["skipped_commit"] or {}).get("commit") == unreadable)
    assert "not valid YAML" in status["skipped_commit"]["error"]
    assert status["last_commit_reconciled"] == bad

    dns = BAD_DEV_DNS.replace("var.nope", '"dev3.${var.base_domain}"')
    good = commit(sandbox, {"tfops.yaml": yaml, "dev_dns.tf": dns}, "fixed")
    status = watcher.wait_for(lambda s: s["last_commit_reconciled"] == good)
    assert status["runs"]["dev"]["result"] == "applied" and status["skipped_commit"] is None
    assert f"commit {good[:12]}" in status["runs"]["dev"]["reason"]
    assert get(watcher.url + "/healthz") == (200, "ok\n")

    watcher.wait_idle()
    assert watcher.stop() == 0, watcher.output
    assert "stopped while idle, state saved" in watcher.output
    saved = state(state_dir)
    assert saved["commit"] == good and saved["runs"]["dev"]["result"] == "applied"
    assert "Traceback" not in watcher.output


def test_sigterm_interrupts_terraform_cleanly_and_records_it(
    sandbox: Path, tfops: Tfops, state_dir: Path, tmp_path: Path, processes: list[WatchProcess]
) -> None:
    assert watch(tfops, sandbox, state_dir).exit_code == 0
    started = tmp_path / "provisioner-started"
    slow = (
        'resource "terraform_data" "dev_slow" {\n  input = "slow"\n'
        '  provisioner "local-exec" {\n'
        f'    command = "touch {started} && sleep 60"\n'
        "  }\n}\n"
    )
    sha = commit(sandbox, {"dev_slow.tf": slow}, "a slow resource")
    watcher = WatchProcess(
        str(sandbox),
        "--state-dir",
        str(state_dir),
        "--interval",
        "1",
        "--drift-interval",
        "0",
        "--listen",
        "127.0.0.1:0",
    )
    processes.append(watcher)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and watcher.proc.poll() is None, watcher.output
        time.sleep(0.05)
    assert watcher.status()["activity"] == "applying dev"

    began = time.monotonic()
    assert watcher.stop() == 130, watcher.output
    assert time.monotonic() - began < 30  # terraform stopped the provisioner, not waited it out
    assert "interrupted by SIGTERM while applying dev" in watcher.output
    dev = state(state_dir)["runs"]["dev"]
    assert (dev["result"], dev["commit"]) == ("interrupted", sha)
    assert state(state_dir)["commit"] != sha  # not reconciled: the next start tries again
    last = audit(state_dir)[-1]
    assert (last.environment, last.result, last.commit) == ("dev", "interrupted", sha)
    assert not list((clone(state_dir) / ".tfops" / "locks").glob("*.json"))  # locks released
    assert not (clone(state_dir) / ".terraform.tfstate.lock.info").exists()
