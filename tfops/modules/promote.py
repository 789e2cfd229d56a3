"""Promote a module to another ref: rewrite only that ref, byte for byte everything else.

MODULE is a module block name (`prod_back_end`), or the module's path as its source names
it (`back_end`, `modules/back_end`, a registry address): then every block of the selected
environment that calls it is promoted. The new ref is checked against the pin rules
before any file is touched.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import git

from tfops import gitutil
from tfops.errors import TfopsError
from tfops.gates.pins import pin_findings
from tfops.github.client import DEFAULT_API_URL, GithubClient, GithubError
from tfops.modules.calls import ModuleCall, module_calls
from tfops.modules.resolve import ResolvedModule, local_path
from tfops.modules.sources import parse_source
from tfops.render.markdown import render_template
from tfops.repo.environments import Environment, EnvironmentsRepo


@dataclass(frozen=True)
class Edit:
    """One string to replace on one line: a `source` (git forms) or a `version` (registry)."""

    call: ModuleCall
    attribute: str  # "source" or "version"
    line: int
    old: str
    new: str

    @property
    def changes(self) -> bool:
        return self.old != self.new

    def describe(self, repo: EnvironmentsRepo) -> str:
        return (
            f"{repo.relative(self.call.file)}:{self.line}: {self.call.name}: "
            f"{self.attribute} {json.dumps(self.old)} → {json.dumps(self.new)}"
        )


def find_calls(repo: EnvironmentsRepo, module: str, envs: list[Environment]) -> list[ModuleCall]:
    """The module blocks MODULE names in `envs`: by block name, else by module path."""
    calls = [call for env in envs for call in module_calls(repo, env)]
    found = [c for c in calls if c.name == module] or [c for c in calls if _names_module(c, module)]
    if not found:
        known = ", ".join(sorted({c.name for c in calls})) or "none"
        raise TfopsError(
            f"no module {module!r} in {', '.join(e.name for e in envs)}",
            hint=f"name a module block ({known}) or the module's path, e.g. back_end",
        )
    in_envs = sorted({c.environment for c in found})
    if len(in_envs) > 1:
        listed = "; ".join(f"{c.environment}: {c.name} ({c.where(repo)})" for c in found)
        raise TfopsError(
            f"{module!r} is used in {', '.join(in_envs)}: {listed}",
            hint="say which environment with -e ENV",
        )
    return found


def _names_module(call: ModuleCall, module: str) -> bool:
    """Does `module` name the module this call loads (its path, subdirectory or repo)?"""
    wanted = PurePosixPath(module.strip("/")).parts
    source = call.source
    candidates = [source.path or "", source.subdir, source.registry or ""]
    if source.url and not source.subdir:
        candidates.append(source.url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))
    if source.registry:
        candidates.append(source.registry.split("/")[-2])  # NAMESPACE/NAME/PROVIDER → NAME
    for candidate in candidates:
        parts = PurePosixPath(candidate).parts
        if wanted and parts[-len(wanted) :] == wanted:
            return True
    return False


def planned_edit(call: ModuleCall, ref: str) -> Edit:
    if call.source.kind == "registry":
        return Edit(call, "version", -1, call.version or "", ref)
    if call.source.kind == "other":
        raise TfopsError(
            f"module {call.name}: tfops cannot promote a {call.source.raw!r} source",
            hint="use a git source with ?ref=, or edit it by hand",
        )
    return Edit(call, "source", call.line, call.source.raw, replace_ref(call.source.raw, ref))


def promoted_call(call: ModuleCall, edit: Edit) -> ModuleCall:
    """The call as it will read after the edit (to check the new ref before writing)."""
    if edit.attribute == "version":
        return replace(call, version=edit.new)
    return replace(call, source=parse_source(edit.new))


def replace_ref(raw: str, ref: str) -> str:
    """`raw` with its `ref=` query value replaced (or added); every other byte kept."""
    value = quote(ref, safe="/:@._-+~")
    base, question, query = raw.partition("?")
    if not question:
        return f"{raw}?ref={value}"
    params = query.split("&")
    for index, param in enumerate(params):
        if param.split("=", 1)[0] == "ref":
            params[index] = f"ref={value}"
            return f"{base}?{'&'.join(params)}"
    return f"{base}?ref={value}&{query}" if query else f"{base}?ref={value}"


def apply_edit(repo: EnvironmentsRepo, edit: Edit) -> None:
    """Rewrite the quoted string on the edit's line; nothing else in the file changes."""
    path = edit.call.file
    line = edit.line if edit.line > 0 else _attribute_line(repo, edit.call, edit.attribute)
    where = f"{repo.relative(path)}:{line}"
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    if not 0 < line <= len(lines):
        raise TfopsError(f"line {line} is not in the file", where=where)
    old, new = _literal(edit.old), _literal(edit.new)
    text = lines[line - 1]
    if text.count(old) != 1:
        raise TfopsError(
            f"cannot find {edit.attribute} {old.decode()} on this line to rewrite it",
            where=where,
            hint="write the string on one line without escapes or interpolation, "
            "or edit it by hand",
        )
    lines[line - 1] = text.replace(old, new)
    path.write_bytes(b"".join(lines))


def _attribute_line(repo: EnvironmentsRepo, call: ModuleCall, attribute: str) -> int:
    parsed = repo.hcl.parse_file(call.file)
    for block in parsed.of_type("module"):
        if block.labels and block.labels[0] == call.name and attribute in block.attr_lines:
            return block.attr_lines[attribute]
    raise TfopsError(
        f"module {call.name} has no `{attribute}` to rewrite",
        where=call.where(repo),
        hint=f'add `{attribute} = "…"` to the block, then promote again',
    )


def _literal(value: str) -> bytes:
    """The HCL string literal of `value` as it appears in a file."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def check_refusals(repo: EnvironmentsRepo, resolved: list[ResolvedModule]) -> list[str]:
    """Why the new refs can't be promoted to: pin rules in pinned environments, else existence."""
    reasons = []
    for module in resolved:
        env = repo.environments[module.call.environment]
        if env.pinned:
            reasons += [f.message for f in pin_findings(repo, module)]
        elif module.kind == "error" and module.error is not None:
            reasons.append(str(module.error))
        elif module.kind == "unknown":
            newest = module.tags.shown() if module.tags else "none"
            reasons.append(
                f"module {module.call.name} in {env.name}: ref {module.ref!r} does not exist "
                f"(newest: {newest})"
            )
    return reasons


def snapshot(paths: list[Path]) -> dict[Path, bytes | None]:
    """File contents to restore if a later step fails (None: the file did not exist)."""
    return {path: path.read_bytes() if path.exists() else None for path in paths}


def restore(saved: dict[Path, bytes | None]) -> None:
    for path, data in saved.items():
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


# ---- the promotion pull request (`--pr`) ------------------------------------------------
CHANGELOG_LIMIT = 100  # commit subjects listed per module; the rest are counted
SUBJECT_LIMIT = 200
_LOCAL_SOURCE = re.compile(r'^\s*source\s*=\s*"(\.{1,2}/[^"?]*)"', re.MULTILINE)


@dataclass(frozen=True)
class Changelog:
    """The commits a promotion brings: subjects between the old and the new ref."""

    label: str  # the module's path in its repository (or the repository's name)
    old_ref: str | None
    new_ref: str
    paths: tuple[str, ...] = ()  # what the log is limited to (empty: the whole repository)
    commits: tuple[tuple[str, str], ...] = ()  # (sha, subject), newest first
    more: int = 0  # commits not listed
    note: str | None = None  # why there is no list

    @property
    def count(self) -> int:
        return len(self.commits) + self.more

    @property
    def text(self) -> str:
        """`3f2c1a4b5c6d Give the API more memory` lines, and how many more there are."""
        lines = [f"{sha[:12]} {subject}" for sha, subject in self.commits]
        if self.more:
            lines.append(f"… and {self.more} more (the first {len(self.commits)} are listed)")
        return "\n".join(lines)


def changelogs(old: list[ResolvedModule], new: list[ResolvedModule]) -> list[Changelog]:
    """One changelog per distinct module and ref change (several blocks may share one)."""
    seen: dict[tuple[str | None, str, str | None, str | None], Changelog] = {}
    for before, after in zip(old, new, strict=True):
        key = (after.url, after.source.subdir, before.commit, after.commit)
        if key not in seen:
            seen[key] = changelog(before, after)
    return list(seen.values())


def changelog(old: ResolvedModule, new: ResolvedModule) -> Changelog:
    """`git log OLD..NEW` over the module's directory and the local modules it calls."""
    url, subdir = new.url, new.source.subdir.strip("/")
    label = subdir or (url or new.call.source.raw).rstrip("/").rsplit("/", 1)[-1]
    log = Changelog(label, old.ref, new.ref or "")
    if url is None or new.commit is None or new.kind == "registry":
        return replace(log, note="no git history for this source")
    if old.commit is None:
        return replace(log, note="the previous version names no commit to compare with")
    if old.commit == new.commit:
        return replace(log, note="both refs name the same commit")
    history = _history(url)
    if isinstance(history, str):
        return replace(log, note=f"the history is not available here ({history})")
    paths = tuple(sorted(_module_paths(history, new.commit, subdir))) if subdir else ()
    try:
        listing = history.git.log("--format=%H%x1f%s", f"{old.commit}..{new.commit}", "--", *paths)
    except git.GitCommandError as exc:
        return replace(log, note=f"git log failed: {gitutil.git_message(exc)}")
    entries = [tuple(line.split("\x1f", 1)) for line in listing.splitlines() if "\x1f" in line]
    shown = tuple((sha, subject[:SUBJECT_LIMIT]) for sha, subject in entries[:CHANGELOG_LIMIT])
    return replace(log, paths=paths, commits=shown, more=max(0, len(entries) - len(shown)))


def _history(url: str) -> git.Repo | str:
    """The module repository's history: the local clone, else tfops's bare mirror of it."""
    path = local_path(url)
    if path is not None and path.exists():
        found = gitutil.open_repo(path)
        return found if found is not None else f"{path} is not a git repository"
    from tfops.modules.inventory import RepoMirrors

    return RepoMirrors().update([url])[url]


def _module_paths(history: git.Repo, commit: str, subdir: str) -> set[str]:
    """The module's directory and, at `commit`, the local modules it calls (`../db`),
    recursively: a change there changes this module too."""
    found: set[str] = set()
    todo = [subdir]
    while todo:
        directory = todo.pop()
        if directory in found:
            continue
        found.add(directory)
        try:
            names = history.git.ls_tree("--name-only", commit, f"{directory}/").splitlines()
        except git.GitCommandError:
            continue
        for name in names:
            if not name.endswith(".tf"):
                continue
            try:
                text = history.git.show(f"{commit}:{name}")
            except git.GitCommandError:
                continue
            for source in _LOCAL_SOURCE.findall(text):
                target = posixpath.normpath(posixpath.join(directory, source))
                if target != "." and not target.startswith("../"):
                    todo.append(target)
    return found


def pull_request_body(
    repo: EnvironmentsRepo, module: str, ref: str, edits: list[Edit], logs: list[Changelog]
) -> str:
    return render_template(
        "promotion.md.j2",
        module=module,
        ref=ref,
        environments=sorted({e.call.environment for e in edits}),
        edits=[(e, repo.relative(e.call.file)) for e in edits],
        changelogs=logs,
    )


def default_branch_name(module: str, ref: str) -> str:
    """`promote/back_end-v1.2.0`: a branch name from the module and the ref."""
    return "promote/" + re.sub(r"[^A-Za-z0-9._-]+", "-", f"{module}-{ref}").strip("-.")


PR_REMOTE = "origin"
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


@dataclass(frozen=True)
class PullRequestTarget:
    """Where `--pr` pushes and opens the pull request; found before any file changes.

    The pull request merges the new branch into the branch checked out now. The token and
    repository come from GitHub's variables (GITHUB_TOKEN, GITHUB_REPOSITORY, with
    GITHUB_API_URL for GitHub Enterprise), as in Actions; the repository defaults to the
    one `origin` names.
    """

    client: GithubClient
    base: str
    remote: str = PR_REMOTE

    @classmethod
    def find(cls, local: git.Repo, environ: Mapping[str, str] | None = None) -> PullRequestTarget:
        env = os.environ if environ is None else environ
        token = env.get("GITHUB_TOKEN")
        if not token:
            raise TfopsError(
                "--pr needs GITHUB_TOKEN to open the pull request",
                hint="export a token with `contents: write` and `pull-requests: write` "
                "(in Actions: `GITHUB_TOKEN: ${{ github.token }}`), or use --branch alone",
            )
        if PR_REMOTE not in {remote.name for remote in local.remotes}:
            raise TfopsError(
                "--pr pushes the branch to `origin`, and this repository has no such remote",
                hint="add it (git remote add origin URL), or use --branch alone",
            )
        repository = env.get("GITHUB_REPOSITORY") or _repository_of(local)
        if not repository or repository.count("/") != 1:
            raise TfopsError(
                f"--pr cannot tell which GitHub repository to open the pull request in "
                f"(GITHUB_REPOSITORY is {repository!r})",
                hint="set GITHUB_REPOSITORY=OWNER/NAME",
            )
        try:
            base = local.active_branch.name
        except TypeError:
            raise TfopsError(
                "--pr opens the pull request into the checked-out branch, but HEAD is detached",
                hint="check out the branch the promotion should merge into (git switch main)",
            ) from None
        api_url = env.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(GithubClient(api_url, token, repository), base)

    def open(self, local: git.Repo, branch: str, title: str, body: str) -> dict[str, Any]:
        """Push `branch` and open its pull request; the pull request GitHub returned."""
        try:
            local.git.push("--quiet", "--set-upstream", self.remote, f"{branch}:{branch}")
        except git.GitCommandError as exc:
            reason = _URL_CREDENTIALS.sub(r"\1***@", gitutil.git_message(exc))
            raise TfopsError(
                f"git could not push {branch} to {self.remote}: {reason}",
                hint=f"the promotion is committed on {branch}; push it and open the pull "
                "request yourself",
            ) from None
        try:
            return self.client.create_pull_request(
                title=title, body=body, head=branch, base=self.base
            )
        except GithubError as exc:
            if exc.status == 403:
                hint = "the token needs `pull-requests: write` (`permissions:` in the workflow)"
            elif exc.status == 422:
                hint = (
                    f"GitHub refuses a second pull request for {branch}, and one with no "
                    f"commits over {self.base}; see the open pull requests"
                )
            else:
                hint = exc.hint or ""
            raise TfopsError(
                f"{branch} is pushed, but the pull request could not be opened: {exc.message}",
                hint=hint,
            ) from None


def _repository_of(local: git.Repo) -> str | None:
    """OWNER/NAME from origin's URL (https://github.com/acme/env.git, git@github.com:acme/env)."""
    try:
        url = next(iter(local.remote("origin").urls), "")
    except ValueError:
        return None
    parts = re.split(r"[/:]", url.removesuffix("/").removesuffix(".git"))
    return "/".join(parts[-2:]) if len(parts) >= 2 and all(parts[-2:]) else None
