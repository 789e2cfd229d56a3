"""`tfops apply -e ENV`: plan, show, confirm, apply exactly that plan file.

Every apply holds the lock of its environments from before the plan until after the
apply, stores the plan it applied in the plan store (kind "apply"), and writes one line
per environment to the audit log. Environments with `require_signed_commits` are applied
only from a commit `git verify-commit` accepts, with no uncommitted changes.

`tfops apply --merged --pr N` is apply on merge: see `tfops.commands.merge`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import click

from tfops import gitutil
from tfops.commands.options import environments_option, no_gates_option, path_argument
from tfops.commands.plan import report_for, write_report
from tfops.console import Console
from tfops.errors import ExitCode, Interrupted, TfopsError
from tfops.pipeline.session import RootRun, Session
from tfops.records.audit import AuditEntry, AuditLog, Result, now_iso, open_audit
from tfops.records.locks import LockBackend, LockHeld, LockHolder, held, open_locks
from tfops.records.store import Kind, PlanKey, PlanRecord, PlanStore, open_store, repo_name
from tfops.repo.environments import TF_SUFFIXES, VAR_SUFFIXES, WORK_DIR, Root
from tfops.terraform import process


@dataclass
class Records:
    """Where an apply leaves its traces: the plan store, the locks, the audit log."""

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
        """Keep a root's plan per environment: reviewed on a PR ("plan") or applied."""
        assert run.planfile is not None and run.plan_json is not None
        planfile = run.planfile.read_bytes()
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
    """Builds the audit lines of one apply of some environments."""

    records: Records
    who: str
    commit: str
    pr: int | None
    trigger: str
    terraform_version: str
    run_url: str | None
    started: float = 0.0
    when: str = ""

    def start(self) -> None:
        self.started = time.monotonic()
        self.when = now_iso(precise=True)  # audit lines sort by it

    def write(
        self,
        envs: Iterable[str],
        result: Result,
        *,
        sha: dict[str, str] | None = None,
        detail: str = "",
    ) -> None:
        for env in envs:
            self.records.audit.append(
                AuditEntry(
                    who=self.who,
                    when=self.when or now_iso(precise=True),
                    repo=self.records.repo,
                    commit=self.commit,
                    pr=self.pr,
                    environment=env,
                    plan_sha256=(sha or {}).get(env),
                    result=result,
                    duration_seconds=round(time.monotonic() - self.started, 1)
                    if self.started
                    else 0.0,
                    trigger=self.trigger,
                    terraform_version=self.terraform_version,
                    detail=detail[:2000],
                    run_url=self.run_url,
                )
            )

    @contextmanager
    def interrupted_is_recorded(self, envs: list[str]) -> Iterator[None]:
        try:
            yield
        except Interrupted as exc:
            self.write(envs, "interrupted", detail=exc.message)
            raise


# ---- signed commits --------------------------------------------------------------------


def signature_problem(root: Path, commit: str) -> str | None:
    """Why `git verify-commit` does not accept `commit`, or None when it does."""
    result = process.run(["git", "verify-commit", commit], cwd=root, what="git verify-commit")
    if result.returncode == 0:
        return None
    said = " ".join(line.strip() for line in result.stderr.strip().splitlines()[-3:])
    return said or f"commit {commit[:12]} is not signed"


def signed_commit_refusals(
    session: Session, envs: Iterable[str], commit: str, *, check_worktree: bool
) -> dict[str, str]:
    """Environments that require signed commits and can't be applied from `commit`, and why."""
    strict = [e for e in envs if session.repo.environments[e].config.require_signed_commits]
    if not strict:
        return {}
    root = session.repo.root
    problem = None
    if check_worktree and _uncommitted_changes(root):
        problem = "the working tree has uncommitted changes, which no signature covers"
    problem = problem or signature_problem(root, commit)
    return dict.fromkeys(strict, problem) if problem else {}


def _uncommitted_changes(root: Path) -> bool:
    """Tracked files changed, or untracked files Terraform would read."""
    repo = gitutil.open_repo(root)
    if repo is None:
        return True
    if repo.is_dirty(untracked_files=False):
        return True
    return any(name.endswith(TF_SUFFIXES + VAR_SUFFIXES) for name in repo.untracked_files)


def signature_error(refusals: dict[str, str], commit: str) -> TfopsError:
    env, problem = next(iter(refusals.items()))
    return TfopsError(
        f"refusing to apply {', '.join(refusals)} from commit {commit[:12]}: {problem}",
        where=f"tfops.yaml: environments.{env}.require_signed_commits",
        hint="sign the commit (git commit -S) with a key git trusts "
        "(gpg keyring, or gpg.ssh.allowedSignersFile for SSH signatures)",
    )


# ---- the command -----------------------------------------------------------------------


def targets_for(session: Session, root: Root, in_root: list[str]) -> tuple[list[str], str | None]:
    """-target addresses when only some of a root's environments are applied, and a note."""
    if set(in_root) == set(root.environments):
        return [], None
    targets = [
        a for n in in_root for a in session.repo.target_addresses(session.repo.environments[n])
    ]
    one = len(in_root) == 1
    note = (
        f"{', '.join(in_root)} {'shares' if one else 'share'} a Terraform root and state with "
        f"{', '.join(sorted(set(root.environments) - set(in_root)))}: tfops plans and "
        f"applies {'it' if one else 'them'} alone with -target for "
        f"{'its' if one else 'their'} {len(targets)} block(s) "
        f"({', '.join(targets)}). Terraform warns about -target below; that is expected."
    )
    return targets, note


def run(
    path: Path,
    *,
    environments: tuple[str, ...],
    auto_approve: bool,
    gates: bool,
    console: Console,
    out: TextIO,
    color: bool,
    pr: int | None = None,
    trigger: str = "manual",
) -> ExitCode:
    """Plan and apply ENV. With `pr`, the apply runs for that open PR (`/tfops apply`): it
    may use the PR's own locks, which go back to the PR afterwards."""
    if not environments:
        raise TfopsError("say which environment to apply", hint="tfops apply -e ENV")
    session = Session.open(path, console)
    envs = session.select(environments)
    names = [e.name for e in envs]
    if not auto_approve and not sys.stdin.isatty():
        raise TfopsError(
            "refusing to apply without confirmation: stdin is not a terminal",
            hint="pass --auto-approve in automation",
        )
    commit = gitutil.head_commit(session.repo.root) or "uncommitted"
    refusals = signed_commit_refusals(session, names, commit, check_worktree=True)
    if refusals:
        raise signature_error(refusals, commit)
    records = Records.open(session)
    holder = LockHolder.for_run(pr=pr)
    trail = AuditTrail(
        records, holder.who, commit, pr, trigger, session.binary.version, holder.run_url
    )
    for root in session.roots_for(envs):
        in_root = sorted(n for n in names if n in root.environments)
        targets, note = targets_for(session, root, in_root)
        if note:
            console.warn(note)
            if not targets:
                console.info(f"{', '.join(in_root)} declares no resources or modules.")
                continue
        with held(
            records.locks,
            in_root,
            holder,
            wait_seconds=session.config.locks.wait_seconds,
            take_over=f"pr-{pr}" if pr is not None else None,
            hand_back=True,
            warn=console.warn,
        ):
            console.note(f"Locked {', '.join(in_root)} ({holder.holder_id}).")
            code = _apply_root(
                session, root, in_root, targets, note, trail, gates, auto_approve, out, color
            )
        if code != ExitCode.OK:
            return code
    return ExitCode.OK


def _apply_root(
    session: Session,
    root: Root,
    in_root: list[str],
    targets: list[str],
    note: str | None,
    trail: AuditTrail,
    gates: bool,
    auto_approve: bool,
    out: TextIO,
    color: bool,
) -> ExitCode:
    console = session.console
    trail.start()
    with trail.interrupted_is_recorded(in_root):
        run = session.run_root(root, in_root, gates=gates, targets=targets)
        report = report_for(session, [run], in_root)
        report.notes = [note] if note else []
        write_report(report, "text", out, color=color, masker=session.masker)
        if not run.gates_ok:
            console.error("gates failed; not applied.")
            return ExitCode.GATES_FAILED
        if run.error or run.summary is None or run.planfile is None:
            console.error("terraform plan failed; not applied.")
            trail.write(in_root, "failed", detail=run.error or "terraform plan failed")
            return ExitCode.ERROR
        if not run.summary.has_changes:
            console.info(f"No changes in {', '.join(in_root)}. Nothing to apply.")
            trail.write(in_root, "no-changes")
            return ExitCode.OK
        if not auto_approve and not click.confirm(
            f"Apply these changes to {', '.join(in_root)}?", default=False, err=True
        ):
            console.info("Not applied.")
            return ExitCode.ERROR
        apply_plan(session, root, in_root, run, trail)
    for name in in_root:
        console.info(f"Applied {name}: {run.summary.environment(name).counts.phrase()}.")
    return ExitCode.OK


def apply_plan(
    session: Session,
    root: Root,
    in_root: list[str],
    run: RootRun,
    trail: AuditTrail,
    *,
    stored: Callable[[dict[str, str]], None] = lambda sha: None,
    why: str = "",
) -> None:
    """Keep `run`'s plan in the store, apply exactly that plan file, write the audit lines.

    `stored` hears the kept plans' sha256 per environment before terraform runs. A failed
    apply is audited and raised; an interrupted one is left to the caller's
    `trail.interrupted_is_recorded`.
    """
    assert run.planfile is not None
    kept = trail.records.keep(
        session, run, in_root, kind="apply", commit=trail.commit, pr=trail.pr, who=trail.who
    )
    sha = {env: record.sha256 for env, record in kept.items()}
    stored(sha)
    console = session.console
    console.step(f"Applying {', '.join(in_root)}{why}")
    try:
        session.terraform(root, console.sink(session.label(root))).apply(run.planfile)
    except Interrupted:
        raise
    except TfopsError as exc:
        trail.write(in_root, "failed", sha=sha, detail=session.masker(str(exc)))
        raise
    trail.write(in_root, "applied", sha=sha)


# ---- unattended applies (the watcher, drift healing) -----------------------------------


@dataclass
class RootApply:
    """What an unattended apply of some environments of one root did."""

    environments: list[str]
    result: Result  # applied | no-changes | refused | failed (interrupted is raised)
    detail: str = ""
    changes: dict[str, str] = field(default_factory=dict)  # environment → "1 to add, …"
    unchanged: list[str] = field(default_factory=list)  # applied along, with nothing to change

    @property
    def ok(self) -> bool:
        return self.result in ("applied", "no-changes")


def apply_unattended(
    session: Session,
    root: Root,
    in_root: list[str],
    trail: AuditTrail,
    holder: LockHolder,
    *,
    gates: bool = True,
    planned: RootRun | None = None,
) -> RootApply:
    """Lock, plan and apply `in_root` without asking; every outcome is audited.

    `planned`: a plan of the whole root made moments ago (drift detection) to apply as is
    when `in_root` is the whole root; a subset of a shared root is planned again with
    -target. Failures are returned, not raised (a watcher carries on); an interrupt is
    recorded and raised.
    """
    console = session.console
    targets, note = targets_for(session, root, in_root)
    if note and not targets:
        return RootApply(in_root, "no-changes", f"{', '.join(in_root)} declares nothing")
    if note:
        console.note(note)
    refusals = signed_commit_refusals(session, in_root, trail.commit, check_worktree=True)
    if refusals:
        detail = str(signature_error(refusals, trail.commit))
        trail.write(in_root, "refused", detail=detail)
        return RootApply(in_root, "refused", detail)
    audited = False
    try:
        with held(
            trail.records.locks,
            in_root,
            holder,
            wait_seconds=session.config.locks.wait_seconds,
            warn=console.warn,
        ):
            trail.start()
            with trail.interrupted_is_recorded(in_root):
                run = planned
                if run is None or targets or run.targets:
                    run = session.run_root(root, in_root, gates=gates, targets=targets)
                problem = plan_problem(run)
                if problem:
                    problem = session.masker(problem)
                    audited = True
                    trail.write(in_root, "failed", detail=problem)
                    return RootApply(in_root, "failed", problem)
                assert run.summary is not None
                changes = {n: run.summary.environment(n).counts.phrase() for n in in_root}
                if not run.summary.has_changes:
                    audited = True
                    trail.write(in_root, "no-changes")
                    return RootApply(in_root, "no-changes", changes=changes)
                audited = True  # apply_plan audits its own outcome
                apply_plan(session, root, in_root, run, trail)
                unchanged = [n for n in in_root if not run.summary.environment(n).has_changes]
                return RootApply(in_root, "applied", changes=changes, unchanged=unchanged)
    except Interrupted:
        raise
    except LockHeld as exc:
        trail.write(in_root, "refused", detail=str(exc))
        return RootApply(in_root, "refused", str(exc))
    except TfopsError as exc:
        detail = session.masker(str(exc))
        if not audited:
            trail.write(in_root, "failed", detail=detail)
        return RootApply(in_root, "failed", detail)


def plan_problem(run: RootRun) -> str | None:
    """Why `run` can't be applied: failed gates or a failed plan; None when it can."""
    if not run.gates_ok:
        failed = [g for g in run.gates if not g.ok]
        lines = [f"gates failed: {', '.join(g.gate for g in failed)}"]
        for gate in failed:
            lines += [
                f"  {f.location or gate.gate}: {f.message.splitlines()[0]}" for f in gate.findings
            ]
            if not gate.findings and gate.detail:
                lines.append(f"  {gate.detail.strip().splitlines()[0]}")
        return "\n".join(lines)
    if run.error or run.summary is None or run.planfile is None:
        return run.error or "terraform plan failed"
    return None


@click.command("apply")
@path_argument
@environments_option()
@click.option("--auto-approve", is_flag=True, help="Apply without asking (for automation).")
@no_gates_option("Apply without running the gates first.")
@click.option(
    "--merged",
    is_flag=True,
    help="Apply on merge: apply what PR --pr reviewed, if the plan at this commit matches it.",
)
@click.option("--pr", type=click.IntRange(min=1), help="The merged pull request (--merged).")
@click.option(
    "--commit", metavar="SHA", help="The merge commit (--merged); default: the checked-out HEAD."
)
@click.option(
    "--head", metavar="SHA", help="The PR's last commit (--merged): its plan must be the one kept."
)
@click.pass_context
def apply_command(
    ctx: click.Context,
    path: Path,
    environments: tuple[str, ...],
    auto_approve: bool,
    no_gates: bool,
    merged: bool,
    pr: int | None,
    commit: str | None,
    head: str | None,
) -> None:
    """Plan ENV, show the plan, and apply it after confirmation.

    With --merged: apply on merge. The plan at the merge commit must match the plan
    reviewed on the pull request, environment by environment, or nothing is applied.
    """
    console = ctx.obj.console
    if merged:
        from tfops.commands import merge

        sys.exit(
            merge.run(
                path,
                pr=pr,
                commit=commit,
                head=head,
                environments=environments,
                gates=not no_gates,
                console=console,
                out=sys.stdout,
            )
        )
    if pr is not None or commit or head:
        raise TfopsError("--pr, --commit and --head go with --merged", hint="tfops apply --merged")
    sys.exit(
        run(
            path,
            environments=environments,
            auto_approve=auto_approve,
            gates=not no_gates,
            console=console,
            out=sys.stdout,
            color=ctx.obj.color,
        )
    )
