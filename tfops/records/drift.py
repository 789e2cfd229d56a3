"""The latest drift check of each environment, kept next to the plans and the audit log.

Every drift check (`tfops drift`, `tfops ci` on a schedule, the watcher) ends by replacing
one small JSON object per environment it checked, `drift/<environment>.json` under the
plan store's location (`store.url`: a directory, or an S3 prefix). The overview page
(`tfops report`, `GET /` of `tfops watch --listen`) reads them: when each environment was
last checked, at which commit, and what drifted. Only the latest check is kept; the
history is in the drift issues, in Slack, and in the audit log of heals.

The record is written from the report's plain dict (`DriftReport.to_dict()`), so this layer
needs nothing from the pipeline. Every string is masked before it is stored, values are cut
to `VALUE_LIMIT` characters and each list to `RESOURCE_LIMIT` resources: the page shows
what drifted, the full report stays in the check's own output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from tfops.config import TfopsConfig
from tfops.errors import TfopsError
from tfops.records.locks.model import current_run_url
from tfops.records.store import Blobs, store_blobs

PREFIX = "drift/"
SUFFIX = ".json"
RESOURCE_LIMIT = 50  # resources kept per list
VALUE_LIMIT = 300  # characters kept per attribute value

Mask = Callable[[str], str]
Warn = Callable[[str], None]


@dataclass(frozen=True)
class DriftedResource:
    address: str
    action: str
    attributes: list[dict[str, Any]] = field(default_factory=list)  # name, before, after


@dataclass(frozen=True)
class DriftRecord:
    environment: str
    checked_at: str  # ISO 8601 UTC
    status: str  # clean | drift | healed | heal-failed | error
    summary: str  # "1 resource changed outside Terraform; to match the repo: …"
    repo: str = ""
    commit: str | None = None
    trigger: str = ""
    terraform_version: str = ""
    changed_outside: list[DriftedResource] = field(default_factory=list)
    planned: list[DriftedResource] = field(default_factory=list)
    resources_left_out: int = 0  # beyond RESOURCE_LIMIT
    error: str | None = None
    heal_detail: str = ""
    run_url: str | None = None

    @property
    def drifted(self) -> bool:
        return self.status in ("drift", "healed", "heal-failed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("changed_outside", "planned"):
            values[name] = [
                DriftedResource(
                    str(r.get("address", "")),
                    str(r.get("action", "")),
                    [a for a in r.get("attributes") or [] if isinstance(a, dict)],
                )
                for r in values.get(name) or []
                if isinstance(r, dict)
            ]
        return cls(**values)


class DriftRecords:
    """The latest DriftRecord per environment over a Blobs location."""

    def __init__(self, blobs: Blobs):
        self.blobs = blobs

    @staticmethod
    def _path(environment: str) -> str:
        return f"{PREFIX}{quote(environment, safe='')}{SUFFIX}"

    def write(self, record: DriftRecord) -> None:
        data = json.dumps(record.to_dict(), indent=2, sort_keys=True).encode()
        self.blobs.write(self._path(record.environment), data)

    def get(self, environment: str) -> DriftRecord | None:
        return self._parse(self.blobs.read(self._path(environment)))

    def latest(self) -> dict[str, DriftRecord]:
        """Every environment's latest check, by environment name."""
        found: dict[str, DriftRecord] = {}
        for path in self.blobs.list(PREFIX):
            name = path.removeprefix(PREFIX)
            if "/" in name or not name.endswith(SUFFIX):
                continue
            record = self._parse(self.blobs.read(path))
            if record is not None and record.environment == unquote(name[: -len(SUFFIX)]):
                found[record.environment] = record
        return dict(sorted(found.items()))

    @staticmethod
    def _parse(data: bytes | None) -> DriftRecord | None:
        if data is None:
            return None
        try:
            return DriftRecord.from_dict(json.loads(data))
        except (ValueError, TypeError, AttributeError):
            return None  # not ours, or cut short: as if never checked


def open_drift_records(config: TfopsConfig, repo_root: Path) -> DriftRecords:
    return DriftRecords(store_blobs(config, repo_root))


def records_from_report(
    report: Mapping[str, Any], *, trigger: str, mask: Mask
) -> list[DriftRecord]:
    """One masked, trimmed DriftRecord per environment of a `DriftReport.to_dict()`."""
    run_url = report.get("run_url") or current_run_url()
    records = []
    for name, env in (report.get("environments") or {}).items():
        outside = list(env.get("changed_outside_terraform") or [])
        planned = list(env.get("planned_changes") or [])
        left_out = max(0, len(outside) - RESOURCE_LIMIT) + max(0, len(planned) - RESOURCE_LIMIT)
        records.append(
            DriftRecord(
                environment=str(name),
                checked_at=str(report.get("checked_at") or ""),
                status=str(env.get("status") or ""),
                summary=mask(str(env.get("summary") or "")),
                repo=mask(str(report.get("repo") or "")),
                commit=report.get("commit"),
                trigger=trigger,
                terraform_version=str(report.get("terraform_version") or ""),
                changed_outside=[_resource(c, mask) for c in outside[:RESOURCE_LIMIT]],
                planned=[_resource(c, mask) for c in planned[:RESOURCE_LIMIT]],
                resources_left_out=left_out,
                error=mask(str(env["error"])) if env.get("error") else None,
                heal_detail=mask(str(env.get("heal_detail") or "")),
                run_url=mask(str(run_url)) if run_url else None,
            )
        )
    return records


def record_drift(
    config: TfopsConfig,
    repo_root: Path,
    report: Mapping[str, Any],
    *,
    trigger: str,
    mask: Mask,
    warn: Warn,
) -> None:
    """Keep each checked environment's result as its latest drift check.

    A store that can't be written is a warning, never a failed check: the check's own
    report, issues and Slack message have already said what drifted.
    """
    try:
        records = open_drift_records(config, repo_root)
        for record in records_from_report(report, trigger=trigger, mask=mask):
            records.write(record)
    except (TfopsError, OSError) as exc:
        warn(f"could not record the drift check for the overview page: {exc}")


def _resource(change: Mapping[str, Any], mask: Mask) -> DriftedResource:
    return DriftedResource(
        address=mask(str(change.get("address") or "")),
        action=str(change.get("action") or ""),
        attributes=[
            {
                "name": mask(str(attr.get("name") or "")),
                "before": _value(attr.get("before"), mask),
                "after": _value(attr.get("after"), mask),
            }
            for attr in change.get("attributes") or []
        ],
    )


def _value(value: Any, mask: Mask) -> str | None:
    if value is None:
        return None
    text = mask(str(value))  # masked whole, before cutting: a cut can't split a secret
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"
