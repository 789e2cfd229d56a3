"""The objects tfops reads from GitHub's REST API, as typed dicts checked on arrival.

Each TypedDict names the fields tfops relies on, with GitHub's names and types (see GitHub's
OpenAPI description; `tests/github/test_fake_schema.py` holds the fake to it). The client
checks every answer against its shape before handing it on, so a caller never meets a
KeyError or a `None` where GitHub promises a string: an answer of the wrong shape (a proxy's
HTML page, an API that is not GitHub's, a field GitHub renamed) is a `GithubError` naming the
endpoint and the field. Checked objects are GitHub's own dicts, extra fields included.

Lists return GitHub's "simple" objects (`PullRequestSimple`), single GETs the full ones.

No `from __future__ import annotations` here: the checker reads these annotations at run time.
"""

import functools
import types
from typing import (
    Any,
    Literal,
    NotRequired,
    TypedDict,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from tfops.github.errors import GithubError

T = TypeVar("T")


class User(TypedDict):
    login: str
    id: int
    type: str  # "User", "Bot" or "Organization"


class RepositoryRef(TypedDict):
    full_name: str


class Branch(TypedDict):
    """A pull request's head or base."""

    sha: str
    ref: str
    repo: RepositoryRef | None  # None when the fork the head came from was deleted


class PullRequestSimple(TypedDict):
    """A pull request as lists give it (e.g. `commits/{sha}/pulls`)."""

    number: int
    state: str  # "open" | "closed"
    title: str
    html_url: str
    user: User | None
    head: Branch
    base: Branch
    merged_at: str | None
    merge_commit_sha: str | None
    draft: NotRequired[bool]


class PullRequest(PullRequestSimple):
    """`GET pulls/{n}`: the full object."""

    merged: bool
    mergeable: bool | None  # None while GitHub is still computing it
    mergeable_state: str  # "clean", "blocked", "dirty", "unknown", …
    changed_files: int


class DiffEntry(TypedDict):
    filename: str
    status: str
    previous_filename: NotRequired[str]


class Review(TypedDict):
    id: int
    user: User | None
    state: str  # "APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"
    commit_id: str | None  # the head the review was given on
    author_association: str
    submitted_at: NotRequired[str]


class IssueComment(TypedDict):
    id: int
    user: User | None  # None for a deleted account ("ghost")
    html_url: str
    created_at: str
    updated_at: str
    body: NotRequired[str]
    author_association: NotRequired[str]


class Label(TypedDict):
    name: NotRequired[str]


class Issue(TypedDict):
    number: int
    title: str
    state: str
    html_url: str
    user: User | None
    created_at: str
    labels: list[Label | str]
    body: NotRequired[str | None]
    state_reason: NotRequired[str | None]
    pull_request: NotRequired[dict[str, Any]]  # present when the "issue" is a pull request


class Repository(TypedDict):
    full_name: str
    default_branch: str
    private: bool
    html_url: str


class ContentFile(TypedDict):
    type: Literal["file"]
    path: str
    size: int
    encoding: str  # "base64"; "none" for files over 1 MB, which the contents API leaves out
    content: str


class CollaboratorPermission(TypedDict):
    permission: str  # admin, write, read, none (a custom role: its base)
    role_name: str  # admin, maintain, write, triage, read, or a custom role's name


class Reaction(TypedDict):
    id: int
    content: str


def checked(value: Any, shape: type[T], endpoint: str) -> T:
    """`value` itself, once it has the fields and types `shape` says; else a GithubError."""
    problem = _problem(value, shape, "")
    if problem is not None:
        raise _unexpected(endpoint, problem)
    return cast(T, value)


def checked_list(value: Any, item: type[T], endpoint: str) -> list[T]:
    """`value` itself, once it is a list of `item`s; else a GithubError."""
    if not isinstance(value, list):
        raise _unexpected(endpoint, f"the answer is {_describe(value)}, expected a list")
    for index, element in enumerate(value):
        problem = _problem(element, item, f"[{index}]")
        if problem is not None:
            raise _unexpected(endpoint, problem)
    return cast(list[T], value)


def _unexpected(endpoint: str, problem: str) -> GithubError:
    return GithubError(
        f"{endpoint}: GitHub's answer is not what tfops expects: {problem}",
        status=200,
        hint="check GITHUB_API_URL: it must be GitHub's REST API "
        "(e.g. https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise)",
    )


def _problem(value: Any, kind: Any, where: str) -> str | None:
    """What is wrong with `value` as a `kind`, or None."""
    origin = get_origin(kind)
    if kind is Any:
        return None
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        problems = [_problem(value, option, where) for option in options]
        if any(p is None for p in problems):
            return None
        wanted = " or ".join(_name(option) for option in options)
        detail = next(
            (p for o, p in zip(options, problems, strict=True) if _plain_match(value, o)), None
        )
        return detail or f"{_field(where)} is {_describe(value)}, expected {wanted}"
    if is_typeddict(kind):
        if not isinstance(value, dict):
            return f"{_field(where)} is {_describe(value)}, expected an object"
        required: frozenset[str] = kind.__required_keys__
        for key, hint in _hints(kind).items():
            inner = f"{where}.{key}" if where else key
            if key not in value:
                if key in required:
                    return f"{_field(inner)} is missing"
                continue
            problem = _problem(value[key], hint, inner)
            if problem is not None:
                return problem
        return None
    if origin is list:
        if not isinstance(value, list):
            return f"{_field(where)} is {_describe(value)}, expected a list"
        (item,) = get_args(kind)
        for index, element in enumerate(value):
            problem = _problem(element, item, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if origin is Literal:
        allowed = get_args(kind)
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return None
        return f"{_field(where)} is {_describe(value)}, expected {' or '.join(map(repr, allowed))}"
    if not _plain_match(value, kind):
        return f"{_field(where)} is {_describe(value)}, expected {_name(kind)}"
    return None


@functools.cache
def _hints(kind: Any) -> dict[str, Any]:
    return get_type_hints(kind)


def _plain_match(value: Any, kind: Any) -> bool:
    """Does `value` have the outer type `kind` asks for (ignoring what is inside)?"""
    origin = get_origin(kind) or kind
    if kind is type(None):
        return value is None
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if is_typeddict(kind) or origin is dict:
        return isinstance(value, dict)
    if origin is Literal:
        return value in get_args(kind)
    return isinstance(value, origin)


_NAMES = {str: "a string", int: "an integer", bool: "true or false", type(None): "null"}


def _name(kind: Any) -> str:
    if kind in _NAMES:
        return _NAMES[kind]
    origin = get_origin(kind) or kind
    return "a list" if origin is list else "an object"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "…"
    return f"{text} ({'a string' if isinstance(value, str) else _name(type(value))})"


def _field(where: str) -> str:
    return f"`{where}`" if where else "the answer"
