"""The `pins` gate: pinned environments run released, locked module versions only.

Rules (DESIGN.md §1), for every module call in an environment with `pinned: true`:
a ref is present and exists; it is a release tag (`modules.release_tag_pattern`, never a
pre-release) or a full commit SHA, not a branch; registry modules have an exact
`version`; and a tag still names the commit `tfops.lock.json` recorded for it. Other
environments may float. Modules inside the environments repo are versioned with it.

In every environment, pinned or not: a source git must never see (`git::--upload-pack=…`,
`ext::`, see `modules.sources`) is `pin-unsafe-source`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tfops.config import Severity
from tfops.gates.base import Finding, GateContext
from tfops.modules.calls import module_calls
from tfops.modules.lock import LockFile, MovedTag, find_moved, lock_path, moved_tags
from tfops.modules.remote import RemoteLister
from tfops.modules.resolve import ResolvedModule, Resolver, display_url, is_prerelease
from tfops.repo.environments import Environment, EnvironmentsRepo
from tfops.terraform.versions import is_exact


class PinsGate:
    name = "pins"
    tool: str | None = None
    install_hint = ""

    def run(self, ctx: GateContext) -> list[Finding]:
        repo = ctx.repo
        envs = [repo.environments[n] for n in ctx.selected]
        every_call = [call for env in envs for call in module_calls(repo, env, nested=True)]
        findings = [  # in every environment: these are refused, not linted
            finding
            for call in every_call
            if call.source.kind == "unsafe"
            for finding in pin_findings(repo, ResolvedModule(call, call.source, "unsafe"))
        ]
        calls = [
            call
            for call in every_call
            if repo.environments[call.environment].pinned and call.source.kind != "unsafe"
        ]
        if not calls:
            return findings
        lock = LockFile.read(lock_path(repo))
        resolved = Resolver(repo, ctx.lister).resolve(calls)
        moved = {id(m.module): m for m in find_moved(resolved, lock, repo.config.modules.lock_file)}
        for module in resolved:
            findings += (
                pin_findings(repo, module)
                or ([moved_tag_finding(repo, moved[id(module)])] if id(module) in moved else [])
                or lock_findings(repo, module, lock)
            )
        return findings


def moved_tag_findings(
    repo: EnvironmentsRepo, environments: Iterable[Environment], lister: RemoteLister
) -> list[Finding]:
    """`modules.lock.moved_tags` as findings: what the apply path reports and refuses on,
    with or without `--no-gates`."""
    return [moved_tag_finding(repo, moved) for moved in moved_tags(repo, environments, lister)]


def moved_tag_finding(repo: EnvironmentsRepo, moved: MovedTag) -> Finding:
    return _finding(repo, moved.module, "tag-moved", moved.message())


def pin_findings(repo: EnvironmentsRepo, module: ResolvedModule) -> list[Finding]:
    """Where a module breaks the pin rules of a pinned environment (empty when it doesn't)."""
    call, ref = module.call, module.ref
    who = f"module {call.name} in {call.environment}"

    def finding(rule: str, message: str) -> list[Finding]:
        return [_finding(repo, module, rule, message)]

    if module.kind == "registry":
        address = module.source.registry
        if not ref:
            return finding(
                "pin-missing",
                f"{who} ({address}) has no version: it gets whatever is newest; "
                'pin an exact version, e.g. version = "1.2.3" (`tfops modules` shows the newest)',
            )
        if not is_exact(ref):
            return finding(
                "registry-version-range",
                f"{who} ({address}): version {ref!r} is a range, not a pin; pinned environments "
                'need an exact version, e.g. version = "1.2.3" (`tfops modules` shows the newest)',
            )
        return []
    if module.kind == "other":
        return finding(
            "pin-unsupported",
            f"{who}: tfops cannot verify what {call.source.raw!r} points at; use a git source "
            "pinned to a release tag (or list this rule under gates.pins.ignore)",
        )
    if module.kind == "error":
        assert module.error is not None
        reason = module.error.message.removeprefix(f"module {call.name!r}: ")
        hint = f"\n{module.error.hint}" if module.error.hint else ""
        return finding("pin-unreachable", f"{who}: {reason}{hint}")
    if module.kind == "floating":
        return finding(
            "pin-missing",
            f"{who} is not pinned: {call.source.raw!r} has no ?ref=, so it runs whatever "
            f"the default branch holds; {_alternative(module)}",
        )
    if module.kind == "branch":
        return finding(
            "pin-branch",
            f"{who}: ref {ref!r} is a branch, not a pin (it moves with every push); "
            f"{_alternative(module)}",
        )
    if module.kind == "unknown":
        return finding(
            "pin-unknown-ref",
            f"{who}: ref {ref!r} does not exist in {display_url(module.url or '')}; "
            f"{_alternative(module)}",
        )
    if module.kind == "unsafe":
        message = (
            f"{who}: source {call.source.raw!r} is refused: {module.source.unsafe}. tfops "
            "never hands it to git, nor to terraform; use a plain git URL "
            "(git::https://host/org/repo.git?ref=v1.2.0)"
        )
        return [_finding(repo, module, "pin-unsafe-source", message, "critical")]
    if module.kind == "tag" and ref is not None:
        tag = module.tag or ref
        if is_prerelease(tag):
            return finding(
                "pin-prerelease",
                f"{who}: ref {ref!r} is a pre-release; pinned environments run releases "
                f"only; {_alternative(module)}",
            )
        if module.tags is None or tag not in module.tags.releases:
            pattern = repo.config.modules.release_tag_pattern
            return finding(
                "pin-not-release",
                f"{who}: tag {ref!r} is not a release tag (modules.release_tag_pattern "
                f"{pattern!r}); {_alternative(module)}",
            )
    return []  # a release tag, a full SHA, or a module inside the environments repo


def lock_findings(repo: EnvironmentsRepo, module: ResolvedModule, lock: LockFile) -> list[Finding]:
    """A pinned module the lock does not record (for this source and ref)."""
    if module.kind not in ("tag", "sha") or module.ref is None or module.commit is None:
        return []
    call = module.call
    who = f"module {call.name} in {call.environment}"
    entry = lock.get(call.environment, call.name)
    lock_name = repo.config.modules.lock_file
    severity: Severity = "high" if repo.config.modules.require_lock else "info"
    if entry is None or entry.source != call.source.raw or entry.ref != module.ref:
        recorded = (
            f"{lock_name} records {entry.source!r} for it"
            if entry is not None
            else f"{lock_name} has no entry for it"
        )
        return [
            _finding(
                repo,
                module,
                "lock-missing",
                f"{who}: {module.ref} ({module.commit[:12]}) is not locked: {recorded}; "
                "run `tfops modules lock` to record it",
                severity,
            )
        ]
    return []


def _alternative(module: ResolvedModule) -> str:
    """What would be valid instead: the newest release, spelled as the source to write."""
    tags = module.tags
    if tags is None:
        return "pin a release tag with ?ref=TAG or a full commit SHA"
    newest = tags.newest_release
    if newest is None:
        return (
            "the repository has no release tags; tag a release (e.g. v1.0.0) "
            "or pin a full commit SHA"
        )
    more = f" (newest releases: {tags.shown()})" if len(tags.releases) > 1 else ""
    source = json.dumps(module.call.source.with_ref(newest))
    return f"use the newest release: source = {source}{more}"


def _finding(
    repo: EnvironmentsRepo,
    module: ResolvedModule,
    rule: str,
    message: str,
    severity: Severity = "high",
) -> Finding:
    return Finding(
        gate="pins",
        severity=severity,
        rule=rule,
        message=message,
        file=repo.relative(module.call.file),
        line=module.call.line,
        environments=(module.call.environment,),
    )
