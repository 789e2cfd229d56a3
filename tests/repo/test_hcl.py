from __future__ import annotations

from pathlib import Path

import pytest

from tfops.errors import HclSyntaxError
from tfops.repo.hcl import HclCache, parse_text

TEXT = """terraform {
  required_version = ">= 1.0"
}

module "prod_back_end" {
  source = "../backend/infrastructure/modules/back_end?ref=v2.0.0"

  environment = local.environment
}

resource "terraform_data" "zone" {
  input = "example.com"
}
"""


def test_blocks_with_lines_and_unquoted_values() -> None:
    parsed = parse_text(TEXT, Path("prod.tf"))
    module = parsed.of_type("module")[0]
    assert module.labels == ("prod_back_end",)
    assert module.attr("source") == "../backend/infrastructure/modules/back_end?ref=v2.0.0"
    assert (module.line, module.end_line, module.attr_lines["source"]) == (5, 9, 6)
    assert [b.address for b in parsed.blocks] == [
        None,
        "module.prod_back_end",
        "terraform_data.zone",
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('module "x" {\n  a = \n}\n', "bad.tf:2:"),
        ('module "x" {\n  a = 1\n', "bad.tf:2:"),
        ('resource "a" "b" {\n  x = [1,\n}\n', "bad.tf:3:1"),
    ],
)
def test_syntax_errors_name_file_line_and_column(text: str, where: str) -> None:
    with pytest.raises(HclSyntaxError) as info:
        parse_text(text, Path("bad.tf"))
    assert str(info.value).startswith(where)
    assert "syntax error" in str(info.value)


def test_cache_parses_each_content_once(tmp_path: Path) -> None:
    files = []
    for i in range(30):  # above the parallel threshold: parsed in a process pool
        path = tmp_path / f"f{i}.tf"
        path.write_text(TEXT.replace("zone", f"zone{i}"))
        files.append(path)
    cache = HclCache(tmp_path / "cache")
    first = cache.parse_files(files)
    assert cache.misses == 30 and first[files[7]].blocks[2].labels == ("terraform_data", "zone7")

    warm = HclCache(tmp_path / "cache")  # a new process: the disk cache answers
    again = warm.parse_files(files)
    assert warm.misses == 0 and warm.hits == 30
    assert again[files[7]] == first[files[7]]

    files[0].write_text(TEXT.replace("zone", "changed"))
    warm.parse_files(files)
    assert warm.misses == 1


def test_cache_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.tf"
    path.write_text('locals {\n  a = "x\n}\n')
    with pytest.raises(HclSyntaxError, match=r"broken\.tf:2"):
        HclCache(tmp_path / "cache").parse_file(path)


def test_parsing_in_threads_keeps_values_unquoted(tmp_path: Path) -> None:
    """python-hcl2 shares a mutable default serialization context between calls."""
    from concurrent.futures import ThreadPoolExecutor

    text = 'terraform {\n  required_version = ">= 1.4.0"\n}\n' + "".join(
        f'resource "terraform_data" "r{i}" {{\n  input = {{ a = [1, "x"], b = upper("y") }}\n}}\n'
        for i in range(40)
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: parse_text(text + f"# {i}\n", Path("m.tf")), range(64)))
    assert {r.blocks[0].attr("required_version") for r in results} == {">= 1.4.0"}
