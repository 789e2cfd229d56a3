"""Trusted configuration: what grants power is read from the default branch, never from the
change under review.

A pull request's checkout is the author's: its tfops.yaml could name a terraform binary
of its own, make prod apply automatically, or let anyone apply. So in every event but a
push to the default branch, tfops reads the default branch's tfops.yaml — from the local
clone when it has that commit (`git show origin/<branch>:tfops.yaml`), else through the
contents API — and takes every power-granting setting from it (`config.with_trusted`).
If that file can't be read, tfops stops: it never falls back to the checkout's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfops.ci.context import CiContext
from tfops.config import CONFIG_NAMES, TfopsConfig, load_config, parse_config, with_trusted
from tfops.errors import TfopsError
from tfops.github.errors import GithubError
from tfops.pipeline.session import Session
from tfops.terraform import process


@dataclass(frozen=True)
class Trusted:
    session: Session
    changed: list[str]  # power settings the checkout changes: they apply after merge
    source: str  # where the trusted settings came from, for notes


def trusted_session(
    ctx: CiContext,
    *,
    checkout_is_trusted: bool = False,
    trusted_config: TfopsConfig | None = None,
) -> Trusted:
    """The session for this event, its power settings from the default branch (read here,
    or given as `trusted_config` when the caller already read it)."""
    if checkout_is_trusted:
        session = Session.open(ctx.path, ctx.console)
        return Trusted(session, [], "the checkout (the default branch)")
    branch = ctx.default_branch()
    trusted = trusted_config or read_default_branch_config(ctx, branch)
    head, _ = load_config(ctx.path.resolve())
    config, changed = with_trusted(head, trusted)
    session = Session.open(ctx.path, ctx.console, config=config)
    if changed:
        ctx.console.note(
            f"The checkout changes {', '.join(changed)} in tfops.yaml: those take effect "
            f"after merge; this run uses {branch}'s."
        )
    return Trusted(session, changed, branch)


def read_default_branch_config(ctx: CiContext, branch: str) -> TfopsConfig:
    for name in CONFIG_NAMES:
        text = _from_git(ctx.path, f"origin/{branch}", name)
        if text is None:
            text = _from_api(ctx, branch, ctx.checkout_prefix() + name)
        if text:
            return parse_config(text, Path(f"{branch}:{ctx.checkout_prefix()}{name}"))
    return TfopsConfig()


_ABSENT = ""


def _from_git(path: Path, ref: str, name: str) -> str | None:
    """The file at `ref` from the local clone: its text, "" when `ref` has no such file,
    None when the clone doesn't have `ref` (a shallow checkout of the pull request)."""
    known = process.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=path)
    if known.returncode != 0:
        return None
    shown = process.run(["git", "show", f"{ref}:./{name}"], cwd=path)
    return shown.stdout if shown.returncode == 0 else _ABSENT


def _from_api(ctx: CiContext, branch: str, path: str) -> str:
    try:
        data = ctx.client().file_contents(path, branch)
    except GithubError as exc:
        raise TfopsError(
            f"cannot read {path} of the default branch {branch}, which says who may do what: "
            f"{exc.message}",
            hint="the token needs `contents: read`; tfops never trusts the pull request's own "
            "tfops.yaml for that",
        ) from None
    if data is None:
        return _ABSENT
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TfopsError(f"{branch}:{path} is not UTF-8 text") from None
