"""The plans tfops showed in Slack with an Apply button, and what became of each.

A plan made for `/tfops apply ENV` is kept in the plan store (kind "chat", under its commit
and environment) and listed here under a random id: the Apply button's value. A button
press names nothing but that id, and the id is checked against this list, never trusted:
it must be a plan this watcher made, for the environment the message is about, still open
— each id is usable once: applied, cancelled or refused, it is closed — and younger than
`slack.plan_ttl_minutes`. The list survives restarts (`<state>/slack-plans.json`); a plan
that was being applied when the watcher stopped is closed as interrupted.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tfops.records.store import PlanKey

VERSION = 1
KEEP_SECONDS = 2 * 24 * 3600  # closed or not, a plan is forgotten after two days
OPEN = "open"
APPLYING = "applying"
SUPERSEDED = "superseded"


class PlanClosed(Exception):
    """The plan is not open (any more): the message says why, in Slack's mrkdwn (it is
    made of tfops's own words and a user ID, nothing anyone typed)."""


@dataclass
class ChatPlan:
    id: str
    environment: str
    repo: str
    commit: str
    sha256: str  # of the plan file kept in the plan store
    requested_by: str  # the Slack user who asked for it
    created: float  # epoch seconds
    state: str = OPEN  # open | applying | applied | failed | declined | refused | …
    closed_by: str = ""
    closed_at: float = 0.0
    detail: str = ""
    summary: list[dict[str, Any]] = field(default_factory=list)  # the message's blocks

    @property
    def key(self) -> PlanKey:
        return PlanKey(self.repo, None, self.commit, self.environment, "chat")

    def expires(self, ttl_minutes: int) -> float:
        return self.created + ttl_minutes * 60

    def describe_closed(self) -> str:
        when = time.strftime("%H:%M:%S UTC", time.gmtime(self.closed_at)) if self.closed_at else ""
        at = f" at {when}" if when else ""
        by = f"<@{self.closed_by}>" if self.closed_by else "someone"
        if self.state == "declined":
            return f"this plan was cancelled by {by}{at}"
        if self.state == SUPERSEDED:
            return f"a newer plan of {self.environment} replaced this one (asked for by {by}{at})"
        what = {
            APPLYING: "is being applied",
            "applied": "was applied",
            "no-changes": "had nothing to apply",
            "failed": "failed to apply",
            "refused": "was refused",
            "expired": "expired",
            "interrupted": "was interrupted: tfops stopped while applying it",
        }.get(self.state, f"is closed ({self.state})")
        return f"this plan {what} (Apply pressed by {by}{at})"


class ChatPlans:
    """The list, thread-safe; every change is written to disk before it counts."""

    def __init__(self, path: Path | None, *, now: Callable[[], float] = time.time):
        self.path = path
        self.now = now
        self._lock = threading.Lock()
        self._plans: dict[str, ChatPlan] = self._load()

    def new(self, **values: Any) -> ChatPlan:
        """A new plan of an environment; it replaces the open ones shown before it (one
        Apply button per environment works at a time: the newest)."""
        plan = ChatPlan(id=secrets.token_urlsafe(18), created=self.now(), **values)
        with self._lock:
            for older in self._plans.values():
                if older.environment == plan.environment and older.state == OPEN:
                    older.state, older.closed_by = SUPERSEDED, plan.requested_by
                    older.closed_at = plan.created
            self._plans[plan.id] = plan
            self._save()
        return plan

    def get(self, plan_id: str) -> ChatPlan | None:
        with self._lock:
            plan = self._plans.get(plan_id)
            return ChatPlan(**asdict(plan)) if plan else None

    def take(self, plan_id: str, state: str, by: str, detail: str = "") -> ChatPlan:
        """Move an open plan to `state` (`applying`, or a closing state), atomically: of two
        presses of one button, one takes it and the other is told why not."""
        with self._lock:
            plan = self._plans.get(plan_id)
            if plan is None:
                raise PlanClosed("tfops has no such plan")
            if plan.state != OPEN:
                raise PlanClosed(plan.describe_closed())
            plan.state, plan.closed_by, plan.closed_at, plan.detail = state, by, self.now(), detail
            self._save()
            return ChatPlan(**asdict(plan))

    def finish(self, plan_id: str, state: str, detail: str = "") -> None:
        """The end of a plan that was being applied."""
        with self._lock:
            plan = self._plans.get(plan_id)
            if plan is not None:
                plan.state, plan.detail = state, detail[:500]
                self._save()

    # ---- on disk -----------------------------------------------------------------------
    def _load(self) -> dict[str, ChatPlan]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(ChatPlan)}
            plans = [
                ChatPlan(**{k: v for k, v in item.items() if k in known})
                for item in data.get("plans", [])
            ]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}  # unreadable: no plan is open, none can be applied
        for plan in plans:
            if plan.state == APPLYING:  # the watcher stopped before it was applied
                plan.state, plan.detail = "interrupted", "tfops stopped before it applied"
        return {p.id: p for p in plans}

    def _save(self) -> None:
        cutoff = self.now() - KEEP_SECONDS
        self._plans = {i: p for i, p in self._plans.items() if p.created >= cutoff}
        if self.path is None:
            return
        data = {"version": VERSION, "plans": [asdict(p) for p in self._plans.values()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # summaries of plans
        with open(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
