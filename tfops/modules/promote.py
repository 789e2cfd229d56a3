"""Promote a module to another ref: rewrite only that ref, byte for byte everything else.

MODULE is a module block name (`prod_back_end`), or the module's path as its source names
it (`back_end`, `modules/back_end`, a registry address): then every block of the selected
environment that calls it is promoted. The new ref is checked against the pin rules
before any file is touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from tfops.errors import TfopsError
from tfops.gates.pins import pin_findings
from tfops.modules.calls import ModuleCall, module_calls
from tfops.modules.resolve import ResolvedModule
from tfops.modules.sources import parse_source
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
