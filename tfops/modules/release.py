"""`tfops release TAG`: turn a tested release candidate into the release tag prod may pin.

The seed's release step: `git tag v1.0.0-rc1`, the pipeline tests that commit, and when
the tests pass the release tag `v1.0.0` goes on the *same* commit. tfops checks out the
candidate's commit in a temporary worktree (never the caller's working tree: a dirty
checkout or a main that moved on must not change what is released), runs
`tfops module check` over every module there, and only when everything passes creates
the annotated tag, whose message records what was tested. Every refusal — not a
candidate, a release tag that exists, a candidate older than a release, a failing gate
or test — happens before anything is tagged.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from tfops import __version__, gitutil
from tfops.config import CONFIG_NAMES, TfopsConfig, parse_config
from tfops.console import Console
from tfops.errors import TfopsError
from tfops.gates import GateResult
from tfops.modules.check import ModuleCheck, check_modules
from tfops.modules.discovery import ModuleRepo
from tfops.modules.remote import parse_ls_remote
from tfops.render.markdown import render_template
from tfops.terraform.versions import Version, parse_version

MAIN = ("main", "master")  # the default branch's names when the remote's HEAD is unknown
# Who tags in GitHub Actions when the job set no git identity (Actions sets none).
ACTIONS_IDENTITY = {
    "GIT_COMMITTER_NAME": "github-actions[bot]",
    "GIT_COMMITTER_EMAIL": "41898282+github-actions[bot]@users.noreply.github.com",
}


@dataclass(frozen=True)
class Candidate:
    """A release candidate tag, the commit it names, and the release it would become."""

    tag: str
    commit: str
    release: str
    repo: str  # the repository's name, for messages and the record
    prefix: str  # where the module repo sits in its git checkout ("" at the top)


@dataclass
class ReleaseOutcome:
    candidate: Candidate
    check: ModuleCheck | None = None  # None: the release already existed, nothing was run
    message: str = ""  # the tag message (also with --dry-run)
    tagged: bool = False
    pushed: bool = False
    already_released: bool = False
    push_error: str | None = None  # the push failed; the new tag was deleted again

    @property
    def refused(self) -> bool:
        return self.check is not None and not self.check.ok

    def failures(self) -> list[str]:
        """Each failing step: module, gate, and every finding with its place (test runs
        by file, line and name)."""
        lines = []
        for result in self.check.modules if self.check else []:
            for gate in result.gates:
                if gate.ok:
                    continue
                lines.append(f"module {result.module.relative}: {gate.gate} {gate.status}")
                for finding in gate.findings:
                    where = f"{finding.location}: " if finding.location else ""
                    first = (finding.message.splitlines() or [""])[0]
                    lines.append(f"  {where}{first}")
                if not gate.findings and gate.detail:
                    lines.append(f"  {gate.detail.splitlines()[0]}")
        return lines


class Git:
    """git in the caller's repository, as a subprocess (nothing here needs GitPython)."""

    def __init__(self, top: Path):
        self.top = top

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        result = self.run(*args, env=env)
        if result.returncode != 0:
            message = _git_error(result.stderr) or f"git {args[0]} exited {result.returncode}"
            raise TfopsError(f"git {args[0]} failed: {message}")
        return result.stdout.strip()

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=self.top,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )

    def commit_of(self, ref: str) -> str | None:
        result = self.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        return result.stdout.strip() or None if result.returncode == 0 else None

    def tags(self) -> dict[str, str]:
        """Every local tag → the commit it names (annotated tags peeled)."""
        listing = self(
            "for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", "refs/tags"
        )
        tags = {}
        for line in listing.splitlines():
            name, sha, *peeled = line.split(" ")
            tags[name] = peeled[0] if peeled and peeled[0] else sha
        return tags

    def subject(self, commit: str) -> str:
        result = self.run("log", "-1", "--format=%s", commit)
        return result.stdout.strip() if result.returncode == 0 else ""


def release(
    path: Path,
    tag: str,
    console: Console,
    *,
    push: bool = False,
    sign: bool = False,
    dry_run: bool = False,
    remote: str = "origin",
    parallelism: int = 2,
) -> ReleaseOutcome:
    """Check the candidate's commit in a clean worktree; tag it as the release if all pass."""
    found = gitutil.checkout(path)
    if found is None:
        raise TfopsError(
            f"{path} is not inside a git repository",
            hint="run tfops release in a clone of the module repo",
        )
    top = found[0]
    git = Git(top)
    prefix = os.path.relpath(path.resolve(), top.resolve())
    prefix = "" if prefix == "." else prefix + "/"
    config = trusted_config(git, prefix, remote, console)
    candidate = find_candidate(git, tag, prefix, top.name, config)
    tags = git.tags()
    if push:
        tags = {**remote_tags(git, remote), **tags}
    existing = tags.get(candidate.release)
    if existing == candidate.commit:
        outcome = ReleaseOutcome(candidate, already_released=True)
        if push and not dry_run and candidate.release not in remote_tags(git, remote):
            outcome.push_error = _push(git, remote, candidate.release, delete_on_failure=False)
            outcome.pushed = outcome.push_error is None
        return outcome
    if existing is not None:
        subject = git.subject(existing)
        raise TfopsError(
            f"refusing to release {candidate.tag}: {candidate.release} already exists and "
            f"points at {existing[:12]}{f' ({subject})' if subject else ''}, not at "
            f"{candidate.tag}'s commit {candidate.commit[:12]}",
            hint="a release tag never moves: tag a new candidate (e.g. the next patch version)",
        )
    refuse_older(git, candidate, tags, config)

    console.step(f"Checking {candidate.tag} ({candidate.commit[:12]}) in a clean worktree")
    with temporary_checkout(git, candidate.commit) as checkout:
        modules = ModuleRepo(checkout / candidate.prefix, config=config, name=candidate.repo)
        check = check_modules(modules, modules.select([]), console, parallelism=parallelism)
    outcome = ReleaseOutcome(candidate, check)
    if not check.ok:
        return outcome
    outcome.message = tag_message(candidate, check)
    if dry_run:
        return outcome
    create_tag(git, candidate, outcome.message, sign=sign)
    outcome.tagged = True
    if push:
        outcome.push_error = _push(git, remote, candidate.release, delete_on_failure=True)
        outcome.pushed = outcome.push_error is None
        outcome.tagged = outcome.pushed
    return outcome


def find_candidate(git: Git, tag: str, prefix: str, repo: str, config: TfopsConfig) -> Candidate:
    """The candidate TAG names, and the release it becomes."""
    tag = tag.removeprefix("refs/tags/")
    commit = git.commit_of(f"refs/tags/{tag}") if tag and not tag.startswith("-") else None
    if commit is None:
        raise TfopsError(
            f"there is no tag {tag!r} in {repo}",
            hint="tag the release candidate first (`git tag -a v1.0.0-rc1 -m …`), or fetch "
            "the tags (`git fetch --tags`; in Actions: actions/checkout with fetch-depth: 0)",
        )
    pattern = config.modules.release_candidate_pattern
    match = re.search(pattern, tag)
    if match is None or not match.group("release"):
        raise TfopsError(
            f"refusing to release {tag}: it is not a release candidate "
            f"(modules.release_candidate_pattern: {pattern})",
            hint="tag the commit to release as a candidate, e.g. v1.2.0-rc1, and release that",
        )
    name = match.group("release")
    if name.startswith("-") or git.run("check-ref-format", f"refs/tags/{name}").returncode:
        raise TfopsError(f"refusing to release {tag}: {name!r} is not a valid tag name")
    if not re.search(config.modules.release_tag_pattern, name):
        raise TfopsError(
            f"refusing to release {tag}: {name} would not count as a release "
            f"(modules.release_tag_pattern: {config.modules.release_tag_pattern})",
            hint="make release_candidate_pattern's `release` group match release_tag_pattern",
        )
    return Candidate(tag, commit, name, repo, prefix)


def trusted_config(git: Git, prefix: str, remote: str, console: Console) -> TfopsConfig:
    """The settings of the default branch, never the candidate's (DESIGN §5): a candidate
    must not choose its own gates, patterns or terraform binary. As committed, not as the
    caller's working tree has them."""
    for ref in [
        *(f"refs/remotes/{remote}/{b}" for b in ("HEAD", *MAIN)),
        *(f"refs/heads/{b}" for b in MAIN),
    ]:
        commit = git.commit_of(ref)
        if commit is not None:
            console.note(f"Settings: tfops.yaml of {ref.removeprefix('refs/')} ({commit[:12]})")
            return config_at(git, commit, prefix)
    console.warn("no default branch (origin/HEAD, main, master) to read tfops.yaml from: defaults")
    return TfopsConfig()


def config_at(git: Git, commit: str, prefix: str) -> TfopsConfig:
    """tfops.yaml as committed at `commit`, not as the caller's working tree has it."""
    for name in CONFIG_NAMES:
        shown = git.run("show", f"{commit}:{prefix}{name}")
        if shown.returncode == 0:
            return parse_config(shown.stdout, Path(prefix + name))
    return TfopsConfig()


def remote_tags(git: Git, remote: str) -> dict[str, str]:
    """The remote's tags → commits: a release another runner pushed counts too."""
    try:
        listing = git("ls-remote", "--tags", remote)
    except TfopsError as exc:
        raise TfopsError(
            f"cannot list the tags of {remote!r}: {exc.message.split(': ', 1)[-1]}",
            hint="--push needs the remote; check its name, URL and credentials",
        ) from None
    return parse_ls_remote(remote, listing).tags


def refuse_older(git: Git, candidate: Candidate, tags: dict[str, str], config: TfopsConfig) -> None:
    """A release must not go behind the newest one: not in version, nor in history."""
    pattern = re.compile(config.modules.release_tag_pattern)
    releases: list[tuple[Version, str]] = [
        (version, name)
        for name in tags
        if pattern.search(name)
        and (version := parse_version(name)) is not None
        and not version.is_prerelease
    ]
    if not releases:
        return
    newest_version, newest = max(releases)
    wanted = parse_version(candidate.release)
    if wanted is not None and wanted < newest_version:
        raise TfopsError(
            f"refusing to release {candidate.tag}: {candidate.release} is older than the "
            f"existing release {newest}",
            hint=f"tag a candidate newer than {newest}",
        )
    newest_commit = tags[newest]
    if newest_commit == candidate.commit or git.commit_of(newest_commit) is None:
        return  # the same commit released again under a new version, or not in this clone
    if git.run("merge-base", "--is-ancestor", candidate.commit, newest_commit).returncode == 0:
        behind = git("rev-list", "--count", f"{candidate.commit}..{newest_commit}")
        raise TfopsError(
            f"refusing to release {candidate.tag}: its commit {candidate.commit[:12]} is "
            f"older than {newest}'s ({newest_commit[:12]}); it lacks {behind} commit(s) "
            f"{newest} has",
            hint=f"tag the candidate on a commit that contains {newest}",
        )


@contextmanager
def temporary_checkout(git: Git, commit: str) -> Iterator[Path]:
    """A detached worktree at `commit` in a temporary directory, removed afterwards.

    Hooks are off: the checkout must be exactly the commit.
    """
    parent = Path(tempfile.mkdtemp(prefix="tfops-release-"))
    checkout = parent / "checkout"
    try:
        git(
            "-c",
            "core.hooksPath=/dev/null",
            "worktree",
            "add",
            "--detach",
            "--quiet",
            str(checkout),
            commit,
        )
        yield checkout
    finally:
        git.run("worktree", "remove", "--force", str(checkout))
        shutil.rmtree(parent, ignore_errors=True)
        git.run("worktree", "prune")


def tag_message(candidate: Candidate, check: ModuleCheck) -> str:
    return render_template(
        "release_tag.txt.j2",
        candidate=candidate,
        check=check,
        tfops_version=__version__,
        when=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        gates=lambda result: ", ".join(gate_label(g) for g in result.gates),
        path=lambda *parts: str(PurePosixPath(candidate.prefix or ".", *parts)),
    )


def gate_label(result: GateResult) -> str:
    """`validate passed`, `tflint skipped (not installed)`, `test passed (2 runs)`."""
    label = f"{result.gate} {result.status}"
    if result.status == "skipped" and "not installed" in result.detail:
        return label + " (not installed)"
    if result.status == "skipped" and result.detail:
        return label + f" ({result.detail.split(':', 1)[0]})"
    return label


def create_tag(git: Git, candidate: Candidate, message: str, *, sign: bool) -> None:
    """The annotated (or signed) release tag on the candidate's exact commit."""
    env = {} if git.run("var", "GIT_COMMITTER_IDENT").returncode == 0 else _fallback_identity()
    kind = "-s" if sign else "-a"
    tagged = git.run(
        "tag", kind, "-F", "-", "--", candidate.release, candidate.commit, env=env, stdin=message
    )
    if tagged.returncode != 0:
        reason = _git_error(tagged.stderr)
        hint = (
            "--sign needs a signing key git can use (user.signingkey; gpg, or gpg.format=ssh)"
            if sign
            else "set git's user.name and user.email"
        )
        raise TfopsError(f"git could not create {candidate.release}: {reason}", hint=hint)


def _fallback_identity() -> dict[str, str]:
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return ACTIONS_IDENTITY
    raise TfopsError(
        "git has no identity to tag with",
        hint='set one: git config user.name "…" && git config user.email "…"',
    )


def _push(git: Git, remote: str, name: str, *, delete_on_failure: bool) -> str | None:
    """Push one tag (never forced); the reason it failed, or None."""
    pushed = git.run("push", "--quiet", remote, f"refs/tags/{name}:refs/tags/{name}")
    if pushed.returncode == 0:
        return None
    if delete_on_failure:
        git.run("tag", "-d", name)
    return _git_error(pushed.stderr) or f"git push exited {pushed.returncode}"


def _git_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    picked = [ln for ln in lines if ln.startswith(("fatal:", "error:", "!"))] or lines
    return "; ".join(ln.removeprefix("fatal:").removeprefix("error:").strip() for ln in picked[:3])
