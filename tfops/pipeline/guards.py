"""Checks every guarded change passes before terraform may apply: signed commits, a plan
that succeeded with passing gates, and which blocks to target in a shared root."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tfops import gitutil
from tfops.errors import TfopsError
from tfops.pipeline.session import RootRun, Session
from tfops.repo.environments import TF_SUFFIXES, VAR_SUFFIXES, Root
from tfops.terraform import process

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


# ---- the plan --------------------------------------------------------------------------


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


# ---- targets ---------------------------------------------------------------------------


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
