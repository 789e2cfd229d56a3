"""Is the plan at the merge commit the plan that was reviewed? Compared as changes, not text.

Two plans are equal for an environment when they change the same resources (address,
where it moved from, whether it is imported), with the same actions, and set the same
attributes to the same values. Compared are only what the apply would do:

- managed resources whose action is not no-op, and outputs that change;
- per attribute (flattened to paths such as `input.memory` or `tags["team"]`): that it
  changes, and its planned value. `before` values are not compared — a refresh that moves
  them without changing what is applied is noise — nor is `resource_drift`;
- a value unknown until apply ("known after apply") in either plan matches any value:
  only the fact that the attribute changes is compared.

Sensitive values are compared but never shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tfops.plan.model import action_of

SENSITIVE = "(sensitive value)"
MAX_SHOWN = 120


class _Unknown:
    """A value Terraform only knows after apply."""

    def __repr__(self) -> str:
        return "(known after apply)"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Change:
    """What applying a plan does to one resource or output."""

    address: str
    action: str
    moved_from: str | None = None
    importing: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)  # path → planned value | UNKNOWN
    sensitive: frozenset[str] = frozenset()  # paths whose values are sensitive


@dataclass(frozen=True)
class Difference:
    address: str
    what: str  # a sentence fragment: "only in the new plan (create)"


@dataclass
class Comparison:
    environment: str
    differences: list[Difference]
    reviewed_count: int
    current_count: int

    @property
    def equal(self) -> bool:
        return not self.differences

    def render(self, limit: int = 50) -> str:
        """Lines a person can read: one per difference, at most `limit`."""
        if self.equal:
            return (
                f"{self.environment}: the plan at the merge commit matches the reviewed plan "
                f"({self.reviewed_count} change(s))."
            )
        lines = [
            f"{self.environment}: the plan at the merge commit differs from the reviewed plan "
            f"({len(self.differences)} difference(s)):"
        ]
        lines += [f"  {d.address}: {d.what}" for d in self.differences[:limit]]
        if len(self.differences) > limit:
            lines.append(f"  … and {len(self.differences) - limit} more")
        return "\n".join(lines)


def changes(plan: dict[str, Any], include: Callable[[str], bool] = lambda _: True) -> list[Change]:
    """The changes a plan JSON would apply, for the addresses `include` accepts."""
    out: list[Change] = []
    for raw in plan.get("resource_changes") or []:
        address = str(raw.get("address", ""))
        if raw.get("mode", "managed") != "managed" or not include(address):
            continue
        change = raw.get("change") or {}
        action = action_of(list(change.get("actions") or ["no-op"]))
        previous = raw.get("previous_address")
        moved_from = previous if previous and previous != address else None
        importing = bool(change.get("importing"))
        if action == "no-op" and not moved_from and not importing:
            continue
        values, sensitive = _attribute_values(change, action)
        out.append(Change(address, action, moved_from, importing, values, sensitive))
    for name, raw in (plan.get("output_changes") or {}).items():
        address = f"output.{name}"
        action = action_of(list(raw.get("actions") or ["no-op"]))
        if action == "no-op" or not include(address):
            continue
        unknown = raw.get("after_unknown") is True
        value = UNKNOWN if unknown else raw.get("after")
        secret = frozenset({"value"}) if raw.get("after_sensitive") else frozenset()
        out.append(Change(address, action, attributes={"value": value}, sensitive=secret))
    return out


def _attribute_values(change: dict[str, Any], action: str) -> tuple[dict[str, Any], frozenset[str]]:
    if action in ("delete", "read", "no-op"):
        return {}, frozenset()
    before = _flatten(change.get("before")) if action != "create" else {}
    after = _flatten(change.get("after"))
    unknown = {p for p, v in _flatten(change.get("after_unknown")).items() if v is True}
    sensitive: set[str] = set()
    for marker in (change.get("before_sensitive"), change.get("after_sensitive")):
        if marker is True:
            sensitive.add("")  # the whole object
        sensitive |= {p for p, v in _flatten(marker).items() if v is True}
    values: dict[str, Any] = {}
    for path in sorted(set(before) | set(after) | unknown):
        if path in unknown:
            values[path] = UNKNOWN
        elif path not in before or before[path] != after.get(path):
            values[path] = after.get(path)
    return values, frozenset(p for p in values if _covered(p, sensitive))


def _covered(path: str, marked: set[str]) -> bool:
    return any(m == "" or path == m or path.startswith((m + ".", m + "[")) for m in marked)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON value by path; empty containers are leaves too."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, sub in value.items():
            name = (
                f"{prefix}.{key}"
                if prefix and _plain(key)
                else (f'{prefix}["{key}"]' if prefix else str(key))
            )
            out.update(_flatten(sub, name))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, sub in enumerate(value):
            out.update(_flatten(sub, f"{prefix}[{index}]"))
        return out
    return {prefix: value} if prefix else {}


def _plain(key: str) -> bool:
    return key.replace("_", "").replace("-", "").isalnum()


def compare(
    environment: str,
    reviewed: dict[str, Any] | Sequence[dict[str, Any]],
    current: dict[str, Any],
    include: Callable[[str], bool] = lambda _: True,
) -> Comparison:
    """Compare plan JSONs for the addresses `include` accepts (one environment's).

    `reviewed` is one plan, or several in merge order (pull requests applied together):
    their union, where for each address the latest plan's action wins and attribute values
    are merged, later over earlier."""
    plans = [reviewed] if isinstance(reviewed, dict) else list(reviewed)
    old: dict[str, Change] = {}
    for plan in plans:
        for change in changes(plan, include):
            before = old.get(change.address)
            if before is not None and before.action == change.action:
                change = replace(
                    change,
                    attributes={**before.attributes, **change.attributes},
                    sensitive=before.sensitive | change.sensitive,
                )
            old[change.address] = change
    new = {c.address: c for c in changes(current, include)}
    differences: list[Difference] = []
    for address in sorted(set(old) | set(new)):
        before, after = old.get(address), new.get(address)
        if after is None:
            assert before is not None
            differences.append(
                Difference(address, f"only in the reviewed plan ({before.action}); not any more")
            )
        elif before is None:
            differences.append(
                Difference(address, f"only in the new plan ({after.action}); never reviewed")
            )
        else:
            differences += _differences(before, after)
    return Comparison(environment, differences, len(old), len(new))


def _differences(old: Change, new: Change) -> list[Difference]:
    address = old.address
    if old.action != new.action:
        return [Difference(address, f"reviewed {old.action}, now {new.action}")]
    out = []
    if old.moved_from != new.moved_from:
        out.append(Difference(address, f"moved from {old.moved_from}, now {new.moved_from}"))
    if old.importing != new.importing:
        out.append(Difference(address, f"import reviewed {old.importing}, now {new.importing}"))
    secret = old.sensitive | new.sensitive
    for path in sorted(set(old.attributes) | set(new.attributes)):
        if path not in new.attributes:
            out.append(Difference(address, f"{path}: reviewed as changing, now unchanged"))
        elif path not in old.attributes:
            shown = _show(new.attributes[path], path in secret)
            out.append(Difference(address, f"{path}: not changed in review, now set to {shown}"))
        else:
            was, now = old.attributes[path], new.attributes[path]
            if was is UNKNOWN or now is UNKNOWN or was == now:
                continue
            out.append(
                Difference(
                    address,
                    f"{path}: reviewed {_show(was, path in secret)}, "
                    f"now {_show(now, path in secret)}",
                )
            )
    return out


def _show(value: Any, sensitive: bool) -> str:
    if sensitive:
        return SENSITIVE
    if value is UNKNOWN:
        return repr(UNKNOWN)
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
