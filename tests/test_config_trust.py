"""`with_trusted`: a pull request's tfops.yaml describes the repo, never what it may do."""

from __future__ import annotations

from pathlib import Path

from tfops.config import TfopsConfig, parse_config, with_trusted

MAIN = """
environments:
  dev: {}
  prod: {pinned: true, apply: manual, require_signed_commits: true}
gates:
  tfsec: {required: true}
modules: {release_tag_pattern: '^v\\d+\\.\\d+\\.\\d+$'}
mask: ['main_[a-z]+']
"""

PR = """
environments:
  dev: {files: ["dev_*.tf", "shared_dev.tf"], apply: auto}
  prod: {pinned: false, apply: auto, require_signed_commits: false, var_files: [p.tfvars]}
  prd2: {pinned: false, heal: true}
terraform: {binary: /tmp/evil, env: {TF_LOG: TRACE}}
gates:
  tfsec: {enabled: false}
modules: {release_tag_pattern: '.*', repos: {"../backend": "https://git.example/b.git"}}
store: {url: s3://attacker/plans}
locks: {backend: file, path: /tmp/locks}
github: {apply_requirements: [], fork_commands: true, bot_login: mallory}
drift: {github_issues: false}
mask: ['pr_[a-z]+']
"""


def config(text: str) -> TfopsConfig:
    return parse_config(text, Path("tfops.yaml"))


def test_power_comes_from_the_default_branch_and_the_rest_from_the_change() -> None:
    effective, changed = with_trusted(config(PR), config(MAIN))
    prod, dev, new = (effective.env(n) for n in ("prod", "dev", "prd2"))
    assert (prod.pinned, prod.apply, prod.require_signed_commits) == (True, "manual", True)
    assert prod.var_files == ["p.tfvars"]  # describes the repo: the change's
    assert dev.files == ["dev_*.tf", "shared_dev.tf"]
    assert (new.pinned, new.heal) == (None, False)  # a new environment gets the defaults
    assert effective.terraform.binary is None and effective.terraform.env == {}
    assert effective.gates.tfsec.enabled and effective.gates.tfsec.required
    assert effective.modules.release_tag_pattern == r"^v\d+\.\d+\.\d+$"
    assert effective.modules.repos == {"../backend": "https://git.example/b.git"}
    assert effective.store.url == ".tfops/plans" and effective.locks.path == ".tfops/locks"
    assert effective.github.apply_requirements == ["approved"]
    assert not effective.github.fork_commands and effective.github.bot_login is None
    assert effective.mask == ["main_[a-z]+", "pr_[a-z]+"]  # more masking grants nothing
    assert set(changed) >= {
        "environments.prod.pinned",
        "environments.prod.apply",
        "environments.prod.require_signed_commits",
        "environments.prd2.pinned",
        "environments.prd2.heal",
        "terraform.binary",
        "terraform.env.TF_LOG",
        "gates.tfsec.enabled",
        "modules.release_tag_pattern",
        "store.url",
        "locks.path",
        "github.apply_requirements",
        "github.fork_commands",
        "github.bot_login",
        "drift.github_issues",
    }
    assert not any(c.endswith(("files", "var_files", "repos")) for c in changed)


def test_an_unchanged_config_changes_nothing() -> None:
    effective, changed = with_trusted(config(MAIN), config(MAIN))
    assert changed == [] and effective == config(MAIN)
