"""`tfops --help` and the commands that need little import little (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tfops.cli import LAZY_COMMANDS, cli

PROJECT = Path(__file__).resolve().parents[2]


def imported_after(*args: str, cwd: Path) -> set[str]:
    """The tfops modules and heavy dependencies a fresh `tfops ARGS` process imported."""
    probe = (
        "import sys\n"
        "from tfops.__main__ import main\n"
        f"sys.argv = ['tfops', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stderr.splitlines()[-1].split())


def test_help_lists_every_command_without_importing_them(tmp_path: Path) -> None:
    modules = imported_after("--help", cwd=tmp_path)
    assert not {
        m for m in modules if m.startswith("tfops.commands.") and m != "tfops.commands.options"
    }
    assert not {"pydantic", "yaml", "git", "boto3", "jinja2", "hcl2"} & modules


def test_envs_needs_no_pydantic_git_or_renderers(sandbox: Path) -> None:
    imported_after("envs", str(sandbox), cwd=sandbox)  # the first run validates tfops.yaml
    modules = imported_after("envs", str(sandbox), cwd=sandbox)
    assert "tfops.commands.envs" in modules
    assert not {"pydantic", "yaml", "git", "boto3", "jinja2", "hcl2", "tfops.render"} & modules


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_each_lazy_command_is_listed_with_its_own_summary(name: str) -> None:
    listed = click.Command(name, help=LAZY_COMMANDS[name][1])  # what --help lists
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    for width in (40, 60, 80, 120):
        assert listed.get_short_help_str(width) == command.get_short_help_str(width)
