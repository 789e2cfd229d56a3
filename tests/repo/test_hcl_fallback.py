"""Valid HCL python-hcl2 rejects (issue 12 row 4), JSON configuration's lines, and reading
only what a caller needs (issue 13 #11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import init_repo, write_files
from tfops.errors import HclSyntaxError
from tfops.repo.hcl import HclCache, parse_text

# The four shapes python-hcl2 8.x rejects and Terraform accepts (DESIGN.md, facts checked),
# written as `terraform fmt` writes them.
SHAPES = {
    "newline_before_attr": "(local.obj\n  .name)",
    "arrow_starting_a_line": "{ for k, v in local.obj :\n    k\n  => v }",
    "unicode_identifier": "local.café",
}
LOCALS = 'locals {\n  obj  = { name = "x" }\n  café = "y"\n}\n'
# the fourth: terraform fmt itself moves a comment from between labels, so it is checked
# by the pins gate, and the fmt gate reports what terraform fmt would write instead
LABEL_COMMENT = (
    'module /* the label */ "prod_label_comment" {\n  source = "./modules/app"\n\n  input = 1\n}\n'
)


def prod_module(name: str, value: str) -> str:
    return f'module "{name}" {{\n  source = "./modules/app"\n\n  input = {value}\n}}\n'


@pytest.fixture
def shapes_repo(tmp_path: Path) -> Path:
    files = {
        "main.tf": LOCALS,
        "modules/app/main.tf": 'variable "input" {}\n\nresource "terraform_data" "app" {\n'
        "  input = var.input\n}\n",
        "prod_label_comment.tf": LABEL_COMMENT,
    }
    for shape, value in SHAPES.items():
        files[f"prod_{shape}.tf"] = prod_module(f"prod_{shape}", value)
    return init_repo(tmp_path / "environments", files)


def test_python_hcl2_really_rejects_these_shapes(shapes_repo: Path) -> None:
    for path in sorted(shapes_repo.glob("*_*.tf")):
        with pytest.raises(HclSyntaxError):
            parse_text(path.read_text(), path)


def test_valid_files_python_hcl2_rejects_are_read_with_the_fallback_reader(
    shapes_repo: Path, tfops: Tfops
) -> None:
    names = {f"prod_{shape}" for shape in SHAPES} | {"prod_label_comment"}
    listed = tfops.json("modules", str(shapes_repo), "-e", "prod")
    rows = {m["name"]: m for m in listed["modules"]}
    assert set(rows) == names
    assert {(m["source"], m["line"]) for m in rows.values()} == {("./modules/app", 2)}

    envs = tfops("envs", str(shapes_repo), "--files", "modules/app/main.tf")
    assert envs.exit_code == 0, envs.output
    assert "affect: prod" in envs.stdout

    pins = tfops("check", str(shapes_repo), "--gate", "pins")
    assert pins.exit_code == 0, pins.output
    assert "syntax error" not in pins.output

    fmt = tfops("check", str(shapes_repo), "--gate", "fmt", "--format", "json")
    [finding] = json.loads(fmt.stdout)["gates"][0]["findings"]  # terraform fmt's verdict only
    assert finding["file"] == "prod_label_comment.tf" and finding["rule"] == "terraform-fmt"


def test_plan_runs_over_the_shapes(shapes_repo: Path, tfops: Tfops) -> None:
    write_files(shapes_repo, {"tfops.yaml": "gates:\n  fmt: {enabled: false}\n"})  # see above
    result = tfops("plan", str(shapes_repo), "--format", "json")
    assert result.exit_code == 0, result.output
    planned = json.loads(result.stdout)
    assert planned["environments"]["prod"]["counts"]["create"] == len(SHAPES) + 1


def test_a_whole_file_parse_falls_back_and_says_so_once_per_file(shapes_repo: Path) -> None:
    """python-hcl2 still parses whole files (`parse_files()` without types, e.g. promote):
    where it rejects a valid one, the tolerant reader reads it and says so."""
    notes: list[str] = []
    files = sorted(shapes_repo.glob("prod_*.tf"))
    cache = HclCache(shapes_repo / ".cache", base=shapes_repo, notify=notes.append)
    parsed = cache.parse_files(files)
    assert [b.attr("source") for f in files for b in parsed[f].blocks] == ["./modules/app"] * 4
    assert len(notes) == 4 and all("terraform accepts it" in n for n in notes)
    cache.parse_files(files)
    assert len(notes) == 4  # once per file


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('module "prod_app" {\n  source = "./m"\n  input =\n}\n', "prod_app.tf:3"),
        ('module "prod_app" {\n  source = "./m"\n  input = (1\n', "prod_app.tf:4"),
    ],
)
def test_a_file_terraform_rejects_is_the_users_error_located_by_terraform(
    tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "prod_app.tf"
    path.write_text(text)
    with pytest.raises(HclSyntaxError) as info:
        HclCache(tmp_path / "cache", base=tmp_path).parse_files([path], ("module",))
    assert info.value.where == where
    assert "(this is terraform's own message)" in str(info.value)


def test_without_terraform_the_fallback_still_reads_but_says_it_could_not_confirm(
    tmp_path: Path,
) -> None:
    path = tmp_path / "prod_app.tf"
    path.write_text(prod_module("prod_app", SHAPES["arrow_starting_a_line"]))
    notes: list[str] = []
    cache = HclCache(tmp_path / "cache", base=tmp_path, terraform=None, notify=notes.append)
    [block] = cache.parse_files([path])[path].blocks
    assert block.attr("source") == "./modules/app" and block.attr_lines["source"] == 2
    assert len(notes) == 1 and "terraform not found" in notes[0]
    warm = HclCache(tmp_path / "cache", base=tmp_path, terraform=None, notify=notes.append)
    warm.parse_files([path])
    assert warm.misses == 0 and len(notes) == 2  # cached, and still said (once per run)


def test_only_the_blocks_asked_for_are_parsed(tmp_path: Path) -> None:
    """pins asks for module blocks: the rest of a big file is never given to python-hcl2."""
    path = tmp_path / "prod_big.tf"
    body = "".join(
        f'resource "terraform_data" "r{i}" {{\n  input = (local.obj\n  .name)\n}}\n'
        for i in range(2000)
    )  # valid HCL python-hcl2 rejects, 8,000 lines of it
    path.write_text(body + prod_module("prod_app", '"x"'))
    cache = HclCache(tmp_path / "cache", base=tmp_path)
    [block] = cache.parse_files([path], ("module",))[path].blocks
    assert (block.labels, block.line, block.attr_lines["source"]) == (("prod_app",), 8001, 8002)
    assert cache.fallbacks == []  # the resources were indexed, not parsed
    headers = cache.headers([path], ("resource",))[path].blocks
    assert len(headers) == 2000 and headers[-1].address == "terraform_data.r1999"
    assert cache.fallbacks == []


def test_json_configuration_keeps_each_keys_line(tmp_path: Path) -> None:
    text = json.dumps(
        {
            "//": "a comment",
            "module": {"prod_db": {"source": "../db", "version": "1.0.0"}},
            "resource": {"terraform_data": {"a": {"input": 1}, "b": [{"input": 2}]}},
            "terraform": [{"required_version": ">= 1.0"}],
        },
        indent=2,
    )
    parsed = parse_text(text, Path("prod_db.tf.json"))
    module, first, second, terraform = parsed.blocks
    assert (module.labels, module.attr("source"), module.attr_lines["source"]) == (
        ("prod_db",),
        "../db",
        5,
    )
    assert [first.address, second.address] == ["terraform_data.a", "terraform_data.b"]
    assert terraform.attr("required_version") == ">= 1.0"
    with pytest.raises(HclSyntaxError, match=r"^bad\.tf\.json:3: not valid JSON"):
        parse_text('{\n  "module": {\n    "x": {"source": }\n', Path("bad.tf.json"))
