"""The chat commands: parse → authorise → run through the pipeline → render → answer.

Slack waits 3 seconds, a plan takes longer: a request is answered at once (help and status
in full, everything else with an ack) and the work runs later as a job of the watcher, in
its loop's thread, between reconciles — jobs share the watcher's checkout, so they run one
at a time, and `/healthz`, `/` and other Slack requests are answered meanwhile. Results go
to the request's `response_url` (`respond.py`).

Who may do what comes from the followed branch's tfops.yaml (`slack.appliers`), never from
a message; a request is authorised when it arrives (against the checkout the watcher last
reconciled) and again when its job runs (against the branch's newest commit, fetched).

`/tfops apply ENV` fetches the branch, plans its newest commit under ENV's lock, keeps that
plan in the plan store (kind "chat") and shows it with **Apply** and **Cancel**. Apply is
checked before anything runs: the plan must be one this watcher showed (`plans.py`), for
that environment, still open, not expired; the presser must be an applier; the branch must
still be at the plan's commit. Then exactly the kept plan is applied through
`pipeline.apply_change` (`Change(stored=…)`), which Terraform refuses if the state changed
since. Every apply, refusal and cancel is in the audit log (trigger `slack`, the Slack user).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from tfops import gitutil
from tfops.chatops.commands import ChatCommand, ChatCommandError, parse, resolve
from tfops.chatops.plans import APPLYING, ChatPlan, ChatPlans, PlanClosed
from tfops.chatops.respond import Responder, url_problem
from tfops.config import DEFAULT_SIGNING_SECRET_ENV
from tfops.console import Console
from tfops.errors import Interrupted, TfopsError
from tfops.pipeline.apply import Approval, Change, Planned, apply_change
from tfops.pipeline.guards import plan_problem, targets_for
from tfops.pipeline.heal import check
from tfops.pipeline.outcome import Outcome, RootOutcome
from tfops.pipeline.records import AuditTrail, Records
from tfops.pipeline.session import RootRun, Session
from tfops.plan.model import EnvironmentPlan
from tfops.records.locks import LockHeld, LockHolder, held
from tfops.records.store import StoredPlan
from tfops.render import blocks
from tfops.render.blocks import (
    APPLY_ACTION,
    BUTTON_BLOCKS,
    CANCEL_ACTION,
    PLAN_BLOCK,
    Block,
    Message,
    escape,
)
from tfops.render.slack import plan_message
from tfops.repo.environments import Root
from tfops.server.health import Answer
from tfops.server.slack import ButtonPress, SlashCommand

TRIGGER = "slack"
DRIFT_RESOURCES = 5
STALE_PLAN = re.compile(r"saved plan is stale|plan file .* is stale|stale plan", re.IGNORECASE)


class Workspace(Protocol):
    """What the watcher lends the chat commands (`tfops.watch.Watcher`)."""

    @property
    def branch(self) -> str: ...

    def view(self) -> Session | None:
        """The checkout as last reconciled, to read from any thread (never to plan in)."""

    def latest(self) -> AbstractContextManager[Session]:
        """The branch's newest commit, fetched and checked out (a job's thread only)."""

    def reconciled(self) -> AbstractContextManager[Session]:
        """The last reconciled commit (a job's thread only)."""

    def submit(self, what: str, job: Callable[[], None]) -> int:
        """Run `job` between reconciles; returns how many jobs are ahead of it."""

    def status(self) -> dict[str, Any]: ...


def who(user_id: str, user_name: str = "") -> str:
    """The Slack user as the audit log and the locks name them."""
    name = re.sub(r"[^\w.\-]", "", user_name)[:40]
    return f"{name} (Slack {user_id})" if name else f"Slack {user_id}"


class ChatOps:
    """Answers Slack (`server.slack.SlackApp`) for one watcher."""

    def __init__(
        self,
        workspace: Workspace,
        console: Console,
        plans: ChatPlans,
        *,
        responder: Responder | None = None,
        now: Callable[[], float] = time.time,
    ):
        self.workspace = workspace
        self.console = console
        self.plans = plans
        self.now = now
        self.responder = responder or Responder(console.warn, self._mask_message)

    # ---- what the server asks -------------------------------------------------------------
    def signing_secret_env(self) -> str:
        view = self.workspace.view()
        return view.config.slack.signing_secret_env if view else DEFAULT_SIGNING_SECRET_ENV

    def signing_secret(self) -> str | None:
        return os.environ.get(self.signing_secret_env()) or None

    def team_id(self) -> str | None:
        view = self.workspace.view()
        return view.config.slack.team_id if view else None

    def warn(self, message: str) -> None:
        self.console.warn(message)

    # ---- slash commands --------------------------------------------------------------------
    def command(self, request: SlashCommand) -> Answer:
        problem = url_problem(request.response_url)
        if problem is not None:
            self.console.warn(f"Slack command from {request.user_id} not run: {problem}")
            return _answer(blocks.text(f"tfops can't answer here: {escape(problem)}."))
        try:
            command = parse(request.text)
        except ChatCommandError as exc:
            return _answer(self._help(str(exc)))
        user = who(request.user_id, request.user_name)
        self.console.info(f"Slack: {command.text} from {user}")
        if command.verb == "help":
            return _answer(self._help())
        view = self.workspace.view()
        env = None
        if view is not None and command.environment is not None:
            try:
                env = resolve(command.environment, view.repo.environments)
            except ChatCommandError as exc:
                return _answer(blocks.text(escape(exc)))
        if command.verb == "status":
            return _answer(self._status(view, env))
        if command.verb in ("apply", "unlock") and view is not None and env is not None:
            refusal = self._applier_problem(view, env, request.user_id, command.verb)
            if refusal:
                if command.verb == "apply":
                    self._audit(view, env, user, _head(view), Outcome.REFUSED, refusal)
                return _answer(blocks.text(f":no_entry: {escape(refusal)}"))
        if command.verb == "unlock":
            if view is None or env is None:
                return _answer(blocks.text(_STARTING))
            return _answer(self._unlock(view, env, user, request.user_id))
        ahead = self.workspace.submit(
            f"slack: {command.verb} {env or command.environment or 'every environment'}",
            lambda: self._job(command, request),
        )
        return _answer(self._ack(command, env, request.user_id, ahead))

    def _ack(self, command: ChatCommand, env: str | None, user_id: str, ahead: int) -> Message:
        name = escape(env or command.environment or "every environment")
        branch = escape(self.workspace.branch)
        doing = {
            "plan": f"asked for a plan of *{name}*: planning the newest commit of `{branch}`",
            "apply": f"asked to apply *{name}*: planning the newest commit of `{branch}`",
            "drift": f"asked for a drift check: checking *{name}*",
        }[command.verb]
        queue = f" ({ahead} job(s) ahead)" if ahead else ""
        return blocks.text(
            f":hourglass_flowing_sand: <@{user_id}> {doing}{queue}…", ephemeral=False
        )

    def _job(self, command: ChatCommand, request: SlashCommand) -> None:
        """A slash command's work, in the watcher's loop; answers go to its response_url."""

        def reply(message: Message) -> None:
            self.responder.send(request.response_url, message)

        try:
            if command.verb == "drift":
                with self.workspace.reconciled() as session:
                    reply(self._drift(session, command.environment, request.user_id))
                return
            with self.workspace.latest() as session:
                assert command.environment is not None
                env = resolve(command.environment, session.repo.environments)
                if command.verb == "apply":
                    refusal = self._applier_problem(session, env, request.user_id, "apply")
                    if refusal:
                        user = who(request.user_id, request.user_name)
                        self._audit(session, env, user, _head(session), Outcome.REFUSED, refusal)
                        reply(blocks.text(f":no_entry: {escape(refusal)}"))
                        return
                reply(self._plan(session, env, request, to_apply=command.verb == "apply"))
        except ChatCommandError as exc:
            reply(blocks.text(escape(exc)))
        except Interrupted:
            reply(blocks.text(f":octagonal_sign: tfops stopped during `{command.text}`."))
            raise
        except TfopsError as exc:
            reply(blocks.text(f":x: `{command.text}` failed:\n```\n{_block(exc)}\n```"))
        except Exception as exc:  # a bug must not stop the watcher; its log says what
            self.console.error(f"Slack: {command.text} failed: {type(exc).__name__}: {exc}")
            reply(blocks.text(f":x: `{command.text}` failed inside tfops; see its log."))

    # ---- plan (and apply's first half) ----------------------------------------------------
    def _plan(
        self, session: Session, env: str, request: SlashCommand, *, to_apply: bool
    ) -> Message:
        (root,) = session.roots_for(session.select([env]))
        commit = _head(session)
        targets, note = targets_for(session, root, [env])
        if note and not targets:
            return blocks.text(f"{escape(env)} declares nothing: there is nothing to plan.")
        records = Records.open(session)
        if not to_apply:  # nothing will apply this plan: no lock, nothing kept
            run = session.run_root(root, [env], gates=True, targets=targets)
            try:
                return self._shown(session, records, run, env, commit, note, request, None)
            finally:
                run.discard()
        holder = LockHolder.for_run(kind="slack", who=who(request.user_id, request.user_name))
        try:
            with held(
                records.locks,
                [env],
                holder,
                wait_seconds=session.config.locks.wait_seconds,
                warn=self.console.warn,
            ):
                run = session.run_root(root, [env], gates=True, targets=targets)
                try:
                    return self._shown(session, records, run, env, commit, note, request, holder)
                finally:
                    run.discard()
        except LockHeld as exc:
            return blocks.text(f":lock: Not planned: {escape(exc.message)}.", ephemeral=False)

    def _shown(
        self,
        session: Session,
        records: Records,
        run: RootRun,
        env: str,
        commit: str,
        note: str | None,
        request: SlashCommand,
        holder: LockHolder | None,
    ) -> Message:
        """The plan as a message; for apply, kept (still under the lock) with its buttons."""
        problem = plan_problem(run)
        if problem is not None or run.summary is None:
            plan = EnvironmentPlan(env, error=session.masker(problem or "terraform plan failed"))
        else:
            plan = run.summary.environment(env)
        report = session.report([run], [env])
        report.repo, report.commit = records.repo, commit
        report.summary.environments = {env: plan}
        report.notes = [
            f"Asked by {request.user_id} for {env} on {self.workspace.branch}",
            *([note] if note else []),
        ]
        shown_plan = plan_message(report, mask=session.masker, reserve=BUTTON_BLOCKS)
        summary: list[Block] = shown_plan["blocks"]
        fallback = str(shown_plan["text"])
        if holder is None or plan.error or not plan.has_changes:
            return blocks.message(summary, fallback)
        kept = records.keep(
            session, run, [env], kind="chat", commit=commit, pr=None, who=holder.who
        )
        shown = self.plans.new(
            environment=env,
            repo=records.repo,
            commit=commit,
            sha256=kept[env].sha256,
            requested_by=request.user_id,
            summary=summary,
        )
        ttl = session.config.slack.plan_ttl_minutes
        buttons = blocks.apply_buttons(
            shown.id,
            env,
            ttl_minutes=ttl,
            expires=shown.expires(ttl),
            destructive=bool(plan.destructive),
        )
        self.console.info(f"Slack: showing the plan of {env} at {commit[:12]} with Apply")
        return blocks.message([*summary, *buttons], fallback)

    # ---- the buttons -------------------------------------------------------------------------
    def press(self, press: ButtonPress) -> Answer:
        if press.action_id not in (APPLY_ACTION, CANCEL_ACTION):
            return Answer(200)  # not a button of tfops's
        problem = url_problem(press.response_url)
        if problem is not None:
            self.console.warn(f"Slack button from {press.user_id} not handled: {problem}")
            return Answer(200)
        user = who(press.user_id, press.user_name)
        plan = self.plans.get(press.value)
        if plan is None or press.block_id != PLAN_BLOCK + plan.environment:
            self.console.warn(
                f"Slack: {user} pressed a button naming no plan tfops showed "
                f"({press.value[:16]!r}); nothing done"
            )
            self._reply(press, blocks.text("This button names no plan tfops showed: nothing done."))
            return Answer(200)
        view = self.workspace.view()
        if view is None:
            self._reply(press, blocks.text(_STARTING))
            return Answer(200)
        if press.action_id == CANCEL_ACTION:
            self._cancel(view, plan, press, user)
        else:
            self._press_apply(view, plan, press, user)
        return Answer(200)

    def _cancel(self, view: Session, plan: ChatPlan, press: ButtonPress, user: str) -> None:
        env = plan.environment
        if press.user_id != plan.requested_by and not view.config.slack.may_apply(
            press.user_id, env
        ):
            self._reply(
                press,
                blocks.text(f"Only an applier of {escape(env)} or who asked for it can cancel."),
            )
            return
        try:
            self.plans.take(plan.id, Outcome.DECLINED.value, press.user_id)
        except PlanClosed as exc:
            self._reply(press, blocks.text(f"Nothing done: {exc}."))
            return
        detail = f"cancelled in Slack by {user}"
        self._audit(view, env, user, plan.commit, Outcome.DECLINED, detail, plan)
        self.console.info(f"Slack: the plan of {env} at {plan.commit[:12]} was {detail}")
        line = blocks.render("chat_outcome.slack.j2", **_outcome(plan, "declined", press))
        self._reply(press, _closed(plan, line))

    def _press_apply(self, view: Session, plan: ChatPlan, press: ButtonPress, user: str) -> None:
        """Checks that need no fetch, now; the rest in the job. A refusal that is about the
        presser leaves the plan open for an applier; one about the plan closes it."""
        env = plan.environment
        refusal = self._applier_problem(view, env, press.user_id, "apply")
        if refusal:
            self._audit(view, env, user, plan.commit, Outcome.REFUSED, refusal, plan)
            self._reply(press, blocks.text(f":no_entry: {escape(refusal)}"))
            return
        expired = self._expired(view, plan)
        if expired:
            try:
                self.plans.take(plan.id, "expired", press.user_id, expired)
            except PlanClosed as exc:
                self._reply(press, blocks.text(f"Nothing done: {exc}."))
                return
            self._audit(view, env, user, plan.commit, Outcome.REFUSED, expired, plan)
            self._reply(press, _closed(plan, f":hourglass: Not applied: {escape(expired)}."))
            return
        try:
            self.plans.take(plan.id, APPLYING, press.user_id)
        except PlanClosed as exc:
            self.console.info(f"Slack: {user} pressed Apply again on {env}: {exc}")
            self._reply(press, blocks.text(f"Nothing done: {exc}."))
            return
        self._reply(
            press,
            _closed(
                plan,
                f":hourglass_flowing_sand: Applying *{escape(env)}* for <@{press.user_id}>: "
                f"fetching `{escape(self.workspace.branch)}` first…",
            ),
        )
        self.workspace.submit(f"slack: apply {env}", lambda: self._apply(plan, press, user))

    def _apply(self, plan: ChatPlan, press: ButtonPress, user: str) -> None:
        """Apply exactly the kept plan, through the pipeline (a job in the watcher's loop)."""
        env = plan.environment
        try:
            with self.workspace.latest() as session:
                records = Records.open(session)
                head = _head(session)
                refusal = (
                    self._applier_problem(session, env, press.user_id, "apply")
                    or self._moved(plan, head)
                    or self._expired(session, plan)
                )
                stored = None
                if refusal is None:
                    stored, refusal = _kept(records, plan)
                if refusal is not None or stored is None:
                    refusal = refusal or "the plan is gone from the plan store"
                    self.plans.finish(plan.id, Outcome.REFUSED.value, refusal)
                    self._audit(session, env, user, plan.commit, Outcome.REFUSED, refusal, plan)
                    self._reply(press, _closed(plan, f":no_entry: Not applied: {escape(refusal)}."))
                    return
                (root,) = session.roots_for(session.select([env]))
                outcome = self._through_pipeline(session, records, root, plan, stored, user)
        except Interrupted:
            self.plans.finish(plan.id, "interrupted", "tfops stopped while applying it")
            self._reply(press, _closed(plan, ":octagonal_sign: tfops stopped while applying."))
            raise
        except TfopsError as exc:
            self.plans.finish(plan.id, Outcome.FAILED.value, str(exc))
            self._reply(press, _closed(plan, f":x: Not applied:\n```\n{_block(exc)}\n```"))
            return
        except Exception as exc:  # a bug must not stop the watcher; its log says what
            self.plans.finish(plan.id, Outcome.FAILED.value, type(exc).__name__)
            self.console.error(f"Slack: applying {env} failed: {type(exc).__name__}: {exc}")
            self._reply(press, _closed(plan, ":x: Not applied: tfops failed; see its log."))
            return
        result = outcome.result_of(env)
        self.plans.finish(plan.id, result.value, outcome.detail)
        self.console.info(f"Slack: {env} {result.value} (Apply pressed by {user})")
        line = blocks.render(
            "chat_outcome.slack.j2",
            **_outcome(
                plan,
                result.value,
                press,
                changes=outcome.changes.get(env, ""),
                detail=outcome.detail,
                hint=_hint(outcome, env),
            ),
        )
        self._reply(press, _closed(plan, line))
        self._reply(press, blocks.text(line, ephemeral=False, replace_original=False))

    def _through_pipeline(
        self,
        session: Session,
        records: Records,
        root: Root,
        plan: ChatPlan,
        stored: StoredPlan,
        user: str,
    ) -> RootOutcome:
        def approve(planned: Planned) -> Approval:
            # under the lock, right before terraform: time passed waiting for it
            problem = self._expired(session, plan) or self._moved(plan, _head(session))
            if problem:
                return Approval.refuse(problem)
            return Approval.grant(f" — Apply pressed in Slack by {user}")

        change = Change(
            root,
            [plan.environment],
            TRIGGER,
            plan.commit,
            LockHolder.for_run(kind="slack", who=user),
            gates=False,
            stored=stored,
        )
        return apply_change(session, records, change, approve)

    # ---- checks --------------------------------------------------------------------------------
    def _applier_problem(self, session: Session, env: str, user_id: str, verb: str) -> str | None:
        if session.config.slack.may_apply(user_id, env):
            return None
        return (
            f"{user_id} may not {verb} {env} from Slack: not in slack.appliers.{env} of "
            f"tfops.yaml on {self.workspace.branch}"
        )

    def _expired(self, session: Session, plan: ChatPlan) -> str | None:
        ttl = session.config.slack.plan_ttl_minutes
        expires = plan.expires(ttl)
        if self.now() <= expires:
            return None
        at = time.strftime("%H:%M UTC", time.gmtime(expires))
        return (
            f"the plan expired at {at} (slack.plan_ttl_minutes: {ttl}); "
            f"run /tfops apply {plan.environment} for a new one"
        )

    def _moved(self, plan: ChatPlan, head: str) -> str | None:
        if head == plan.commit:
            return None
        return (
            f"{self.workspace.branch} moved on to {head[:12]} since this plan of "
            f"{plan.commit[:12]}; run /tfops apply {plan.environment} for a plan of it"
        )

    # ---- status, unlock, drift, help -----------------------------------------------------------
    def _status(self, view: Session | None, env: str | None) -> Message:
        if view is None:
            return blocks.text(_STARTING)
        status = self.workspace.status()
        names = [env] if env else list(view.repo.environments)
        try:
            records = Records.open(view)
            entries = records.audit.entries()
            locks = {name: records.locks.get(name) for name in names}
            held_by = {name: lock.describe() for name, lock in locks.items() if lock is not None}
        except TfopsError as exc:
            return blocks.text(f":x: tfops could not read its records: {escape(exc)}")
        last = {e.environment: e for e in entries}
        drift = (status.get("drift") or {}).get("environments") or {}
        rows = [
            {
                "name": name,
                "apply_mode": view.repo.environments[name].apply_mode,
                "run": status["runs"].get(name),
                "applied": last.get(name),
                "drift": (drift.get(name) or {}).get("summary"),
                "lock": held_by.get(name),
            }
            for name in names
        ]
        text = blocks.render(
            "chat_status.slack.j2",
            repo=status.get("repo") or view.repo.root.name,
            branch=self.workspace.branch,
            commit=status.get("last_commit_reconciled"),
            activity=status.get("activity"),
            rows=rows,
        )
        return blocks.text(view.masker(text))

    def _unlock(self, view: Session, env: str, user: str, user_id: str) -> Message:
        locks = Records.open(view).locks
        current = locks.get(env)
        if current is None:
            return blocks.text(f"{escape(env)} was not locked.")
        if current.pid is not None and current.stale_reason() is None:
            return blocks.text(
                f":lock: {escape(env)} is {escape(current.describe())}: a run is still "
                "applying it. Wait for it to finish."
            )
        released = locks.break_lock(env)
        what = (released or current).describe()
        self.console.warn(f"Slack: {user} released the lock on {env} ({what})")
        return blocks.text(
            f":unlock: <@{user_id}> released the lock on *{escape(env)}*: {escape(what)}.",
            ephemeral=False,
        )

    def _drift(self, session: Session, word: str | None, user_id: str) -> Message:
        names = [resolve(word, session.repo.environments)] if word else []
        report = check(session, names, heal=lambda name: False, trigger=TRIGGER)
        text = blocks.render(
            "chat_drift.slack.j2", report=report, asked_by=user_id, max_resources=DRIFT_RESOURCES
        )
        return blocks.text(session.masker(text), ephemeral=False)

    def _help(self, problem: str | None = None) -> Message:
        view = self.workspace.view()
        names = list(view.repo.environments) if view else []
        appliers = {n: view.config.slack.appliers.get(n, []) for n in names} if view else {}
        return blocks.text(
            blocks.render(
                "chat_help.slack.j2",
                problem=problem,
                repo=view.repo.root.name if view else "the environments repo",
                branch=self.workspace.branch,
                environments=names,
                appliers=appliers,
            )
        )

    # ---- records and answers -------------------------------------------------------------
    def _audit(
        self,
        session: Session,
        env: str,
        user: str,
        commit: str,
        outcome: Outcome,
        detail: str,
        plan: ChatPlan | None = None,
    ) -> None:
        """An audit line for what did not go through the pipeline: a refusal, a Cancel."""
        try:
            trail = AuditTrail(Records.open(session), user, commit, None, TRIGGER, "", None)
            sha = {env: plan.sha256} if plan else None
            trail.write([env], outcome, sha=sha, detail=session.masker(detail))
        except TfopsError as exc:
            self.console.error(f"Slack: could not write the audit line ({exc})")

    def _reply(self, press: ButtonPress, message: Message) -> None:
        self.responder.send(press.response_url, message)

    def _mask(self, text: str) -> str:
        masked = self.console.masker(text)
        secret = self.signing_secret()
        return masked.replace(secret, "***") if secret else masked

    def _mask_message(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._mask(value)
        if isinstance(value, dict):
            return {k: self._mask_message(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mask_message(v) for v in value]
        return value


_STARTING = "tfops is still making its first pass over the repo: try again in a minute."


def _answer(message: Message) -> Answer:
    return Answer.json(message)


def _head(session: Session) -> str:
    return gitutil.head_commit(session.repo.root) or "uncommitted"


def _block(exc: object) -> str:
    return blocks.code_block(str(exc)[-2500:])


def _closed(plan: ChatPlan, line: str) -> Message:
    return blocks.message(
        blocks.closed(plan.summary, line),
        f"tfops plan of {plan.environment} at {plan.commit[:12]}",
        replace_original=True,
    )


def _outcome(
    plan: ChatPlan,
    outcome: str,
    press: ButtonPress,
    *,
    changes: str = "",
    detail: str = "",
    hint: str = "",
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "environment": plan.environment,
        "commit": plan.commit,
        "by": press.user_id,
        "changes": changes,
        "detail": detail,
        "hint": hint,
    }


def _kept(records: Records, plan: ChatPlan) -> tuple[StoredPlan | None, str | None]:
    """The plan kept when it was shown, verified; or why it can't be applied."""
    try:
        stored = records.store.get(plan.key)  # its bytes checked against their sha256
    except TfopsError as exc:
        return None, exc.message
    if stored.record.sha256 != plan.sha256:
        return None, (
            "the plan kept in the plan store is not the one shown here "
            f"(sha256 {stored.record.sha256[:12]}…, shown {plan.sha256[:12]}…)"
        )
    return stored, None


def _hint(outcome: RootOutcome, env: str) -> str:
    hints = []
    if outcome.outcome is Outcome.FAILED and STALE_PLAN.search(outcome.detail):
        hints.append(
            f"The state changed since this plan was made, so Terraform refused it: "
            f"run /tfops apply {env} for a new plan."
        )
    if outcome.audit_problem:
        hints.append(f":warning: {outcome.audit_problem}")
    return "\n".join(hints)
