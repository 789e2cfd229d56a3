"""The `slack:` section of tfops.yaml: who may apply from Slack, checked as IDs, and — as a
setting that grants power — taken from the default branch, never from a pull request."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfops.config import TfopsConfig, parse_config, with_trusted
from tfops.errors import ConfigError

GOOD = """slack:
  appliers:
    dev: [U0ALICE, W0ENTERPRISE]
    prod: [U0ALICE]
  team_id: T0TEAM
  signing_secret_env: ACME_SLACK_SECRET
  plan_ttl_minutes: 5
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("tfops.yaml"))
    return str(info.value)


def test_the_section_and_its_defaults() -> None:
    slack = parse_config(GOOD, Path("tfops.yaml")).slack
    assert slack.may_apply("U0ALICE", "prod") and not slack.may_apply("W0ENTERPRISE", "prod")
    assert (slack.team_id, slack.signing_secret_env, slack.plan_ttl_minutes) == (
        "T0TEAM",
        "ACME_SLACK_SECRET",
        5,
    )
    default = TfopsConfig().slack
    assert (default.appliers, default.team_id, default.plan_ttl_minutes) == ({}, None, 15)
    assert default.signing_secret_env == "TFOPS_SLACK_SIGNING_SECRET"
    assert not default.may_apply("U0ALICE", "dev")  # nobody applies from Slack unless named


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "slack:\n  appliers:\n    prod: [alice]\n",
            "tfops.yaml:2: slack.appliers: prod: 'alice' is not a Slack user ID; use the member "
            "ID (like U0123ABCD",
        ),
        ("slack:\n  team_id: acme\n", "tfops.yaml:2: slack.team_id: 'acme' is not a Slack"),
        (
            "slack:\n  signing_secret_env: 8f742231b10e8888abcd99yyyzzz85a5\n",
            "is not an environment variable name; name the variable that holds the secret",
        ),
        ("slack:\n  plan_ttl_minutes: 0\n", "tfops.yaml:2: slack.plan_ttl_minutes"),
        ("slack:\n  signing_secret: abc\n", "slack.signing_secret: unknown setting; did you mean"),
    ],
)
def test_mistakes_name_the_setting_and_line(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_a_pull_request_can_not_make_itself_an_applier() -> None:
    trusted = parse_config(GOOD, Path("tfops.yaml"))
    head = parse_config(
        GOOD.replace("prod: [U0ALICE]", "prod: [U0ALICE, U0MALLORY]").replace(
            "plan_ttl_minutes: 5", "plan_ttl_minutes: 1440"
        ),
        Path("tfops.yaml"),
    )
    merged, changed = with_trusted(head, trusted)
    assert not merged.slack.may_apply("U0MALLORY", "prod")
    assert merged.slack.plan_ttl_minutes == 5
    assert changed == ["slack.appliers.prod", "slack.plan_ttl_minutes"]
