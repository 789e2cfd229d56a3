"""The one reader of `terraform show -json`.

Everything in tfops that looks at a plan's changes reads them here: the summary reviewers
see (`plan.model`), the merge comparison that decides whether what is applied is what was
reviewed (`plan.compare`), and the list of sensitive values the masker learns. So they
can't disagree about which resources change, how, which attributes, or what is secret.

What "a change" is follows Terraform's own plan renderer (`internal/command/jsonformat`):
a resource is listed when its action is not no-op, or it moves, or it is imported; a data
source being deleted is not listed. Drift (`resource_drift`) is listed when it changed, and
in a refresh-only plan also when it only moved.

Formats: Terraform 1.0 writes format 0.x (no `previous_address`, `importing`, `errored`,
`complete`); 1.1+ writes 1.x. Deferred changes (1.10+ with `-allow-deferral`) and action
invocations (1.14) are read from the documented fields. Anything not shaped the way
Terraform writes it is a `PlanJsonError` naming the field, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

from tfops.errors import TfopsError
from tfops.plan.values import escape_unprintable, has_true

# The parts of `terraform show -json` tfops reads. The rest (prior_state, configuration,
# planned_values.root_module, variables) is most of a big plan's size and holds values in
# clear; the binary plan file keeps everything for terraform itself.
KEPT_KEYS = (
    "format_version",
    "terraform_version",
    "resource_changes",
    "resource_drift",
    "deferred_changes",
    "output_changes",
    "action_invocations",
    "deferred_action_invocations",
    "relevant_attributes",
    "errored",
    "applyable",
    "complete",
    "timestamp",
)

# Terraform's action lists (jsonplan.Change.Actions) and tfops's name for each.
ACTION_NAMES: dict[tuple[str, ...], str] = {
    ("no-op",): "no-op",
    ("create",): "create",
    ("read",): "read",
    ("update",): "update",
    ("delete",): "delete",
    ("forget",): "forget",  # `removed { lifecycle { destroy = false } }`
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",  # create_before_destroy
    ("create", "forget"): "create-forget",  # replaced; the old object is left, unmanaged
}
HINT = "tfops reads what `terraform show -json PLANFILE` prints for a saved plan"


class PlanJsonError(TfopsError):
    """A plan's JSON is not shaped the way `terraform show -json` writes it."""


@dataclass(slots=True)  # a big plan has ~10,000 of these
class Entry:
    """One resource instance in `resource_changes`, `resource_drift` or `deferred_changes`."""

    address: str
    mode: str  # managed | data
    type: str
    action: str  # a value of ACTION_NAMES, or Terraform's list joined with "-" if unknown
    change: dict[str, Any]  # before, after, after_unknown, *_sensitive, replace_paths
    module_address: str | None = None
    moved_from: str | None = None
    importing: bool = False
    import_id: str | None = None
    reason: str | None = None  # action_reason
    deposed: str | None = None
    deferred: str | None = None  # why, for deferred_changes


@dataclass(slots=True)
class Output:
    name: str
    action: str
    before: Any
    after: Any
    after_unknown: Any
    sensitive: bool  # marked sensitive anywhere (planned_values or either marker)


@dataclass(slots=True)
class Invocation:
    """An action invocation (Terraform 1.14): run by a resource's lifecycle, or by `-invoke`."""

    address: str
    type: str
    name: str
    config: Any
    config_unknown: Any
    config_sensitive: Any
    trigger: str | None = None  # the resource whose lifecycle invokes it
    event: str | None = None  # before_create, after_update, …
    deferred: str | None = None


@dataclass
class Plan:
    source: str  # names the plan in errors: a file, or "the plan of dev"
    format_version: str
    terraform_version: str
    resource_changes: list[Any] = field(default_factory=list, repr=False)  # as in the JSON
    drift: list[Entry] = field(default_factory=list)
    deferred: list[Entry] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)  # only those that change
    actions: list[Invocation] = field(default_factory=list)
    errored: bool = False  # Terraform failed part-way; the changes are what it got to
    complete: bool = True  # false: deferred changes, -target, or errored
    refresh_only: bool = False

    def changes(self) -> Iterator[Entry]:
        """The resource changes Terraform lists, read one at a time as they are asked for
        (a big plan has ~10,000: kept all at once they only make work for the GC)."""
        source = self.source
        for index, raw in enumerate(self.resource_changes):
            entry = _entry(raw, ("resource_changes", index), source)
            if listed(entry):
                yield entry


class _Outputs(msgspec.Struct):
    """`planned_values`, of which only the outputs are read (`keep`)."""

    outputs: Any = None


class _KeptPlan(msgspec.Struct):
    """The parts of `terraform show -json` tfops reads: KEPT_KEYS and planned values'
    outputs. Decoding into it skips the rest (prior state, configuration, planned values'
    modules: most of a big plan) without building it."""

    format_version: Any = msgspec.UNSET
    terraform_version: Any = msgspec.UNSET
    resource_changes: Any = msgspec.UNSET
    resource_drift: Any = msgspec.UNSET
    deferred_changes: Any = msgspec.UNSET
    output_changes: Any = msgspec.UNSET
    action_invocations: Any = msgspec.UNSET
    deferred_action_invocations: Any = msgspec.UNSET
    relevant_attributes: Any = msgspec.UNSET
    errored: Any = msgspec.UNSET
    applyable: Any = msgspec.UNSET
    complete: Any = msgspec.UNSET
    timestamp: Any = msgspec.UNSET
    planned_values: _Outputs | None = None


_DECODER = msgspec.json.Decoder(_KeptPlan)


def load_plan(text: str | bytes) -> dict[str, Any]:
    """Parse `terraform show -json` output, keeping only what tfops uses (see KEPT_KEYS):
    what tfops doesn't read is skipped by the decoder, never built (`_KeptPlan`)."""
    try:
        decoded = _DECODER.decode(text)
    except msgspec.DecodeError as exc:  # not JSON, or not an object
        raise ValueError(f"not a plan's JSON: {exc}") from None
    full = {key: getattr(decoded, key) for key in KEPT_KEYS}
    full = {key: value for key, value in full.items() if value is not msgspec.UNSET}
    if decoded.planned_values is not None:
        full["planned_values"] = {"outputs": decoded.planned_values.outputs}
    return keep(full)


def keep(full: dict[str, Any]) -> dict[str, Any]:
    """The parts of a parsed plan JSON tfops reads (KEPT_KEYS, and which outputs are
    sensitive); prior state, configuration and planned values hold secrets in clear."""
    plan = {key: full[key] for key in KEPT_KEYS if key in full}
    outputs = (full.get("planned_values") or {}).get("outputs")
    if isinstance(outputs, dict) and outputs:  # only which outputs are sensitive
        plan["planned_values"] = {
            "outputs": {
                name: {"sensitive": bool(value.get("sensitive"))}
                for name, value in outputs.items()
                if isinstance(value, dict)
            }
        }
    return plan


def action_of(actions: list[str]) -> str:
    return ACTION_NAMES.get(tuple(actions)) or "-".join(actions)


def read(plan: Any, source: str = "the plan JSON") -> Plan:
    """Read a plan JSON (as parsed, or as `load_plan` kept it). Raises PlanJsonError: here
    for everything but the resource changes, which `Plan.changes` reads as it goes."""
    if not isinstance(plan, Mapping):
        raise PlanJsonError(
            f"the plan is {_kind(plan)}, not a JSON object", where=source, hint=HINT
        )
    version = str(plan.get("format_version") or "")
    if version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 2:
        raise PlanJsonError(
            f"plan JSON format {version} is newer than tfops understands (0.x and 1.x)",
            where=source,
            hint="upgrade tfops, or make the plan with a Terraform whose `show -json` "
            "writes format 1.x",
        )
    resource_changes = _list(plan, "resource_changes", source)
    drift = _list(plan, "resource_drift", source)
    result = Plan(
        source=source,
        format_version=version,
        terraform_version=str(plan.get("terraform_version") or ""),
        errored=plan.get("errored") is True,
        complete=plan.get("complete") is not False,
        # Only refresh-only plans have drift but no `resource_changes` at all: a normal plan
        # lists every resource, unchanged ones as no-op.
        refresh_only="resource_changes" not in plan and bool(drift),
        resource_changes=resource_changes,
    )
    for index, raw in enumerate(drift):
        entry = _entry(raw, ("resource_drift", index), source)
        if entry.action != "no-op" or (result.refresh_only and entry.moved_from):
            result.drift.append(entry)
    for index, raw in enumerate(_list(plan, "deferred_changes", source)):
        where = f"deferred_changes[{index}]"
        wrapper = _object(raw, where, source)
        entry = _entry(wrapper.get("resource_change"), f"{where}.resource_change", source)
        entry.deferred = str(wrapper.get("reason") or "unknown")
        result.deferred.append(entry)
    result.outputs = _outputs(plan, source)
    for index, raw in enumerate(_list(plan, "action_invocations", source)):
        result.actions.append(_invocation(raw, f"action_invocations[{index}]", source))
    for index, raw in enumerate(_list(plan, "deferred_action_invocations", source)):
        where = f"deferred_action_invocations[{index}]"
        wrapper = _object(raw, where, source)
        invocation = _invocation(
            wrapper.get("action_invocation"), f"{where}.action_invocation", source
        )
        invocation.deferred = str(wrapper.get("reason") or "unknown")
        result.actions.append(invocation)
    return result


def listed(entry: Entry) -> bool:
    """Whether Terraform's plan shows this resource change (jsonformat.renderHuman)."""
    if entry.action == "no-op":
        return bool(entry.moved_from or entry.importing)
    return not (entry.action == "delete" and entry.mode != "managed")


def _entry(raw: Any, where: str | tuple[str, int], source: str) -> Entry:
    """One resource instance; `where` names it in errors: `deferred_changes[0]`, or
    ("resource_changes", 3) for `resource_changes[3]` (only made into text for an error:
    a big plan has thousands)."""
    if raw.__class__ is not dict:
        raise PlanJsonError(
            f"`{_where(where)}` is {_kind(raw)}, not an object", where=source, hint=HINT
        )
    item: dict[str, Any] = raw
    address = item.get("address")
    if address.__class__ is not str or not address:
        raise PlanJsonError(
            f"`{_where(where)}.address` is {_kind(address)}, not a resource address",
            where=source,
            hint=HINT,
        )
    change = item.get("change")
    if change is None:
        change = {}
    elif change.__class__ is not dict:
        raise PlanJsonError(
            f"`{_where(where)}.change` ({address}) is {_kind(change)}, not an object",
            where=source,
            hint=HINT,
        )
    actions = change.get("actions") or ["no-op"]
    try:
        action = ACTION_NAMES.get(tuple(actions)) if actions.__class__ is list else None
    except TypeError:  # something unhashable in the list
        action = None
    if action is None:  # not one Terraform writes today: a list of strings still reads
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise PlanJsonError(
                f"`{_where(where)}.change.actions` ({address}) is {_kind(actions)}, "
                "not a list of strings",
                where=source,
                hint=HINT,
            )
        action = "-".join(actions)
    previous = item.get("previous_address")
    importing = change.get("importing")
    mode = item.get("mode")
    kind = item.get("type")
    reason = item.get("action_reason")
    deposed = item.get("deposed")
    return Entry(
        address,
        mode if mode.__class__ is str and mode else "managed",
        kind if kind.__class__ is str else "",
        action,
        change,
        _text(item.get("module_address")),
        previous if previous.__class__ is str and previous not in ("", address) else None,
        importing is not None and importing is not False,
        _text(importing.get("id")) if importing.__class__ is dict else None,
        reason if reason.__class__ is str and reason else None,
        _text(deposed) if deposed else None,
    )


def _where(where: str | tuple[str, int]) -> str:
    return where if isinstance(where, str) else f"{where[0]}[{where[1]}]"


def _outputs(plan: Mapping[str, Any], source: str) -> list[Output]:
    raw_outputs = plan.get("output_changes")
    if raw_outputs is None:
        return []
    if not isinstance(raw_outputs, dict):
        raise PlanJsonError(
            f"`output_changes` is {_kind(raw_outputs)}, not an object of outputs",
            where=source,
            hint=HINT,
        )
    planned = (plan.get("planned_values") or {}).get("outputs") or {}
    out = []
    for name, raw in raw_outputs.items():
        item = _object(raw, f"output_changes.{name}", source)
        actions = item.get("actions") or ["no-op"]
        if not isinstance(actions, list):
            raise PlanJsonError(
                f"`output_changes.{name}.actions` is {_kind(actions)}, not a list",
                where=source,
                hint=HINT,
            )
        action = action_of([str(a) for a in actions])
        if action == "no-op":
            continue
        marked = planned.get(name) if isinstance(planned, dict) else None
        sensitive = (
            (isinstance(marked, dict) and bool(marked.get("sensitive")))
            or has_true(item.get("before_sensitive"))
            or has_true(item.get("after_sensitive"))
        )
        out.append(
            Output(
                name=str(name),
                action=action,
                before=item.get("before"),
                after=item.get("after"),
                after_unknown=item.get("after_unknown"),
                sensitive=sensitive,
            )
        )
    return out


def _invocation(raw: Any, where: str, source: str) -> Invocation:
    item = _object(raw, where, source)
    address = item.get("address")
    if not isinstance(address, str) or not address:
        raise PlanJsonError(
            f"`{where}.address` is {_kind(address)}, not an action address", where=source, hint=HINT
        )
    lifecycle = item.get("lifecycle_action_trigger")
    trigger = event = None
    if isinstance(lifecycle, dict):
        trigger = _text(lifecycle.get("triggering_resource_address"))
        event = _text(lifecycle.get("action_trigger_event"))
    invoked = item.get("invoke_action_trigger")
    if isinstance(invoked, dict) and invoked.get("calling_resource_address"):
        trigger = _text(invoked.get("calling_resource_address"))
    return Invocation(
        address=address,
        type=str(item.get("type") or ""),
        name=str(item.get("name") or ""),
        config=item.get("config_values"),
        config_unknown=item.get("config_unknown"),
        config_sensitive=item.get("config_sensitive"),
        trigger=trigger,
        event=event,
    )


# ---- attributes ------------------------------------------------------------------------
# emit(name, old, new, unknown marker, old sensitive marker, new sensitive marker, forced)
Emit = Callable[[str, Any, Any, Any, Any, Any, bool], None]


def walk_attributes(
    change: Mapping[str, Any], emit: Emit, *, create: bool, depth: int, full: bool
) -> None:
    """Call `emit` for each attribute a change sets, as one walk for every reader.

    Nested objects are walked by key, lists by index, down to `depth` levels; below that (or
    where the two sides aren't both objects or both lists) the value is emitted whole.
    `full` (the merge comparison) walks every leaf: through lists of any length and through
    sensitive values. Without it (what reviewers see) lists are walked only when both sides
    have the same length, and sensitive or unknown values are emitted whole. `create`: the
    resource doesn't exist yet, so every attribute it sets is emitted.
    `forced` is true where the attribute is, holds, or lies within a path in `replace_paths`.
    """
    forced: frozenset[str] = frozenset()
    holds: frozenset[str] = frozenset()
    paths = change.get("replace_paths")
    if paths and isinstance(paths, list):
        forced, holds = _replace_names(paths)
    _walk(
        emit,
        "",
        {} if create else _container(change.get("before")),
        _container(change.get("after")),
        _container(change.get("after_unknown")),
        change.get("before_sensitive"),
        change.get("after_sensitive"),
        create,
        depth,
        full,
        forced,
        holds,
        False,
    )


class _Missing:
    """A key one side of a change doesn't have (a map key added or removed)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _walk(
    emit: Emit,
    prefix: str,
    before: dict[Any, Any],
    after: dict[Any, Any],
    unknown: Any,
    before_sensitive: Any,
    after_sensitive: Any,
    create: bool,
    depth: int,
    full: bool,
    forced: frozenset[str],
    holds: frozenset[str],
    inherited: bool,
) -> None:
    """One level of `walk_attributes`: lists arrive as dicts of their indexes."""
    if not isinstance(unknown, dict):
        unknown = {}
    # the markers of this level, looked up without a call per key
    old_all, new_all = before_sensitive is True, after_sensitive is True
    old_marks = before_sensitive if isinstance(before_sensitive, dict) else None
    new_marks = after_sensitive if isinstance(after_sensitive, dict) else None
    keys = {*before, *after, *unknown} if unknown else {*before, *after}
    try:
        ordered = sorted(keys)
    except TypeError:  # list indexes and object keys mixed: a malformed marker
        ordered = sorted(keys, key=str)
    for key in ordered:
        old, new, is_unknown = before.get(key, MISSING), after.get(key, MISSING), unknown.get(key)
        if create:
            if not full and (new is None or new is MISSING or is_unknown is True):
                continue  # Terraform's "(known after apply)" on create says nothing
        elif (
            is_unknown is not True
            and (
                (old == new and type(old) is type(new))
                or (old is None and new is MISSING)
                or (old is MISSING and new is None)
            )
            and not (is_unknown and has_true(is_unknown))
        ):
            continue  # unchanged
        if key.__class__ is not str:
            name = _name(prefix, key)
        elif prefix:
            name = prefix + _nested(key)
        else:  # a top-level attribute: its name as the provider's schema spells it
            name = key if key.isprintable() else escape_unprintable(key)
        old_marker = old_all or (old_marks.get(key, False) if old_marks else False)
        new_marker = new_all or (new_marks.get(key, False) if new_marks else False)
        here = inherited or (name in forced if forced else False)
        if (
            depth > 0
            and (old.__class__ in _CONTAINERS or new.__class__ in _CONTAINERS)
            and is_unknown is not True
            and (full or (old_marker is not True and new_marker is not True))
            and _walkable(old, new, full)
        ):
            _walk(
                emit,
                name,
                _indexed(old),
                _indexed(new),
                _indexed(is_unknown),
                _indexed_marker(old_marker),
                _indexed_marker(new_marker),
                create,
                depth - 1,
                full,
                forced,
                holds,
                here,
            )
            continue
        emit(
            name,
            old,
            new,
            is_unknown,
            old_marker,
            new_marker,
            here or (name in holds if holds else False),
        )


_CONTAINERS = (dict, list)


def _walkable(old: Any, new: Any, full: bool) -> bool:
    if isinstance(old, dict) and isinstance(new, dict):
        return True
    if isinstance(old, list) and isinstance(new, list):
        return full or len(old) == len(new)
    if full:  # one side absent: walk the other to its leaves
        return ((old is None or old is MISSING) and isinstance(new, dict | list) and bool(new)) or (
            (new is None or new is MISSING) and isinstance(old, dict | list) and bool(old)
        )
    return False


def _indexed(value: Any) -> dict[Any, Any]:
    """A side of a nested change as a dict: lists by index; an absent side is empty."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return dict(enumerate(value))
    return {}


def _indexed_marker(marker: Any) -> Any:
    return dict(enumerate(marker)) if isinstance(marker, list) else marker


def _container(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


def _name(prefix: str, key: Any) -> str:
    """`input.memory`, `tags["kubernetes.io/role"]`, `subnet_ids[1]`: one spelling for all."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    key = str(key)
    if prefix:
        return prefix + _nested(key)
    return key if key.isprintable() else escape_unprintable(key)


@lru_cache(maxsize=4096)  # a plan's attribute names repeat in every resource
def _nested(key: str) -> str:
    """A key's part in a nested name: `.memory`, or `["kubernetes.io/role"]`."""
    if key and key.replace("_", "").replace("-", "").isalnum() and not key[0].isdigit():
        return f".{key}"
    return f"[{escape_unprintable(json.dumps(key, ensure_ascii=False))}]"


def _replace_names(paths: list[Any]) -> tuple[frozenset[str], frozenset[str]]:
    """The names of `replace_paths`, and of every attribute that holds one of them."""
    forced: set[str] = set()
    holds: set[str] = set()
    for path in paths:
        if not isinstance(path, list) or not path:
            continue
        name = ""
        for step in path:
            if name:
                holds.add(name)
            index = isinstance(step, int) and not isinstance(step, bool)
            name = _name(name, step if index else str(step))
        forced.add(name)
    return frozenset(forced), frozenset(holds)


# ---- sensitive values ------------------------------------------------------------------
def sensitive_values(plan: Mapping[str, Any]) -> list[str]:
    """String values Terraform marks sensitive anywhere in the plan, to mask in logs too:
    in planned changes, drift, deferred changes, outputs and action configs."""
    found: list[str] = []

    def collect(value: Any, marker: Any) -> None:
        if marker is True:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict | list):
                collect(value, _all_true(value))
        elif isinstance(marker, dict) and isinstance(value, dict):
            for key, sub in marker.items():
                if sub:
                    collect(value.get(key), sub)
        elif isinstance(marker, list) and isinstance(value, list):
            for sub_value, sub_marker in zip(value, marker, strict=False):
                if sub_marker:
                    collect(sub_value, sub_marker)

    def changes_of(key: str, inner: str | None = None) -> list[dict[str, Any]]:
        items = plan.get(key)
        if not isinstance(items, list):
            return []
        if inner:
            items = [i.get(inner) for i in items if isinstance(i, dict)]
        found = [i.get("change") for i in items if isinstance(i, dict)]
        return [c for c in found if isinstance(c, dict)]

    for change in (
        *changes_of("resource_changes"),
        *changes_of("resource_drift"),
        *changes_of("deferred_changes", "resource_change"),
    ):
        collect(change.get("before"), change.get("before_sensitive"))
        collect(change.get("after"), change.get("after_sensitive"))
    outputs = (plan.get("planned_values") or {}).get("outputs") or {}
    output_changes = plan.get("output_changes")
    for name, raw in output_changes.items() if isinstance(output_changes, dict) else ():
        if not isinstance(raw, dict):
            continue
        planned = outputs.get(name) if isinstance(outputs, dict) else None
        marked = isinstance(planned, dict) and planned.get("sensitive")
        collect(raw.get("before"), True if marked else raw.get("before_sensitive"))
        collect(raw.get("after"), True if marked else raw.get("after_sensitive"))
    for key, inner in (
        ("action_invocations", None),
        ("deferred_action_invocations", "action_invocation"),
    ):
        items = plan.get(key)
        for item in items if isinstance(items, list) else ():
            invocation = item.get(inner) if inner and isinstance(item, dict) else item
            if isinstance(invocation, dict):
                collect(invocation.get("config_values"), invocation.get("config_sensitive"))
    return found


def _all_true(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: True for k in value}
    if isinstance(value, list):
        return [True for _ in value]
    return True


# ---- validation helpers ----------------------------------------------------------------
def _list(plan: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = plan.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PlanJsonError(f"`{key}` is {_kind(value)}, not a list", where=source, hint=HINT)
    return value


def _object(value: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlanJsonError(f"`{where}` is {_kind(value)}, not an object", where=source, hint=HINT)
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _kind(value: Any) -> str:
    if value is None:
        return "missing (null)"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"a string ({json.dumps(shown, ensure_ascii=False)})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
