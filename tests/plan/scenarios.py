"""The plans of issue 15's rows, made by real Terraform (1.11 on PATH; 1.0 from
$TFOPS_TERRAFORM_1_0), once per test process and only when a test asks for one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plan.real import LOCALFILE, RealPlan, Step, make_plan
from tests.provider_helpers import require_terraform_1_0, require_terraform_on_path
from tfops.provider.mirror import install_mirror

# A secret with what every escaping changes: JSON (`"`, `\`), Markdown (`|`, `<`, `>`),
# Slack (`<`, `&`, `>`), and non-ASCII (which JSON writes as \u00f6 unless told not to).
SECRET_OLD = 'old"pa\\ss|wörd<&>1'
SECRET_NEW = 'new"pa\\ss|wörd<&>2'
BIDI = "invoice\u202egpj.exe"  # shows as "invoiceexe.jpg" where U+202E isn't escaped


def _hcl(text: str) -> str:
    """A value as an HCL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\u202e", "\\u202E") + '"'


def _edit(path: str, text: str) -> Step:
    def edit(workdir: Path) -> None:
        (workdir / path).write_text(text)

    return edit


FILE = (
    LOCALFILE
    + 'resource "localfile_file" "app" {\n  path    = "out/app.env"\n  content = "A=1"\n}\n'
)
DATA_A = 'resource "terraform_data" "a" {\n  input = "x"\n}\n'
SENSITIVE_VAR = 'variable "secret" {\n  default   = %s\n  sensitive = true\n}\n'

SCENARIOS: dict[str, tuple[list[Step], tuple[str, ...]]] = {
    # 1: a plan that puts a hand edit back: resource_drift and a planned update
    "drift": ([FILE, _edit("out/app.env", "A=2"), FILE], ()),
    # 2: a refresh-only plan whose only content is the drift
    "drift_refresh": ([FILE, _edit("out/app.env", "A=2"), FILE], ("-refresh-only",)),
    # 3: drift that is only a move
    "drift_move": (
        [
            DATA_A,
            'resource "terraform_data" "b" {\n  input = "x"\n}\n'
            "moved {\n  from = terraform_data.a\n  to   = terraform_data.b\n}\n",
        ],
        ("-refresh-only",),
    ),
    # 4, 5: a list element and an object key not known until apply
    "unknown": (
        [
            'resource "terraform_data" "list" {\n  input = ["hello", "x", "world"]\n}\n'
            'resource "terraform_data" "map" {\n  input = { a = "1" }\n}\n',
            'resource "terraform_data" "new" {}\n'
            'resource "terraform_data" "list" {\n'
            '  input = ["hello", terraform_data.new.id, "world"]\n}\n'
            'resource "terraform_data" "map" {\n'
            '  input = { a = "1", b = terraform_data.new.id }\n}\n'
            'resource "terraform_data" "created" {\n'
            '  input = ["hello", terraform_data.new.id, "world"]\n}\n',
        ],
        (),
    ),
    # 6: a nested change inside the attribute that forces replacement
    "replace": (
        [
            'resource "terraform_data" "r" {\n  triggers_replace = { a = "1", b = "2" }\n}\n',
            'resource "terraform_data" "r" {\n  triggers_replace = { a = "1", b = "3" }\n}\n',
        ],
        (),
    ),
    # 7: removed { lifecycle { destroy = false } }
    "forget": (
        [
            DATA_A + 'resource "terraform_data" "kept" {\n  input = "k"\n}\n',
            "removed {\n  from = terraform_data.a\n  lifecycle {\n    destroy = false\n  }\n}\n"
            'resource "terraform_data" "kept" {\n  input = "k"\n}\n',
        ],
        (),
    ),
    # 10: a plan Terraform could not finish
    "errored": (
        [
            DATA_A,
            'resource "terraform_data" "a" {\n  input = "y"\n}\n'
            'variable "x" {\n  default = "a"\n}\n'
            'resource "terraform_data" "bad" {\n  lifecycle {\n    precondition {\n'
            '      condition     = var.x == "nope"\n      error_message = "boom"\n    }\n  }\n}\n',
        ],
        (),
    ),
    # 11: a new output
    "new_output": (
        [
            'output "a" {\n  value = "x"\n}\n',
            'output "a" {\n  value = "x"\n}\noutput "test" {\n  value = "bar"\n}\n',
        ],
        (),
    ),
    # 12: non-ASCII, and a character that reorders text
    "unicode": (
        [
            DATA_A + 'output "o" {\n  value = "alt"\n}\n',
            f'resource "terraform_data" "a" {{\n  input = "für Zürich ✓"\n}}\n'
            f'resource "terraform_data" "file" {{\n  input = {_hcl(BIDI)}\n}}\n'
            'output "o" {\n  value = "für Zürich ✓"\n}\n',
        ],
        (),
    ),
    # 13: a sensitive value with characters escapings change; terraform_data's prior
    # `output` keeps a copy Terraform 1.11 leaves unmarked
    "sensitive": (
        [
            SENSITIVE_VAR % _hcl(SECRET_OLD)
            + 'resource "terraform_data" "s" {\n  input = var.secret\n}\n',
            SENSITIVE_VAR % _hcl(SECRET_NEW)
            + 'resource "terraform_data" "s" {\n  input = var.secret\n}\n',
        ],
        (),
    ),
    "no_changes": ([DATA_A, DATA_A], ()),
}

# Terraform 1.0: no terraform_data, so the localfile provider's resources.
FILE_10 = (
    LOCALFILE
    + 'resource "localfile_file" "app" {\n  path    = "out/app.env"\n  content = "A=1"\n}\n'
)
SCENARIOS_1_0: dict[str, tuple[list[Step], tuple[str, ...]]] = {
    "drift": ([FILE_10, _edit("out/app.env", "A=2"), FILE_10], ()),
    "drift_refresh": ([FILE_10, _edit("out/app.env", "A=2"), FILE_10], ("-refresh-only",)),
    "unknown": (
        [
            FILE_10,
            FILE_10.replace('"A=1"', "localfile_file.c.id")
            + 'resource "localfile_file" "c" {\n  path    = "out/c.txt"\n  content = "c"\n}\n',
        ],
        (),
    ),
    "unicode": (
        [
            FILE_10,
            FILE_10.replace('"A=1"', '"für Zürich ✓"')
            + 'output "o" {\n  value = "für Zürich ✓"\n}\n',
        ],
        (),
    ),
    "sensitive": (
        [
            FILE_10.replace('"A=1"', '"A=1"\n  sensitive_content = var.secret')
            + SENSITIVE_VAR % _hcl(SECRET_OLD),
            FILE_10.replace('"A=1"', '"A=1"\n  sensitive_content = var.secret')
            + SENSITIVE_VAR % _hcl(SECRET_NEW),
        ],
        (),
    ),
}


class RealPlans:
    """Makes each scenario's plan the first time a test asks for it."""

    def __init__(self, base: Path):
        self.base = base
        self.cli_config = install_mirror(base / "mirror")
        self.made: dict[tuple[str, str], RealPlan] = {}

    def __call__(self, name: str, version: str = "1.11") -> RealPlan:
        key = (version, name)
        if key not in self.made:
            if version == "1.0":
                binary = require_terraform_1_0()
                steps, args = SCENARIOS_1_0[name]
            else:
                binary = require_terraform_on_path()
                steps, args = SCENARIOS[name]
            workdir = self.base / f"{version}-{name}"
            self.made[key] = make_plan(binary, workdir, self.cli_config, steps, *args)
        return self.made[key]


@pytest.fixture(scope="session")
def real_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealPlans]:
    yield RealPlans(tmp_path_factory.mktemp("real-plans"))
