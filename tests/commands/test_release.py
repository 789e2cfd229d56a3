"""`tfops release TAG`: a tested candidate becomes the release tag on its own commit.

Real git repositories with real tags, and real `terraform test` runs; the caller's
checkout (HEAD, branch, status, every file's bytes, worktrees, stash) must be exactly as
it was after every outcome.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import GIT_ENV, commit, git
from tests.modules.repos import BROKEN_DB, DB, DB_TESTS, MODULES, module_repo, state_of, tags


@pytest.fixture(autouse=True)
def _identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def backend(tmp_path: Path) -> Path:
    """A module repo with the candidate v1.0.0-rc1, and main one commit further."""
    repo = module_repo(tmp_path / "backend")
    git(repo, "tag", "-a", "v1.0.0-rc1", "-m", "Release candidate 1.0.0-rc1")
    commit(repo, {"infrastructure/modules/db/README.md": "db\n"}, "Document the db module")
    return repo


def test_a_passing_candidate_is_released_on_its_own_commit_not_on_main(
    backend: Path, tfops: Tfops
) -> None:
    candidate = git(backend, "rev-parse", "v1.0.0-rc1^{commit}")
    assert git(backend, "rev-parse", "main") != candidate
    # the caller's checkout is dirty, and its edit would fail the tests
    (backend / DB).write_text(BROKEN_DB)
    (backend / "notes.txt").write_text("untracked\n")
    before = state_of(backend)

    result = tfops("release", "v1.0.0-rc1", str(backend))
    assert result.exit_code == 0, result.output
    assert tags(backend)["v1.0.0"] == candidate
    assert git(backend, "cat-file", "-t", "v1.0.0") == "tag"  # annotated
    assert (
        f"Released v1.0.0 on {candidate[:12]} (candidate v1.0.0-rc1): 2 module(s) checked, "
        "3 test run(s) passed."
    ) in result.stdout
    assert state_of(backend) == before

    message = git(backend, "tag", "-l", "--format=%(contents)", "v1.0.0")
    assert message.startswith("v1.0.0: release of backend from candidate v1.0.0-rc1\n")
    assert f"`tfops module check` passed on {candidate} (v1.0.0-rc1)" in message
    assert f'  pass  {DB_TESTS}: run "names_the_database"' in message
    assert f'  pass  {DB_TESTS}: run "serves_postgres"' in message
    assert "infrastructure/modules/db: fmt passed, validate passed, tflint skipped" in message
    trailers = git(backend, "tag", "-l", "--format=%(contents:trailers)", "v1.0.0")
    assert f"Release-Candidate: v1.0.0-rc1\nTested-Commit: {candidate}\n" in trailers


def test_a_failing_test_blocks_the_release_and_names_the_test_file_and_run(
    backend: Path, tfops: Tfops
) -> None:
    commit(backend, {DB: BROKEN_DB}, "Rename the database")
    git(backend, "tag", "v1.1.0-rc1")
    # fixed in the caller's working tree: that must not matter either
    (backend / DB).write_text((backend / DB).read_text().replace("pg-", "db-"))
    before = state_of(backend)

    result = tfops("release", "v1.1.0-rc1", str(backend))
    assert result.exit_code == 3, result.output
    assert "Not released: v1.1.0-rc1 fails the module check; nothing was tagged." in result.stderr
    assert "module infrastructure/modules/db: test failed" in result.stderr
    assert (
        f'{DB_TESTS}:9: run "names_the_database" failed: the database is called pg-test, '
        "not db-test"
    ) in result.stderr
    assert "v1.1.0" not in tags(backend)
    assert state_of(backend) == before


def test_an_existing_release_elsewhere_is_refused_and_says_where_it_points(
    backend: Path, tfops: Tfops
) -> None:
    main = git(backend, "rev-parse", "main")
    git(backend, "tag", "v1.0.0", "main")
    before = state_of(backend), tags(backend)
    result = tfops("release", "v1.0.0-rc1", str(backend))
    assert result.exit_code == 1
    assert (
        f"refusing to release v1.0.0-rc1: v1.0.0 already exists and points at {main[:12]} "
        "(Document the db module), not at v1.0.0-rc1's commit"
    ) in result.stderr
    assert "a release tag never moves" in result.stderr
    assert (state_of(backend), tags(backend)) == before


def test_a_release_already_on_the_candidates_commit_is_done(backend: Path, tfops: Tfops) -> None:
    assert tfops("release", "v1.0.0-rc1", str(backend)).exit_code == 0
    again = tfops("release", "v1.0.0-rc1", str(backend))
    assert again.exit_code == 0
    assert "v1.0.0 already exists on" in again.stdout and "released" in again.stdout
    assert "Checking module" not in again.stderr  # nothing was run again


@pytest.mark.parametrize(
    ("tag", "says"),
    [
        ("v1.0.0", "it is not a release candidate (modules.release_candidate_pattern"),
        ("main", "it is not a release candidate"),
        ("v9.9.9-rc1", "there is no tag 'v9.9.9-rc1' in backend"),
        ("-c core.sshCommand=evil-rc1", "there is no tag '-c core.sshCommand=evil-rc1'"),
    ],
)
def test_what_is_not_a_candidate_is_refused(
    backend: Path, tfops: Tfops, tag: str, says: str
) -> None:
    git(backend, "tag", "v1.0.0", "v1.0.0-rc1")
    git(backend, "tag", "main", "main")  # a tag that shares the branch's name
    before = state_of(backend), tags(backend)
    result = tfops("release", "--", tag, str(backend))
    assert result.exit_code == 1
    assert says in result.stderr
    assert (state_of(backend), tags(backend)) == before


def test_a_candidate_older_than_a_release_is_refused(backend: Path, tfops: Tfops) -> None:
    git(backend, "tag", "v1.1.0", "main")
    git(backend, "tag", "v1.0.1-rc1", "main")
    git(backend, "tag", "v1.2.0-rc1", "v1.0.0-rc1")  # newer version, older commit
    before = state_of(backend), tags(backend)

    older = tfops("release", "v1.0.1-rc1", str(backend))
    assert older.exit_code == 1
    assert "v1.0.1 is older than the existing release v1.1.0" in older.stderr
    behind = tfops("release", "v1.2.0-rc1", str(backend))
    assert behind.exit_code == 1
    assert "is older than v1.1.0's" in behind.stderr
    assert "it lacks 1 commit(s) v1.1.0 has" in behind.stderr
    assert (state_of(backend), tags(backend)) == before


def test_push_sends_the_release_tag_to_a_real_remote(
    backend: Path, tfops: Tfops, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(backend), str(remote))
    git(backend, "remote", "add", "origin", str(remote))
    candidate = git(backend, "rev-parse", "v1.0.0-rc1^{commit}")

    result = tfops("release", "v1.0.0-rc1", str(backend), "--push")
    assert result.exit_code == 0, result.output
    assert "Pushed v1.0.0 to origin." in result.stdout
    assert tags(remote)["v1.0.0"] == candidate
    assert git(remote, "cat-file", "-t", "v1.0.0") == "tag"


def test_a_release_the_remote_already_has_elsewhere_is_refused_before_testing(
    backend: Path, tfops: Tfops, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(backend), str(remote))
    git(remote, "tag", "v1.0.0", "main")  # another runner released main meanwhile
    git(backend, "remote", "add", "origin", str(remote))
    result = tfops("release", "v1.0.0-rc1", str(backend), "--push")
    assert result.exit_code == 1
    assert "v1.0.0 already exists and points at" in result.stderr
    assert "v1.0.0" not in tags(backend)


def test_a_rejected_push_leaves_nothing_tagged(backend: Path, tfops: Tfops, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(backend), str(remote))
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'tags are protected here' >&2\nexit 1\n")
    hook.chmod(0o755)
    git(backend, "remote", "add", "origin", str(remote))
    result = tfops("release", "v1.0.0-rc1", str(backend), "--push")
    assert result.exit_code == 1
    assert "could not push v1.0.0 to origin" in result.stderr
    assert "nothing is tagged" in result.stderr
    assert "v1.0.0" not in tags(backend) and "v1.0.0" not in tags(remote)


def test_dry_run_shows_the_tag_message_and_tags_nothing(backend: Path, tfops: Tfops) -> None:
    result = tfops("release", "v1.0.0-rc1", str(backend), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: would tag v1.0.0 on" in result.stdout
    assert "v1.0.0: release of backend from candidate v1.0.0-rc1" in result.stdout
    assert "v1.0.0" not in tags(backend)


def test_sign_makes_a_signed_tag_git_verifies(backend: Path, tfops: Tfops, tmp_path: Path) -> None:
    key = tmp_path / "signing"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"test@example.com {(tmp_path / 'signing.pub').read_text()}")
    git(backend, "config", "gpg.format", "ssh")
    git(backend, "config", "user.signingkey", str(key))
    git(backend, "config", "gpg.ssh.allowedSignersFile", str(allowed))

    result = tfops("release", "v1.0.0-rc1", str(backend), "--sign")
    assert result.exit_code == 0, result.output
    verified = subprocess.run(
        ["git", "tag", "-v", "v1.0.0"], cwd=backend, capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for test@example.com' in verified.stderr


def test_the_candidates_own_tfops_yaml_decides_its_pattern(backend: Path, tfops: Tfops) -> None:
    config = (
        "modules:\n"
        "  release_candidate_pattern: '^(?P<release>\\d+\\.\\d+\\.\\d+)-candidate\\d+$'\n"
        "  release_tag_pattern: '^\\d+\\.\\d+\\.\\d+$'\n"
    )
    commit(backend, {"tfops.yaml": config}, "Our own tag names", tags=["2.0.0-candidate1"])
    result = tfops("release", "2.0.0-candidate1", str(backend))
    assert result.exit_code == 0, result.output
    assert tags(backend)["2.0.0"] == git(backend, "rev-parse", "main")


def test_the_candidate_cannot_choose_its_own_settings(
    backend: Path, tfops: Tfops, tmp_path: Path
) -> None:
    """Gates, patterns and the terraform binary come from the default branch (DESIGN §5)."""
    marker = tmp_path / "ran"
    evil = tmp_path / "evil-terraform"
    evil.write_text(f'#!/bin/sh\ntouch {marker}\nexec terraform "$@"\n')
    evil.chmod(0o755)
    git(backend, "checkout", "-q", "-b", "feature")
    settings = (
        f"terraform:\n  binary: {evil}\n"
        "modules:\n  release_candidate_pattern: '^(?P<release>v\\d+\\.\\d+\\.\\d+)-sneaky$'\n"
    )
    commit(backend, {"tfops.yaml": settings}, "Choose my own settings", tags=["v3.0.0-rc1"])
    git(backend, "tag", "v4.0.0-sneaky")
    git(backend, "checkout", "-q", "main")

    sneaky = tfops("release", "v4.0.0-sneaky", str(backend))
    assert sneaky.exit_code == 1 and "it is not a release candidate" in sneaky.stderr
    result = tfops("release", "v3.0.0-rc1", str(backend))
    assert result.exit_code == 0, result.output
    assert "Settings: tfops.yaml of heads/main" in result.stderr
    assert not marker.exists()


def test_push_of_a_release_made_earlier_pushes_only_the_tag(
    backend: Path, tfops: Tfops, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(backend), str(remote))
    git(backend, "remote", "add", "origin", str(remote))
    assert tfops("release", "v1.0.0-rc1", str(backend)).exit_code == 0
    pushed = tfops("release", "v1.0.0-rc1", str(backend), "--push")
    assert pushed.exit_code == 0, pushed.output
    assert "v1.0.0 already exists on" in pushed.stdout
    assert "Pushed v1.0.0 to origin." in pushed.stdout
    assert "Checking module" not in pushed.stderr
    assert tags(remote)["v1.0.0"] == tags(backend)["v1.0.0"]


def test_a_module_repo_inside_a_bigger_checkout(tmp_path: Path, tfops: Tfops) -> None:
    """The seed's backend repo: an app with its modules under infrastructure/ — here the
    module repo is `terraform/` of the checkout, with its own tfops.yaml."""
    checkout = module_repo(
        tmp_path / "app",
        {f"terraform/{name}": text for name, text in MODULES.items()}
        | {"terraform/tfops.yaml": "gates:\n  tflint:\n    enabled: false\n"},
    )
    git(checkout, "tag", "v2.0.0-rc1")
    result = tfops("release", "v2.0.0-rc1", str(checkout / "terraform"))
    assert result.exit_code == 0, result.output
    assert "Settings: tfops.yaml of heads/main" in result.stderr
    message = git(checkout, "tag", "-l", "--format=%(contents)", "v2.0.0")
    assert f'  pass  terraform/{DB_TESTS}: run "serves_postgres"' in message
    assert "terraform/infrastructure/modules/db: fmt passed, validate passed, tfsec" in message
