"""Secret-shaped values nobody marked sensitive never reach an output (issue 13 #5, #6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import init_repo

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "ghp_" + "Zx9Yw8Vu7T" * 3 + "s6R5q4"
DSN_PASSWORD = "pa55-w0rd-in-a-dsn"
SECRETS = (AWS_KEY_ID, TOKEN, DSN_PASSWORD)

SHAPED_VALUES = f"""resource "terraform_data" "app" {{
  input = {{
    key_id = "{AWS_KEY_ID}"
    token  = "{TOKEN}"
    db     = "postgres://app:{DSN_PASSWORD}@db.internal:5432/app"
  }}
}}
"""


def assert_masked(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("output_format", ["text", "json", "markdown"])
def test_secret_shaped_values_are_masked_in_the_report_and_the_log(
    tmp_path: Path, tfops: Tfops, output_format: str
) -> None:
    root = init_repo(tmp_path / "env", {"main.tf": SHAPED_VALUES})
    result = tfops("plan", str(root), "--no-gates", "--format", output_format)
    assert result.exit_code == 0, result.output
    assert "terraform_data.app" in result.stdout
    assert "***" in result.stdout
    assert '+ resource "terraform_data" "app"' in result.stderr  # terraform's own text
    assert_masked(result.stdout)
    assert_masked(result.stderr)


CREDENTIAL_URL = f"git::https://x-access-token:{TOKEN}@127.0.0.1:9/org/mod.git"
MODULE_WITH_CREDENTIALS = f"""module "app" {{
  source = "{CREDENTIAL_URL}?ref=v1.0.0"
}}
"""


@pytest.mark.parametrize("output_format", ["text", "json", "markdown"])
def test_credentials_in_a_module_url_are_masked_by_tfops_modules(
    tmp_path: Path, tfops: Tfops, output_format: str
) -> None:
    root = init_repo(tmp_path / "env", {"prod_app.tf": MODULE_WITH_CREDENTIALS})
    result = tfops("modules", str(root), "--format", output_format)
    assert "127.0.0.1:9/org/mod.git" in result.output  # the module is listed or named
    assert TOKEN not in result.stdout
    assert TOKEN not in result.stderr


def test_credentials_in_a_module_url_are_masked_in_plan_errors(
    tmp_path: Path, tfops: Tfops
) -> None:
    root = init_repo(tmp_path / "env", {"main.tf": MODULE_WITH_CREDENTIALS})
    result = tfops("plan", str(root), "--no-gates")
    assert result.exit_code == 1
    assert "127.0.0.1:9/org/mod.git" in result.output  # terraform's error names the source
    assert TOKEN not in result.stdout
    assert TOKEN not in result.stderr
