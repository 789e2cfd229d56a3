"""The moved-tag check the apply path calls on every apply, gates or not (issue 13 #17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.gates.test_pins import env_repo, module_repo
from tests.helpers import git
from tfops.gates.pins import moved_tag_findings
from tfops.modules.lock import moved_tags
from tfops.modules.remote import RemoteLister
from tfops.repo.environments import EnvironmentsRepo


@pytest.fixture
def mods(tmp_path: Path) -> dict[str, str]:
    return module_repo(tmp_path / "mods")


def test_moved_tags_is_the_check_the_apply_path_calls(
    tmp_path: Path, mods: dict[str, str], tfops: Tfops
) -> None:
    path = env_repo(
        tmp_path / "envs",
        {
            "prod_app.tf": 'source = "../mods/modules/m?ref=v1.1.0"',
            "prod_other.tf": 'source = "../mods/modules/m?ref=v1.0.0"',
        },
    )
    assert tfops("modules", "lock", str(path)).exit_code == 0
    repo = EnvironmentsRepo(path)
    assert moved_tags(repo, repo.environments.values(), RemoteLister()) == []

    git(tmp_path / "mods", "tag", "-f", "v1.1.0", "main")
    [moved] = moved_tags(repo, repo.environments.values(), RemoteLister())
    assert moved.module.call.name == "prod_app"
    assert (moved.entry.commit, moved.module.commit) == (mods["v1.1.0"], mods["main"])
    [finding] = moved_tag_findings(repo, [repo.environments["prod"]], RemoteLister())
    assert (finding.rule, finding.file, finding.line) == ("tag-moved", "prod_app.tf", 3)
    assert f"records {mods['v1.1.0']}" in finding.message
