"""The `pins` gate on real git repositories: tags, annotated tags, pre-releases, branches,
SHAs, moved tags, unreachable remotes, every source form, and a repo with many tags."""

from __future__ import annotations

import io
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tfops
from tests.helpers import commit, git, init_repo, write_files
from tfops.console import Console
from tfops.gates.base import Finding, GateContext
from tfops.gates.pins import PinsGate
from tfops.modules.calls import module_calls
from tfops.modules.remote import RemoteLister
from tfops.modules.resolve import Resolver, TagIndex
from tfops.repo.environments import EnvironmentsRepo
from tfops.terraform.versions import sort_tags

MODULE = 'variable "x" {\n  default = 1\n}\n'


def module_repo(path: Path) -> dict[str, str]:
    """v1.0.0 (annotated), v1.1.0 (lightweight), v1.2.0-rc1, `nightly`, branch `feature`,
    main one commit ahead. Returns name → commit."""
    init_repo(path, {"modules/m/main.tf": MODULE})
    shas = {"v1.0.0": commit(path, {"modules/m/a.tf": "# 1.0"})}
    git(path, "tag", "-a", "v1.0.0", "-m", "Release 1.0.0")
    shas["v1.1.0"] = commit(path, {"modules/m/a.tf": "# 1.1"}, tags=["v1.1.0"])
    shas["v1.2.0-rc1"] = commit(path, {"modules/m/a.tf": "# 1.2rc"}, tags=["v1.2.0-rc1", "nightly"])
    git(path, "branch", "feature")
    shas["main"] = commit(path, {"modules/m/a.tf": "# next"})
    return shas


def env_repo(path: Path, blocks: dict[str, str], config: str = "") -> Path:
    """An environments repo with one file per entry: {"prod_app.tf": 'source = "…"'}."""
    files = {
        name: f'# a comment\nmodule "{name.removesuffix(".tf")}" {{\n  {body}\n}}\n'
        for name, body in blocks.items()
    }
    if config:
        files["tfops.yaml"] = config
    write_files(path, files)
    return path


def run_pins(path: Path, lister: RemoteLister | None = None) -> list[Finding]:
    repo = EnvironmentsRepo(path)
    ctx = GateContext(
        repo=repo,
        root=repo.roots[0],
        terraform=None,  # type: ignore[arg-type]  # the pins gate never calls terraform
        config=repo.config.gates.get("pins"),
        console=Console(io.StringIO()),
        lister=lister or RemoteLister(timeout=10),
    )
    return PinsGate().run(ctx)


def failing(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.fails("low")]


@pytest.fixture
def mods(tmp_path: Path) -> dict[str, str]:
    return module_repo(tmp_path / "mods")


@pytest.mark.parametrize(
    ("ref", "rule", "says"),
    [
        ("v1.2.0-rc1", "pin-prerelease", "ref 'v1.2.0-rc1' is a pre-release"),
        ("feature", "pin-branch", "ref 'feature' is a branch, not a pin"),
        ("main", "pin-branch", "ref 'main' is a branch"),
        ("nightly", "pin-not-release", "tag 'nightly' is not a release tag"),
        ("v9.9.9", "pin-unknown-ref", "ref 'v9.9.9' does not exist in file://"),
        ("a" * 40, "pin-unknown-ref", f"ref '{'a' * 40}' does not exist"),
    ],
)
def test_each_violation_names_module_environment_ref_file_line_and_the_newest_release(
    tmp_path: Path, mods: dict[str, str], ref: str, rule: str, says: str
) -> None:
    path = env_repo(tmp_path / "envs", {"prod_app.tf": f'source = "../mods/modules/m?ref={ref}"'})
    findings = run_pins(path)
    assert [(f.rule, f.severity, f.file, f.line, f.environments) for f in findings] == [
        (rule, "high", "prod_app.tf", 3, ("prod",))
    ]
    message = findings[0].message
    assert message.startswith("module prod_app in prod") and says in message
    assert 'use the newest release: source = "../mods/modules/m?ref=v1.1.0"' in message


@pytest.mark.parametrize("ref", ["v1.1.0", "v1.0.0"])
def test_release_tags_lightweight_and_annotated_resolve_to_their_commit(
    tmp_path: Path, mods: dict[str, str], ref: str
) -> None:
    path = env_repo(tmp_path / "envs", {"prod_app.tf": f'source = "../mods/modules/m?ref={ref}"'})
    assert failing(run_pins(path)) == []
    repo = EnvironmentsRepo(path)
    [module] = Resolver(repo, RemoteLister()).resolve(module_calls(repo, repo.environments["prod"]))
    assert (module.kind, module.commit, module.source.subdir) == ("tag", mods[ref], "modules/m")


def test_a_full_sha_is_a_pin_when_it_exists(tmp_path: Path, mods: dict[str, str]) -> None:
    middle = git(tmp_path / "mods", "rev-parse", "HEAD~1")  # not the tip of any ref
    path = env_repo(
        tmp_path / "envs",
        {"prod_app.tf": f'source = "git::file://{tmp_path}/mods//modules/m?ref={middle}"'},
    )
    assert failing(run_pins(path)) == []


def test_unpinned_modules_in_a_pinned_environment(tmp_path: Path, mods: dict[str, str]) -> None:
    path = env_repo(
        tmp_path / "envs",
        {
            "prod_local.tf": 'source = "../mods/modules/m"',
            "prod_git.tf": f'source = "git::file://{tmp_path}/mods//modules/m"',
            "prod_inside.tf": 'source = "./modules/own"',  # versioned with the repo itself
            "dev_app.tf": 'source = "../mods/modules/m?ref=feature"',  # dev may float
        },
    )
    write_files(path, {"modules/own/main.tf": MODULE})
    findings = run_pins(path)
    assert sorted((f.file, f.rule) for f in findings) == [
        ("prod_git.tf", "pin-missing"),
        ("prod_local.tf", "pin-missing"),
    ]
    local = next(f for f in findings if f.file == "prod_local.tf")
    assert "'../mods/modules/m' has no ?ref=" in local.message
    assert 'source = "../mods/modules/m?ref=v1.1.0"' in local.message


def test_registry_modules_need_an_exact_version(tmp_path: Path) -> None:
    path = env_repo(
        tmp_path / "envs",
        {
            "prod_none.tf": 'source = "hashicorp/consul/aws"',
            "prod_range.tf": 'source  = "hashicorp/consul/aws"\n  version = "~> 0.1"',
            "prod_exact.tf": 'source  = "hashicorp/consul/aws"\n  version = "0.1.0"',
            "prod_s3.tf": 'source = "s3::https://s3.amazonaws.com/bucket/vpc.zip"',
        },
    )
    findings = {f.file: f for f in run_pins(path)}
    assert set(findings) == {"prod_none.tf", "prod_range.tf", "prod_s3.tf"}
    assert findings["prod_none.tf"].rule == "pin-missing"
    assert findings["prod_range.tf"].rule == "registry-version-range"
    assert "version '~> 0.1' is a range" in findings["prod_range.tf"].message
    assert 'version = "1.2.3"' in findings["prod_range.tf"].message
    assert findings["prod_s3.tf"].rule == "pin-unsupported"


def test_only_pinned_environments_are_checked_and_pinned_is_configurable(
    tmp_path: Path, mods: dict[str, str]
) -> None:
    blocks = {"stage_app.tf": 'source = "../mods/modules/m?ref=v1.2.0-rc1"'}
    assert run_pins(env_repo(tmp_path / "a", blocks)) == []
    config = "environments:\n  stage:\n    pinned: true\n"
    path = env_repo(tmp_path / "b", blocks, config)
    assert [f.rule for f in run_pins(path)] == ["pin-prerelease"]


def test_release_pattern_is_configurable(tmp_path: Path, mods: dict[str, str]) -> None:
    git(tmp_path / "mods", "tag", "release-2024.05", "v1.1.0")
    config = "modules:\n  release_tag_pattern: '^release-'\n"
    path = env_repo(
        tmp_path / "envs", {"prod_app.tf": 'source = "../mods/modules/m?ref=v1.1.0"'}, config
    )
    [finding] = run_pins(path)
    assert finding.rule == "pin-not-release"
    assert "'^release-'" in finding.message and "?ref=release-2024.05" in finding.message


def test_a_moved_tag_fails_until_the_lock_is_updated(
    tmp_path: Path, mods: dict[str, str], tfops: Tfops
) -> None:
    path = env_repo(tmp_path / "envs", {"prod_app.tf": 'source = "../mods/modules/m?ref=v1.1.0"'})
    [missing] = run_pins(path)
    assert (missing.rule, missing.severity) == ("lock-missing", "info")  # reported, not failing
    assert tfops("modules", "lock", str(path)).exit_code == 0
    assert run_pins(path) == []

    git(tmp_path / "mods", "tag", "-f", "v1.1.0", "main")  # someone moves the release tag
    [moved] = run_pins(path)
    assert (moved.rule, moved.severity, moved.file, moved.line) == (
        "tag-moved",
        "high",
        "prod_app.tf",
        3,
    )
    assert f"records {mods['v1.1.0']}" in moved.message
    assert f"now has {mods['main']}" in moved.message
    assert "`tfops modules lock`" in moved.message

    result = tfops("modules", "lock", str(path))
    assert f"v1.1.0 moved {mods['v1.1.0'][:12]} → {mods['main'][:12]}" in result.stdout
    assert run_pins(path) == []


def test_require_lock_makes_a_missing_entry_fail(tmp_path: Path, mods: dict[str, str]) -> None:
    path = env_repo(
        tmp_path / "envs",
        {"prod_app.tf": 'source = "../mods/modules/m?ref=v1.1.0"'},
        "modules:\n  require_lock: true\n",
    )
    [finding] = run_pins(path)
    assert (finding.rule, finding.severity) == ("lock-missing", "high")
    assert "has no entry" in finding.message and "`tfops modules lock`" in finding.message


def test_a_changed_ref_needs_a_new_lock_entry(
    tmp_path: Path, mods: dict[str, str], tfops: Tfops
) -> None:
    path = env_repo(tmp_path / "envs", {"prod_app.tf": 'source = "../mods/modules/m?ref=v1.0.0"'})
    tfops("modules", "lock", str(path))
    write_files(
        path, {"prod_app.tf": 'module "prod_app" {\n  source = "../mods/modules/m?ref=v1.1.0"\n}\n'}
    )
    [finding] = run_pins(path)
    assert finding.rule == "lock-missing"
    assert "records '../mods/modules/m?ref=v1.0.0'" in finding.message


def test_unreachable_repositories_are_named_with_the_reason(tmp_path: Path) -> None:
    path = env_repo(
        tmp_path / "envs",
        {
            "prod_gone.tf": f'source = "git::file://{tmp_path}/gone//m?ref=v1.0.0"',
            "prod_https.tf": 'source = "git::https://127.0.0.1:9/org/mods.git?ref=v1.0.0"',
            "prod_ssh.tf": 'source = "git::ssh://git@127.0.0.1:9/org/mods.git?ref=v1.0.0"',
        },
    )
    started = time.monotonic()
    findings = {f.file: f for f in run_pins(path)}
    assert time.monotonic() - started < 20
    assert {f.rule for f in findings.values()} == {"pin-unreachable"}
    assert f"cannot list tags of file://{tmp_path}/gone" in findings["prod_gone.tf"].message
    assert "does not appear to be a git repository" in findings["prod_gone.tf"].message
    https = findings["prod_https.tf"].message
    assert "https://127.0.0.1:9/org/mods.git" in https and "connect" in https.lower()
    ssh = findings["prod_ssh.tf"].message
    assert (
        "ssh://git@127.0.0.1:9/org/mods.git" in ssh and "could not read from remote" in ssh.lower()
    )


def test_shorthands_and_scp_urls_resolve_through_git(
    tmp_path: Path, mods: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """github.com/…, bitbucket.org/… and git@github.com:… reach the real (local) repository:
    git's url.insteadOf points those hosts here, as a mirror setup would."""
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(
        f'[url "file://{tmp_path}/"]\n'
        "\tinsteadOf = https://github.com/acme/\n"
        "\tinsteadOf = https://bitbucket.org/acme/\n"
        "\tinsteadOf = git@github.com:acme/\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    (tmp_path / "mods.git").symlink_to(tmp_path / "mods")
    path = env_repo(
        tmp_path / "envs",
        {
            "prod_github.tf": 'source = "github.com/acme/mods//modules/m?ref=v1.1.0"',
            "prod_bitbucket.tf": 'source = "bitbucket.org/acme/mods//modules/m?ref=v1.0.0"',
            "prod_scp.tf": 'source = "git@github.com:acme/mods.git//modules/m?ref=v1.2.0-rc1"',
        },
    )
    findings = run_pins(path)
    assert sorted((f.file, f.rule) for f in failing(findings)) == [
        ("prod_scp.tf", "pin-prerelease")
    ]
    repo = EnvironmentsRepo(path)
    resolved = Resolver(repo, RemoteLister()).resolve(module_calls(repo, repo.environments["prod"]))
    by_name = {m.call.name: m for m in resolved}
    assert by_name["prod_github"].url == "https://github.com/acme/mods.git"
    assert (by_name["prod_github"].commit, by_name["prod_github"].source.subdir) == (
        mods["v1.1.0"],
        "modules/m",
    )
    assert by_name["prod_bitbucket"].commit == mods["v1.0.0"]  # annotated, peeled


def test_each_repository_is_listed_once_per_run(tmp_path: Path, mods: dict[str, str]) -> None:
    blocks = {f"prod_app{i}.tf": f'source = "../mods/modules/m?ref=v1.{i % 2}.0"' for i in range(6)}
    path = env_repo(tmp_path / "envs", blocks)
    calls: list[str] = []

    class Counting(RemoteLister):
        def _list(self, url: str) -> Any:
            calls.append(url)
            return super()._list(url)

    lister = Counting()
    run_pins(path, lister)
    run_pins(path, lister)
    assert len(calls) == 1


def test_hundreds_of_tags_stay_fast(tmp_path: Path, tfops: Tfops) -> None:
    mods = init_repo(tmp_path / "mods", {"m/main.tf": MODULE})
    head = git(mods, "rev-parse", "HEAD")
    tags = [
        f"v{major}.{minor}.{patch}"
        for major in range(3)
        for minor in range(10)
        for patch in range(20)
    ]
    tags += [f"v2.9.{patch}-rc{n}" for patch in range(20) for n in range(3)]
    lines = "".join(f"create refs/tags/{tag} {head}\n" for tag in tags)
    subprocess.run(["git", "update-ref", "--stdin"], cwd=mods, input=lines, text=True, check=True)
    path = env_repo(tmp_path / "envs", {"prod_app.tf": 'source = "../mods/m?ref=v2.9.20"'})
    started = time.monotonic()
    [finding] = run_pins(path)
    elapsed = time.monotonic() - started
    assert len(tags) == 660 and elapsed < 2.0, elapsed
    assert finding.rule == "pin-unknown-ref"
    assert "newest releases: v2.9.19, v2.9.18, v2.9.17, v2.9.16, v2.9.15 …" in finding.message

    write_files(
        path, {"prod_app.tf": 'module "prod_app" {\n  source = "../mods/m?ref=v2.5.3"\n}\n'}
    )
    rows = tfops.json("modules", str(path), "-e", "prod")["modules"]
    assert (rows[0]["newest_release"], rows[0]["releases_behind"]) == ("v2.9.19", 4 * 20 + 16)


def test_the_gate_runs_in_check_and_plan_on_the_bundled_example(
    sandbox: Path, tfops: Tfops
) -> None:
    result = tfops("check", str(sandbox), "--gate", "pins")
    assert result.exit_code == 0, result.output
    assert "pins" in result.stdout and "lock-missing" in result.stdout

    prod = sandbox / "prod_back_end.tf"
    prod.write_text(prod.read_text().replace("?ref=v1.1.0", "?ref=v1.2.0-rc1"))
    result = tfops("check", str(sandbox), "--gate", "pins")
    assert result.exit_code == 3
    assert (
        "prod_back_end.tf:3: module prod_back_end in prod: ref 'v1.2.0-rc1' is a pre-release"
        in (result.stdout)
    )
    assert "[pin-prerelease]" in result.stdout


def test_tag_index_orders_like_sort_tags_and_keeps_releases_only() -> None:
    tags = ["latest", "v1.0.0", "v2.0.0-rc1", "v1.10.0", "v2.0.0", "v1.2.0", "nightly", "1.3.0"]
    index = TagIndex.build(tags, re.compile(r"^v?\d+\.\d+\.\d+$"))
    assert list(index.tags) == sort_tags(tags)
    assert index.releases == ("v2.0.0", "v1.10.0", "1.3.0", "v1.2.0", "v1.0.0")
    assert index.releases_newer_than("v1.2.0") == 3
    assert index.releases_newer_than("v2.0.0-rc1") == 1
    assert index.releases_newer_than("nightly") is None
