"""`push` events on the default branch: apply on merge, catching up on lost runs.

Which pull requests a commit merged is asked of GitHub (`commits/{sha}/pulls`, merged ones
whose merge commit is that commit — a merge queue's batch lands several). The pipeline
decides per environment what is pending since its last apply (`pipeline.merge`). The
result goes to every pull request applied, to the job summary and to the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tfops.ci.context import CiContext
from tfops.ci.trust import trusted_session
from tfops.errors import ExitCode
from tfops.github.body import BODY_LIMIT, utf16_length
from tfops.github.client import GithubClient, GithubError
from tfops.pipeline.merge import MergedPR, MergeResult, apply_merged, resolve_commit


@dataclass
class GithubHistory:
    """The merged pull requests of a commit, from GitHub."""

    client: GithubClient

    def merged_by(self, commit: str) -> list[MergedPR]:
        out = []
        for pull in self.client.pull_requests_for_commit(commit):
            merge_commit = pull.get("merge_commit_sha")
            if not pull.get("merged_at") or (merge_commit and merge_commit != commit):
                continue  # open, closed unmerged, or merged elsewhere (a later rebase)
            head = str((pull.get("head") or {}).get("sha") or "") or None
            out.append(MergedPR(int(pull["number"]), head, commit))
        return sorted(out, key=lambda p: p.number)


def handle(ctx: CiContext) -> ExitCode:
    event, console = ctx.event, ctx.console
    payload = event.payload
    ref = str(payload.get("ref") or "")
    default = ctx.default_branch()
    if ref != f"refs/heads/{default}":
        console.info(f"Push to {ref}, not to the default branch {default}: nothing to apply.")
        return ExitCode.OK
    session = trusted_session(ctx, checkout_is_trusted=True).session
    if event.token:
        session.masker.add_values([event.token])
    commit = resolve_commit(session, str(payload.get("after") or "HEAD"))
    client = ctx.client()
    result = apply_merged(
        session,
        commit,
        GithubHistory(client),
        environments=ctx.environments,
        gates=ctx.gates,
    )
    if not result.prs:
        console.info(
            f"Nothing merged up to {commit[:12]} since the last apply needs applying "
            "(tfops applies only what a pull request reviewed)."
        )
    ctx.out.write(session.masker(result.text()))
    ctx.out.flush()
    if event.step_summary is not None:
        with event.step_summary.open("a", encoding="utf-8") as handle:
            handle.write(session.masker(result.markdown(session.masker)) + "\n")
    if session.config.github.comment:
        body = session.masker(budgeted(result, session.masker))
        for number in result.prs:
            try:
                client.create_comment(number, body)
            except GithubError as exc:
                console.warn(f"could not comment on #{number}: {exc.message}")
    return result.exit_code


def budgeted(result: MergeResult, mask: Callable[[str], str] = str, limit: int = BODY_LIMIT) -> str:
    """The result's Markdown within GitHub's comment limit: details are cut, never the table."""
    body = result.markdown(mask)
    cap = max((len(o.detail) for o in result.outcomes), default=0)
    while utf16_length(body) > limit and cap > 200:
        cap //= 2
        for outcome in result.outcomes:
            if len(outcome.detail) > cap:
                outcome.detail = outcome.detail[:cap] + "\n… (cut: the full text is in the log)"
        body = result.markdown(mask)
    return body
