from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from tfops.config import json_schema, json_schema_text, load_config, parse_config
from tfops.errors import ConfigError

PROJECT = Path(__file__).resolve().parent.parent


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("tfops.yaml"))
    return str(info.value)


def test_no_config_means_conventions(tmp_path: Path) -> None:
    config, path = load_config(tmp_path)
    assert path is None
    assert config.is_pinned("prod") and not config.is_pinned("dev")
    assert config.gates.get("fmt").required
    assert config.env("dev").apply == "auto"


def test_unknown_key_names_path_line_and_suggestion() -> None:
    message = error_of("version: 1\nenvironments:\n  prod:\n    pined: true\n")
    assert message.startswith("tfops.yaml:4: environments.prod.pined: unknown setting")
    assert "did you mean 'pinned'?" in message
    assert "apply" in message  # lists what is allowed


def test_wrong_value_says_what_is_allowed() -> None:
    message = error_of("environments:\n  prod:\n    apply: sometimes\n")
    assert "tfops.yaml:3: environments.prod.apply" in message
    assert "'sometimes' is not allowed; use one of 'auto' or 'manual'" in message


def test_several_errors_are_all_listed() -> None:
    message = error_of("layout: flat\ngates:\n  tflint:\n    fail_on: severe\n")
    assert "tfops.yaml:1: layout" in message and "tfops.yaml:4: gates.tflint.fail_on" in message


def test_bad_regex_and_bad_yaml() -> None:
    assert "not a valid regular expression" in error_of("modules:\n  release_tag_pattern: '(['\n")
    assert error_of("environments: [\n").startswith("tfops.yaml:2:1: not valid YAML")
    assert "must be a mapping" in error_of("- a\n")


def test_environment_names_are_checked() -> None:
    assert "must be lower-case" in error_of("environments:\n  Prod: {}\n")


def test_published_schema_is_current_and_validates_the_example() -> None:
    published = (PROJECT / "schema" / "tfops.schema.json").read_text()
    assert published == json_schema_text(), "run `make schema`"
    example = yaml.safe_load((PROJECT / "environments" / "tfops.yaml").read_text())
    jsonschema.validate(example, json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"environments": {"prod": {"apply": "never"}}}, json.loads(published))


def test_readme_config_reference_is_valid() -> None:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Configuration reference", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(example, Path("README.md"))
    assert config.environments["prod"].apply == "manual"


# ---- hostile or broken tfops.yaml (issue 13: #10, #12) --------------------------------


def test_a_yaml_bomb_is_refused_quickly() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [{', '.join(['*' + previous] * 10)}]\n"
    bomb += "environments: {prod: {files: *i}}\n"
    started = time.monotonic()
    message = error_of(bomb)
    assert time.monotonic() - started < 2
    assert message.startswith("tfops.yaml:")
    assert "aliases expand" in message and "10,000" in message


def test_a_few_aliases_are_fine() -> None:
    text = "var_files: &common [common.tfvars]\nenvironments:\n  prod:\n    var_files: *common\n"
    config = parse_config(text, Path("tfops.yaml"))
    assert config.env("prod").var_files == ["common.tfvars"]


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    (tmp_path / "tfops.yaml").write_text("mask:\n" + "  - 'x'\n" * 200_000)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value).startswith("tfops.yaml: is 1.6 MB; tfops reads at most 1 MB")


def test_deep_nesting_is_a_clear_error() -> None:
    assert "nested too deeply" in error_of("mask: " + "[" * 5000 + "]" * 5000 + "\n")


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "tfops.yaml").write_bytes(b"version: 1\nmask:\n  - 'caf\xe9'\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    message = str(info.value)
    assert message.startswith("tfops.yaml:3: not UTF-8 (byte 0xe9")
    assert "save it as UTF-8" in message


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    (tmp_path / "tfops.yaml").write_bytes("\ufeffversion: 1\n".encode())
    assert load_config(tmp_path)[0].version == 1


def test_duplicate_keys_are_refused_naming_both_lines() -> None:
    text = "environments:\n  prod:\n    apply: manual\n  dev: {}\n  prod:\n    pinned: true\n"
    message = error_of(text)
    assert message.startswith("tfops.yaml:5: environments.prod is given twice (lines 2 and 5)")
    assert "apply: manual" not in message  # says what would happen, not the contents
    assert "merge the two" in message


def test_a_merge_key_may_be_overridden_without_being_a_duplicate() -> None:
    text = "environments:\n  prod: &p {apply: manual}\n  stage:\n    <<: *p\n    apply: auto\n"
    assert parse_config(text, Path("tfops.yaml")).env("stage").apply == "auto"


def test_a_region_below_an_environment_can_have_its_own_settings(tmp_path: Path) -> None:
    from tests.helpers import write_files
    from tfops.repo.environments import EnvironmentsRepo

    write_files(
        tmp_path,
        {
            "envs/prod/eu-west-1/main.tf": 'resource "terraform_data" "a" {}\n',
            "envs/prod/us-east-1/main.tf": 'resource "terraform_data" "a" {}\n',
            "tfops.yaml": "environments:\n  prod: {apply: manual}\n"
            "  prod/us-east-1: {apply: auto, heal: true}\n",
        },
    )
    repo = EnvironmentsRepo(tmp_path)
    eu, us = repo.environments["prod/eu-west-1"], repo.environments["prod/us-east-1"]
    assert (eu.apply_mode, eu.pinned) == ("manual", True)  # prod's
    assert (us.apply_mode, us.config.heal, us.pinned) == ("auto", True, True)


def test_environment_names_cannot_climb_out(tmp_path: Path) -> None:
    for name in ("prod/../x", "/prod", "prod/", "Prod", "a" * 101):
        with pytest.raises(ConfigError, match="environment name"):
            parse_config(f"environments:\n  {name!r}: {{}}\n", tmp_path / "tfops.yaml")
