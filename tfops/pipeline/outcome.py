"""What a guarded change did: one typed outcome per root (and per environment in it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tfops.errors import ExitCode


class Outcome(StrEnum):
    """The end of a run through the pipeline. The values are what the audit log records."""

    APPLIED = "applied"
    NO_CHANGES = "no-changes"
    SKIPPED = "skipped"  # not asked to apply it (e.g. `apply: manual` on merge)
    DECLINED = "declined"  # the approver said no: a person at the prompt, Cancel in Slack
    REFUSED = "refused"  # a guard said no: lock held, signature, plan differs from reviewed
    GATES_FAILED = "gates-failed"
    FAILED = "failed"  # terraform plan or apply failed
    INTERRUPTED = "interrupted"

    @property
    def ok(self) -> bool:
        return self in (Outcome.APPLIED, Outcome.NO_CHANGES, Outcome.SKIPPED)

    @property
    def exit_code(self) -> ExitCode:
        if self.ok:
            return ExitCode.OK
        if self is Outcome.GATES_FAILED:
            return ExitCode.GATES_FAILED
        if self is Outcome.INTERRUPTED:
            return ExitCode.INTERRUPTED
        return ExitCode.ERROR


@dataclass
class RootOutcome:
    """What one run of the pipeline did to some environments of one Terraform root."""

    environments: list[str]
    outcome: Outcome
    detail: str = ""  # why, in words a person can act on (masked)
    changes: dict[str, str] = field(default_factory=dict)  # environment → "1 to add, …"
    plan_sha256: dict[str, str] = field(default_factory=dict)  # environment → applied plan
    unchanged: list[str] = field(default_factory=list)  # applied along, nothing to change
    audit_problem: str | None = None  # applied, but the audit line could not be written

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def result_of(self, environment: str) -> Outcome:
        """An environment applied along with others but with nothing of its own to change
        reads as no-changes."""
        if self.outcome is Outcome.APPLIED and environment in self.unchanged:
            return Outcome.NO_CHANGES
        return self.outcome
