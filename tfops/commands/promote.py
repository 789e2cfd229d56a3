"""`tfops promote MODULE REF`: move one module to another release, as a reviewable change.

Checks the new ref against the pin rules, rewrites only that ref in the environment's
file, records it in tfops.lock.json, runs `terraform validate` with the new version, and
with `--branch` commits the two files on a new branch for a pull request. When a step
fails, the files are restored as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import git

from tfops import gitutil
from tfops.commands.options import path_argument
from tfops.errors import TerraformError, TfopsError
from tfops.modules.calls import module_calls
from tfops.modules.lock import LockChange, LockFile, lock_path
from tfops.modules.overrides import write_override
from tfops.modules.promote import (
    Edit,
    PullRequestTarget,
    apply_edit,
    changelogs,
    check_refusals,
    default_branch_name,
    find_calls,
    planned_edit,
    promoted_call,
    pull_request_body,
    restore,
    snapshot,
)
from tfops.modules.resolve import Resolver
from tfops.pipeline.session import Session
from tfops.repo.environments import EnvironmentsRepo, Root

if TYPE_CHECKING:
    from tfops.commands.options import CliState as State


@click.command("promote")
@click.argument("module")
@click.argument("ref")
@path_argument
@click.option("-e", "--env", "environment", metavar="ENV", help="The environment to promote in.")
@click.option("--branch", metavar="NAME", help="Commit the change on this new branch.")
@click.option(
    "--pr",
    "pull_request",
    is_flag=True,
    help="Also push the branch to origin and open the pull request on GitHub "
    "(GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL).",
)
@click.option("--no-validate", is_flag=True, help="Skip `terraform validate` after the edit.")
@click.pass_obj
def promote_command(
    state: State,
    module: str,
    ref: str,
    path: Path,
    environment: str | None,
    branch: str | None,
    pull_request: bool,
    no_validate: bool,
) -> None:
    """Set MODULE's ref (or registry version) to REF and update the lock.

    MODULE is a module block name (prod_back_end) or the module's path as its source
    names it (back_end): then every block of that environment calling it is promoted.
    With --pr the change is committed on a branch (--branch, default promote/MODULE-REF),
    pushed, and opened as a pull request whose body lists the module's changelog.
    """
    session = Session.open(path, state.console)
    repo = session.repo
    envs = session.select([environment] if environment else [])
    edits = [e for e in (planned_edit(c, ref) for c in find_calls(repo, module, envs)) if e.changes]
    if not edits:
        click.echo(f"{module} is already at {ref}; nothing to do.")
        return
    promoted = Resolver(repo, session.lister).resolve(promoted_call(e.call, e) for e in edits)
    refusals = check_refusals(repo, promoted)
    if refusals:
        raise TfopsError(
            f"refusing to promote {module} to {ref}:\n  " + "\n  ".join(refusals),
            hint="promote to a release tag (see `tfops modules`)",
        )
    lock = LockFile.read(lock_path(repo))
    files = sorted({e.call.file for e in edits})
    if pull_request and not branch:
        branch = default_branch_name(module, ref)
    local = _check_branch(repo, branch, [*files, lock.path]) if branch else None
    target = PullRequestTarget.find(local) if pull_request and local is not None else None
    logs = (
        changelogs(Resolver(repo, session.lister).resolve(e.call for e in edits), promoted)
        if target
        else []
    )
    touched = {e.call.environment for e in edits}
    roots = [r for r in repo.roots if touched & set(r.environments)]
    saved = snapshot([*files, lock.path])
    try:
        for edit in edits:
            apply_edit(repo, edit)
        _check_rewritten(repo, edits)
        changes = [
            change
            for m in promoted
            if repo.environments[m.call.environment].pinned
            if (change := lock.record(m)) is not None
        ]
        lock.write()
        if not no_validate:
            _validate(session, roots)
    except BaseException:
        restore(saved)
        _regenerate_overrides(session, roots)
        raise
    for edit in edits:
        click.echo(edit.describe(repo))
    _report_lock(repo, changes)
    if not no_validate:
        click.echo("terraform validate passed with the new version.")
    if local is not None and branch is not None:
        message = _message(repo, module, ref, edits)
        commit = _commit(local, branch, [*files, lock.path], message)
        if target is None:
            click.echo(
                f"Committed on new branch {branch} ({commit[:12]}). Open a pull request: "
                f"git push -u origin {branch}"
            )
            return
        click.echo(f"Committed on new branch {branch} ({commit[:12]}).")
        body = pull_request_body(repo, module, ref, edits, logs)
        opened = target.open(local, branch, message.splitlines()[0], body)
        click.echo(f"Pushed {branch} to origin and opened pull request #{opened['number']}:")
        click.echo(f"  {opened.get('html_url', '')}")


def _report_lock(repo: EnvironmentsRepo, changes: list[LockChange]) -> None:
    name = repo.config.modules.lock_file
    for change in changes:
        click.echo(f"{name}: {change.describe()}")


def _check_rewritten(repo: EnvironmentsRepo, edits: list[Edit]) -> None:
    """Parse the files again: each promoted block must now say exactly the new value."""
    for edit in edits:
        env = repo.environments[edit.call.environment]
        now = next(c for c in module_calls(repo, env) if c.name == edit.call.name)
        value = now.version if edit.attribute == "version" else now.source.raw
        if value != edit.new:
            raise TfopsError(
                f"after the rewrite {edit.call.name} reads {value!r}, not {edit.new!r}",
                where=now.where(repo),
                hint="nothing was changed; edit it by hand",
            )


def _validate(session: Session, roots: list[Root]) -> None:
    for root in roots:
        session.prepare(root)
        terraform = session.terraform(root, sink=None)
        try:
            terraform.init(backend=False)
        except TerraformError as exc:
            raise TerraformError(
                "terraform init fails with the new version; nothing was changed",
                diagnostics=exc.diagnostics,
                hint="if the module source is not reachable from here, promote with "
                "--no-validate and let CI validate the pull request",
            ) from None
        report = terraform.validate_json()
        errors = [d for d in report.get("diagnostics", []) if d.get("severity") == "error"]
        if errors or report.get("valid") is False:
            lines = [f"{d.get('summary', '')}: {d.get('detail', '')}".strip(": ") for d in errors]
            raise TerraformError(
                "terraform validate fails with the new version; nothing was changed",
                diagnostics="\n".join(lines),
                hint="the module's new version may need other inputs; "
                "adjust the module block, or promote with --no-validate and fix it in the PR",
            )


def _regenerate_overrides(session: Session, roots: list[Root]) -> None:
    """After a rollback, point the override file back at the refs the files name again."""
    for root in roots:
        try:
            session.prepare(root)
        except TfopsError:
            write_override(root.path, {})


def _check_branch(repo: EnvironmentsRepo, name: str, paths: list[Path]) -> git.Repo:
    """Everything `--branch` needs, checked before any file changes."""
    local = gitutil.open_repo(repo.root)
    if local is None or local.working_tree_dir is None:
        raise TfopsError(
            f"--branch needs {repo.root.name} to be a git repository",
            hint="run without --branch, or `git init` it first",
        )
    try:
        local.git.check_ref_format("--branch", name)
    except git.GitCommandError:
        raise TfopsError(f"{name!r} is not a valid branch name") from None
    if name in {head.name for head in local.heads}:
        raise TfopsError(
            f"branch {name!r} already exists", hint="choose another name or delete that branch"
        )
    status = local.git.status("--porcelain", "--", *map(str, paths)).splitlines()
    # a lock file that was never committed is fine: the promotion commits it whole
    dirty = "\n".join(line for line in status if not line.startswith("??"))
    if dirty:
        raise TfopsError(
            "these files have uncommitted changes that the promotion would commit:\n  "
            + dirty.replace("\n", "\n  "),
            hint="commit or stash them first, or run without --branch",
        )
    return local


def _commit(local: git.Repo, branch: str, paths: list[Path], message: str) -> str:
    names = [str(p) for p in paths if p.exists()]
    try:
        local.git.checkout("-b", branch)
        local.git.add("--", *names)
        local.git.commit("-m", message, "--", *names)
    except git.GitCommandError as exc:
        raise TfopsError(
            f"git could not commit the promotion: {str(exc.stderr).strip()}",
            hint="the files are changed; commit them yourself (is git user.name/email set?)",
        ) from None
    return str(local.head.commit.hexsha)


def _message(repo: EnvironmentsRepo, module: str, ref: str, edits: list[Edit]) -> str:
    envs = ", ".join(sorted({e.call.environment for e in edits}))
    body = "\n".join(edit.describe(repo) for edit in edits)
    return f"Promote {module} to {ref} in {envs}\n\n{body}\n\nPrepared by `tfops promote`."
