"""`terraform show -json` → a per-environment summary model.

Handles the plan JSON of Terraform 1.0 (format_version 0.x) and 1.1+ (1.x): moved
resources (`previous_address`) and imports (`change.importing`) only exist in the latter
and count as zero there. Sensitive values are replaced before anything can render them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
ACTIONS = ("create", "update", "delete", "replace", "read")
MAX_VALUE_CHARS = 300
MAX_NESTED_DEPTH = 3  # nested objects are diffed by key this deep, then shown whole
# json.dumps with options builds an encoder per call; a plan renders ~100,000 values
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(", ", ": "))


@dataclass(slots=True)  # a big plan has ~100,000 of these
class AttributeChange:
    name: str
    before: str | None
    after: str | None
    forces_replacement: bool = False


@dataclass(slots=True)
class ResourceChange:
    address: str
    action: str  # create | update | delete | replace | read | no-op
    environment: str
    type: str
    module_address: str | None = None
    moved_from: str | None = None
    importing: bool = False
    reason: str | None = None
    attributes: list[AttributeChange] = field(default_factory=list)


@dataclass(slots=True)
class OutputChange:
    name: str
    action: str
    environment: str
    before: str | None
    after: str | None
    sensitive: bool = False


@dataclass
class Counts:
    create: int = 0
    update: int = 0
    delete: int = 0
    replace: int = 0
    read: int = 0
    import_: int = 0
    move: int = 0

    def add(self, change: ResourceChange) -> None:
        if change.action in ACTIONS:
            setattr(self, change.action, getattr(self, change.action) + 1)
        if change.importing:
            self.import_ += 1
        if change.moved_from:
            self.move += 1

    @property
    def total(self) -> int:
        return self.create + self.update + self.delete + self.replace + self.import_ + self.move

    def as_dict(self) -> dict[str, int]:
        data = asdict(self)
        data["import"] = data.pop("import_")
        return data

    def phrase(self) -> str:
        """Terraform-style: "2 to add, 1 to change, 0 to destroy" plus replace/import/move."""
        text = (
            f"{self.create + self.replace} to add, {self.update} to change, "
            f"{self.delete + self.replace} to destroy"
        )
        extra = [
            f"{n} {label}"
            for n, label in (
                (self.replace, "replaced"),
                (self.import_, "imported"),
                (self.move, "moved"),
            )
            if n
        ]
        return text + (f" ({', '.join(extra)})" if extra else "")


@dataclass
class EnvironmentPlan:
    name: str
    counts: Counts = field(default_factory=Counts)
    changes: list[ResourceChange] = field(default_factory=list)
    outputs: list[OutputChange] = field(default_factory=list)
    drift: list[ResourceChange] = field(default_factory=list)
    error: str | None = None  # terraform's diagnostics when this environment's plan failed

    @property
    def has_changes(self) -> bool:
        return bool(self.counts.total or self.outputs)

    @property
    def destructive(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action in ("delete", "replace")]


@dataclass
class PlanSummary:
    format_version: str
    terraform_version: str
    environments: dict[str, EnvironmentPlan] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return any(e.has_changes for e in self.environments.values())

    @property
    def errored(self) -> bool:
        return any(e.error for e in self.environments.values())

    def environment(self, name: str) -> EnvironmentPlan:
        if name not in self.environments:
            self.environments[name] = EnvironmentPlan(name)
        return self.environments[name]

    def merge(self, other: PlanSummary) -> None:
        self.environments.update(other.environments)
        self.terraform_version = self.terraform_version or other.terraform_version

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "terraform_version": self.terraform_version,
            "has_changes": self.has_changes,
            "environments": {
                name: {
                    "has_changes": env.has_changes,
                    "counts": env.counts.as_dict(),
                    "changes": [asdict(c) for c in env.changes],
                    "outputs": [asdict(o) for o in env.outputs],
                    "drift": [asdict(d) for d in env.drift],
                    "error": env.error,
                }
                for name, env in self.environments.items()
            },
        }


# The parts of `terraform show -json` tfops reads. The rest (prior_state, configuration,
# planned_values.root_module, variables) is most of a big plan's size and holds values in
# clear; the binary plan file keeps everything for terraform itself.
KEPT_KEYS = (
    "format_version",
    "terraform_version",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "relevant_attributes",
    "errored",
    "applyable",
    "complete",
    "timestamp",
)


def load_plan(text: str | bytes) -> dict[str, Any]:
    """Parse `terraform show -json` output, keeping only what tfops uses (see KEPT_KEYS)."""
    full = json.loads(text)
    if not isinstance(full, dict):
        raise ValueError("a plan's JSON is an object")
    plan = {key: full[key] for key in KEPT_KEYS if key in full}
    outputs = (full.get("planned_values") or {}).get("outputs")
    if outputs:  # only which outputs are sensitive
        plan["planned_values"] = {
            "outputs": {
                name: {"sensitive": bool(value.get("sensitive"))}
                for name, value in outputs.items()
                if isinstance(value, dict)
            }
        }
    return plan


def action_of(actions: list[str]) -> str:
    if actions in (["delete", "create"], ["create", "delete"]):
        return "replace"
    if len(actions) == 1:
        return actions[0]
    return "-".join(actions)


def summarize(
    plan: dict[str, Any],
    environment_of: Callable[[str], str],
    environments: list[str] | None = None,
) -> PlanSummary:
    """Split a plan's changes per environment. `environment_of` maps an address to one."""
    summary = PlanSummary(
        format_version=str(plan.get("format_version", "")),
        terraform_version=str(plan.get("terraform_version", "")),
    )
    for name in environments or []:
        summary.environment(name)
    for raw in plan.get("resource_changes") or []:
        change = _resource_change(raw, environment_of)
        if change.action == "no-op" and not change.moved_from and not change.importing:
            continue
        env = summary.environment(change.environment)
        env.changes.append(change)
        env.counts.add(change)
    for raw in plan.get("resource_drift") or []:
        change = _resource_change(raw, environment_of)
        if change.action != "no-op":
            summary.environment(change.environment).drift.append(change)
    sensitive_outputs = {
        name
        for name, value in ((plan.get("planned_values") or {}).get("outputs") or {}).items()
        if isinstance(value, dict) and value.get("sensitive")
    }
    for name, raw in (plan.get("output_changes") or {}).items():
        output = _output_change(name, raw, environment_of, name in sensitive_outputs)
        if output is not None:
            summary.environment(output.environment).outputs.append(output)
    return summary


def _resource_change(raw: dict[str, Any], environment_of: Callable[[str], str]) -> ResourceChange:
    change = raw.get("change") or {}
    address = str(raw.get("address", ""))
    action = action_of(list(change.get("actions") or ["no-op"]))
    previous = raw.get("previous_address")
    result = ResourceChange(
        address=address,
        action=action,
        environment=environment_of(address),
        type=str(raw.get("type", "")),
        module_address=raw.get("module_address"),
        moved_from=previous if previous and previous != address else None,
        importing=bool(change.get("importing")),
        reason=raw.get("action_reason"),
    )
    if action in ("update", "replace", "create", "delete"):
        result.attributes = _attribute_changes(change, action)
    return result


def _attribute_changes(change: dict[str, Any], action: str) -> list[AttributeChange]:
    if action == "delete":
        return []  # the whole object goes; listing its attributes is noise
    replace_paths = {
        str(path[0])
        for path in change.get("replace_paths") or []
        if path and isinstance(path, list)
    }
    out: list[AttributeChange] = []
    _diff_object(
        out,
        "",
        _dict(change.get("before")),
        _dict(change.get("after")),
        _dict(change.get("after_unknown")),
        change.get("before_sensitive"),
        change.get("after_sensitive"),
        create=action == "create",
        replace_paths=replace_paths,
    )
    return out


def _diff_object(
    out: list[AttributeChange],
    prefix: str,
    before: dict[str, Any],
    after: dict[str, Any],
    unknown: dict[str, Any],
    before_sensitive: Any,
    after_sensitive: Any,
    *,
    create: bool,
    replace_paths: set[str],
    depth: int = 0,
) -> None:
    """The attributes that change; nested objects by their changed keys (`input.memory`)."""
    for key in sorted(set(before) | set(after) | set(unknown)):
        is_unknown = unknown.get(key) is True
        old, new = before.get(key), after.get(key)
        old_marker, new_marker = _marked(before_sensitive, key), _marked(after_sensitive, key)
        if create:
            if new is None or is_unknown:
                continue  # Terraform's "(known after apply)" on create says nothing
        elif old == new and not is_unknown:
            continue
        name = prefix + key
        nested = (
            not create
            and depth < MAX_NESTED_DEPTH
            and isinstance(old, dict)
            and isinstance(new, dict)
            and not is_unknown
            and old_marker is not True
            and new_marker is not True
        )
        if nested:
            _diff_object(
                out,
                f"{name}.",
                _dict(old),
                _dict(new),
                _dict(unknown.get(key)),
                old_marker,
                new_marker,
                create=False,
                replace_paths=replace_paths,
                depth=depth + 1,
            )
            continue
        out.append(
            AttributeChange(
                name=name,
                before=None if create else _render(old, old_marker),
                after=UNKNOWN if is_unknown else _render(new, new_marker),
                forces_replacement=depth == 0 and key in replace_paths,
            )
        )


def _output_change(
    name: str, raw: dict[str, Any], environment_of: Callable[[str], str], sensitive: bool
) -> OutputChange | None:
    action = action_of(list(raw.get("actions") or ["no-op"]))
    if action == "no-op":
        return None
    sensitive = sensitive or bool(raw.get("before_sensitive")) or bool(raw.get("after_sensitive"))
    after_unknown = raw.get("after_unknown") is True
    return OutputChange(
        name=name,
        action=action,
        environment=environment_of(f"output.{name}"),
        before=None if action == "create" else _render(raw.get("before"), sensitive),
        after=UNKNOWN if after_unknown else _render(raw.get("after"), sensitive),
        sensitive=sensitive,
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _marked(sensitive: Any, key: str) -> Any:
    if sensitive is True:
        return True
    if isinstance(sensitive, dict):
        return sensitive.get(key, False)
    return False


def _render(value: Any, sensitive: Any) -> str | None:
    if _any_true(sensitive):
        return SENSITIVE
    if value is None:
        return "null"
    text = _ENCODER.encode(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _any_true(marker: Any) -> bool:
    if marker is True:
        return True
    if not marker:  # False, {}, []: most markers, so answered without a generator
        return False
    if isinstance(marker, dict):
        return any(v is True or (v and _any_true(v)) for v in marker.values())
    if isinstance(marker, list):
        return any(v is True or (v and _any_true(v)) for v in marker)
    return False


def sensitive_values(plan: dict[str, Any]) -> list[str]:
    """String values Terraform marks sensitive anywhere in the plan, to mask in logs too."""
    found: list[str] = []

    def collect(value: Any, marker: Any) -> None:
        if marker is True:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict | list):
                collect(value, _all_true(value))
        elif isinstance(marker, dict) and isinstance(value, dict):
            for key, sub in marker.items():
                collect(value.get(key), sub)
        elif isinstance(marker, list) and isinstance(value, list):
            for sub_value, sub_marker in zip(value, marker, strict=False):
                collect(sub_value, sub_marker)

    for raw in plan.get("resource_changes") or []:
        change = raw.get("change") or {}
        collect(change.get("before"), change.get("before_sensitive"))
        collect(change.get("after"), change.get("after_sensitive"))
    outputs = (plan.get("planned_values") or {}).get("outputs") or {}
    for name, raw in (plan.get("output_changes") or {}).items():
        marked = isinstance(outputs.get(name), dict) and outputs[name].get("sensitive")
        collect(raw.get("before"), True if marked else raw.get("before_sensitive"))
        collect(raw.get("after"), True if marked else raw.get("after_sensitive"))
    return found


def _all_true(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: True for k in value}
    if isinstance(value, list):
        return [True for _ in value]
    return True
