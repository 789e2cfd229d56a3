"""Click arguments and options several commands share, spelled the same everywhere."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tfops.console import Console

F = TypeVar("F", bound=Callable[..., Any])


class CliState:
    """What the `tfops` group's options set up for every command: colour and the console."""

    def __init__(self, verbose: bool, color: str):
        stdout_tty = sys.stdout.isatty()
        no_color = "NO_COLOR" in os.environ
        self.color = color == "always" or (color == "auto" and stdout_tty and not no_color)
        err_color = color == "always" or (color == "auto" and sys.stderr.isatty() and not no_color)
        self.console = Console(verbose=verbose, color=err_color)


path_argument = click.argument(
    "path", type=click.Path(file_okay=False, path_type=Path), default=".", required=False
)

parallelism_option = click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Roots planned at once (directory layout).",
)


def environments_option(text: str = "Environment (repeatable).") -> Callable[[F], F]:
    return click.option("-e", "--env", "environments", multiple=True, metavar="ENV", help=text)


def no_gates_option(text: str = "Plan without running the gates first.") -> Callable[[F], F]:
    return click.option("--no-gates", is_flag=True, help=text)


def sarif_option(
    text: str = "Also write the findings as SARIF 2.1.0 to FILE (for GitHub code scanning).",
) -> Callable[[F], F]:
    return click.option(
        "--sarif", "sarif_file", type=click.Path(dir_okay=False, path_type=Path), help=text
    )
