"""Where every change to infrastructure leaves its traces: the plan store, the locks, the
audit log — opened together from the trusted configuration, so a run can't write its plans
in one place and its audit lines in another."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tfops import gitutil
from tfops.pipeline.outcome import Outcome
from tfops.pipeline.session import RootRun, Session
from tfops.records.audit import AuditEntry, AuditLog, AuditNotWritten, now_iso, open_audit
from tfops.records.locks import LockBackend, open_locks
from tfops.records.store import Kind, PlanKey, PlanRecord, PlanStore, open_store, repo_name
from tfops.repo.environments import WORK_DIR


@dataclass
class Records:
    store: PlanStore
    locks: LockBackend
    audit: AuditLog
    repo: str

    @classmethod
    def open(cls, session: Session) -> Records:
        root, config = session.repo.root, session.config
        _keep_out_of_git(root, [WORK_DIR, config.store.url, config.locks.path])
        return cls(
            store=open_store(config, root),
            locks=open_locks(config, root, warn=session.console.warn),
            audit=open_audit(config, root),
            repo=repo_name(root),
        )

    def keep(
        self,
        session: Session,
        run: RootRun,
        envs: Iterable[str],
        *,
        kind: Kind,
        commit: str,
        pr: int | None,
        who: str,
    ) -> dict[str, PlanRecord]:
        """Keep a root's plan per environment: reviewed on a PR ("plan") or applied.

        The bytes kept are the bytes the run read when it planned (`run.planfile_bytes`),
        not whatever the file holds now."""
        assert run.plan_json is not None
        planfile = run.planfile_bytes()
        out = {}
        for env in envs:
            out[env] = self.store.put(
                PlanKey(self.repo, pr, commit, env, kind),
                planfile,
                run.plan_json,
                terraform_version=session.binary.version,
                root=run.label,
                targets=run.targets,
                has_changes=run.summary is not None and run.summary.environment(env).has_changes,
                who=who,
            )
        return out


def _keep_out_of_git(root: Path, paths: list[str]) -> None:
    """Plans hold secrets in clear: a local store inside the repo must never be committed."""
    inside = []
    for path in paths:
        if "://" in path:
            continue
        with contextlib.suppress(ValueError):
            relative = (root / path).resolve().relative_to(root.resolve()).as_posix()
            inside.append(relative.rstrip("/") + "/")
    if inside:
        gitutil.exclude_locally(root, inside)


@dataclass
class AuditTrail:
    """The audit lines of one guarded change of some environments."""

    records: Records
    who: str
    commit: str
    pr: int | None
    trigger: str
    terraform_version: str
    run_url: str | None
    started: float = 0.0
    when: str = ""
    not_written: list[AuditNotWritten] = field(default_factory=list)  # kept in the spool

    def start(self) -> None:
        self.started = time.monotonic()
        self.when = now_iso(precise=True)  # audit lines sort by it

    def write(
        self,
        envs: Iterable[str],
        result: Outcome,
        *,
        sha: dict[str, str] | None = None,
        detail: str = "",
        pr: int | None = None,
    ) -> None:
        """Write one line per environment. A store that refuses them does not stop the run:
        the lines wait in the local spool (`not_written` says where) for the next run."""
        entries = [
            AuditEntry(
                who=self.who,
                when=self.when or now_iso(precise=True),
                repo=self.records.repo,
                commit=self.commit,
                pr=self.pr if pr is None else pr,
                environment=env,
                plan_sha256=(sha or {}).get(env),
                result=result.value,
                duration_seconds=round(time.monotonic() - self.started, 1) if self.started else 0.0,
                trigger=self.trigger,
                terraform_version=self.terraform_version,
                detail=detail[:2000],
                run_url=self.run_url,
            )
            for env in envs
        ]
        if not entries:
            return
        try:
            self.records.audit.append_all(entries)
        except AuditNotWritten as exc:
            self.not_written.append(exc)
