"""The seed's sibling-repo convention, resolved to real git repos and an override file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit, git, init_repo, write_files
from tfops.errors import ModuleRefError, TfopsError
from tfops.modules.calls import module_calls
from tfops.modules.overrides import write_override
from tfops.modules.prepare import prepare_root
from tfops.modules.remote import RemoteLister
from tfops.modules.siblings import resolve_sibling
from tfops.repo.environments import EnvironmentsRepo

MODULE = 'resource "terraform_data" "x" {\n  input = 1\n}\n'


def env_repo(path: Path, source: str, extra: dict[str, str] | None = None) -> EnvironmentsRepo:
    write_files(
        path, {"prod_app.tf": f'module "prod_app" {{\n  source = "{source}"\n}}\n', **(extra or {})}
    )
    return EnvironmentsRepo(path)


def test_local_checkout_next_to_the_environments_repo(tmp_path: Path) -> None:
    backend = init_repo(tmp_path / "backend", {"infrastructure/modules/back_end/main.tf": MODULE})
    sha = commit(backend, {"README.md": "x"}, tags=["v2.0.0"])
    commit(backend, {"README.md": "newer"})  # main is ahead of the release
    git(backend, "tag", "-a", "v2.1.0-rc1", "-m", "annotated")
    repo = env_repo(
        tmp_path / "environments", "../backend/infrastructure/modules/back_end?ref=v2.0.0"
    )
    root = repo.roots[0]
    siblings = prepare_root(repo, root, RemoteLister())
    assert siblings[0].commit == sha
    assert siblings[0].source.url == backend.resolve().as_uri()
    assert siblings[0].source.subdir == "infrastructure/modules/back_end"
    override = (root.path / "tfops_override.tf").read_text()
    assert (
        f'source = "git::{backend.resolve().as_uri()}//infrastructure/modules/back_end?ref=v2.0.0"'
        in override
    )
    assert (root.path / "prod_app.tf").read_text().count(
        "?ref=v2.0.0"
    ) == 1  # user's file untouched


def test_missing_ref_lists_existing_tags_newest_first(tmp_path: Path) -> None:
    backend = init_repo(tmp_path / "backend", {"m/main.tf": MODULE})
    for tag in ("v1.0.0", "v1.10.0", "v1.2.0"):
        commit(backend, {"m/x.tf": tag}, tags=[tag])
    repo = env_repo(tmp_path / "environments", "../backend/m?ref=v3.0.0")
    with pytest.raises(ModuleRefError) as info:
        prepare_root(repo, repo.roots[0], RemoteLister())
    message = str(info.value)
    assert message.startswith("prod_app.tf:2: module 'prod_app': ref 'v3.0.0' does not exist")
    assert "v1.10.0, v1.2.0, v1.0.0" in message


def test_mapping_from_config_wins(tmp_path: Path) -> None:
    repo = env_repo(
        tmp_path / "environments",
        "../backend/infrastructure/modules/back_end?ref=v2.0.0",
        {
            "tfops.yaml": "modules:\n  repos:\n    ../backend: https://git.example.com/org/backend.git\n"
        },
    )
    call = module_calls(repo, repo.environments["prod"])[0]
    source = resolve_sibling(repo, call)
    assert (source.url, source.subdir) == (
        "https://git.example.com/org/backend.git",
        "infrastructure/modules/back_end",
    )


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("https://github.com/acme/environments.git", "https://github.com/acme/backend.git"),
        ("git@github.com:acme/environments.git", "git@github.com:acme/backend.git"),
        ("ssh://git@git.example.com/acme/environments", "ssh://git@git.example.com/acme/backend"),
    ],
)
def test_url_derived_from_the_environments_remote(
    tmp_path: Path, origin: str, expected: str
) -> None:
    path = init_repo(tmp_path / "environments")
    git(path, "remote", "add", "origin", origin)
    repo = env_repo(path, "../backend/infrastructure/modules/back_end?ref=v2.0.0")
    source = resolve_sibling(repo, module_calls(repo, repo.environments["prod"])[0])
    assert source.url == expected and source.subdir == "infrastructure/modules/back_end"


def test_unresolvable_sibling_says_how_to_configure_it(tmp_path: Path) -> None:
    repo = env_repo(tmp_path / "environments", "../backend/m?ref=v1.0.0")
    with pytest.raises(ModuleRefError) as info:
        resolve_sibling(repo, module_calls(repo, repo.environments["prod"])[0])
    assert "prod_app.tf:2" in str(info.value) and "modules.repos" in str(info.value)


def test_unreachable_repo_names_module_and_reason(tmp_path: Path) -> None:
    repo = env_repo(
        tmp_path / "environments",
        "../backend/m?ref=v1.0.0",
        {"tfops.yaml": f"modules:\n  repos:\n    ../backend: {tmp_path / 'gone'}\n"},
    )
    with pytest.raises(ModuleRefError) as info:
        prepare_root(repo, repo.roots[0], RemoteLister(timeout=10))
    assert "module 'prod_app': cannot list tags of" in str(info.value)
    assert "does not appear to be a git repository" in str(info.value)


def test_override_never_replaces_a_users_file(tmp_path: Path) -> None:
    (tmp_path / "tfops_override.tf").write_text("# mine\n")
    with pytest.raises(TfopsError, match="was not generated by tfops"):
        write_override(tmp_path, {"a": "git::x"})
    assert (tmp_path / "tfops_override.tf").read_text() == "# mine\n"


def test_override_is_removed_when_no_longer_needed_and_ignored_by_git(tmp_path: Path) -> None:
    path = init_repo(tmp_path / "environments")
    write_override(path, {"a": "git::file:///x?ref=v1"})
    assert git(path, "status", "--porcelain") == ""
    write_override(path, {})
    assert not (path / "tfops_override.tf").exists()
