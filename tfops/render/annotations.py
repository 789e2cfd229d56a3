"""GitHub Actions workflow commands (`::error file=…,line=…::msg`) for gate findings.

Printed to stdout in Actions, they show up inline on the PR diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from tfops.gates.base import Finding, GateResult
from tfops.gitutil import checkout_prefix

LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "warning",
    "info": "notice",
}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding, path_prefix: str = "") -> str:
    """One workflow command. `path_prefix` maps repo-relative paths to the checkout root."""
    props = []
    if finding.file:
        props.append(f"file={_escape_property(path_prefix + finding.file)}")
        if finding.line:
            props.append(f"line={finding.line}")
            if finding.end_line and finding.end_line != finding.line:
                props.append(f"endLine={finding.end_line}")
    props.append(f"title={_escape_property(f'{finding.gate}: {finding.rule}')}")
    message = finding.message + (f"\n{finding.link}" if finding.link else "")
    return f"::{LEVELS[finding.severity]} {','.join(props)}::{_escape_data(message)}"


def workflow_commands(results: Iterable[GateResult], path_prefix: str = "") -> list[str]:
    return [annotation(f, path_prefix) for result in results for f in result.findings]


def annotate(
    results: list[GateResult], repo_root: Path, stream: TextIO, mask: Callable[[str], str]
) -> None:
    """In GitHub Actions, one `::error file=…` workflow command per finding."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    lines = workflow_commands(results, checkout_prefix(repo_root))
    if lines:
        stream.write(mask("\n".join(lines)) + "\n")
        stream.flush()
