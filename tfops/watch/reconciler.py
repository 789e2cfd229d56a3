"""The reconciler loop: fetch, reconcile what moved, check drift, heal."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import git

from tfops import __version__
from tfops.chatops import ChatOps, ChatPlans
from tfops.console import Console
from tfops.errors import ExitCode, Interrupted, TfopsError
from tfops.github.client import DEFAULT_API_URL, GithubClient, GithubError
from tfops.github.identity import authored_by, own_login
from tfops.modules.resolve import display_url
from tfops.notify.drift import notify_slack, sync_issues
from tfops.pipeline.apply import Change, apply_change, by_policy
from tfops.pipeline.drift import DriftReport
from tfops.pipeline.guards import plan_problem
from tfops.pipeline.heal import check
from tfops.pipeline.records import Records
from tfops.pipeline.session import Session
from tfops.records.audit import now_iso
from tfops.records.locks import LockHolder
from tfops.repo.environments import EnvironmentsRepo, Root
from tfops.report.overview import OverviewPage
from tfops.server.health import HealthServer
from tfops.server.slack import COMMANDS_PATH, INTERACTIONS_PATH, SlackEndpoints
from tfops.watch.clones import Clone, FetchError, ModuleRepo, module_repos
from tfops.watch.state import (
    RETRIED,
    RunRecord,
    WatchOptions,
    WatchState,
    backoff_seconds,
    default_state_dir,
    normalise_repo,
)

STATE_FILE = "state.json"
CHAT_PLANS_FILE = "slack-plans.json"
STUCK_INTERVALS = 3  # /healthz says 503 when the loop made no progress for this many intervals


# ---- the reconciler --------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    trigger: str  # initial | commit | module | retry
    text: str


@dataclass
class Synced:
    """The clones after a fetch: the branch's commit and each module repo's."""

    commit: str
    modules: dict[str, ModuleRepo] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    broken: str | None = None  # why this commit's configuration can't be read


class Watcher:
    def __init__(self, options: WatchOptions, console: Console):
        self.options = options
        self.console = console
        self.origin = normalise_repo(options.repo)
        self.state_dir = (options.state_dir or default_state_dir(options.repo)).absolute()
        self.checkouts = self.state_dir / "checkout"
        name = Path(self.origin.rstrip("/")).name.removesuffix(".git") or "environments"
        self.clone = Clone(self.checkouts / name, self.origin)
        self.root = self.clone.path / options.path if options.path else self.clone.path
        self.state = WatchState()
        self.started_at = now_iso()
        self.interrupted_during: str | None = None
        self._lock = threading.Lock()
        self._activities: list[str] = []
        self._beat = time.monotonic()
        self._terraform_timeout = 3600.0
        self._modules: dict[str, ModuleRepo] = {}
        self._jobs: queue.Queue[tuple[str, Callable[[], None]]] = queue.Queue()
        self._view: tuple[str | None, Session] | None = None
        self.chat: ChatOps | None = None

    # ---- running -----------------------------------------------------------------------
    def run(self) -> ExitCode:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with exclusive(self.state_dir):
            self.state = WatchState.load(self.state_dir / STATE_FILE, self.console)
            shown = display_url(self.origin)  # no credentials on disk
            if self.state.repo and self.state.repo != shown:
                self.console.warn(f"{self.state_dir} was watching {self.state.repo}; now {shown}")
            self.state.repo, self.state.branch = shown, self.options.branch
            server = self.serve()
            try:
                return self._loop()
            finally:
                self.save()
                if server is not None:
                    server.stop()
                if self.chat is not None:
                    self.chat.responder.flush(timeout=15.0)  # the last answers to Slack

    def _loop(self) -> ExitCode:
        options = self.options
        if options.drift_interval is None:
            drift = "drift checks every drift.interval_minutes (tfops.yaml)"
        elif options.drift_interval > 0:
            drift = f"drift checks every {options.drift_interval:g} min"
        else:
            drift = "no drift checks"
        if options.heal:
            drift += ", healing drifted `apply: auto` environments"
        self.console.step(
            f"Watching {display_url(self.origin)} ({options.branch}"
            + (f", {options.path}" if options.path else "")
            + f") every {options.interval:g}s; {drift}; state in {self.state_dir}"
        )
        try:
            while True:
                ok = self.tick()
                if options.once:
                    return ExitCode.OK if ok else ExitCode.ERROR
                self._idle(options.interval)
        except Interrupted as exc:
            if self.interrupted_during:
                self.console.error(
                    f"{exc.message} while {self.interrupted_during}: stopped (terraform, if it "
                    "was running, was asked to stop cleanly); state saved."
                )
                return ExitCode.INTERRUPTED
            self.console.info(f"tfops watch: {exc.message}; stopped while idle, state saved.")
            return ExitCode.OK

    def _idle(self, seconds: float) -> None:
        """Wait for the next pass, running chat jobs as they come in."""
        self._heartbeat()
        self._refresh_view()
        self.run_jobs(until=time.monotonic() + seconds)

    def tick(self) -> bool:
        """One pass: fetch, reconcile what moved, check drift when due. True: all went well."""
        with self.activity("reconciling"):
            self.state.ticks += 1
            self.state.last_tick_at = now_iso()
            ok = True
            synced: Synced | None = None
            if not self.options.once and time.time() < self.state.fetch.next_at:
                wait = self.state.fetch.next_at - time.time()
                self.console.note(
                    f"Backing off after {self.state.fetch.failures} failed fetch(es); "
                    f"next fetch in {wait:.0f}s."
                )
            else:
                synced = self.sync()
                ok = synced is not None and synced.broken is None
            fresh = synced if synced is not None and synced.broken is None else None
            session = self._session() if fresh or self.state.commit else None
            if fresh is not None and session is not None:
                ok = self.reconcile(session, fresh) and ok
            if session is not None and self.state.commit and self._drift_due(session):
                ok = self.check_drift(session) and ok
            self.save()
            return ok

    # ---- fetching ----------------------------------------------------------------------
    def sync(self) -> Synced | None:
        """Fetch the repo and the module repos and check out their new commits."""
        fetch = self.state.fetch
        with self.activity("fetching"):
            try:
                synced = self._sync()
            except FetchError as exc:
                fetch.failures += 1
                fetch.last_error = exc.message
                delay = backoff_seconds(fetch.failures, self.options.interval)
                fetch.next_at = time.time() + delay
                self.console.error(f"{exc}\n  (failure {fetch.failures}; retrying in {delay:.0f}s)")
                self._restore()
                return None
        fetch.failures, fetch.last_error, fetch.next_at = 0, None, 0.0
        fetch.last_ok_at = now_iso()
        if synced.broken and self.state.broken != synced.commit:
            self.console.error(
                f"commit {synced.commit[:12]} can't be reconciled: {synced.broken}\n"
                "  tfops watch skips it and tries again when the branch moves."
            )
        self.state.broken = synced.commit if synced.broken else None
        self.state.broken_error = synced.broken
        if synced.broken:
            self._restore()
        return synced

    def _sync(self) -> Synced:
        self.clone.update()
        commit = self.clone.head(self.options.branch)
        if commit != self.state.seen:
            self.console.info(f"{self.options.branch} is at {commit[:12]}.")
        self.state.seen = commit
        self.clone.checkout(commit)
        synced = Synced(commit)
        try:
            if not self.root.is_dir():
                raise TfopsError(f"{self.options.path!r} is not a directory in the repo")
            synced.modules = module_repos(
                EnvironmentsRepo(self.root), self.clone.path.resolve(), self.origin
            )
        except FetchError:
            raise
        except TfopsError as exc:
            synced.broken = str(exc)
            return synced
        self._modules = synced.modules
        for name, module in synced.modules.items():
            clone = Clone(self.checkouts / name, module.url)
            clone.update()
            synced.heads[name] = clone.head(None)
            clone.checkout(synced.heads[name])
        return synced

    def _restore(self) -> None:
        """Put the clones back at the last reconciled commits, so drift checks see what
        was applied rather than what could not be."""
        wanted = {self.clone.path: self.state.commit}
        wanted.update({self.checkouts / n: c for n, c in self.state.modules.items()})
        for path, commit in wanted.items():
            if commit and (path / ".git").is_dir():
                with contextlib.suppress(TfopsError, git.GitError):
                    Clone(path, "").checkout(commit)

    def _session(self) -> Session | None:
        try:
            session = Session.open(self.root, self.console)
        except TfopsError as exc:
            self.console.error(f"cannot read the environments repo: {exc}")
            return None
        self._terraform_timeout = session.config.terraform.timeout_minutes * 60.0
        return session

    # ---- reconciling -------------------------------------------------------------------
    def pending(self, session: Session, synced: Synced) -> dict[str, list[Reason]]:
        """The environments to reconcile, and why."""
        repo = session.repo
        work: dict[str, list[Reason]] = {}

        def add(names: list[str] | tuple[str, ...], reason: Reason) -> None:
            for name in names:
                if name in repo.environments:
                    work.setdefault(name, []).append(reason)

        old, new = self.state.commit, synced.commit
        if old is None:
            add(list(repo.environments), Reason("initial", f"first sync at {new[:12]}"))
        elif old != new:
            changed = self.clone.changed_files(old, new)
            if changed is None:
                add(
                    list(repo.environments), Reason("commit", f"{old[:12]} is gone from the branch")
                )
            else:
                prefix = self.options.path.strip("/") + "/" if self.options.path else ""
                mine = [n[len(prefix) :] for n in changed if n.startswith(prefix)]
                add(repo.affected_environments(mine), Reason("commit", f"commit {new[:12]}"))
        for name, module in synced.modules.items():
            before, after = self.state.modules.get(name), synced.heads[name]
            if old is not None and before is not None and before != after:
                text = f"module repo {name} at {after[:12]}"
                add(module.floating, Reason("module", text))
        if work:
            add(self.state.retry(), Reason("retry", "its last run did not succeed"))
        return work

    def reconcile(self, session: Session, synced: Synced) -> bool:
        work = self.pending(session, synced)
        ok = True
        if work:
            names = sorted(work)
            self.console.step(
                f"Reconciling {', '.join(names)} at {synced.commit[:12]}: "
                + "; ".join(sorted({r.text for rs in work.values() for r in rs}))
            )
            envs = session.select(names)
            records = Records.open(session)
            holder = LockHolder.for_run(kind="watch")
            for root in session.roots_for(envs):
                in_root = [n for n in names if n in root.environments]
                auto = [n for n in in_root if session.repo.environments[n].apply_mode == "auto"]
                manual = [n for n in in_root if n not in auto]
                if auto:
                    change = Change(
                        root, auto, "watch", synced.commit, holder, gates=self.options.gates
                    )
                    ok = self._apply(session, records, change, work) and ok
                if manual:
                    ok = self._plan(session, root, manual, work, synced.commit, not auto) and ok
        self.state.commit = synced.commit
        self.state.modules = dict(synced.heads)
        self.save()
        return ok

    def _apply(
        self,
        session: Session,
        records: Records,
        change: Change,
        work: dict[str, list[Reason]],
    ) -> bool:
        """`apply: auto` environments: through the pipeline, approved by that policy."""
        started = time.monotonic()
        names = change.environments
        with self.activity(f"applying {', '.join(names)}"):
            try:
                outcome = apply_change(session, records, change, by_policy(" (apply: auto)"))
            except Interrupted:
                for name in names:
                    self._record(name, work[name], change.commit, "interrupted", started)
                raise
        for name in names:
            self._record(
                name,
                work[name],
                change.commit,
                outcome.result_of(name).value,
                started,
                changes=outcome.changes.get(name, ""),
                detail=session.masker(outcome.detail),
            )
        return outcome.ok

    def _plan(
        self,
        session: Session,
        root: Root,
        names: list[str],
        work: dict[str, list[Reason]],
        commit: str,
        gates: bool,
    ) -> bool:
        """`apply: manual` environments are planned only: the plan says what waits for them."""
        started = time.monotonic()
        run = None
        with self.activity(f"planning {', '.join(names)}"):
            try:
                run = session.run_root(root, names, gates=gates and self.options.gates)
                problem = plan_problem(run)
            except Interrupted:
                for name in names:
                    self._record(name, work[name], commit, "interrupted", started)
                raise
            except TfopsError as exc:
                problem = str(exc)
            finally:
                if run is not None:
                    run.discard()
        for name in names:
            if problem or run is None or run.summary is None:
                self._record(name, work[name], commit, "failed", started, detail=problem or "")
                continue
            plan = run.summary.environment(name)
            hint = (
                f"apply: manual — apply it with `tfops apply -e {name}`" if plan.has_changes else ""
            )
            self._record(name, work[name], commit, "planned", started, plan.counts.phrase(), hint)
        return problem is None

    def _record(
        self,
        name: str,
        reasons: list[Reason],
        commit: str,
        result: str,
        started: float,
        changes: str = "",
        detail: str = "",
    ) -> None:
        record = RunRecord(
            trigger=reasons[0].trigger,
            reason="; ".join(r.text for r in reasons),
            commit=commit,
            result=result,
            at=now_iso(),
            seconds=round(time.monotonic() - started, 1),
            changes=changes,
            detail=detail[:2000],
        )
        with self._lock:
            self.state.runs[name] = record
        line = f"{name}: {result}" + (f" ({changes})" if changes else "") + f" — {record.reason}"
        if result in RETRIED:
            self.console.error(line + (f"\n  {detail.strip()}" if detail.strip() else ""))
        else:
            self.console.info(line)
        self._heartbeat()

    # ---- drift -------------------------------------------------------------------------
    def _drift_minutes(self, session: Session) -> float:
        if self.options.drift_interval is not None:
            return self.options.drift_interval
        return float(session.config.drift.interval_minutes)

    def _drift_due(self, session: Session) -> bool:
        minutes = self._drift_minutes(session)
        if minutes <= 0:
            return False
        last = self.state.drift.get("checked_at")
        if not last:
            return True
        age = time.time() - datetime.fromisoformat(str(last).replace("Z", "+00:00")).timestamp()
        return age >= minutes * 60

    def check_drift(self, session: Session) -> bool:
        """Check every environment; heal those with `heal: true`, and with --heal those with
        `apply: auto` — not those whose last change failed: that needs a fix in the repo."""
        names = list(session.repo.environments)
        failing = set(self.state.retry())

        def heal(name: str) -> bool:
            env = session.repo.environments[name]
            wanted = env.config.heal or (self.options.heal and env.apply_mode == "auto")
            if wanted and name in failing:
                self.console.warn(f"not healing {name}: its last run failed (see /status)")
            return wanted and name not in failing

        started = time.monotonic()
        with self.activity("checking for drift"):
            try:
                report = check(session, names, heal=heal, trigger="watch-heal")
            except Interrupted:
                raise
            except TfopsError as exc:
                self.console.error(f"the drift check failed: {exc}")
                self.state.drift.update(checked_at=now_iso(), error=str(exc))
                return False
        self.console.info(session.masker(report.text()).rstrip())
        self._publish_drift(session, report)
        for env in report.environments.values():
            if env.heal is not None:
                reason = [Reason("heal", f"drift found at {str(report.commit)[:12]}")]
                changes = env.plan.counts.phrase() if env.plan else ""
                detail = session.masker(env.heal_detail)
                commit = report.commit or ""
                self._record(env.name, reason, commit, env.heal, started, changes, detail)
        return not report.errored and not report.heal_failed

    def _publish_drift(self, session: Session, report: DriftReport) -> None:
        before = self.state.drift.get("environments") or {}
        news = [
            env
            for env in [*report.drifted, *report.errored]
            if env.heal is not None
            or (before.get(env.name) or {}).get("key") != f"{env.status}:{env.fingerprint()}"
        ]
        # only what is new: not every interval
        notify_slack(report, news, masker=session.masker, console=self.console)
        client = self._github(session)
        if client is not None:
            try:
                sync_issues(
                    client,
                    report,
                    [n for n in report.environments if n in session.repo.environments],
                    mask=session.masker,
                    key=self.options.path.strip("/"),
                    console=self.console,
                    is_mine=authored_by(own_login(client, session.config.github.bot_login)),
                )
            except GithubError as exc:
                self.console.warn(f"could not update the drift issues: {exc}")
        with self._lock:
            self.state.drift = {
                "checked_at": report.checked_at,
                "commit": report.commit,
                "drifted": [e.name for e in report.drifted],
                "environments": {
                    env.name: {
                        "status": env.status,
                        "summary": env.headline(),
                        "key": f"{env.status}:{env.fingerprint()}",
                    }
                    for env in report.environments.values()
                },
            }

    def _github(self, session: Session) -> GithubClient | None:
        """Drift issues from a watcher: when drift.github_issues and GITHUB_TOKEN and
        GITHUB_REPOSITORY are set (GITHUB_API_URL for GitHub Enterprise)."""
        token, repository = os.environ.get("GITHUB_TOKEN"), os.environ.get("GITHUB_REPOSITORY")
        if not (session.config.drift.github_issues and token and repository):
            return None
        session.masker.add_values([token])
        api = os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        return GithubClient(api, token, repository, max_wait=10.0)

    # ---- status ------------------------------------------------------------------------
    @contextmanager
    def activity(self, what: str) -> Iterator[None]:
        with self._lock:
            self._activities.append(what)
            self._beat = time.monotonic()
        try:
            yield
        except Interrupted:
            self.interrupted_during = self.interrupted_during or what
            raise
        finally:
            with self._lock:
                self._activities.pop()
                self._beat = time.monotonic()

    def _heartbeat(self) -> None:
        with self._lock:
            self._beat = time.monotonic()

    def health(self) -> str | None:
        """None while the loop makes progress; why not when it seems stuck."""
        with self._lock:
            age = time.monotonic() - self._beat
            busy = self._activities[-1] if self._activities else None
        allowed = STUCK_INTERVALS * self.options.interval
        if busy:
            allowed += self._terraform_timeout  # a terraform call may legitimately run that long
        if age > allowed:
            return f"stuck: no progress for {age:.0f}s ({busy or 'idle'}; allowed {allowed:.0f}s)"
        return None

    def status(self) -> dict[str, Any]:
        with self._lock:
            state = json.loads(json.dumps(self.state.to_dict()))
            activity = self._activities[-1] if self._activities else None
        fetch = state["fetch"]
        if fetch["next_at"]:
            fetch["next_at"] = datetime.fromtimestamp(fetch["next_at"]).astimezone().isoformat()
        else:
            fetch["next_at"] = None
        return {
            "tfops": __version__,
            "repo": display_url(self.origin),
            "branch": self.options.branch,
            "path": self.options.path,
            "state_dir": str(self.state_dir),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "activity": activity,
            "healthy": self.health() is None,
            "last_commit_seen": state["seen"],
            "last_commit_reconciled": state["commit"],
            "skipped_commit": {"commit": state["broken"], "error": state["broken_error"]}
            if state["broken"]
            else None,
            "modules": {
                name: {
                    "url": display_url(m.url),
                    "commit": state["modules"].get(name),
                    "floating": list(m.floating),
                }
                for name, m in self._modules.items()
            },
            "runs": state["runs"],
            "drift": state["drift"],
            "fetch": fetch,
            "ticks": state["ticks"],
            "last_tick_at": state["last_tick_at"],
        }

    def save(self) -> None:
        with self._lock:
            self.state.save(self.state_dir / STATE_FILE)

    def serve(self) -> HealthServer | None:
        """With --listen: the HTTP endpoints, started (the caller stops them)."""
        if self.options.listen is None:
            return None
        page = OverviewPage(self.root, key=lambda: (self.state.commit, str(self.state.modules)))
        self._refresh_view()
        self.chat = ChatOps(self, self.console, ChatPlans(self.state_dir / CHAT_PLANS_FILE))
        server = HealthServer(
            *self.options.listen,
            status=self.status,
            health=self.health,
            page=page.html,
            posts=SlackEndpoints(self.chat).routes(),
        )
        server.start()
        self.console.info(
            f"Overview on {server.url}/, health on {server.url}/healthz, "
            f"status on {server.url}/status"
        )
        if self.chat.signing_secret():
            self.console.info(
                f"Slack commands on {server.url}{COMMANDS_PATH}, "
                f"interactions on {server.url}{INTERACTIONS_PATH}"
            )
        else:
            self.console.note(
                f"Slack commands are off: set {self.chat.signing_secret_env()} to the Slack "
                "app's signing secret to take them."
            )
        return server

    # ---- chat jobs (Slack): tfops.chatops runs its work here, in the loop's thread ------
    @property
    def branch(self) -> str:
        return self.options.branch

    def submit(self, what: str, job: Callable[[], None]) -> int:
        """Queue a chat job for the loop; how many are ahead of it."""
        ahead = self._jobs.qsize()
        self._jobs.put((what, job))
        return ahead

    def run_jobs(self, until: float | None = None) -> None:
        """Run queued chat jobs in this thread: until `until` (monotonic), waiting for more,
        or, without it, those queued now. They share the checkout with the reconciler, so
        they run here, one at a time, between passes; an interrupt stops the watcher."""
        while True:
            try:
                if until is None:
                    what, job = self._jobs.get_nowait()
                else:
                    left = until - time.monotonic()
                    if left <= 0:
                        return
                    what, job = self._jobs.get(timeout=left)
            except queue.Empty:
                return
            with self.activity(what):
                job()
            self.save()
            self._refresh_view()

    def view(self) -> Session | None:
        """The checkout as last reconciled, to read from any thread: made here, between
        passes, and without Session.open (which would swap the console's masker)."""
        with self._lock:
            return self._view[1] if self._view else None

    def _refresh_view(self) -> None:
        commit = self.state.commit
        if self._view is not None and self._view[0] == commit:
            return
        if not self.root.is_dir():
            return
        try:
            view = Session(EnvironmentsRepo(self.root), self.console)
        except TfopsError:
            return
        with self._lock:
            self._view = (commit, view)

    @contextmanager
    def latest(self) -> Iterator[Session]:
        """The followed branch fetched, its newest commit checked out, a session on it; the
        clones go back to the reconciled commits afterwards (drift checks compare those)."""
        synced = self.sync()
        try:
            if synced is None:
                raise TfopsError(
                    f"could not fetch {display_url(self.origin)}: {self.state.fetch.last_error}"
                )
            if synced.broken:
                raise TfopsError(
                    f"commit {synced.commit[:12]} of {self.options.branch} can't be used: "
                    f"{synced.broken}"
                )
            yield Session.open(self.root, self.console)
        finally:
            moved = synced is not None and (
                synced.commit != self.state.commit or synced.heads != self.state.modules
            )
            if moved:
                self._restore()

    @contextmanager
    def reconciled(self) -> Iterator[Session]:
        """A session on the last reconciled commit (what the clones are at between passes)."""
        if self.state.commit is None:
            raise TfopsError(
                "tfops has not reconciled a commit yet: try again after its first pass"
            )
        yield Session.open(self.root, self.console)


@contextmanager
def exclusive(state_dir: Path) -> Iterator[None]:
    """One watcher per state directory: a second one is refused, naming the first."""
    path = state_dir / "watch.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise TfopsError(
            f"another tfops watch (pid {other}) is using {state_dir}",
            hint="stop it first, or give this one its own --state-dir",
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
