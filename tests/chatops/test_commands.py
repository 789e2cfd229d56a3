"""What people type after /tfops in a deployment channel, and which environment it names."""

from __future__ import annotations

import pytest

from tfops.chatops.commands import ChatCommand, ChatCommandError, parse, resolve

ENVIRONMENTS = ("dev", "prod", "staging")


@pytest.mark.parametrize(
    ("text", "verb", "environment"),
    [
        ("deploy prod", "apply", "prod"),
        ("Deploy production", "apply", "production"),
        ("deploy to Production!", "apply", "production"),
        ("APPLY -e prod", "apply", "prod"),
        ("plan dev", "plan", "dev"),
        ("  status  ", "status", None),
        ("status prod", "status", "prod"),
        ("drift", "drift", None),
        ("unlock prod", "unlock", "prod"),
        ("", "help", None),
        ("help", "help", None),
    ],
)
def test_commands(text: str, verb: str, environment: str | None) -> None:
    command = parse(text)
    assert (command.verb, command.environment) == (verb, environment)


def test_the_command_as_typed_is_what_is_echoed() -> None:
    assert parse("Deploy Production").text == "/tfops deploy production"
    assert ChatCommand("status").text == "/tfops status"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("destroy prod", "there is no command 'destroy'"),
        ("deploy", "deploy needs an environment: /tfops deploy ENV"),
        ("deploy prod now", "unexpected 'now': /tfops deploy ENV"),
        ("help me", "help takes no environment"),
        ("plan $(id)", "'$(id)' is not an environment name"),
        ("plan <!channel>", "'<!channel>' is not an environment name"),
        ("deploy " + "x" * 300, "characters; a command is a few words"),
        ("unlock " + "a" * 64, "is not an environment name"),
    ],
)
def test_what_is_not_a_command_says_what_is(text: str, problem: str) -> None:
    with pytest.raises(ChatCommandError) as raised:
        parse(text)
    assert problem in str(raised.value)
    assert len(str(raised.value)) < 120  # a bad word is quoted short, never echoed whole


@pytest.mark.parametrize(
    ("word", "environment"),
    [
        ("prod", "prod"),
        ("production", "prod"),
        ("prd", "prod"),
        ("development", "dev"),
        ("stage", "staging"),
        ("stg", "staging"),
    ],
)
def test_long_forms_name_the_repos_environment(word: str, environment: str) -> None:
    assert resolve(word, ENVIRONMENTS) == environment


def test_an_environment_named_exactly_wins_and_two_candidates_are_not_guessed() -> None:
    assert resolve("production", ("prod", "production")) == "production"
    with pytest.raises(ChatCommandError, match="'prd' could be prod or production"):
        resolve("prd", ("prod", "production"))
    with pytest.raises(ChatCommandError, match="no environment 'qa'; the environments: dev, prod"):
        resolve("qa", ("prod", "dev"))
