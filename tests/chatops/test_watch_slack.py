"""`tfops watch --listen` as it runs in production: its own process, Slack's requests over
loopback, the jobs run by its loop. While Slack's apply runs terraform, the service answers:
/healthz, the page, other Slack commands."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chatops.conftest import YAML
from tests.repos import make_repo, resource
from tests.server.test_health import fetch
from tests.slack_app import SECRET, Receiver, SlackClient, buttons, message_text
from tests.watch.test_reconciler import WatchProcess, processes  # noqa: F401  (a fixture)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    found = Receiver()
    monkeypatch.setenv("TFOPS_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("TFOPS_SLACK_RESPONSE_ORIGIN", found.origin)
    yield found
    found.close()


def test_slack_apply_in_a_running_watcher_while_everything_else_answers(
    tmp_path: Path,
    receiver: Receiver,
    processes: list[WatchProcess],  # noqa: F811
) -> None:
    started = tmp_path / "prod-apply-started"
    slow = f'  provisioner "local-exec" {{\n    command = "touch {started} && sleep 6"\n  }}\n'
    repo = make_repo(
        tmp_path / "environments", resource("dev", "one"), resource("prod", "one", slow), YAML
    )
    watcher = WatchProcess(str(repo), "--state-dir", str(tmp_path / "state"), "--interval", "1",
                           "--drift-interval", "0", "--listen", "127.0.0.1:0")  # fmt: skip
    processes.append(watcher)
    assert f"Slack commands on {watcher.url}/slack/commands" in watcher.output
    watcher.wait_for(lambda s: s["runs"].get("prod", {}).get("result") == "planned")
    slack = SlackClient(watcher.url, receiver)

    asked = slack.command("Deploy production")
    assert asked.code == 200 and asked.seconds < 3
    (shown,) = receiver.wait(asked.response_url, 1)
    block_id, found = buttons(shown)
    pressed = slack.press(found["tfops_apply"], block_id)
    assert pressed.code == 200 and pressed.seconds < 3
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and watcher.proc.poll() is None, watcher.output
        time.sleep(0.05)

    began = time.monotonic()  # terraform is applying prod now
    assert fetch(watcher.url + "/healthz")[0] == 200
    assert fetch(watcher.url + "/")[0] == 200
    status = slack.command("status prod", user="U0CAROL", name="carol")
    assert status.code == 200 and "now: slack: apply prod" in status.text
    assert ":lock: locked by alice (Slack U0ALICE)'s run slack-" in status.text
    help_ = slack.command("help")
    assert help_.code == 200 and "`/tfops plan ENV`" in help_.text
    assert time.monotonic() - began < 3
    assert watcher.status()["activity"] == "slack: apply prod"

    _, _, news = receiver.wait(pressed.response_url, 3)
    assert message_text(news).startswith(":white_check_mark: *Applied prod* at `")
    watcher.wait_idle()
    assert watcher.stop(signal.SIGTERM) == 0, watcher.output  # stopped while idle
