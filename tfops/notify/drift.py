"""Where drift reports go besides the terminal: one GitHub issue per environment, and Slack.

Each drifted environment has one issue, labelled `tfops-drift` and found again by a hidden
marker naming the environment — and, like the PR comment, only an issue tfops itself opened
counts (another author's issue carrying the marker is ignored). It is opened when drift
appears, updated while it lasts, and closed with a comment when the environment is clean
or healed. The Slack incoming webhook's URL is a secret: it comes from the environment
(`TFOPS_SLACK_WEBHOOK_URL`), never from tfops.yaml.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tfops import __version__
from tfops.console import Console
from tfops.github.client import GithubClient
from tfops.masking import Masker
from tfops.notify.slack import post_slack
from tfops.pipeline.drift import DriftReport, EnvironmentDrift

ISSUE_LABEL = "tfops-drift"
SLACK_URL_ENV = "TFOPS_SLACK_WEBHOOK_URL"


def notify_slack(
    report: DriftReport, envs: list[EnvironmentDrift], *, masker: Masker, console: Console
) -> bool:
    """Tell Slack about `envs` (drifted or failed), when a webhook is configured."""
    url = os.environ.get(SLACK_URL_ENV)
    if not url or not envs:
        return False
    shown = DriftReport(
        report.repo,
        report.commit,
        report.checked_at,
        report.terraform_version,
        {e.name: e for e in envs},
        run_url=report.run_url,
    )
    masker.add_values([url])
    return post_slack(url, masker(shown.slack(mask=masker)), warn=console.warn)


def issue_marker(env: str, key: str = "") -> str:
    return f"<!-- tfops:drift:{key + ':' if key else ''}{env} -->"


def sync_issues(
    client: GithubClient,
    report: DriftReport,
    names: list[str],
    *,
    mask: Callable[[str], str],
    key: str = "",
    console: Console,
    is_mine: Callable[[dict[str, Any]], bool],
) -> None:
    """One issue per environment: open or update it while drifted, close it when clean.

    `is_mine` tells tfops's own issues from others'; an environment whose check failed
    keeps its issue as it is.
    """
    markers = {name: issue_marker(name, key) for name in names}
    found: dict[str, dict[str, Any]] = {}
    issue: dict[str, Any] | None
    for issue in client.issues(labels=ISSUE_LABEL):
        body = str(issue.get("body") or "")
        for name, marker in markers.items():
            if body.startswith(marker) and name not in found and is_mine(issue):
                found[name] = issue
    suffix = f" ({key})" if key else ""
    for name in names:
        env = report.environments.get(name)
        if env is None or env.error:
            continue
        issue = found.get(name)
        if not env.drifted:
            if issue is not None:
                _close(client, int(issue["number"]), f"No drift in {name} any more{_at(report)}.")
                console.info(f"{name}: no drift; closed issue #{issue['number']}.")
            continue
        body = mask(
            report.markdown(
                [name],
                marker=markers[name],
                footer=f"tfops {__version__} · this issue is updated by every drift check and "
                "closed when the environment matches the repo again",
                mask=mask,
            )
        )
        if issue is None:
            issue = client.create_issue(f"Drift in {name}{suffix}", body, [ISSUE_LABEL])
            url = issue.get("html_url", "")
            console.info(f"{name}: drift; opened issue #{issue['number']} {url}".rstrip())
            labels = issue.get("labels") or []
            if ISSUE_LABEL not in [x.get("name") if isinstance(x, dict) else x for x in labels]:
                console.warn(
                    f"GitHub dropped the label {ISSUE_LABEL!r} from issue #{issue['number']} "
                    "(labels need push access): tfops finds its issues by that label, so the "
                    "next check opens another one. Give the token `issues: write`."
                )
        else:
            client.update_issue(int(issue["number"]), body=body)
            console.info(f"{name}: drift; updated issue #{issue['number']}.")
        if env.healed:
            _close(
                client, int(issue["number"]), f"Healed{_at(report)}: {name} matches the repo again."
            )


def _at(report: DriftReport) -> str:
    where = f" at `{report.commit[:12]}`" if report.commit else ""
    run = f" ([run]({report.run_url}))" if report.run_url else ""
    return f"{where}, checked {report.checked_at}{run}"


def _close(client: GithubClient, number: int, comment: str) -> None:
    client.create_comment(number, comment)
    client.update_issue(number, state="closed", state_reason="completed")
