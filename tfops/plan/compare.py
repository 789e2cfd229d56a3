"""Is the plan at the merge commit the plan that was reviewed? Compared as changes, not text.

Two plans are equal for an environment when they change the same resources (address,
where it moved from, whether it is imported), with the same actions, and set the same
attributes to the same values. Compared are only what the apply would do:

- managed resources Terraform lists as changing (`plan.reader`, the reader the summary
  reviewers saw was made with), and outputs that change;
- per attribute (walked to its leaves: `input.memory`, `tags["team"]`, `subnet_ids[1]`):
  that it changes, and its planned value. `before` values are not compared — a refresh that
  moves them without changing what is applied is noise — nor is `resource_drift`;
- a value unknown until apply ("known after apply") in either plan matches any value:
  only the fact that the attribute changes is compared.

Several reviewed plans (PRs merged one after another before one apply: a merge-queue batch,
or a push run that never ran) are folded in merge order into one: per address, the action,
move and import of the latest plan that has the address; per attribute, the planned value
of the latest plan that changes it; an attribute is sensitive if any plan says so. Each
difference names the reviewed plan it relates to.

Sensitive values are compared but never shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tfops.plan.reader import MISSING, Entry, read, sensitive_values, walk_attributes
from tfops.plan.values import SENSITIVE, Teller

MAX_SHOWN = 120
FULL_DEPTH = 64  # deeper values are compared whole


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
    what: str  # a sentence fragment: "only in the new plan (create); never reviewed"
    reviewed: int | None = None  # which reviewed plan (an index into them); None: new only


@dataclass
class Comparison:
    environment: str
    differences: list[Difference]
    reviewed_count: int
    current_count: int
    reviewed_plans: int = 1

    @property
    def equal(self) -> bool:
        return not self.differences

    def render(self, limit: int = 50, names: Sequence[str] | None = None) -> str:
        """Lines a person can read: one per difference, at most `limit`. `names` (one per
        reviewed plan, e.g. "#12") say which review a difference is about."""
        if self.equal:
            what = "reviewed plan" if self.reviewed_plans == 1 else "reviewed plans"
            return (
                f"{self.environment}: the plan at the merge commit matches the {what} "
                f"({self.reviewed_count} change(s))."
            )
        what = "reviewed plan" if self.reviewed_plans == 1 else "reviewed plans together"
        lines = [
            f"{self.environment}: the plan at the merge commit differs from the {what} "
            f"({len(self.differences)} difference(s)):"
        ]
        for d in self.differences[:limit]:
            line = f"  {d.address}: {d.what}"
            if names and len(names) > 1 and d.reviewed is not None and d.reviewed < len(names):
                line += f" (as reviewed on {names[d.reviewed]})"
            lines.append(line)
        if len(self.differences) > limit:
            lines.append(f"  … and {len(self.differences) - limit} more")
        return "\n".join(lines)


def changes(
    plan: Mapping[str, Any], include: Callable[[str], bool] = lambda _: True
) -> list[Change]:
    """The changes a plan JSON would apply, for the addresses `include` accepts."""
    plan_read = read(plan)
    out: list[Change] = []
    for entry in plan_read.changes():
        if entry.mode != "managed" or not include(entry.address):
            continue
        values, sensitive = _attribute_values(entry)
        moved, importing = entry.moved_from, entry.importing
        out.append(Change(entry.address, entry.action, moved, importing, values, sensitive))
    for output in plan_read.outputs:
        address = f"output.{output.name}"
        if not include(address):
            continue
        unknown = output.after_unknown is True
        value = UNKNOWN if unknown else output.after
        secret = frozenset({"value"}) if output.sensitive else frozenset()
        out.append(Change(address, output.action, attributes={"value": value}, sensitive=secret))
    return out


def _attribute_values(entry: Entry) -> tuple[dict[str, Any], frozenset[str]]:
    if entry.action in ("delete", "read", "no-op", "forget"):
        return {}, frozenset()
    values: dict[str, Any] = {}
    sensitive: set[str] = set()

    def emit(
        name: str, old: Any, new: Any, unknown: Any, old_mark: Any, new_mark: Any, _: bool
    ) -> None:
        values[name] = UNKNOWN if unknown is True else (None if new is MISSING else new)
        if old_mark is True or new_mark is True or _marked(old_mark) or _marked(new_mark):
            sensitive.add(name)

    change = entry.change
    whole = change.get("before_sensitive") is True or change.get("after_sensitive") is True
    walk_attributes(change, emit, create=entry.action == "create", depth=FULL_DEPTH, full=True)
    return values, frozenset(values if whole else sensitive)


def _marked(marker: Any) -> bool:
    """A value below the walk's depth whose marker is true somewhere inside."""
    if isinstance(marker, dict):
        return any(v is True or _marked(v) for v in marker.values())
    if isinstance(marker, list):
        return any(v is True or _marked(v) for v in marker)
    return False


def compare(
    environment: str,
    reviewed: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    current: dict[str, Any],
    include: Callable[[str], bool] = lambda _: True,
) -> Comparison:
    """Compare the plan at the merge commit with the reviewed plan — or the reviewed plans,
    in merge order — for the addresses `include` accepts (one environment's)."""
    plans = [reviewed] if isinstance(reviewed, Mapping) else list(reviewed)
    old, source, attribute_source = union([changes(p, include) for p in plans])
    new = {c.address: c for c in changes(current, include)}
    teller = Teller(
        lambda: [s for p in [*plans, current] for s in sensitive_values(p)], limit=MAX_SHOWN
    )
    differences: list[Difference] = []
    for address in sorted(set(old) | set(new)):
        before, after = old.get(address), new.get(address)
        if after is None:
            assert before is not None
            differences.append(
                Difference(
                    address,
                    f"only in the reviewed plan ({before.action}); not any more",
                    source[address],
                )
            )
        elif before is None:
            differences.append(
                Difference(address, f"only in the new plan ({after.action}); never reviewed")
            )
        else:
            differences += _differences(before, after, source[address], attribute_source, teller)
    return Comparison(environment, differences, len(old), len(new), len(plans))


def union(
    plans: Sequence[list[Change]],
) -> tuple[dict[str, Change], dict[str, int], dict[tuple[str, str], int]]:
    """Several reviewed plans' changes folded in merge order (later overrides earlier).

    Returns the folded changes by address, which plan each address's action comes from,
    and which plan each (address, attribute) value comes from.
    """
    folded: dict[str, Change] = {}
    source: dict[str, int] = {}
    attribute_source: dict[tuple[str, str], int] = {}
    for index, plan in enumerate(plans):
        for change in plan:
            earlier = folded.get(change.address)
            attributes = dict(earlier.attributes) if earlier else {}
            attributes.update(change.attributes)
            sensitive = (earlier.sensitive if earlier else frozenset()) | change.sensitive
            folded[change.address] = Change(
                change.address,
                change.action,
                change.moved_from,
                change.importing,
                attributes,
                sensitive,
            )
            source[change.address] = index
            for path in change.attributes:
                attribute_source[(change.address, path)] = index
    return folded, source, attribute_source


def _differences(
    old: Change,
    new: Change,
    index: int,
    attribute_source: dict[tuple[str, str], int],
    teller: Teller,
) -> list[Difference]:
    address = old.address
    if old.action != new.action:
        return [Difference(address, f"reviewed {old.action}, now {new.action}", index)]
    out = []
    if old.moved_from != new.moved_from:
        out.append(Difference(address, f"moved from {old.moved_from}, now {new.moved_from}", index))
    if old.importing != new.importing:
        out.append(
            Difference(address, f"import reviewed {old.importing}, now {new.importing}", index)
        )
    secret = old.sensitive | new.sensitive
    for path in sorted(set(old.attributes) | set(new.attributes)):
        where = attribute_source.get((address, path), index)
        if path not in new.attributes:
            out.append(Difference(address, f"{path}: reviewed as changing, now unchanged", where))
        elif path not in old.attributes:
            shown = _show(new.attributes[path], path in secret, teller)
            out.append(
                Difference(address, f"{path}: not changed in review, now set to {shown}", where)
            )
        else:
            was, now = old.attributes[path], new.attributes[path]
            if was is UNKNOWN or now is UNKNOWN or _same(was, now):
                continue
            out.append(
                Difference(
                    address,
                    f"{path}: reviewed {_show(was, path in secret, teller)}, "
                    f"now {_show(now, path in secret, teller)}",
                    where,
                )
            )
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: `true` is not `1` (Python's == says it is)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _show(value: Any, sensitive: bool, teller: Teller) -> str:
    if sensitive:
        return SENSITIVE
    if value is UNKNOWN:
        return repr(UNKNOWN)
    return teller(value)
