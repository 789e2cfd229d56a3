"""Gate findings as SARIF 2.1.0, for GitHub code scanning (`upload-sarif`).

One run, tool `tfops`; each rule is `gate/rule` so tflint's and tfsec's ids never clash.
Findings of the security scanners carry GitHub's `security-severity`, so code scanning
ranks them as security alerts. Paths are relative to `%SRCROOT%`, the checkout root:
`path_prefix` maps repo-relative paths to it when the environments repo is a subdirectory.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from tfops import __version__
from tfops.gates.base import Finding, GateResult
from tfops.render.annotations import LEVELS

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_LEVELS = {"error": "error", "warning": "warning", "notice": "note"}
SECURITY_GATES = frozenset({"tfsec", "checkov", "trivy"})
# GitHub's bands: critical > 9.0, high 7.0–8.9, medium 4.0–6.9, low 0.1–3.9
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}


def sarif(results: Iterable[GateResult], path_prefix: str = "") -> dict[str, Any]:
    results = list(results)
    rules: dict[str, dict[str, Any]] = {}
    sarif_results = []
    for result in results:
        for finding in result.findings:
            rule_id = f"{finding.gate}/{finding.rule}"
            if rule_id not in rules:
                rules[rule_id] = _rule(rule_id, finding)
            sarif_results.append(
                _result(finding, rule_id, list(rules).index(rule_id), result.root, path_prefix)
            )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tfops",
                        "version": __version__,
                        "informationUri": "https://github.com/tfops/tfops",
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [_invocation(results)],
                "results": sarif_results,
            }
        ],
    }


def _level(finding: Finding) -> str:
    return SARIF_LEVELS[LEVELS[finding.severity]]


def _rule(rule_id: str, finding: Finding) -> dict[str, Any]:
    first_line = finding.message.splitlines()[0] if finding.message else finding.rule
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": finding.rule,
        "shortDescription": {"text": f"{finding.gate}: {finding.rule}"},
        "fullDescription": {"text": first_line},
        "defaultConfiguration": {"level": _level(finding)},
        "properties": {"tags": ["terraform", finding.gate]},
    }
    if finding.link:
        rule["helpUri"] = finding.link
    if finding.gate in SECURITY_GATES and finding.severity in SECURITY_SEVERITY:
        rule["properties"]["tags"].append("security")
        rule["properties"]["security-severity"] = SECURITY_SEVERITY[finding.severity]
    return rule


def _result(
    finding: Finding, rule_id: str, index: int, root: str, path_prefix: str
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": _level(finding),
        "message": {"text": finding.message or finding.rule},
        "properties": {
            "gate": finding.gate,
            "severity": finding.severity,
            "environments": list(finding.environments),
            "root": root,
        },
    }
    if finding.file:
        location: dict[str, Any] = {"artifactLocation": _artifact(finding.file, path_prefix)}
        if finding.line and finding.line > 0:
            region = {"startLine": finding.line}
            if finding.end_line and finding.end_line >= finding.line:
                region["endLine"] = finding.end_line
            location["region"] = region
        result["locations"] = [{"physicalLocation": location}]
    return result


def _artifact(file: str, path_prefix: str) -> dict[str, str]:
    path = PurePosixPath(file)
    if path.is_absolute():
        return {"uri": "file://" + quote(file)}
    return {"uri": quote(path_prefix + file), "uriBaseId": "%SRCROOT%"}


def _invocation(results: list[GateResult]) -> dict[str, Any]:
    """Skipped gates and tool errors, so a report with no findings still says what didn't run."""
    notes = [
        {
            "level": "error" if r.status in ("error", "failed") else "note",
            "message": {"text": f"{r.gate} {r.status}" + (f": {r.detail}" if r.detail else "")},
        }
        for r in results
        if r.status in ("skipped", "error") or (r.status == "failed" and not r.findings)
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": not any(r.status == "error" for r in results)
    }
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation
