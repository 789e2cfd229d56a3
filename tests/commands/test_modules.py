"""`tfops modules` and `tfops modules lock` on the bundled example and real git repositories."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import Tfops
from tests.helpers import commit, git, write_files
from tfops.modules.inventory import RepoMirrors


def rows_by_name(report: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {row["name"]: row for row in report["modules"]}


def test_each_environment_with_ref_commit_newest_release_and_distance(
    sandbox: Path, tfops: Tfops
) -> None:
    modules = sandbox.parent / "modules"
    result = tfops("modules", str(sandbox))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    prod = next(ln for ln in lines if ln.strip().startswith("prod_back_end"))
    assert prod.split()[:7] == [
        "prod_back_end",
        "v1.1.0",
        git(modules, "rev-parse", "v1.1.0^{commit}")[:12],
        "v1.1.0",
        "0",
        "releases,",
        "3",
    ]
    assert "prod (pinned)" in lines and "dev (floating allowed)" in lines
    dev = next(ln for ln in lines if ln.strip().startswith("dev_back_end"))
    assert "floating (main)" in dev and git(modules, "rev-parse", "main")[:12] in dev
    assert "(dev_back_end.tf:3)" in dev

    report = tfops.json("modules", str(sandbox))
    rows = rows_by_name(report)
    assert rows["prod_back_end"] == {
        "environment": "prod",
        "name": "prod_back_end",
        "source": "../modules/back_end?ref=v1.1.0",
        "kind": "sibling",
        "file": "prod_back_end.tf",
        "line": 3,
        "pinned": True,
        "ref": "v1.1.0",
        "commit": git(modules, "rev-parse", "v1.1.0^{commit}"),
        "newest_release": "v1.1.0",
        "releases_behind": 0,
        "commits_behind": 3,
        "follows": None,
    }
    assert rows["dev_back_end"]["ref"] is None and rows["dev_back_end"]["follows"] == "main"
    assert rows["dev_back_end"]["commits_behind"] == 0
    assert report["notes"] == [] and report["errors"] == []


def test_markdown_and_one_environment(sandbox: Path, tfops: Tfops) -> None:
    result = tfops("modules", str(sandbox), "-e", "prod", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "#### prod (pinned)" in result.stdout and "dev" not in result.stdout
    assert "| `prod_back_end` | v1.1.0 | `" in result.stdout
    assert "| v1.1.0 | 0 | 3 | `../modules/back_end?ref=v1.1.0` (prod_back_end.tf:3) |" in (
        result.stdout
    )


def test_outdated_and_history_follow_new_releases(sandbox: Path, tfops: Tfops) -> None:
    modules = sandbox.parent / "modules"
    assert tfops("modules", str(sandbox), "--outdated").stdout == (
        "No modules with a newer release.\n"
    )
    git(modules, "tag", "-a", "v1.2.0", "-m", "Release 1.2.0", "main")
    commit(modules, {"back_end/extra.tf": "# more"})
    report = tfops.json("modules", str(sandbox), "--outdated")
    rows = rows_by_name(report)
    assert set(rows) == {"prod_back_end", "prod_front_end"}  # dev floats on main: not behind
    assert rows["prod_back_end"]["newest_release"] == "v1.2.0"
    assert rows["prod_back_end"]["releases_behind"] == 1
    assert rows["prod_back_end"]["commits_behind"] == 4  # the mirror was fetched again
    mirror = RepoMirrors().path(modules.resolve().as_uri())
    assert mirror.parent == Path(os.environ["XDG_CACHE_HOME"]) / "tfops" / "repos"
    assert git(mirror, "rev-parse", "v1.2.0^{commit}") == git(modules, "rev-parse", "main~1")


def test_sha_and_branch_pins_are_measured_by_history(sandbox: Path, tfops: Tfops) -> None:
    modules = sandbox.parent / "modules"
    rc = git(modules, "rev-parse", "v1.2.0-rc1^{commit}")
    write_files(
        sandbox,
        {
            "dev_back_end.tf": 'module "dev_back_end" {\n'
            f'  source = "git::file://{modules}//back_end?ref={rc}"\n}}\n',
            "dev_front_end.tf": 'module "dev_front_end" {\n'
            '  source = "../modules/front_end?ref=v1.0.0"\n}\n',
        },
    )
    rows = rows_by_name(tfops.json("modules", str(sandbox), "-e", "dev"))
    assert (rows["dev_back_end"]["ref"], rows["dev_back_end"]["commit"]) == (rc, rc)
    assert rows["dev_back_end"]["releases_behind"] == 0  # contains every release
    assert rows["dev_back_end"]["commits_behind"] == 2
    assert rows["dev_front_end"]["releases_behind"] == 1  # v1.1.0 is newer
    assert rows["dev_front_end"]["commits_behind"] == 4


def test_an_unreachable_repository_is_an_error_but_the_rest_is_shown(
    sandbox: Path, tfops: Tfops
) -> None:
    write_files(
        sandbox,
        {
            "dev_dns.tf": 'module "dev_gone" {\n'
            '  source = "git::https://127.0.0.1:9/acme/gone.git?ref=v1.0.0"\n}\n'
        },
    )
    result = tfops("modules", str(sandbox))
    assert result.exit_code == 1
    assert "prod_back_end" in result.stdout
    assert "module 'dev_gone': cannot list tags of https://127.0.0.1:9/acme/gone.git" in (
        result.stderr
    )


class Registry(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Registry.requests.append(self.path)
        if self.path != "/v1/modules/hashicorp/consul/aws/versions":
            self.send_error(404)
            return
        body = json.dumps(
            {
                "modules": [
                    {
                        "source": "hashicorp/consul/aws",
                        "versions": [
                            {"version": v} for v in ("0.1.0", "0.11.0", "0.2.0", "0.12.0-beta1")
                        ],
                    }
                ]
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Registry.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_registry_modules_show_the_newest_version(
    sandbox: Path, tfops: Tfops, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFOPS_REGISTRY_URL", registry)
    write_files(
        sandbox,
        {
            "prod_dns.tf": 'module "prod_consul" {\n'
            '  source  = "hashicorp/consul/aws"\n  version = "0.2.0"\n}\n'
        },
    )
    rows = rows_by_name(tfops.json("modules", str(sandbox), "-e", "prod"))
    consul = rows["prod_consul"]
    assert (consul["kind"], consul["ref"], consul["commit"]) == ("registry", "0.2.0", None)
    assert (consul["newest_release"], consul["releases_behind"]) == ("0.11.0", 1)
    assert Registry.requests == ["/v1/modules/hashicorp/consul/aws/versions"]


def test_an_offline_registry_is_a_note_never_a_failure(
    sandbox: Path, tfops: Tfops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFOPS_REGISTRY_URL", "http://127.0.0.1:9")
    write_files(
        sandbox,
        {"prod_dns.tf": 'module "prod_consul" {\n  source = "hashicorp/consul/aws"\n}\n'},
    )
    result = tfops("modules", str(sandbox), "-e", "prod")
    assert result.exit_code == 0, result.output
    assert "prod_consul" in result.stdout and "no version" in result.stdout
    assert "registry unreachable: cannot list versions of hashicorp/consul/aws" in result.stderr


def test_lock_writes_sorted_stable_json_and_only_for_pinned_environments(
    sandbox: Path, tfops: Tfops
) -> None:
    modules = sandbox.parent / "modules"
    result = tfops("modules", "lock", str(sandbox))
    assert result.exit_code == 0, result.output
    assert "tfops.lock.json: prod/prod_back_end: v1.1.0 → " in result.stdout
    lock = sandbox / "tfops.lock.json"
    text = lock.read_text()
    v110 = git(modules, "rev-parse", "v1.1.0^{commit}")
    assert json.loads(text) == {
        "version": 1,
        "modules": {
            "prod": {
                "prod_back_end": {
                    "source": "../modules/back_end?ref=v1.1.0",
                    "ref": "v1.1.0",
                    "commit": v110,
                },
                "prod_front_end": {
                    "source": "../modules/front_end?ref=v1.1.0",
                    "ref": "v1.1.0",
                    "commit": v110,
                },
            }
        },
    }
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    again = tfops("modules", "lock", str(sandbox))
    assert again.stdout == "tfops.lock.json is up to date (2 locked module(s)).\n"
    assert lock.read_text() == text

    refused = tfops("modules", "lock", str(sandbox), "-e", "dev")
    assert refused.exit_code == 1
    assert "dev is not pinned" in refused.stderr and "pinned: true" in refused.stderr


def test_lock_refuses_refs_that_do_not_resolve(sandbox: Path, tfops: Tfops) -> None:
    prod = sandbox / "prod_front_end.tf"
    prod.write_text(prod.read_text().replace("?ref=v1.1.0", "?ref=v7.0.0"))
    result = tfops("modules", "lock", str(sandbox))
    assert result.exit_code == 1
    assert "cannot lock: prod_front_end.tf:2: ref 'v7.0.0' does not exist" in result.stderr
    assert not (sandbox / "tfops.lock.json").exists()


def test_modules_is_listed_by_default_and_lock_is_a_subcommand(sandbox: Path, tfops: Tfops) -> None:
    assert tfops("modules", "list", str(sandbox)).stdout == tfops("modules", str(sandbox)).stdout
    help_text = tfops("modules", "--help").stdout
    assert "lock" in help_text and "list" in help_text
