"""What is deployed where: the overview behind `tfops report` and `GET /` of the watcher.

One model, `Overview`, built once and rendered twice (HTML page, JSON). It comes from two
kinds of sources:

- what changes only with a commit (of the environments repo, or of a module repo it
  floats on): the environments and their settings, and the module inventory — every module
  block, the commit it runs, the newer releases and the commits behind with their subjects.
  This is the expensive part (`git ls-remote`, a fetch of each module's mirror, the
  registry): `OverviewPage` keeps it until the commit changes.
- the records, read fresh every time: the audit log's applies, the latest drift check per
  environment, the locks held, and the plans kept for pull requests that have not merged.

Every value shown may come from a hostile pull request or module repository (commit
subjects, module sources, lock holders): the whole model goes through the masker before
it is rendered, the HTML template escapes everything, and credentials in module URLs are
replaced by `***`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tfops import __version__, gitutil
from tfops.errors import TfopsError
from tfops.masking import Masker
from tfops.modules.inventory import Between, Inventory, ModuleStatus, build_inventory
from tfops.modules.remote import RemoteLister
from tfops.records.audit import AuditEntry, now_iso, open_audit
from tfops.records.drift import DriftRecord, open_drift_records
from tfops.records.locks import LockInfo, open_locks
from tfops.records.store import PlanRecord, open_store, repo_name
from tfops.repo.environments import SHARED, EnvironmentsRepo

SCHEMA_VERSION = 1
RECENT_APPLIES = 20  # rows in "Recent applies"; each environment shows its last one too
# Secrets tfops may hold in its environment: never on a page, whatever a record says.
SECRET_ENV = ("GITHUB_TOKEN", "TFOPS_SLACK_WEBHOOK_URL", "TFOPS_SLACK_SIGNING_SECRET")


# ---- the model -------------------------------------------------------------------------
@dataclass(frozen=True)
class CommitView:
    sha: str
    subject: str
    author: str
    date: str


@dataclass(frozen=True)
class ModuleView:
    name: str
    source: str  # as written, credentials replaced by ***
    kind: str  # local | sibling | git | registry | other
    file: str
    line: int
    ref: str | None  # None: floating
    ref_label: str  # the ref, or "floating (main)"
    commit: str | None
    newest_release: str | None
    releases_behind: int | None
    commits_behind: int | None
    newer_releases: list[str] = field(default_factory=list)
    commits: list[CommitView] = field(default_factory=list)  # newest first
    more_commits: int = 0

    @property
    def outdated(self) -> bool:
        return bool(self.releases_behind)


@dataclass(frozen=True)
class ApplyView:
    when: str
    who: str
    environment: str
    commit: str
    pr: int | None
    result: str
    trigger: str
    duration_seconds: float
    detail: str = ""
    run_url: str | None = None


@dataclass(frozen=True)
class LockView:
    environment: str
    who: str
    holder: str  # "pr-12" or "apply-<id>"
    since: str
    pr: int | None
    host: str
    run_url: str | None
    description: str  # "locked by #12 (alice, since …)"
    stale: str | None = None  # why it belongs to a dead run (taken over by the next one)


@dataclass(frozen=True)
class PlanView:
    pr: int
    environment: str
    commit: str
    created: str
    who: str
    has_changes: bool
    terraform_version: str
    run_url: str | None


@dataclass(frozen=True)
class EnvironmentView:
    name: str
    pinned: bool
    apply_mode: str  # auto | manual
    heal: bool
    files: list[str]
    modules: list[ModuleView] = field(default_factory=list)
    last_apply: ApplyView | None = None
    drift: DriftRecord | None = None
    lock: LockView | None = None
    plans: list[PlanView] = field(default_factory=list)

    @property
    def outdated(self) -> int:
        return sum(1 for m in self.modules if m.outdated)


@dataclass(frozen=True)
class Overview:
    repo: str
    commit: str | None
    commit_subject: str
    generated_at: str
    tfops_version: str
    layout: str
    environments: list[EnvironmentView]
    applies: list[ApplyView]  # newest first
    locks: list[LockView]
    plans: list[PlanView]  # newest first
    shared_drift: DriftRecord | None = None  # blocks of the shared files
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    def json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def html(self) -> str:
        from tfops.render.html import render_overview

        return render_overview(self)


# ---- what changes only with a commit ---------------------------------------------------
@dataclass(frozen=True)
class Static:
    """The part of the overview that only a commit changes (see OverviewPage)."""

    repo: EnvironmentsRepo
    masker: Masker
    name: str
    commit: str | None
    commit_subject: str
    environments: list[EnvironmentView]  # with their modules; no records yet
    notes: list[str]
    errors: list[str]


def gather_static(root: Path) -> Static:
    """Environments and their module inventory (lists refs, fetches module mirrors)."""
    repo = EnvironmentsRepo(root)
    masker = _secrets_masker(repo.config.mask)
    lister = RemoteLister(timeout=repo.config.modules.ls_remote_timeout_seconds)
    envs = list(repo.environments.values())
    inventory = build_inventory(repo, envs, lister, history=True, registry=True, subjects=True)
    by_env: dict[str, list[ModuleView]] = {}
    for row in inventory.rows:
        by_env.setdefault(row.environment, []).append(_module_view(row, inventory))
    views = [
        EnvironmentView(
            name=env.name,
            pinned=env.pinned,
            apply_mode=env.apply_mode,
            heal=env.config.heal,
            files=[repo.relative(f) for f in env.files],
            modules=by_env.get(env.name, []),
        )
        for env in envs
    ]
    commit = gitutil.head_commit(repo.root)
    return Static(
        repo=repo,
        masker=masker,
        name=repo_name(repo.root),
        commit=commit,
        commit_subject=_subject(repo.root) if commit else "",
        environments=views,
        notes=list(inventory.notes),
        errors=list(inventory.errors),
    )


def _secrets_masker(patterns: list[str] | None = None) -> Masker:
    return Masker(patterns or [], [os.environ.get(name, "") for name in SECRET_ENV])


def _module_view(row: ModuleStatus, inventory: Inventory) -> ModuleView:
    between = inventory.between.get((row.environment, row.name), Between())
    return ModuleView(
        name=row.name,
        source=hide_credentials(row.source),
        kind=row.kind,
        file=row.file,
        line=row.line,
        ref=row.ref,
        ref_label=_ref_label(row, inventory.follows.get((row.environment, row.name))),
        commit=row.commit,
        newest_release=row.newest_release,
        releases_behind=row.releases_behind,
        commits_behind=row.commits_behind,
        newer_releases=list(between.newer_releases),
        commits=[CommitView(c.sha, c.subject, c.author, c.date) for c in between.commits],
        more_commits=between.more_commits,
    )


def _ref_label(row: ModuleStatus, follows: str | None) -> str:
    """As `tfops modules` shows it: the ref, or what a module without one floats on."""
    if row.kind == "registry":
        return row.ref or "no version"
    if row.ref is not None:
        return row.ref
    if follows:
        return f"floating ({follows})"
    return "local path" if row.kind == "local" and row.commit is None else "floating"


_PASSWORD = re.compile(r"(://[^/@\s:]*):[^/@\s]*@")
_HTTP_USER = re.compile(r"(https?://)[^/@\s]+@")


def hide_credentials(text: str) -> str:
    """`git::https://user:token@host/x.git` → `git::https://***@host/x.git`; an ssh user
    name without a password (`ssh://git@host`) is kept, as `display_url` does."""
    return _HTTP_USER.sub(r"\1***@", _PASSWORD.sub(r"\1:***@", text))


def _subject(root: Path) -> str:
    result = subprocess.run(
        ["git", "log", "-1", "--format=%s"], cwd=root, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else ""


# ---- the records, read fresh -----------------------------------------------------------
def assemble(static: Static) -> Overview:
    """The overview: the static part with the records as they are now, masked."""
    repo, config = static.repo, static.repo.config
    errors = list(static.errors)
    root = repo.root
    no_entries: list[AuditEntry] = []
    no_drift: dict[str, DriftRecord] = {}
    no_locks: list[LockInfo] = []
    no_plans: list[PlanRecord] = []
    entries = _read("the audit log", errors, lambda: open_audit(config, root).entries(), no_entries)
    drift = _read(
        "the drift records", errors, lambda: open_drift_records(config, root).latest(), no_drift
    )
    locks = _read("the locks", errors, lambda: open_locks(config, root).all(), no_locks)
    records = _read(
        "the plan store", errors, lambda: open_store(config, root).records(kind="plan"), no_plans
    )
    applies = [_apply_view(e) for e in reversed(entries)]
    lock_views = [_lock_view(info) for info in locks]
    plans = _open_plans(records, entries)
    environments = [
        dataclasses.replace(
            env,
            last_apply=next((a for a in applies if a.environment == env.name), None),
            drift=drift.get(env.name),
            lock=next((lock for lock in lock_views if lock.environment == env.name), None),
            plans=[p for p in plans if p.environment == env.name],
        )
        for env in static.environments
    ]
    overview = Overview(
        repo=static.name,
        commit=static.commit,
        commit_subject=static.commit_subject,
        generated_at=now_iso(),
        tfops_version=__version__,
        layout=repo.layout,
        environments=environments,
        applies=applies[:RECENT_APPLIES],
        locks=lock_views,
        plans=plans,
        shared_drift=drift.get(SHARED),
        notes=list(static.notes),
        errors=errors,
    )
    return masked(overview, static.masker)


def build_overview(root: Path) -> Overview:
    """Everything, now (what `tfops report` shows)."""
    return assemble(gather_static(root))


T = TypeVar("T")


def _read(what: str, errors: list[str], read: Callable[[], T], empty: T) -> T:
    """A record source that can't be read is an error on the page, not a missing page."""
    try:
        return read()
    except (TfopsError, OSError) as exc:
        errors.append(f"{what} could not be read: {exc}")
        return empty


def _apply_view(entry: AuditEntry) -> ApplyView:
    return ApplyView(
        when=entry.when,
        who=entry.who,
        environment=entry.environment,
        commit=entry.commit,
        pr=entry.pr,
        result=entry.result,
        trigger=entry.trigger,
        duration_seconds=entry.duration_seconds,
        detail=entry.detail,
        run_url=entry.run_url,
    )


def _lock_view(info: LockInfo) -> LockView:
    return LockView(
        environment=info.environment,
        who=info.who,
        holder=info.holder_id,
        since=info.since,
        pr=info.pr,
        host=info.host,
        run_url=info.run_url,
        description=info.describe(),
        stale=info.stale_reason(),
    )


def _open_plans(records: list[PlanRecord], entries: list[AuditEntry]) -> list[PlanView]:
    """The newest reviewed plan per pull request and environment, for pull requests that
    have not merged (no apply on merge in the audit log). The store doesn't know about a PR
    closed without merging: its plans show until `tfops plans prune` removes them."""
    merged = {e.pr for e in entries if e.trigger == "merge" and e.pr is not None}
    newest: dict[tuple[int, str], PlanRecord] = {}
    for record in records:  # oldest first
        if record.kind == "plan" and record.pr is not None and record.pr not in merged:
            newest[(record.pr, record.environment)] = record
    views = [
        PlanView(
            pr=r.pr,
            environment=r.environment,
            commit=r.commit,
            created=r.created,
            who=r.who,
            has_changes=r.has_changes,
            terraform_version=r.terraform_version,
            run_url=r.run_url,
        )
        for r in newest.values()
        if r.pr is not None
    ]
    return sorted(views, key=lambda v: (v.created, v.environment), reverse=True)


def masked(value: T, masker: Masker) -> T:
    """`value` with every string in it (through dataclasses, lists and dicts) masked."""
    result: Any
    if isinstance(value, str):
        result = masker(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: masked(getattr(value, f.name), masker) for f in dataclasses.fields(value)
        }
        result = dataclasses.replace(value, **changes)
    elif isinstance(value, list):
        result = [masked(item, masker) for item in value]
    elif isinstance(value, tuple):
        result = tuple(masked(item, masker) for item in value)
    elif isinstance(value, dict):
        result = {masked(k, masker): masked(v, masker) for k, v in value.items()}
    else:
        result = value
    return result  # type: ignore[no-any-return]


# ---- served by the watcher -------------------------------------------------------------
class OverviewPage:
    """The overview page for `GET /`: fresh on every request, cheap.

    The static part is rebuilt only when `key()` changes — by default the checkout's
    commit; the watcher passes the commits it reconciled (its repo and each module repo),
    so a new module commit refreshes "how far behind" too. Records are read per request.
    Requests that arrive while the static part is rebuilt wait for that one rebuild.
    """

    def __init__(self, root: Path, *, key: Callable[[], Hashable] | None = None):
        self.root = root
        self._key = key or (lambda: gitutil.head_commit(root))
        self._lock = threading.Lock()
        self._static: tuple[Hashable, Static] | None = None

    def static(self) -> Static:
        key = self._key()
        with self._lock:
            if self._static is None or self._static[0] != key:
                self._static = (key, gather_static(self.root))
            return self._static[1]

    def overview(self) -> Overview:
        return assemble(self.static())

    def html(self) -> str:
        """The page; a repo that can't be read (yet) is a page saying why, not an error."""
        from tfops.render.html import render_problem

        title = f"The overview of {self.root.name} can't be made"
        if not self.root.is_dir():
            return render_problem(title, f"{self.root} is not checked out yet; reload shortly.")
        try:
            return self.overview().html()
        except (TfopsError, OSError) as exc:
            return render_problem(title, _secrets_masker()(str(exc)))
