"""What tfops writes to a terminal: masked, and with controls from user files escaped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.conftest import Tfops
from tests.helpers import write_files
from tfops.console import Console, printable
from tfops.masking import Masker

HOSTILE = "\x1b]0;pwned\x07\x1b[2J"  # retitle the window, ring the bell, clear the screen


def assert_no_controls(text: str) -> None:
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in text), repr(text)


@pytest.mark.parametrize(
    "source",
    [
        f'resource "terraform_data" "x" {{\n  input = "a"\n}}\n{HOSTILE} oops =\n',  # HCL error
        f'resource "terraform_data" "x" {{\n  input = tonumber("{HOSTILE}")\n}}\n',  # terraform's
    ],
    ids=["tfops's own error", "terraform's diagnostics"],
)
def test_controls_from_a_tf_file_are_escaped_in_errors(
    tmp_path: Path, tfops: Tfops, source: str
) -> None:
    write_files(tmp_path, {"main.tf": source})
    result = tfops("plan", str(tmp_path), "--no-gates")
    assert result.exit_code == 1
    assert_no_controls(result.stderr)
    assert_no_controls(result.stdout)
    assert "\\x1b]0;pwned\\x07" in result.stderr  # shown, not acted on


def test_the_console_styles_after_escaping() -> None:
    stream = io.StringIO()
    console = Console(stream, color=True, masker=Masker(values=["hunter22"]))
    console.error(f"bad {HOSTILE} and hunter22\r\nnext\rline \u202eevil")
    assert stream.getvalue() == (
        "\x1b[31;1merror: bad \\x1b]0;pwned\\x07\\x1b[2J and ***\n"
        "next\\x0dline \\u202eevil\x1b[0m\n"
    )


def test_printable_leaves_ordinary_text_alone() -> None:
    text = "für Zürich ✓\ttab\nnew line"
    assert printable(text) is text
