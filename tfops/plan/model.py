"""`terraform show -json` → a per-environment summary: what reviewers are shown.

The plan is read by `plan.reader`, the same reader the merge comparison uses, so what a
reviewer sees is what "applied equals reviewed" compares. Values are told by
`plan.values` (quoted like Terraform, "(known after apply)" and "(sensitive value)" where
the markers say so) before anything can render them. The wording every renderer shares —
per-resource notes, the one-line headline of an environment, the plan-wide notices — is
here too, so the terminal, the PR comment, the job summary, JSON and Slack say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tfops.plan.reader import (
    KEPT_KEYS,
    MISSING,
    Entry,
    Invocation,
    Output,
    PlanJsonError,
    action_of,
    load_plan,
    read,
    sensitive_values,
    walk_attributes,
)
from tfops.plan.values import MAX_VALUE_CHARS, SENSITIVE, UNKNOWN, Teller

__all__ = [
    "KEPT_KEYS",
    "MAX_VALUE_CHARS",
    "SENSITIVE",
    "UNKNOWN",
    "PlanJsonError",
    "action_of",
    "load_plan",
    "sensitive_values",
    "summarize",
]

ACTIONS = ("create", "update", "delete", "replace", "read")
MAX_NESTED_DEPTH = 3  # nested objects (and lists of one length) are diffed this deep

# Terraform's notes on why (jsonformat.resourceChangeComment), shortened.
REASONS = {
    "replace_because_tainted": "tainted",
    "replace_by_request": "replacement requested",
    "replace_by_triggers": "replace_triggered_by",
    "delete_because_no_resource_config": "not in the configuration",
    "delete_because_no_module": "its module is not in the configuration",
    "delete_because_wrong_repetition": "count/for_each changed",
    "delete_because_count_index": "index out of range for count",
    "delete_because_each_key": "key not in for_each",
    "delete_because_no_move_target": "moved to an address not in the configuration",
    "read_because_config_unknown": "config refers to values not yet known",
    "read_because_dependency_pending": "depends on changes not yet applied",
    "read_because_check_nested": "read again for a check block",
}
DEFERRED_REASONS = {
    "instance_count_unknown": "the number of instances is not known yet",
    "resource_config_unknown": "its configuration is not known yet",
    "provider_config_unknown": "its provider's configuration is not known yet",
    "deferred_prereq": "something it needs is deferred too",
    "absent_prereq": "something it needs does not exist yet",
}
ERRORED = (
    "Terraform could not finish this plan (its JSON says `errored`): what it shows is only "
    "what Terraform planned before the error, and it can't be applied."
)
ERRORED_HERE = "Terraform stopped with an error part-way through planning; its own output has it."


@dataclass(slots=True)  # a big plan has ~100,000 of these
class AttributeChange:
    name: str
    before: str | None  # None: the attribute is new (a create, an added key)
    after: str | None
    forces_replacement: bool = False


@dataclass(slots=True)
class ResourceChange:
    address: str
    action: str  # create | update | delete | replace | read | forget | create-forget | no-op
    environment: str
    type: str
    module_address: str | None = None
    moved_from: str | None = None
    importing: bool = False
    reason: str | None = None
    attributes: list[AttributeChange] = field(default_factory=list)
    import_id: str | None = None
    deposed: str | None = None
    deferred: str | None = None  # why Terraform deferred it
    mode: str = "managed"

    def as_dict(self, drift: bool = False) -> dict[str, Any]:
        return {**asdict(self), "notes": self.notes(drift)}

    def notes(self, drift: bool = False) -> list[str]:
        """What Terraform says beside the address: moved, imported, not destroyed, why."""
        out = []
        if self.moved_from:
            out.append(f"moved from {self.moved_from}")
        if self.importing:
            out.append(f'import of "{self.import_id}"' if self.import_id else "import")
        if self.deposed:
            out.append(f"deposed object {self.deposed}")
        if self.action == "forget":
            out.append("no longer managed by Terraform, not destroyed")
        elif self.action == "create-forget":
            out.append("replaced; the old object is not destroyed, only no longer managed")
        elif drift and self.action == "delete":
            out.append("deleted outside Terraform")
        if self.reason in REASONS and self.action not in ("forget", "create-forget"):
            out.append(REASONS[self.reason])
        if self.deferred:
            out.append("deferred: " + DEFERRED_REASONS.get(self.deferred, "for a reason not given"))
        if self.importing and self.action == "replace":
            out.append("this destroys the imported object")
        return out


@dataclass(slots=True)
class OutputChange:
    name: str
    action: str
    environment: str
    before: str | None
    after: str | None
    sensitive: bool = False


@dataclass(slots=True)
class ActionInvocation:
    """An action Terraform 1.14 invokes: on a resource's lifecycle event, or by `-invoke`."""

    address: str
    type: str
    environment: str
    trigger: str | None = None
    event: str | None = None
    config: list[AttributeChange] = field(default_factory=list)
    deferred: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "notes": self.notes()}

    def notes(self) -> list[str]:
        out = []
        if self.trigger and self.event:
            out.append(f"invoked {_event_words(self.event)} of {self.trigger}")
        elif self.trigger:
            out.append(f"invoked for {self.trigger}")
        else:
            out.append("invoked by this plan")
        if self.deferred:
            out.append("deferred: " + DEFERRED_REASONS.get(self.deferred, "for a reason not given"))
        return out


@dataclass
class Counts:
    create: int = 0
    update: int = 0
    delete: int = 0
    replace: int = 0
    read: int = 0
    import_: int = 0
    move: int = 0
    forget: int = 0  # objects that stop being managed, left in place
    actions: int = 0  # action invocations

    def add(self, change: ResourceChange) -> None:
        action = change.action
        if action in ACTIONS:
            setattr(self, action, getattr(self, action) + 1)
        elif action == "forget":
            self.forget += 1
        elif action == "create-forget":
            self.create += 1
            self.forget += 1
        if change.importing:
            self.import_ += 1
        if change.moved_from:
            self.move += 1

    @property
    def total(self) -> int:
        return (
            self.create
            + self.update
            + self.delete
            + self.replace
            + self.import_
            + self.move
            + self.forget
            + self.actions
        )

    def as_dict(self) -> dict[str, int]:
        data = asdict(self)
        data["import"] = data.pop("import_")
        return data

    def phrase(self) -> str:
        """Terraform-style: "2 to add, 1 to change, 0 to destroy" plus what else happens."""
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
                (self.forget, "no longer managed"),
                (self.actions, "action to invoke" if self.actions == 1 else "actions to invoke"),
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
    drift: list[ResourceChange] = field(default_factory=list)  # changed outside Terraform
    deferred: list[ResourceChange] = field(default_factory=list)  # for a later plan
    actions: list[ActionInvocation] = field(default_factory=list)
    error: str | None = None  # terraform's diagnostics when this environment's plan failed
    refresh_only: bool = False

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would do anything (`--detailed-exitcode` 2)."""
        if self.counts.total or self.outputs:
            return True
        return self.refresh_only and any(d.action != "no-op" for d in self.drift)

    @property
    def quiet(self) -> bool:
        """Nothing to show at all: "No changes"."""
        return not (
            self.error
            or self.changes
            or self.outputs
            or self.actions
            or self.drift
            or self.deferred
        )

    @property
    def destructive(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action in ("delete", "replace")]

    @property
    def forgotten(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action in ("forget", "create-forget")]

    def headline(self) -> str:
        """The environment's one line, without a full stop: every renderer says this."""
        if self.error:
            return "the plan failed"
        outside = f"{_count(len(self.drift), 'resource')} changed outside Terraform"
        if self.changes or self.outputs or self.actions:
            text = self.counts.phrase()
            if self.outputs:
                text += f", {_count(len(self.outputs), 'output change')}"
            if self.drift:
                text += f"; {outside}"
        elif self.refresh_only and self.drift:
            text = (
                f"{outside}; applying this refresh-only plan records that in the state "
                "and changes no infrastructure"
            )
        elif self.deferred:
            return (
                f"No current changes: {_count(len(self.deferred), 'change')} deferred until "
                "this plan is applied and planned again"
            )
        elif self.drift:
            text = f"No changes to the infrastructure; {outside}"
        else:
            return "No changes. The infrastructure matches the configuration"
        if self.deferred:
            text += f"; {_count(len(self.deferred), 'change')} deferred to a later plan"
        return text


@dataclass
class PlanSummary:
    format_version: str
    terraform_version: str
    environments: dict[str, EnvironmentPlan] = field(default_factory=dict)
    refresh_only: bool = False
    complete: bool = True
    failed: bool = False  # the plan JSON says `errored`

    @property
    def has_changes(self) -> bool:
        return any(e.has_changes for e in self.environments.values())

    @property
    def errored(self) -> bool:
        return self.failed or any(e.error for e in self.environments.values())

    def environment(self, name: str) -> EnvironmentPlan:
        if name not in self.environments:
            self.environments[name] = EnvironmentPlan(name, refresh_only=self.refresh_only)
        return self.environments[name]

    def merge(self, other: PlanSummary) -> None:
        self.environments.update(other.environments)
        self.terraform_version = self.terraform_version or other.terraform_version
        self.refresh_only = self.refresh_only or other.refresh_only
        self.complete = self.complete and other.complete
        self.failed = self.failed or other.failed

    def notices(self) -> list[str]:
        """What the whole plan needs said first (every renderer shows these)."""
        out = []
        if self.failed:
            out.append(ERRORED)
        if self.refresh_only:
            out.append(
                "This is a refresh-only plan: it changes no infrastructure. Applying it "
                "records the changes made outside Terraform in the state."
            )
        deferred = sum(len(e.deferred) for e in self.environments.values())
        deferred += sum(1 for e in self.environments.values() for a in e.actions if a.deferred)
        if deferred:
            out.append(
                f"This plan is partial: {_count(deferred, 'change')} can only be planned "
                "after it is applied. Apply it, then plan again."
            )
        elif not self.complete and not self.failed:
            out.append(
                "Terraform marks this plan as partial (for example, it was made with "
                "`-target`): plan again after applying it."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "terraform_version": self.terraform_version,
            "has_changes": self.has_changes,
            "refresh_only": self.refresh_only,
            "complete": self.complete,
            "errored": self.failed,
            "notices": self.notices(),
            "environments": {
                name: {
                    "has_changes": env.has_changes,
                    "summary": env.headline(),
                    "counts": env.counts.as_dict(),
                    "changes": [c.as_dict() for c in env.changes],
                    "outputs": [asdict(o) for o in env.outputs],
                    "drift": [d.as_dict(drift=True) for d in env.drift],
                    "deferred": [d.as_dict() for d in env.deferred],
                    "actions": [a.as_dict() for a in env.actions],
                    "error": env.error,
                }
                for name, env in self.environments.items()
            },
        }


def summarize(
    plan: dict[str, Any],
    environment_of: Callable[[str], str],
    environments: list[str] | None = None,
    *,
    source: str = "the plan JSON",
) -> PlanSummary:
    """Split a plan's changes per environment. `environment_of` maps an address to one.
    `source` names the plan in errors (a file, "the plan of dev")."""
    plan_read = read(plan, source)
    teller = Teller(lambda: sensitive_values(plan))
    summary = PlanSummary(
        format_version=plan_read.format_version,
        terraform_version=plan_read.terraform_version,
        refresh_only=plan_read.refresh_only,
        complete=plan_read.complete,
        failed=plan_read.errored,
    )
    for name in environments or []:
        summary.environment(name)
    for entry in plan_read.changes():
        change = _resource_change(entry, environment_of, teller)
        env = summary.environment(change.environment)
        env.changes.append(change)
        env.counts.add(change)
    for entry in plan_read.drift:
        change = _resource_change(entry, environment_of, teller)
        summary.environment(change.environment).drift.append(change)
    for entry in plan_read.deferred:
        change = _resource_change(entry, environment_of, teller)
        summary.environment(change.environment).deferred.append(change)
    for invocation in plan_read.actions:
        action = _action(invocation, environment_of, teller)
        env = summary.environment(action.environment)
        env.actions.append(action)
        if not action.deferred:
            env.counts.actions += 1
    for output in plan_read.outputs:
        change_ = _output_change(output, environment_of, teller)
        summary.environment(change_.environment).outputs.append(change_)
    if plan_read.errored:
        for env in summary.environments.values():
            env.error = env.error or ERRORED_HERE
    return summary


def _resource_change(
    entry: Entry, environment_of: Callable[[str], str], teller: Teller
) -> ResourceChange:
    result = ResourceChange(
        address=entry.address,
        action=entry.action,
        environment=environment_of(entry.address),
        type=entry.type,
        module_address=entry.module_address,
        moved_from=entry.moved_from,
        importing=entry.importing,
        reason=entry.reason,
        import_id=entry.import_id,
        deposed=entry.deposed,
        deferred=entry.deferred,
        mode=entry.mode,
    )
    if entry.action in ("update", "replace", "create", "create-forget"):
        result.attributes = _attribute_changes(entry.change, entry.action == "create", teller)
    return result


def _attribute_changes(
    change: dict[str, Any], create: bool, teller: Teller
) -> list[AttributeChange]:
    out: list[AttributeChange] = []

    def emit(
        name: str, old: Any, new: Any, unknown: Any, old_mark: Any, new_mark: Any, forced: bool
    ) -> None:
        out.append(
            AttributeChange(
                name,
                None if create or old is MISSING else teller(old, False, old_mark),
                teller(None if new is MISSING else new, unknown, new_mark),
                forced,
            )
        )

    walk_attributes(
        change, emit, create=create, depth=0 if create else MAX_NESTED_DEPTH, full=False
    )
    return out


def _action(
    invocation: Invocation, environment_of: Callable[[str], str], teller: Teller
) -> ActionInvocation:
    config: list[AttributeChange] = []
    if isinstance(invocation.config, dict):

        def emit(
            name: str, old: Any, new: Any, unknown: Any, old_mark: Any, new_mark: Any, _: bool
        ) -> None:
            config.append(AttributeChange(name, None, teller(new, unknown, new_mark)))

        walk_attributes(
            {
                "after": invocation.config,
                "after_unknown": invocation.config_unknown,
                "after_sensitive": invocation.config_sensitive,
            },
            emit,
            create=True,
            depth=0,
            full=False,
        )
    return ActionInvocation(
        address=invocation.address,
        type=invocation.type,
        environment=environment_of(invocation.trigger or invocation.address),
        trigger=invocation.trigger,
        event=invocation.event,
        config=config,
        deferred=invocation.deferred,
    )


def _output_change(
    output: Output, environment_of: Callable[[str], str], teller: Teller
) -> OutputChange:
    sensitive = output.sensitive
    return OutputChange(
        name=output.name,
        action=output.action,
        environment=environment_of(f"output.{output.name}"),
        before=None if output.action == "create" else teller(output.before, False, sensitive),
        after=teller(output.after, output.after_unknown, sensitive),
        sensitive=sensitive,
    )


def _event_words(event: str) -> str:
    """BeforeCreate → "before create"; Terraform may add events, so any CamelCase works."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in event).strip()
    return words or event


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
