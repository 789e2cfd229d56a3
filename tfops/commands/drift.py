"""`tfops drift`: does the infrastructure still match the repo? And `tfops ci` on a schedule.

A drift check plans each environment (see `tfops.drift`). Environments with `heal: true`
in tfops.yaml — every selected one with `--heal` — are then put back: the plan is applied
with the environment's lock held, kept in the plan store and written to the audit log, as
any apply. In GitHub Actions (`schedule`, `workflow_dispatch`) each environment has one
issue, found by a hidden marker: opened when drift appears, updated while it lasts,
closed with a comment when the environment is clean (or healed). A Slack incoming webhook
(`drift.slack_webhook_url`, or TFOPS_SLACK_WEBHOOK_URL) hears about drift too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from tfops import __version__
from tfops.commands.apply import AuditTrail, Records, apply_unattended
from tfops.commands.options import environments_option, path_argument
from tfops.console import Console
from tfops.errors import ExitCode
from tfops.github.client import GithubClient, GithubError
from tfops.notify import post_slack
from tfops.pipeline.drift import Detection, DriftReport, EnvironmentDrift, detect
from tfops.pipeline.session import Session
from tfops.records.drift import record_drift
from tfops.records.locks import LockHolder
from tfops.render.comment import SUMMARY_LIMIT
from tfops.repo.environments import SHARED

if TYPE_CHECKING:
    from tfops.commands.ci import CiContext

ISSUE_LABEL = "tfops-drift"
SLACK_URL_ENV = "TFOPS_SLACK_WEBHOOK_URL"
NOTHING_TO_HEAL = (
    "nothing to apply: Terraform would change nothing, so this drift is only in attributes "
    "the configuration does not set (`terraform apply -refresh-only` accepts it into the state)"
)


# ---- checking and healing --------------------------------------------------------------


def check(
    session: Session,
    names: list[str],
    *,
    heal: Callable[[str], bool],
    trigger: str,
    records: Records | None = None,
) -> DriftReport:
    """Detect drift in `names`; heal the drifted environments `heal` says yes to."""
    detection = detect(session, names)
    report = detection.report
    to_heal = [
        env.name
        for env in report.environments.values()
        if env.drifted and not env.error and env.name != SHARED and heal(env.name)
    ]
    if to_heal:
        heal_environments(session, detection, to_heal, trigger=trigger, records=records)
    record_drift(
        session.config,
        session.repo.root,
        report.to_dict(),
        trigger=trigger,
        mask=session.masker,
        warn=session.console.warn,
    )
    return report


def heal_rule(session: Session, heal_all: bool) -> Callable[[str], bool]:
    """Every environment with --heal; otherwise those with `heal: true`."""
    return lambda name: heal_all or session.repo.environments[name].config.heal


def heal_environments(
    session: Session,
    detection: Detection,
    names: list[str],
    *,
    trigger: str,
    records: Records | None = None,
) -> None:
    """Apply the drifted environments back to the repo, root by root; results go into the
    report. A root whose environments are all healed applies the very plan reported."""
    records = records or Records.open(session)
    holder = LockHolder.for_run(kind="heal")
    report = detection.report
    trail = AuditTrail(
        records,
        holder.who,
        report.commit or "uncommitted",
        None,
        trigger,
        session.binary.version,
        holder.run_url,
    )
    for run in detection.runs:
        in_root = sorted(n for n in names if n in run.root.environments)
        if not in_root:
            continue
        session.console.step(f"Healing {', '.join(in_root)}: applying the repo's configuration")
        outcome = apply_unattended(
            session, run.root, in_root, trail, holder, gates=False, planned=run
        )
        for name in in_root:
            env = report.environments[name]
            env.heal = outcome.result
            env.heal_detail = outcome.detail or (
                NOTHING_TO_HEAL if outcome.result == "no-changes" else ""
            )
            if env.healed:
                session.console.info(f"Healed {name}: {outcome.changes.get(name, '')}.")
            else:
                session.console.error(f"{name} was not healed ({outcome.result}).")


# ---- where reports go ------------------------------------------------------------------


def write_report(
    report: DriftReport, output_format: str, out: TextIO, *, color: bool, mask: Callable[[str], str]
) -> None:
    if output_format == "json":
        text = report.json()
    elif output_format == "markdown":
        text = report.markdown()
    else:
        text = report.text(color=color)
    out.write(mask(text))
    out.flush()


def slack_webhook(session: Session) -> str | None:
    return os.environ.get(SLACK_URL_ENV) or session.config.drift.slack_webhook_url


def notify_slack(session: Session, report: DriftReport, envs: list[EnvironmentDrift]) -> bool:
    """Tell Slack about `envs` (drifted or failed), when a webhook is configured."""
    url = slack_webhook(session)
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
    session.masker.add_values([url])
    return post_slack(url, session.masker(shown.slack()), warn=session.console.warn)


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
) -> None:
    """One issue per environment: open or update it while drifted, close it when clean.

    tfops's issues carry the label `tfops-drift` and start with a hidden marker naming the
    environment; an environment whose check failed keeps its issue as it is.
    """
    markers = {name: issue_marker(name, key) for name in names}
    found: dict[str, dict[str, Any]] = {}
    issue: dict[str, Any] | None
    for issue in client.issues(labels=ISSUE_LABEL):
        body = str(issue.get("body") or "")
        for name, marker in markers.items():
            if body.startswith(marker) and name not in found:
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


# ---- GitHub Actions: `tfops ci` on schedule / workflow_dispatch ------------------------


def handle_event(ctx: CiContext) -> ExitCode:
    """Check every environment (or `-e` ones) for drift; keep the issues. Heal those with
    `heal: true`, or all with `tfops ci --heal` or a workflow_dispatch input `heal: true`."""
    event, console = ctx.event, ctx.console
    session = Session.open(ctx.path, console)
    if event.token:
        session.masker.add_values([event.token])
    names = [e.name for e in session.select(ctx.environments)]
    inputs = event.payload.get("inputs") if event.name == "workflow_dispatch" else None
    asked = isinstance(inputs, dict) and str(inputs.get("heal", "")).lower() == "true"
    heal_all = ctx.heal or asked
    console.step(
        f"Drift check ({event.name}) of {', '.join(names)} in {session.repo.root.name}"
        + (" — healing every drifted environment" if heal_all else "")
    )
    report = check(session, names, heal=heal_rule(session, heal_all), trigger=event.name)
    report.run_url = event.run_url
    write_report(report, "text", ctx.out, color=False, mask=session.masker)
    failure: GithubError | None = None
    if session.config.drift.github_issues:
        try:
            key = ctx.checkout_prefix().rstrip("/")
            sync_issues(ctx.client(), report, names, mask=session.masker, key=key, console=console)
        except GithubError as exc:
            failure = exc
            console.error(f"could not update the drift issues: {exc}")
    else:
        console.info("Not touching GitHub issues: drift.github_issues is false.")
    notify_slack(session, report, report.drifted + report.errored)
    if event.step_summary is not None:
        text = report.markdown(limit=SUMMARY_LIMIT // 3)  # characters; the limit is bytes
        with event.step_summary.open("a", encoding="utf-8") as handle:
            handle.write(session.masker(text) + "\n")
    if event.output is not None:
        with event.output.open("a", encoding="utf-8") as handle:
            handle.write(f"drift={'true' if report.drifted else 'false'}\n")
            handle.write(f"drifted={json.dumps([e.name for e in report.drifted])}\n")
    if failure is not None or report.errored or report.heal_failed:
        return ExitCode.ERROR
    return ExitCode.OK


# ---- the command -----------------------------------------------------------------------


def run(
    path: Path,
    *,
    environments: tuple[str, ...],
    heal: bool,
    output_format: str,
    detailed_exitcode: bool,
    console: Console,
    out: TextIO,
    color: bool,
) -> ExitCode:
    session = Session.open(path, console)
    names = [e.name for e in session.select(environments)]
    console.step(
        f"Checking {', '.join(names)} in {session.repo.root.name} for drift "
        f"(terraform {session.binary.version})"
    )
    report = check(session, names, heal=heal_rule(session, heal), trigger="drift")
    write_report(report, output_format, out, color=color, mask=session.masker)
    notify_slack(session, report, report.drifted + report.errored)
    if report.errored:
        console.error("the drift check failed; terraform's error is above.")
        return ExitCode.ERROR
    if report.heal_failed:
        return ExitCode.ERROR
    if report.drifted:
        healed = [e.name for e in report.drifted if e.healed]
        left = [e.name for e in report.drifted if not e.healed]
        console.info(
            "Drift found"
            + (f"; healed {', '.join(healed)}" if healed else "")
            + (f"; left as is: {', '.join(left)} (heal with --heal)" if left else "")
            + "."
        )
    if detailed_exitcode and report.drifted:
        return ExitCode.CHANGES
    return ExitCode.OK


@click.command("drift")
@path_argument
@environments_option()
@click.option("--heal", is_flag=True, help="Apply the drifted environments back to the repo.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0: no drift, 2: drift found, 1: error."
)
@click.pass_context
def drift_command(
    ctx: click.Context,
    path: Path,
    environments: tuple[str, ...],
    heal: bool,
    output_format: str,
    detailed_exitcode: bool,
) -> None:
    """Check whether the infrastructure still matches the repo; --heal puts it back.

    A plan of the checkout that should be empty: resources changed outside Terraform and
    what Terraform would change are drift. Environments with `heal: true` in tfops.yaml
    are always healed.
    """
    sys.exit(
        run(
            path,
            environments=environments,
            heal=heal,
            output_format=output_format,
            detailed_exitcode=detailed_exitcode,
            console=ctx.obj.console,
            out=sys.stdout,
            color=ctx.obj.color,
        )
    )
