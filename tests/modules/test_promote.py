"""`tfops promote`: one ref rewritten, the lock updated, terraform validate, a branch for the PR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import GIT_ENV, commit, git, write_files
from tfops.modules.promote import replace_ref


@pytest.fixture
def released(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example with v1.2.0 released (main), and a git identity for commits tfops makes."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    git(sandbox.parent / "modules", "tag", "-a", "v1.2.0", "-m", "Release 1.2.0", "main")
    return sandbox


def test_promote_rewrites_only_the_ref_updates_the_lock_and_validates(
    released: Path, tfops: Tfops
) -> None:
    prod = released / "prod_back_end.tf"
    original = (
        b"# prod is pinned\r\n"
        b'module "prod_back_end" {\r\n'
        b'  source = "../modules/back_end?ref=v1.1.0"   # reviewed in PR #12\r\n'
        b"\r\n"
        b"  base_domain      = var.base_domain\r\n"
        b"  dfp_api_key      = var.dfp_api_key\r\n"
        b"  alarms_topic_arn = module.monitoring.alarms_topic_arn\r\n"
        b"  environment      = local.environment\r\n"
        b"}"  # no newline at the end
    )
    prod.write_bytes(original)
    front = (released / "prod_front_end.tf").read_bytes()

    result = tfops("promote", "prod_back_end", "v1.2.0", str(released))
    assert result.exit_code == 0, result.output
    assert prod.read_bytes() == original.replace(b"ref=v1.1.0", b"ref=v1.2.0")
    assert (released / "prod_front_end.tf").read_bytes() == front
    assert (
        'prod_back_end.tf:3: prod_back_end: source "../modules/back_end?ref=v1.1.0" → '
        '"../modules/back_end?ref=v1.2.0"'
    ) in result.stdout
    assert "terraform validate passed with the new version." in result.stdout
    lock = json.loads((released / "tfops.lock.json").read_text())
    assert lock["modules"]["prod"] == {
        "prod_back_end": {
            "source": "../modules/back_end?ref=v1.2.0",
            "ref": "v1.2.0",
            "commit": git(released.parent / "modules", "rev-parse", "main"),
        }
    }
    # the pins gate is satisfied with the promoted, locked release
    check = tfops("check", str(released), "--gate", "pins")
    assert check.exit_code == 0 and "prod_back_end.tf" not in check.stdout


def test_module_path_names_every_block_of_one_environment(released: Path, tfops: Tfops) -> None:
    ambiguous = tfops("promote", "back_end", "v1.2.0", str(released))
    assert ambiguous.exit_code == 1
    assert "'back_end' is used in dev, prod" in ambiguous.stderr and "-e ENV" in ambiguous.stderr

    result = tfops("promote", "back_end", "v1.2.0", str(released), "-e", "prod", "--no-validate")
    assert result.exit_code == 0, result.output
    assert "?ref=v1.2.0" in (released / "prod_back_end.tf").read_text()
    assert "?ref=" not in (released / "dev_back_end.tf").read_text()

    again = tfops("promote", "prod_back_end", "v1.2.0", str(released), "--no-validate")
    assert again.stdout == "prod_back_end is already at v1.2.0; nothing to do.\n"


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("v1.2.0-rc1", "ref 'v1.2.0-rc1' is a pre-release"),
        ("main", "ref 'main' is a branch, not a pin"),
        ("v3.0.0", "ref 'v3.0.0' does not exist"),
    ],
)
def test_refs_that_break_the_pin_rules_are_refused(
    released: Path, tfops: Tfops, ref: str, says: str
) -> None:
    before = (released / "prod_back_end.tf").read_bytes()
    result = tfops("promote", "prod_back_end", ref, str(released))
    assert result.exit_code == 1
    assert f"refusing to promote prod_back_end to {ref}" in result.stderr
    assert says in result.stderr and "v1.2.0" in result.stderr  # the newest release
    assert (released / "prod_back_end.tf").read_bytes() == before
    assert not (released / "tfops.lock.json").exists()


def test_floating_environments_may_take_a_pre_release(released: Path, tfops: Tfops) -> None:
    result = tfops("promote", "dev_back_end", "v1.2.0-rc1", str(released), "--no-validate")
    assert result.exit_code == 0, result.output
    assert 'source = "../modules/back_end?ref=v1.2.0-rc1"' in (
        (released / "dev_back_end.tf").read_text()
    )
    assert not (released / "tfops.lock.json").exists()  # only pinned environments are locked
    unknown = tfops("promote", "dev_back_end", "v9.0.0", str(released))
    assert unknown.exit_code == 1 and "ref 'v9.0.0' does not exist" in unknown.stderr


def test_a_version_that_fails_validation_changes_nothing(released: Path, tfops: Tfops) -> None:
    modules = released.parent / "modules"
    commit(
        modules,
        {"back_end/inputs.tf": 'variable "region" {\n  type = string\n}\n'},
        "A new required input",
        tags=["v2.0.0"],
    )
    before = (released / "prod_back_end.tf").read_bytes()
    result = tfops("promote", "prod_back_end", "v2.0.0", str(released))
    assert result.exit_code == 1
    assert "terraform validate fails with the new version; nothing was changed" in result.stderr
    assert 'argument "region" is required' in result.stderr
    assert (released / "prod_back_end.tf").read_bytes() == before
    assert not (released / "tfops.lock.json").exists()
    assert "//back_end?ref=v1.1.0" in (released / "tfops_override.tf").read_text()


def test_branch_commits_exactly_the_promotion(released: Path, tfops: Tfops) -> None:
    dns = released / "dev_dns.tf"
    dns.write_text(dns.read_text() + "# work in progress\n")
    git(released, "add", "dev_dns.tf")  # staged by the user: not part of the promotion
    result = tfops(
        "promote", "prod_back_end", "v1.2.0", str(released), "--branch", "promote-back-end"
    )
    assert result.exit_code == 0, result.output
    assert "Committed on new branch promote-back-end" in result.stdout
    assert git(released, "rev-parse", "--abbrev-ref", "HEAD") == "promote-back-end"
    assert git(released, "show", "--name-only", "--format=%s", "HEAD").splitlines() == [
        "Promote prod_back_end to v1.2.0 in prod",
        "",
        "prod_back_end.tf",
        "tfops.lock.json",
    ]
    assert git(released, "diff", "HEAD~1", "--", "prod_back_end.tf").count("\n+  source") == 1
    assert git(released, "status", "--porcelain") == "M  dev_dns.tf"

    exists = tfops(
        "promote", "prod_front_end", "v1.2.0", str(released), "--branch", "promote-back-end"
    )
    assert exists.exit_code == 1 and "branch 'promote-back-end' already exists" in exists.stderr
    assert "ref=v1.1.0" in (released / "prod_front_end.tf").read_text()


def test_branch_refuses_to_commit_uncommitted_edits(released: Path, tfops: Tfops) -> None:
    prod = released / "prod_back_end.tf"
    prod.write_text(prod.read_text() + "# unfinished\n")
    result = tfops("promote", "prod_back_end", "v1.2.0", str(released), "--branch", "p")
    assert result.exit_code == 1
    assert "uncommitted changes" in result.stderr and "prod_back_end.tf" in result.stderr
    assert "ref=v1.1.0" in prod.read_text()


def test_registry_modules_are_promoted_by_version(released: Path, tfops: Tfops) -> None:
    write_files(
        released,
        {
            "prod_dns.tf": 'module "prod_consul" {\n'
            '  source  = "hashicorp/consul/aws"\n'
            '  version = "0.1.0" # pinned\n}\n'
        },
    )
    result = tfops("promote", "consul", "0.2.0", str(released), "-e", "prod", "--no-validate")
    assert result.exit_code == 0, result.output
    assert (released / "prod_dns.tf").read_text() == (
        'module "prod_consul" {\n  source  = "hashicorp/consul/aws"\n'
        '  version = "0.2.0" # pinned\n}\n'
    )
    refused = tfops("promote", "prod_consul", "~> 0.2", str(released), "--no-validate")
    assert refused.exit_code == 1 and "is a range" in refused.stderr


def test_unknown_module_says_what_exists(released: Path, tfops: Tfops) -> None:
    result = tfops("promote", "payments", "v1.2.0", str(released), "-e", "prod")
    assert result.exit_code == 1
    assert "no module 'payments' in prod" in result.stderr
    assert "prod_back_end, prod_front_end" in result.stderr


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../b/m?ref=v1", "../b/m?ref=v2"),
        ("../b/m", "../b/m?ref=v2"),
        (
            "git::https://h/o/r.git//sub?depth=1&ref=v1",
            "git::https://h/o/r.git//sub?depth=1&ref=v2",
        ),
        ("git::https://h/o/r.git?depth=1", "git::https://h/o/r.git?ref=v2&depth=1"),
        ("github.com/o/r?ref=1.0.2", "github.com/o/r?ref=v2"),
    ],
)
def test_replace_ref_keeps_every_other_byte(raw: str, expected: str) -> None:
    assert replace_ref(raw, "v2") == expected
