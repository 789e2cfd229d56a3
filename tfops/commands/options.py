"""Click arguments and options several commands share, spelled the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

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
