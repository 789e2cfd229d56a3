"""`schedule` and `workflow_dispatch` events: drift checks, one issue per environment.

Environments with `heal: true` in the default branch's tfops.yaml are healed; with
`tfops ci --heal` or a workflow_dispatch input `heal: true`, every drifted one is. Heal
settings always come from the default branch: a dispatch on another branch can't grant
itself a heal.
"""

from __future__ import annotations

import json

from tfops.ci.context import CiContext
from tfops.ci.trust import trusted_session
from tfops.errors import ExitCode
from tfops.github.errors import GithubError
from tfops.github.identity import authored_by, own_login
from tfops.notify.drift import notify_slack, sync_issues
from tfops.pipeline.heal import check, heal_rule
from tfops.render.comment import SUMMARY_LIMIT


def handle(ctx: CiContext) -> ExitCode:
    event, console = ctx.event, ctx.console
    on_default = event.name == "schedule" or str(event.payload.get("ref") or "") == (
        f"refs/heads/{ctx.default_branch()}"
    )
    session = trusted_session(ctx, checkout_is_trusted=on_default).session
    if event.token:
        session.masker.add_values([event.token])
    names = [e.name for e in session.select(ctx.environments)]
    inputs = event.payload.get("inputs") if event.name == "workflow_dispatch" else None
    asked = isinstance(inputs, dict) and str(inputs.get("heal", "")).lower() == "true"
    heal_all = ctx.heal == "all" or (asked and ctx.heal != "none")
    console.step(
        f"Drift check ({event.name}) of {', '.join(names)} in {session.repo.root.name}"
        + (" — healing every drifted environment" if heal_all else "")
        + (" — checking only" if ctx.heal == "none" else "")
    )
    heal = (lambda name: False) if ctx.heal == "none" else heal_rule(session, heal_all)
    report = check(session, names, heal=heal, trigger=event.name)
    report.run_url = event.run_url
    ctx.out.write(session.masker(report.text(color=False)))
    ctx.out.flush()
    failure: GithubError | None = None
    if session.config.drift.github_issues:
        try:
            client = ctx.client()
            sync_issues(
                client,
                report,
                names,
                mask=session.masker,
                key=ctx.checkout_prefix().rstrip("/"),
                console=console,
                is_mine=authored_by(own_login(client, session.config.github.bot_login)),
            )
        except GithubError as exc:
            failure = exc
            console.error(f"could not update the drift issues: {exc}")
    else:
        console.info("Not touching GitHub issues: drift.github_issues is false.")
    notify_slack(report, report.drifted + report.errored, masker=session.masker, console=console)
    if event.step_summary is not None:
        text = report.markdown(limit=SUMMARY_LIMIT // 3, mask=session.masker)  # limit: bytes
        with event.step_summary.open("a", encoding="utf-8") as handle:
            handle.write(session.masker(text) + "\n")
    if event.output is not None:
        with event.output.open("a", encoding="utf-8") as handle:
            handle.write(f"drift={'true' if report.drifted else 'false'}\n")
            drifted = [e.name for e in report.drifted if e.name in session.repo.environments]
            handle.write(f"drifted={json.dumps(drifted)}\n")
    if failure is not None or report.errored or report.heal_failed:
        return ExitCode.ERROR
    return ExitCode.OK
