"""Before terraform runs in a root: resolve sibling-repo refs and write the override file."""

from __future__ import annotations

from dataclasses import dataclass

from tfops.errors import ModuleRefError
from tfops.modules.calls import ModuleCall, module_calls
from tfops.modules.overrides import write_override
from tfops.modules.remote import RemoteLister
from tfops.modules.siblings import resolve_sibling
from tfops.modules.sources import ModuleSource, git_source, is_full_sha
from tfops.repo import EnvironmentsRepo, Root

MAX_TAGS_SHOWN = 10


@dataclass(frozen=True)
class SiblingModule:
    call: ModuleCall
    source: ModuleSource  # with url and subdir filled in
    commit: str


def prepare_root(repo: EnvironmentsRepo, root: Root, lister: RemoteLister) -> list[SiblingModule]:
    """Check every sibling-repo ref in the root exists and generate the override file."""
    calls = [
        call
        for name in root.environments
        for call in module_calls(repo, repo.environments[name])
        if call.source.kind == "sibling"
    ]
    resolved = [(call, resolve_sibling(repo, call)) for call in calls]
    lister.prefetch(source.url for _, source in resolved if source.url)
    siblings = []
    for call, source in resolved:
        assert source.url is not None and source.ref is not None
        try:
            refs = lister.refs(source.url)
        except ModuleRefError as exc:
            raise ModuleRefError(
                f"module {call.name!r}: {exc.message}", where=call.where(repo), hint=exc.hint
            ) from None
        commit = refs.resolve(source.ref) or (source.ref if is_full_sha(source.ref) else None)
        if commit is None:
            tags = refs.sorted_tags()
            shown = ", ".join(tags[:MAX_TAGS_SHOWN]) + (" …" if len(tags) > MAX_TAGS_SHOWN else "")
            raise ModuleRefError(
                f"module {call.name!r}: ref {source.ref!r} does not exist in {source.url}",
                where=call.where(repo),
                hint=f"tags that exist (newest first): {shown}"
                if tags
                else "the repository has no tags",
            )
        siblings.append(SiblingModule(call, source, commit))
    write_override(
        root.path,
        {
            s.call.name: git_source(
                s.source.url or "", s.source.subdir, s.source.ref or "", s.source.query
            )
            for s in siblings
        },
    )
    return siblings
