from __future__ import annotations

import pytest

from tfops.modules.sources import git_source, parse_source
from tfops.terraform.versions import is_exact, satisfies, sort_tags


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("1.11.4", ">= 1.0", True),
        ("1.11.4", ">= 1.0, < 1.11", False),
        ("1.11.4", "~> 1.5", True),
        ("2.0.0", "~> 1.5", False),
        ("1.5.9", "~> 1.5.2", True),
        ("1.6.0", "~> 1.5.2", False),
        ("1.0.3", "= 1.0.3", True),
        ("1.0.3", "!= 1.0.3", False),
        ("1.0.0-rc1", ">= 1.0.0", False),
    ],
)
def test_constraints(version: str, constraint: str, expected: bool) -> None:
    assert satisfies(version, constraint) is expected


def test_tag_order_puts_releases_after_their_candidates() -> None:
    assert sort_tags(["v1.0.0", "v2.0.0-rc1", "v1.10.0", "v2.0.0", "latest", "v1.2.0"]) == [
        "v2.0.0",
        "v2.0.0-rc1",
        "v1.10.0",
        "v1.2.0",
        "v1.0.0",
        "latest",
    ]


def test_exact_versions() -> None:
    assert is_exact("1.2.3") and is_exact("= 1.2.3")
    assert not is_exact("~> 1.2") and not is_exact(">= 1.0, < 2.0")


@pytest.mark.parametrize(
    ("raw", "kind", "url", "subdir", "ref"),
    [
        ("./modules/x", "local", None, "", None),
        ("../backend/infrastructure/modules/back_end?ref=v2.0.0", "sibling", None, "", "v2.0.0"),
        (
            "git::https://example.com/org/vpc.git//modules/x?ref=v1.2.0",
            "git",
            "https://example.com/org/vpc.git",
            "modules/x",
            "v1.2.0",
        ),
        (
            "git::ssh://git@example.com/org/vpc.git?ref=v1",
            "git",
            "ssh://git@example.com/org/vpc.git",
            "",
            "v1",
        ),
        (
            "git::file:///srv/repos/mods//db?ref=v1.0.0",
            "git",
            "file:///srv/repos/mods",
            "db",
            "v1.0.0",
        ),
        (
            "git@github.com:org/repo.git//sub?ref=v3.0.0",
            "git",
            "git@github.com:org/repo.git",
            "sub",
            "v3.0.0",
        ),
        (
            "github.com/cloudlena/terraform-spa?ref=1.0.2",
            "git",
            "https://github.com/cloudlena/terraform-spa.git",
            "",
            "1.0.2",
        ),
        (
            "bitbucket.org/org/mods//net?ref=v1.0.0",
            "git",
            "https://bitbucket.org/org/mods.git",
            "net",
            "v1.0.0",
        ),
        ("hashicorp/consul/aws", "registry", None, "", None),
        ("app.terraform.io/acme/vpc/aws//modules/sub", "registry", None, "modules/sub", None),
        ("s3::https://s3.amazonaws.com/bucket/mod.zip", "other", None, "", None),
    ],
)
def test_source_forms(raw: str, kind: str, url: str | None, subdir: str, ref: str | None) -> None:
    source = parse_source(raw)
    assert (source.kind, source.url, source.subdir, source.ref) == (kind, url, subdir, ref)


def test_sibling_path_and_ref_replacement() -> None:
    source = parse_source("../backend/infra/back_end?ref=v2.0.0&depth=1")
    assert source.path == "../backend/infra/back_end"
    assert source.with_ref("v2.1.0") == "../backend/infra/back_end?ref=v2.1.0&depth=1"
    assert git_source("file:///r", "infra/back_end", "v2.1.0", source.query) == (
        "git::file:///r//infra/back_end?ref=v2.1.0&depth=1"
    )
