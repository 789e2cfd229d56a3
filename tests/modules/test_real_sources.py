"""Module sources as public repos write them (issue 12 rows 1, 2, 3, 9) and sources git must
never see (issue 13 #12)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tfops
from tests.gates.test_pins import env_repo, failing, module_repo, run_pins
from tests.helpers import init_repo, write_files
from tfops.console import Console
from tfops.gates.base import Finding, GateContext
from tfops.gates.pins import PinsGate
from tfops.modules.calls import module_calls
from tfops.modules.remote import RemoteLister
from tfops.modules.resolve import Resolver
from tfops.modules.sources import parse_source
from tfops.repo.environments import EnvironmentsRepo


@pytest.fixture
def mods(tmp_path: Path) -> dict[str, str]:
    return module_repo(tmp_path / "mods")


def test_json_configuration_is_pinned_like_native_files(tmp_path: Path, tfops: Tfops) -> None:
    module_repo(tmp_path / "mods")
    body = {"module": {"prod_db": {"source": f"git::file://{tmp_path}/mods//modules/m"}}}
    path = init_repo(
        tmp_path / "envs",
        {"main.tf": "", "prod_db.tf.json": json.dumps(body, indent=2) + "\n"},
    )
    [finding] = run_pins(path)
    assert (finding.rule, finding.file, finding.line) == ("pin-missing", "prod_db.tf.json", 4)
    listed = tfops.json("modules", str(path))
    assert [(m["name"], m["file"], m["line"]) for m in listed["modules"]] == [
        ("prod_db", "prod_db.tf.json", 4)
    ]


def test_an_override_file_decides_the_source_pins_and_modules_see(
    tmp_path: Path, mods: dict[str, str], tfops: Tfops
) -> None:
    path = env_repo(
        tmp_path / "envs", {"prod_back_end.tf": 'source = "../mods/modules/m?ref=v1.1.0"'}
    )
    write_files(
        path,
        {
            "main.tf": "",
            "prod_back_end_override.tf": '# local debugging\nmodule "prod_back_end" {\n'
            '  source = "../mods/modules/m"\n}\n',
        },
    )
    [finding] = failing(run_pins(path))
    assert (finding.rule, finding.file, finding.line) == (
        "pin-missing",
        "prod_back_end_override.tf",
        3,
    )
    listed = tfops.json("modules", str(path))
    [row] = listed["modules"]
    assert (row["source"], row["file"]) == ("../mods/modules/m", "prod_back_end_override.tf")


@pytest.mark.parametrize(
    ("ref", "rule"),
    [
        ("tags/v1.1.0", None),
        ("refs/tags/v1.1.0", None),
        ("tags/v1.2.0-rc1", "pin-prerelease"),
        ("heads/main", "pin-branch"),  # a branch, spelled as git spells it
        ("refs/heads/feature", "pin-branch"),
        ("tags/feature", "pin-unknown-ref"),
    ],
)
def test_refs_are_resolved_like_git_resolves_them(
    tmp_path: Path, mods: dict[str, str], ref: str, rule: str | None
) -> None:
    path = env_repo(tmp_path / "envs", {"prod_app.tf": f'source = "../mods/modules/m?ref={ref}"'})
    assert [f.rule for f in failing(run_pins(path))] == ([rule] if rule else [])
    if rule is None:
        repo = EnvironmentsRepo(path)
        calls = module_calls(repo, repo.environments["prod"])
        [module] = Resolver(repo, RemoteLister()).resolve(calls)
        assert (module.kind, module.tag, module.commit) == ("tag", "v1.1.0", mods["v1.1.0"])


def test_a_tags_ref_can_be_locked_and_planned(
    tmp_path: Path, mods: dict[str, str], tfops: Tfops
) -> None:
    path = env_repo(
        tmp_path / "envs", {"prod_app.tf": 'source = "../mods/modules/m?ref=tags/v1.1.0"'}
    )
    assert tfops("modules", "lock", str(path)).exit_code == 0
    assert run_pins(path) == []
    planned = tfops("plan", str(path), "--format", "json")
    assert planned.exit_code == 0, planned.output


def test_github_shorthand_paths_beyond_owner_and_repo_are_the_subdirectory(
    tmp_path: Path, mods: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "file://{tmp_path}/"]\n\tinsteadOf = https://github.com/acme/\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    (tmp_path / "mods.git").symlink_to(tmp_path / "mods")
    path = env_repo(
        tmp_path / "envs", {"prod_app.tf": 'source = "github.com/acme/mods/modules/m?ref=v1.1.0"'}
    )
    assert failing(run_pins(path)) == []
    source = parse_source("github.com/acme/mods/modules/m?ref=v1.1.0")
    assert (source.url, source.subdir, source.ref) == (
        "https://github.com/acme/mods.git",
        "modules/m",
        "v1.1.0",
    )


class Recording(RemoteLister):
    """A real lister that also records every URL handed to git."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.urls: list[str] = []

    def _list(self, url: str) -> Any:
        self.urls.append(url)
        return super()._list(url)


@pytest.mark.parametrize(
    "source",
    [
        "git::--upload-pack=touch {marker};/x",
        "git::ext::sh -c touch% {marker}",
        "ext::sh -c touch% {marker}",
        "git::foo://example.com/x.git?ref=v1",
        "git::file://{tmp}/mods?ref=--upload-pack=touch%20{marker}",
    ],
)
def test_sources_git_must_never_see_are_refused_with_file_and_line(
    tmp_path: Path, mods: dict[str, str], tfops: Tfops, source: str
) -> None:
    marker = tmp_path / "pwned"
    written = source.format(marker=marker, tmp=tmp_path)
    path = env_repo(tmp_path / "envs", {"dev_app.tf": f'source = "{written}"'})  # not pinned
    lister = Recording()
    [finding] = run_pins(path, lister)
    assert (finding.rule, finding.severity, finding.file, finding.line) == (
        "pin-unsafe-source",
        "critical",
        "dev_app.tf",
        3,
    )
    assert lister.urls == []
    checked = tfops("check", str(path), "--all", "--gate", "pins", "--gate", "validate")
    assert checked.exit_code == 3, checked.output
    assert "pin-unsafe-source" in checked.stdout and "dev_app.tf:3" in checked.stdout
    listed = tfops("modules", str(path))
    assert listed.exit_code == 1 and "dev_app.tf:3" in listed.output
    planned = tfops("plan", str(path), "--no-gates")  # terraform init never sees it either
    assert planned.exit_code == 1 and "dev_app.tf:3" in planned.output
    assert not marker.exists()


def test_modules_an_in_repo_module_calls_are_pinned_too(tmp_path: Path, tfops: Tfops) -> None:
    """terraform-example-foundation's shape: prod calls `../../modules/env_baseline`
    (versioned with the repo), which calls registry modules with version ranges."""
    module_repo(tmp_path / "mods")
    path = init_repo(
        tmp_path / "envs",
        {
            "envs/prod/main.tf": 'module "env" {\n  source = "../../modules/env_baseline"\n}\n',
            "envs/dev/main.tf": 'module "env" {\n  source = "../../modules/env_baseline"\n}\n',
            "modules/env_baseline/main.tf": 'module "project" {\n'
            '  source  = "terraform-google-modules/project-factory/google"\n'
            '  version = "~> 18.0"\n}\n\n'
            'module "network" {\n  source = "../network"\n}\n',
            "modules/network/main.tf": 'module "vpc" {\n'
            f'  source = "git::file://{tmp_path}/mods//modules/m?ref=feature"\n}}\n',
        },
    )
    findings = failing(pins_in(path, "envs/prod"))
    assert sorted((f.rule, f.file, f.line) for f in findings) == [
        ("pin-branch", "modules/network/main.tf", 2),
        ("registry-version-range", "modules/env_baseline/main.tf", 2),
    ]
    assert any("module env.network.vpc in prod" in f.message for f in findings)
    assert failing(pins_in(path, "envs/dev")) == []  # dev may float
    listed = tfops.json("modules", str(path), "-e", "prod")
    assert [m["name"] for m in listed["modules"]] == [
        "env",
        "env.project",
        "env.network",
        "env.network.vpc",
    ]


def pins_in(path: Path, root: str) -> list[Finding]:
    """The pins gate in one root of a directory-layout repo."""
    repo = EnvironmentsRepo(path)
    [found] = [r for r in repo.roots if repo.relative(r.path) == root]
    ctx = GateContext(
        repo=repo,
        root=found,
        terraform=None,  # type: ignore[arg-type]  # the pins gate never calls terraform
        config=repo.config.gates.get("pins"),
        console=Console(io.StringIO()),
        lister=RemoteLister(timeout=10),
    )
    return PinsGate().run(ctx)
