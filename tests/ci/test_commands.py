"""The `/tfops` command language: what is a command, what is refused, what is echoed."""

from __future__ import annotations

import pytest

from tfops.ci.commands import Command, CommandError, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/tfops plan", Command("plan")),
        ("/tfops plan -e dev -e prod", Command("plan", ("dev", "prod"))),
        ("/tfops plan --env=dev -eprod -e dev", Command("plan", ("dev", "prod"))),
        ("/tfops apply -e prod\nplease, it's urgent", Command("apply", ("prod",))),
        ("  /tfops   unlock   -e  dev  ", Command("unlock", ("dev",))),
        ("/tfops", Command("help")),
        ("/tfops help", Command("help")),
    ],
)
def test_commands(body: str, expected: Command) -> None:
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    "body", ["", "LGTM", "please /tfops apply -e prod", "/tfopsapply", "> /tfops apply -e dev"]
)
def test_not_commands(body: str) -> None:
    assert parse_command(body) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("/tfops destroy -e prod", "there is no command 'destroy'"),
        ("/tfops apply", "apply needs exactly one environment"),
        ("/tfops apply -e dev -e prod", "apply needs exactly one environment"),
        ("/tfops unlock", "unlock needs exactly one environment"),
        ("/tfops plan -e", "-e needs an environment name"),
        ("/tfops plan --target=x", "unexpected '--target=x'"),
        ("/tfops plan -e Prod", "'Prod' is not an environment name"),
        ("/tfops plan -e ../../etc", "is not an environment name"),
        ("/tfops plan -e dev;rm", "is not an environment name"),
        ("/tfops apply -e $(id)", "is not an environment name"),
        ("/tfops help -e dev", "help takes no environment"),
        ("/tfops plan " + "x" * 2000, "characters long"),
    ],
)
def test_invalid_commands_say_what_is_wrong(body: str, problem: str) -> None:
    with pytest.raises(CommandError, match=problem.replace("(", r"\(").replace("$", r"\$")):
        parse_command(body)


def test_the_text_of_a_command_is_rebuilt_not_echoed() -> None:
    assert parse_command("/tfops   plan -eprod  --env=dev").text == "/tfops plan -e prod -e dev"
