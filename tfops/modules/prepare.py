"""Before terraform runs in a root: resolve sibling-repo refs and write the override file."""

from __future__ import annotations

from dataclasses import dataclass

from tfops.errors import ModuleRefError
from tfops.modules.calls import ModuleCall, module_calls
from tfops.modules.overrides import write_override
from tfops.modules.remote import RemoteLister
from tfops.modules.resolve import Resolver, display_url
from tfops.modules.sources import ModuleSource, git_source
from tfops.repo.environments import EnvironmentsRepo, Root

MAX_TAGS_SHOWN = 10


@dataclass(frozen=True)
class SiblingModule:
    call: ModuleCall
    source: ModuleSource  # with url and subdir filled in
    commit: str


def prepare_root(repo: EnvironmentsRepo, root: Root, lister: RemoteLister) -> list[SiblingModule]:
    """Check every sibling-repo ref in the root exists and generate the override file.

    A source git must never see stops here, before any terraform call reads it."""
    every_call = refuse_unsafe_sources(repo, root)
    calls = list(
        {c.name: c for c in every_call if c.source.kind == "sibling" and "." not in c.name}.values()
    )  # the override reaches the environments' own module blocks only
    siblings = []
    for module in Resolver(repo, lister).resolve(calls):
        if module.error is not None:
            raise module.error
        if module.commit is None:
            tags = module.tags.tags if module.tags else ()
            shown = ", ".join(tags[:MAX_TAGS_SHOWN]) + (" …" if len(tags) > MAX_TAGS_SHOWN else "")
            url = display_url(module.url or "")
            raise ModuleRefError(
                f"module {module.call.name!r}: ref {module.ref!r} does not exist in {url}",
                where=module.call.where(repo),
                hint=f"tags that exist (newest first): {shown}"
                if tags
                else "the repository has no tags",
            )
        siblings.append(SiblingModule(module.call, module.source, module.commit))
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


def refuse_unsafe_sources(repo: EnvironmentsRepo, root: Root) -> list[ModuleCall]:
    """The root's module calls, nested ones included; ModuleRefError (with file and line)
    for the first source git must never see: terraform init would hand it to git."""
    every_call = [
        call
        for name in root.environments
        for call in module_calls(repo, repo.environments[name], nested=True)
    ]
    for call in every_call:
        if call.source.kind == "unsafe":
            raise ModuleRefError(
                f"module {call.name!r}: source {call.source.raw!r} is refused: "
                f"{call.source.unsafe}",
                where=call.where(repo),
                hint="use a plain git URL (git::https://host/org/repo.git?ref=v1.2.0); "
                "tfops runs neither git nor terraform init on this root until then",
            )
    return every_call
