"""`tfops report` on the deployed demo: the JSON other tools read (the same content as the
page), the text summary, and what happens when records can't be read."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tfops
from tests.helpers import commit, git
from tests.report.demo_state import HOSTILE_SUBJECT, PR, SECRET
from tfops.config import load_config
from tfops.records.audit import AuditEntry, open_audit
from tfops.records.store import PlanKey, open_store, repo_name
from tfops.report.overview import hide_credentials


def report(demo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfops", "--color", "never", "report", str(demo), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def overview_json(demo: Path) -> dict[str, Any]:
    result = report(demo, "--format", "json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_json_holds_what_the_page_shows(demo: Path) -> None:
    modules = demo.parent / "modules"
    data = overview_json(demo)
    assert data["schema_version"] == 1 and data["repo"] == "environments"
    assert data["commit"] == git(demo, "rev-parse", "HEAD")
    envs = {env["name"]: env for env in data["environments"]}
    assert list(envs) == ["dev", "global", "prod"]
    prod = envs["prod"]
    assert (prod["pinned"], prod["apply_mode"], envs["dev"]["pinned"]) == (True, "manual", False)

    back_end = next(m for m in prod["modules"] if m["name"] == "prod_back_end")
    assert back_end["ref"] == "v1.1.0" and back_end["ref_label"] == "v1.1.0"
    assert back_end["commit"] == git(modules, "rev-parse", "v1.1.0^{commit}")
    assert (back_end["newest_release"], back_end["releases_behind"]) == ("v1.2.0", 1)
    assert back_end["newer_releases"] == ["v1.2.0"] and back_end["commits_behind"] == 4
    assert [c["subject"] for c in back_end["commits"]] == [
        HOSTILE_SUBJECT.replace(SECRET, "***"),
        "Add more awesomeness",
        "Fix a nasty bug",
        "Give the API more memory",
    ]
    assert back_end["commits"][1]["sha"] == git(modules, "rev-parse", "main~1")
    dev_back_end = next(m for m in envs["dev"]["modules"] if m["name"] == "dev_back_end")
    assert dev_back_end["ref_label"] == "floating (main)" and dev_back_end["commits"] == []

    last = prod["last_apply"]
    assert (last["result"], last["trigger"], last["pr"]) == ("applied", "manual", None)
    assert last["commit"] == git(demo, "rev-parse", "HEAD~1")  # before the CDN module
    assert [a["environment"] for a in data["applies"]] == ["prod", "global", "dev"]

    drift = envs["dev"]["drift"]
    assert drift["status"] == "drift" and drift["trigger"] == "drift"
    assert drift["changed_outside"][0]["address"] == "localfile_file.dev_config"
    assert "KEY=***" in drift["changed_outside"][0]["attributes"][0]["after"]
    assert envs["prod"]["drift"]["status"] == "clean"

    (lock,) = data["locks"]
    assert (lock["environment"], lock["pr"], lock["holder"]) == ("prod", PR, "pr-12")
    assert prod["lock"] == lock
    (plan,) = data["plans"]
    assert (plan["pr"], plan["environment"], plan["has_changes"]) == (PR, "prod", True)
    assert SECRET not in json.dumps(data)


def test_plans_of_merged_pull_requests_are_not_open(demo: Path, tmp_path: Path) -> None:
    config, _ = load_config(demo)
    head = git(demo, "rev-parse", "HEAD")
    store = open_store(config, demo)
    key = PlanKey(repo_name(demo), 11, head, "dev", "plan")
    store.put(key, b"plan", {}, terraform_version="1.11.4")
    assert {p["pr"] for p in overview_json(demo)["plans"]} == {11, PR}
    merged = AuditEntry("ci", "2026-01-01T00:00:00.000001Z", "environments", head, 11, "dev",
                        None, "applied", 1.0, trigger="merge")  # fmt: skip
    audit = open_audit(config, demo)
    path = Path(audit.location)
    before = path.read_bytes()
    try:
        audit.append(merged)
        assert {p["pr"] for p in overview_json(demo)["plans"]} == {PR}
    finally:
        path.write_bytes(before)
        store.delete(key)


def test_the_text_summary_and_the_html_file(demo: Path, tmp_path: Path) -> None:
    result = report(demo)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"tfops · environments @ {git(demo, 'rev-parse', 'HEAD')[:12]}")
    prod = next(line for line in lines if line.startswith("  prod:"))
    assert prod.startswith("  prod: pinned, apply manual; applied 20")
    assert "drift: clean" in prod and "locked by" in prod and "2 behind a release" in prod

    page = tmp_path / "page.html"
    result = report(demo, "--html", str(page))
    assert result.returncode == 0 and result.stdout == ""
    tags = Tags()
    tags.feed(page.read_text())
    assert tags.seen == {"script": 0, "link": 0, "img": 0, "iframe": 0, "object": 0, "style": 1}
    assert tags.sources == []  # nothing is loaded from anywhere

    missing = report(demo, "--html", str(tmp_path / "no-such-dir" / "page.html"))
    assert missing.returncode == 1
    assert f"the directory {tmp_path / 'no-such-dir'} does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen = dict.fromkeys(("script", "link", "img", "iframe", "object", "style"), 0)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.seen:
            self.seen[tag] += 1
        self.sources += [
            f"{tag} {name}={value}" for name, value in attrs if name in ("src", "srcset")
        ]


def test_records_that_cant_be_read_are_problems_on_the_page(
    sandbox: Path, tfops: Tfops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(sandbox, {"tfops.yaml": "store:\n  url: s3://no-such-bucket/plans\n"}, "S3 store")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: refused at once
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    page = tmp_path / "page.html"
    result = tfops("report", str(sandbox), "--html", str(page))
    assert result.exit_code == 1
    assert "the audit log could not be read" in result.stderr
    assert "the plan store could not be read" in result.stderr
    text = page.read_text()
    assert "Problems" in text and "the drift records could not be read" in text
    assert "No applies recorded yet." in text  # the rest of the page is there


def test_credentials_in_module_sources_are_hidden() -> None:
    assert (
        hide_credentials("git::https://bot:ghp_abc123@github.com/acme/x.git//m?ref=v1")
        == "git::https://***@github.com/acme/x.git//m?ref=v1"
    )
    assert hide_credentials("git::https://token@github.com/acme/x.git") == (
        "git::https://***@github.com/acme/x.git"
    )
    assert hide_credentials("git::ssh://git@github.com/acme/x.git?ref=v1") == (
        "git::ssh://git@github.com/acme/x.git?ref=v1"
    )
    assert hide_credentials("git::ssh://git:pw@host/x.git") == "git::ssh://git:***@host/x.git"
