"""Small environments repos for the apply tests: one `terraform_data` per environment,
planned and merged the way `tfops ci` does it, and readers for state, audit and locks."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from tests.helpers import commit, git, init_repo
from tfops.console import Console
from tfops.pipeline.review import lock_pr_environments, record_pr_plans
from tfops.pipeline.session import Session

TFOPS_YAML = """environments:
  dev: {}
  prod:
    apply: manual
"""


GITIGNORE = ".terraform/\n*.tfstate\n*.tfstate.*\n.terraform.lock.hcl\n*.txt\n"


def resource(name: str, value: str, extra: str = "") -> str:
    return f'resource "terraform_data" "{name}" {{\n  input = "{value}"\n{extra}}}\n'


SLOW = '  provisioner "local-exec" {\n    command = "sleep %d"\n  }\n'


def make_repo(path: Path, dev: str, prod: str, yaml: str = TFOPS_YAML) -> Path:
    return init_repo(
        path,
        {
            ".gitignore": GITIGNORE,
            "tfops.yaml": yaml,
            "envs/dev/main.tf": dev,
            "envs/prod/main.tf": prod,
        },
    )


def quiet_session(repo: Path) -> Session:
    return Session.open(repo, Console(io.StringIO(), verbose=False))


def plan_pr(repo: Path, pr: int, environments: list[str]) -> str:
    """What `tfops ci` does on a pull request: plan, keep the plans, lock the environments."""
    session = quiet_session(repo)
    head = git(repo, "rev-parse", "HEAD")
    envs = session.select(environments)
    runs = session.run_roots(session.roots_for(envs), environments, gates=False)
    assert all(r.error is None for r in runs), [r.error for r in runs]
    assert record_pr_plans(session, runs, pr, head, environments)
    _, refused = lock_pr_environments(session, pr, environments, who="author")
    assert not refused, refused
    return head


def open_pr(repo: Path, branch: str, files: dict[str, str], pr: int, envs: list[str]) -> str:
    git(repo, "checkout", "-q", "-b", branch)
    commit(repo, files, f"PR #{pr}")
    head = plan_pr(repo, pr, envs)
    git(repo, "checkout", "-q", "main")
    return head


def merge(repo: Path, branch: str, pr: int) -> str:
    git(repo, "merge", "-q", "--no-ff", branch, "-m", f"Merge pull request #{pr}")
    return git(repo, "rev-parse", "HEAD")


def state_inputs(root: Path) -> dict[str, Any]:
    path = root / "terraform.tfstate"
    if not path.exists():
        return {}
    state = json.loads(path.read_text())
    inputs = {
        f"{r['type']}.{r['name']}": r["instances"][0]["attributes"]["input"]
        for r in state["resources"]
    }
    return {k: v["value"] if isinstance(v, dict) else v for k, v in inputs.items()}


def audit_lines(repo: Path) -> list[dict[str, Any]]:
    path = repo / ".tfops/plans/audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def lock_files(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / ".tfops/locks").glob("*.json"))
