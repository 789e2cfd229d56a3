"""Drift, end to end: the bundled example's dev config file (a `localfile_file`) edited by
hand behind Terraform's back, found by `tfops drift` and by `tfops ci` on a schedule, put
back with --heal; the GitHub issues and the Slack message it leads to."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tfops
from tests.github_api import TOKEN, FakeGithub, fake_github
from tests.helpers import commit, init_repo
from tests.provider_helpers import TerraformBin, require_terraform_1_0, require_terraform_on_path
from tests.slack_webhook import Slack, slack_webhook
from tfops.config import load_config
from tfops.records.audit import open_audit

SECRET = "dfp_live_5f3a9c2e7b1d4e6f"  # the example masks anything shaped like it
REPO = "acme/environments"
ORIGINAL = "APP_ENV=dev\nAPI_URL=https://api.dev.demo-app.example.com\n"


def config_file(sandbox: Path) -> Path:
    """The file dev's `localfile_file.dev_config` manages (relative to the repo's parent)."""
    return sandbox.parent / "rendered" / "dev" / "app.env"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Slack]:
    with slack_webhook(monkeypatch) as hook:
        yield hook


@pytest.fixture
def applied(sandbox: Path, tfops: Tfops) -> Path:
    """The example with every environment applied: nothing has drifted yet."""
    result = tfops(
        "-q", "apply", str(sandbox), "-e", "dev", "-e", "global", "-e", "prod", "--auto-approve"
    )
    assert result.exit_code == 0, result.output
    assert config_file(sandbox).read_text() == ORIGINAL
    return sandbox


# ---- tfops drift -----------------------------------------------------------------------
def test_a_hand_edit_is_drift_and_heal_puts_it_back(
    applied: Path, tfops: Tfops, slack: Slack
) -> None:
    clean = tfops("-q", "drift", str(applied), "--detailed-exitcode")
    assert clean.exit_code == 0, clean.output
    assert "dev: no drift." in clean.stdout and "prod: no drift." in clean.stdout
    assert slack.messages == []  # nothing to say

    config_file(applied).write_text(ORIGINAL + f"DEBUG=1\nKEY={SECRET}\n")
    found = tfops("-q", "drift", str(applied), "--detailed-exitcode")
    assert found.exit_code == 2, found.output
    out = found.stdout
    assert (
        "dev: drift — 1 resource changed outside Terraform; to match the repo: 0 to add, "
        "1 to change, 0 to destroy" in out
    )
    outside = out.split("Changed outside Terraform:")[1].split("To match the repo")[0]
    assert "~ localfile_file.dev_config" in outside
    assert (
        'content: "APP_ENV=dev\\nAPI_URL=https://api.dev.demo-app.example.com\\n" → '
        '"APP_ENV=dev\\nAPI_URL=https://api.dev.demo-app.example.com\\nDEBUG=1\\nKEY=***\\n"'
        in outside
    )
    assert "global: no drift." in out and "prod: no drift." in out
    assert SECRET not in found.output
    assert "left as is: dev (heal with --heal)" in found.stderr
    (message,) = slack.messages
    assert "*dev*: 1 resource changed outside Terraform" in message["text"]
    assert "`localfile_file.dev_config` (content)" in message["text"]
    assert SECRET not in message["text"]

    report = tfops.json("-q", "drift", str(applied), "-e", "dev")
    dev = report["environments"]["dev"]
    assert report["drift"] is True and report["drifted"] == ["dev"]
    assert dev["status"] == "drift" and dev["counts"]["update"] == 1
    assert dev["changed_outside_terraform"][0]["attributes"][0]["name"] == "content"
    assert set(report["environments"]) == {"dev"}

    healed = tfops("-q", "drift", str(applied), "--heal", "--format", "json")
    assert healed.exit_code == 0, healed.output
    assert json.loads(healed.stdout)["environments"]["dev"]["status"] == "healed"
    assert config_file(applied).read_text() == ORIGINAL
    assert "Healed dev: 0 to add, 1 to change, 0 to destroy." in healed.stderr
    entry = open_audit(load_config(applied)[0], applied).entries(environment="dev")[-1]
    assert (entry.environment, entry.result, entry.trigger) == ("dev", "applied", "drift")
    assert entry.plan_sha256  # the plan applied is kept in the store

    again = tfops("-q", "drift", str(applied), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_heal_true_heals_without_asking_and_a_deleted_file_comes_back(
    applied: Path, tfops: Tfops
) -> None:
    yaml = applied / "tfops.yaml"
    yaml.write_text(yaml.read_text().replace("  dev: {}", "  dev:\n    heal: true"))
    config_file(applied).unlink()
    result = tfops("-q", "drift", str(applied), "--format", "markdown")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "| **dev** | 🩹 drift, healed | 1 | 1 to add, 0 to change, 0 to destroy |" in text
    assert "- localfile_file.dev_config" in text  # gone outside Terraform
    assert "**Heal:** ✅ applied" in text
    assert config_file(applied).read_text() == ORIGINAL


def test_an_unapplied_commit_is_drift_and_a_failing_check_is_an_error(
    applied: Path, tfops: Tfops
) -> None:
    prod_dns = applied / "prod_dns.tf"
    commit(
        applied,
        {
            "prod_dns.tf": prod_dns.read_text().replace(
                "input = var.base_domain", 'input = "www.example.com"'
            )
        },
    )
    result = tfops.json("-q", "drift", str(applied), "-e", "prod")
    prod = result["environments"]["prod"]
    assert prod["status"] == "drift" and prod["changed_outside_terraform"] == []
    assert prod["planned_changes"][0]["address"] == "terraform_data.prod_zone"

    (applied / "dev_dns.tf").write_text(
        'resource "terraform_data" "dev_zone" {\n  input = var.nope\n}\n'
    )
    broken = tfops("-q", "drift", str(applied))
    assert broken.exit_code == 1
    assert "dev: the drift check failed:" in broken.stdout
    assert "Reference to undeclared input variable" in broken.stdout
    assert "Traceback" not in broken.output
    unknown = tfops("drift", str(applied), "-e", "staging")
    assert unknown.exit_code == 1 and "unknown environment 'staging'" in unknown.stderr


DIRECTORY_ENV = """terraform {
  required_providers {
    localfile = {
      source  = "tfops/localfile"
      version = "0.1.0"
    }
  }
}

resource "localfile_file" "config" {
  path              = "${path.module}/../../out/NAME.env"
  content           = "ENV=NAME\\n"
  sensitive_content = "hush-hush-NAME"
}
"""


@pytest.mark.parametrize(
    "terraform", [require_terraform_on_path, require_terraform_1_0], ids=["path", "1.0"]
)
def test_directory_layout_heal_applies_the_plan_it_reported(
    tmp_path: Path, tfops: Tfops, terraform: Callable[[], TerraformBin]
) -> None:
    binary = terraform()
    repo = init_repo(
        tmp_path / "infra",
        {
            "envs/dev/main.tf": DIRECTORY_ENV.replace("NAME", "dev"),
            "envs/prod/main.tf": DIRECTORY_ENV.replace("NAME", "prod"),
            "tfops.yaml": f"terraform:\n  binary: {binary.path}\n",
            ".gitignore": ".terraform/\n*.tfstate*\n.terraform.lock.hcl\nout/\n.tfops/\n",
        },
    )
    for env in ("dev", "prod"):
        assert tfops("-q", "apply", str(repo), "-e", env, "--auto-approve").exit_code == 0
    (repo / "out" / "dev.env").write_text("ENV=staging\n")

    result = tfops("drift", str(repo), "--heal", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["terraform_version"] == binary.version
    assert report["environments"]["dev"]["status"] == "healed"
    assert report["environments"]["prod"]["status"] == "clean"
    assert (repo / "out" / "dev.env").read_text() == "ENV=dev\n"
    # one init and plan per root: heal applied the plan of the check, not a new one
    assert result.stderr.count("dev | Terraform has been successfully initialized!") == 1
    assert "hush-hush" not in result.output  # the sensitive value shows nowhere


def test_an_unreachable_slack_webhook_is_a_warning_only(
    applied: Path, tfops: Tfops, slack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file(applied).write_text("edited\n")
    slack.status = 403
    refused = tfops("-q", "drift", str(applied), "-e", "dev")
    assert refused.exit_code == 0, refused.output
    assert "warning: Slack webhook at http://127.0.0.1:" in refused.stderr
    assert "answered 403 (invalid_token)" in refused.stderr
    assert "s3cr3t" not in refused.output  # the webhook's path is its secret
    monkeypatch.setenv("TFOPS_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    unreachable = tfops("-q", "drift", str(applied), "-e", "dev", "--detailed-exitcode")
    assert unreachable.exit_code == 2
    assert "could not post to the Slack webhook at http://127.0.0.1:9" in unreachable.stderr


# ---- tfops ci on a schedule ------------------------------------------------------------
@pytest.fixture
def api() -> Iterator[FakeGithub]:
    with fake_github(repository=REPO) as server:
        yield server


def run_ci(
    tfops: Tfops,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    api: FakeGithub,
    repo: Path,
    event: str = "schedule",
    payload: dict[str, Any] | None = None,
    *args: str,
) -> Any:
    event_file = tmp_path / f"{event}.json"
    event_file.write_text(json.dumps(payload or {"schedule": "17 * * * *"}))
    for name, value in {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api.url,
        "GITHUB_SERVER_URL": "https://github.test",
        "GITHUB_RUN_ID": "99",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    return tfops("-q", "ci", str(repo), *args)


def drift_issues(api: FakeGithub) -> list[dict[str, Any]]:
    return [i for i in api.issues.values() if i["body"].startswith("<!-- tfops:drift:")]


def test_schedule_keeps_one_issue_per_environment_open_while_it_drifts(
    applied: Path, tfops: Tfops, api: FakeGithub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # other issues, some with tfops's label, fill the first pages of the listing
    api.add_issue("Flaky test", "no marker here")
    api.add_issue(
        "Drift in dev (infra)", "<!-- tfops:drift:infra:dev -->\nanother root's", ("tfops-drift",)
    )
    api.add_issue(
        "Old drift", "<!-- tfops:drift:dev -->\nclosed long ago", ("tfops-drift",), "closed"
    )
    clean = run_ci(tfops, monkeypatch, tmp_path, api, applied)
    assert clean.exit_code == 0, clean.output
    assert "dev: no drift." in clean.stdout
    assert api.calls("POST", r"/issues$") == []
    assert "drift=false" in (tmp_path / "output.txt").read_text()

    config_file(applied).write_text(ORIGINAL + f"KEY={SECRET}\n")
    first = run_ci(tfops, monkeypatch, tmp_path, api, applied)
    assert first.exit_code == 0, first.output
    (issue,) = [i for i in drift_issues(api) if i["title"] == "Drift in dev"]
    assert issue["state"] == "open" and issue["labels"] == [{"name": "tfops-drift"}]
    body = issue["body"]
    assert body.startswith("<!-- tfops:drift:dev -->\n### ⚠️ Drift · environments @ `")
    assert "| **dev** | ⚠️ drift | 1 | 0 to add, 1 to change, 0 to destroy |" in body
    assert "\n! localfile_file.dev_config\n" in body and "KEY=***" in body
    assert "[this run](https://github.test/acme/environments/actions/runs/99)" in body
    assert "prod" not in body and SECRET not in body and TOKEN not in body
    assert not api.issues_titled("Drift in prod") and not api.issues_titled("Drift in global")
    outputs = (tmp_path / "output.txt").read_text()
    assert "drift=true\n" in outputs and 'drifted=["dev"]' in outputs
    assert "localfile_file.dev_config" in (tmp_path / "summary.md").read_text()

    for env in ("prod", "global"):  # newer issues push ours to the second page
        api.add_issue(
            f"Drift in {env} (infra)", f"<!-- tfops:drift:infra:{env} -->", ("tfops-drift",)
        )
    config_file(applied).write_text("edited again\n")
    second = run_ci(tfops, monkeypatch, tmp_path, api, applied)
    assert second.exit_code == 0, second.output
    assert len([i for i in drift_issues(api) if i["title"] == "Drift in dev"]) == 1  # updated
    assert "edited again" in issue["body"]
    listed = api.calls("GET", r"/issues$")
    assert listed[-1].query["page"] == "2" and listed[-1].query["labels"] == "tfops-drift"

    config_file(applied).write_text(ORIGINAL)  # put back by hand
    fixed = run_ci(tfops, monkeypatch, tmp_path, api, applied)
    assert fixed.exit_code == 0, fixed.output
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    (closing,) = api.comments_on(issue["number"])
    assert closing["body"].startswith("No drift in dev any more at `")
    assert api.issues_titled("Drift in dev (infra)")[0]["state"] == "open"  # not ours to close


@pytest.mark.parametrize(
    ("event", "payload", "args"),
    [
        (
            "workflow_dispatch",
            {
                "inputs": {"heal": "true"},
                "ref": "refs/heads/main",
                "repository": {"full_name": "acme/environments", "default_branch": "main"},
            },
            (),
        ),
        ("schedule", {"schedule": "17 * * * *"}, ("--heal",)),
    ],
    ids=["dispatch-input", "ci-heal-option"],
)
def test_heal_on_request_heals_and_closes_the_issue(
    applied: Path,
    tfops: Tfops,
    api: FakeGithub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    event: str,
    payload: dict[str, Any],
    args: tuple[str, ...],
) -> None:
    config_file(applied).write_text("edited by hand\n")
    result = run_ci(tfops, monkeypatch, tmp_path, api, applied, event, payload, *args)
    assert result.exit_code == 0, result.output
    assert config_file(applied).read_text() == ORIGINAL
    (issue,) = drift_issues(api)
    assert issue["title"] == "Drift in dev" and issue["state"] == "closed"
    assert "🩹 drift, healed" in issue["body"]
    assert api.comments_on(issue["number"])[0]["body"].startswith("Healed at `")
    entry = open_audit(load_config(applied)[0], applied).entries(environment="dev")[-1]
    assert (entry.result, entry.trigger) == ("applied", event)


def test_issues_that_cannot_be_written_fail_the_job_after_reporting(
    applied: Path, tfops: Tfops, api: FakeGithub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_file(applied).write_text("edited by hand\n")
    api.fail("POST", r"/issues$", 403, message="Resource not accessible by integration")
    result = run_ci(tfops, monkeypatch, tmp_path, api, applied)
    assert result.exit_code == 1
    assert "dev: drift" in result.stdout  # the report came first
    assert "could not update the drift issues" in result.stderr
    assert "issues: write" in result.stderr
    assert "drift=true" in (tmp_path / "output.txt").read_text()
