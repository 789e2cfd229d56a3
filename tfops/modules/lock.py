"""`tfops.lock.json`: the commit every pinned module's ref resolved to when it was locked.

Like `.terraform.lock.hcl` for providers: a tag that later names another commit is a
supply-chain alarm, and the pins gate refuses it until a person updates the lock. The
file is sorted, indented JSON with one entry per module block, so a promotion is a
three-line diff:

    {
      "modules": {
        "prod": {
          "prod_back_end": {"commit": "…", "ref": "v1.1.0", "source": "../modules/…?ref=v1.1.0"}
        }
      },
      "version": 1
    }
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tfops.errors import TfopsError
from tfops.modules.calls import module_calls
from tfops.modules.remote import RemoteLister
from tfops.modules.resolve import ResolvedModule, Resolver, display_url
from tfops.repo.environments import Environment, EnvironmentsRepo

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    source: str  # as written in the .tf file
    ref: str
    commit: str


@dataclass(frozen=True)
class LockChange:
    environment: str
    module: str
    old: LockEntry | None
    new: LockEntry | None  # None: removed

    def describe(self) -> str:
        name = f"{self.environment}/{self.module}"
        if self.new is None:
            return f"{name}: removed (no longer pinned here)"
        if self.old is None:
            return f"{name}: {self.new.ref} → {self.new.commit[:12]} (added)"
        if self.old.ref == self.new.ref and self.old.commit != self.new.commit:
            return (
                f"{name}: {self.new.ref} moved {self.old.commit[:12]} → "
                f"{self.new.commit[:12]} (updated on purpose)"
            )
        return f"{name}: {self.old.ref} → {self.new.ref} ({self.new.commit[:12]})"


@dataclass
class LockFile:
    path: Path
    modules: dict[str, dict[str, LockEntry]] = field(default_factory=dict)  # env → block → entry

    @classmethod
    def read(cls, path: Path) -> LockFile:
        """The lock at `path`; empty when there is none yet."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TfopsError(
                f"not valid JSON: {exc}",
                where=path.name,
                hint="fix it, or delete it and run `tfops modules lock`",
            ) from None
        return cls(path, _entries(data, path))

    def get(self, environment: str, module: str) -> LockEntry | None:
        return self.modules.get(environment, {}).get(module)

    def update(
        self, resolved: Iterable[ResolvedModule], environments: Iterable[str]
    ) -> list[LockChange]:
        """Record every lockable module of `environments`; drop their entries for modules gone.

        Entries of other environments are kept as they are.
        """
        wanted: dict[str, dict[str, LockEntry]] = {env: {} for env in environments}
        for module in resolved:
            entry = entry_for(module)
            if entry is not None and module.call.environment in wanted:
                wanted[module.call.environment][module.call.name] = entry
        changes = []
        for env, entries in sorted(wanted.items()):
            current = self.modules.get(env, {})
            for name in sorted(set(current) | set(entries)):
                old, new = current.get(name), entries.get(name)
                if old != new:
                    changes.append(LockChange(env, name, old, new))
            if entries:
                self.modules[env] = entries
            else:
                self.modules.pop(env, None)
        return changes

    def record(self, module: ResolvedModule) -> LockChange | None:
        """Record one module (a promotion); other entries stay as they are."""
        entry = entry_for(module)
        if entry is None:
            return None
        env, name = module.call.environment, module.call.name
        old = self.get(env, name)
        self.modules.setdefault(env, {})[name] = entry
        return LockChange(env, name, old, entry) if old != entry else None

    def text(self) -> str:
        data = {
            "version": LOCK_VERSION,
            "modules": {
                env: {name: asdict(entry) for name, entry in entries.items()}
                for env, entries in self.modules.items()
                if entries
            },
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def write(self) -> bool:
        """Write the lock when its content changed; True when it did."""
        if not self.path.exists() and not any(self.modules.values()):
            return False  # nothing to lock: no file either
        text = self.text()
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            return False
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tfops-lock-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, self.path)
        return True


@dataclass(frozen=True)
class MovedTag:
    """A locked module whose ref now names another commit than the lock records."""

    module: ResolvedModule
    entry: LockEntry
    lock_name: str

    def message(self) -> str:
        call = self.module.call
        return (
            f"module {call.name} in {call.environment}: tag {self.module.ref!r} moved: "
            f"{self.lock_name} records {self.entry.commit}, "
            f"{display_url(self.module.url or '')} now has {self.module.commit}. A moved tag "
            "can mean a compromised release: check the new commit is intended, then run "
            "`tfops modules lock` to accept it"
        )


def moved_tags(
    repo: EnvironmentsRepo, environments: Iterable[Environment], lister: RemoteLister
) -> list[MovedTag]:
    """Every locked module of `environments` whose tag moved since it was locked.

    A safety check, not a lint: the apply path calls it on every apply, `--no-gates` or
    not, and the pins gate reports the same. Only modules with a lock entry for their
    current source and ref are resolved (one `git ls-remote` per repository); a
    repository that can't be listed is not reported here (terraform init fails on it).
    """
    lock = LockFile.read(lock_path(repo))
    calls = [
        call
        for env in environments
        for call in module_calls(repo, env, nested=True)
        if (entry := lock.get(call.environment, call.name)) is not None
        and entry.source == call.source.raw
        and call.source.kind != "unsafe"
    ]
    if not calls:
        return []
    return find_moved(Resolver(repo, lister).resolve(calls), lock, repo.config.modules.lock_file)


def find_moved(
    resolved: Iterable[ResolvedModule], lock: LockFile, lock_name: str
) -> list[MovedTag]:
    """The resolved modules whose commit differs from their lock entry's."""
    moved = []
    for module in resolved:
        entry = lock.get(module.call.environment, module.call.name)
        if (
            entry is not None
            and module.kind in ("tag", "sha")
            and module.commit is not None
            and entry.source == module.call.source.raw
            and entry.ref == module.ref
            and entry.commit != module.commit
        ):
            moved.append(MovedTag(module, entry, lock_name))
    return moved


def lock_path(repo: EnvironmentsRepo) -> Path:
    return repo.root / repo.config.modules.lock_file


def entry_for(module: ResolvedModule) -> LockEntry | None:
    """The lock entry for a module pinned to a tag or a commit (branches move by design)."""
    if module.kind not in ("tag", "sha") or module.ref is None or module.commit is None:
        return None
    return LockEntry(module.call.source.raw, module.ref, module.commit)


def _entries(data: Any, path: Path) -> dict[str, dict[str, LockEntry]]:
    if not isinstance(data, dict) or not isinstance(data.get("modules", {}), dict):
        raise TfopsError(
            'expected {"version": 1, "modules": {...}}',
            where=path.name,
            hint="delete it and run `tfops modules lock` to write it again",
        )
    version = data.get("version")
    if version != LOCK_VERSION:
        raise TfopsError(
            f"lock file version {version!r} is not supported (this tfops writes {LOCK_VERSION})",
            where=path.name,
            hint="use the tfops version that wrote it, or run `tfops modules lock` to rewrite it",
        )
    out: dict[str, dict[str, LockEntry]] = {}
    for env, modules in data.get("modules", {}).items():
        if not isinstance(modules, dict):
            raise TfopsError(f"modules.{env} must be an object", where=path.name)
        for name, entry in modules.items():
            try:
                out.setdefault(str(env), {})[str(name)] = LockEntry(
                    source=str(entry["source"]), ref=str(entry["ref"]), commit=str(entry["commit"])
                )
            except (KeyError, TypeError):
                raise TfopsError(
                    f"modules.{env}.{name} needs source, ref and commit",
                    where=path.name,
                    hint="run `tfops modules lock` to write it again",
                ) from None
    return out
