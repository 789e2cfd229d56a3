"""The workflows in .github/ and the composite action at the repo root.

They are validated against the JSON schemas check-jsonschema ships (SchemaStore's
github-workflows and github-actions), and the action's shell step is run for real with a
stand-in `tfops` to see the arguments it passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import PROJECT

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
EXAMPLES = sorted((PROJECT / ".github" / "examples").glob("*.yml"))
ACTION = PROJECT / "action.yml"


def check(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
    )


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_every_workflow_and_the_action_match_their_schemas() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml"]
    assert {p.name for p in EXAMPLES} >= {
        "pr-plan.yml",
        "apply-on-merge.yml",
        "drift.yml",
        "commands.yml",
    }
    workflows = check("vendor.github-workflows", *WORKFLOWS, *EXAMPLES)
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    action = check("vendor.github-actions", ACTION)
    assert action.returncode == 0, action.stdout + action.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (PROJECT / ".github" / "examples" / "pr-plan.yml").read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    result = check("vendor.github-workflows", broken)
    assert result.returncode == 1
    assert "runs_on" in result.stdout


def test_the_examples_run_tfops_through_the_action_on_their_events() -> None:
    events = {
        "pr-plan.yml": "pull_request",
        "apply-on-merge.yml": "push",
        "drift.yml": "schedule",
        "commands.yml": "issue_comment",
    }
    for name, event in events.items():
        workflow = load(PROJECT / ".github" / "examples" / name)
        assert event in workflow[True], name  # YAML 1.1 reads the `on:` key as True
        uses = [s.get("uses", "") for s in steps(workflow)]
        assert any(u.startswith("tfops/tfops@v") for u in uses), name
        terraform = [s for s in steps(workflow) if s.get("uses", "").startswith("hashicorp/")]
        assert terraform and all(s["with"]["terraform_wrapper"] is False for s in terraform)
    commands = load(PROJECT / ".github" / "examples" / "commands.yml")
    checkout = steps(commands)[0]
    assert checkout["with"]["ref"] == "refs/pull/${{ github.event.issue.number }}/head"
    assert commands["permissions"]["pull-requests"] == "write"


def test_project_ci_runs_lint_and_tests_with_terraform() -> None:
    workflow = load(WORKFLOWS[0])
    all_steps = steps(workflow)
    assert any(s.get("uses", "").startswith("hashicorp/setup-terraform@") for s in all_steps)
    assert [s["run"] for s in all_steps if "run" in s] == ["make lint test"]


def test_the_action_installs_tfops_from_its_own_path_and_runs_tfops_ci() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    install, run = action["runs"]["steps"][1:]
    assert '"$ACTION_PATH"' in install["run"]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert run["working-directory"] == "${{ inputs.working-directory }}"
    assert "${{" not in run["run"]  # inputs arrive as variables, never pasted into the script


@pytest.mark.parametrize(
    ("environments", "args", "expected"),
    [
        ("", "", ["ci", "."]),
        ("dev", "", ["ci", ".", "-e", "dev"]),
        ("*", "", ["ci", ".", "-e", "*"]),
        ("dev, prod", "--parallelism 4 --no-gates", ["ci", ".", "-e", "dev", "-e", "prod",
                                                      "--parallelism", "4", "--no-gates"]),
        ("dev;touch${IFS}pwned $(touch pwned)", "", ["ci", ".", "-e", "dev;touch${IFS}pwned",
                                                      "-e", "$(touch", "-e", "pwned)"]),
    ],
)  # fmt: skip
def test_the_action_script_passes_inputs_as_arguments(
    tmp_path: Path, environments: str, args: str, expected: list[str]
) -> None:
    script = load(ACTION)["runs"]["steps"][2]["run"]
    stub = tmp_path / "bin" / "tfops"
    stub.parent.mkdir()
    stub.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$TFOPS_STUB_OUT"\n')
    stub.chmod(0o755)
    out = tmp_path / "argv.txt"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}",
            "TFOPS_ENVIRONMENTS": environments,
            "TFOPS_ARGS": args,
            "TFOPS_STUB_OUT": str(out),
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines() == expected
    assert not (tmp_path / "pwned").exists()
