import html
import json
import random
import re
from pathlib import Path

import pytest

from tfops.masking import MASK, SHAPES, Masker, escaped_forms
from tfops.render.markdown import escape


def test_patterns_and_values_are_masked() -> None:
    masker = Masker([r"dfp_live_[0-9a-f]+"], ["hunter22", "abc"])
    text = "key dfp_live_5f3a and password hunter22; abc is too short to mask"
    assert masker(text) == f"key {MASK} and password {MASK}; abc is too short to mask"


def test_the_longest_secret_wins_like_a_sorted_alternation() -> None:
    rng = random.Random(7)
    values = {"".join(rng.choice("abc") for _ in range(rng.randint(4, 8))) for _ in range(400)}
    masker = Masker(values=values)
    naive = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    for _ in range(2000):
        text = "".join(rng.choice("abc _") for _ in range(50))
        assert masker(text) == naive.sub(MASK, text)


def test_many_secrets_stay_fast() -> None:
    rng = random.Random(3)
    values = ["".join(rng.choice("0123456789abcdef") for _ in range(24)) for _ in range(2000)]
    masker = Masker(values=values)
    text = ("resource change with value " + values[5] + " and more text\n") * 5000
    masked = masker(text)
    assert values[5] not in masked and masked.count(MASK) == 5000


# ---- secret shapes nobody marked sensitive (issue 13 #5, #6) ---------------------------

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"
SHAPED = [
    (f"key {AWS_KEY_ID} in a tag", "key *** in a tag"),
    (f"ASIA{AWS_KEY_ID[4:]}", "***"),
    (f'aws_secret_access_key = "{AWS_SECRET}"', 'aws_secret_access_key = "***"'),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS_SECRET_ACCESS_KEY=***"),
    (f'"SecretAccessKey": "{AWS_SECRET}"', '"SecretAccessKey": "***"'),
    (f'secret_key: "{AWS_SECRET}" -> "{AWS_SECRET[::-1]}"', 'secret_key: "***" -> "***"'),
    (f"token {GITHUB_TOKEN}.", "token ***."),
    ("gho_" + "x" * 36, "***"),
    ("ghs_" + "Y" * 36, "***"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "***"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nq83Z\n-----END RSA PRIVATE KEY-----\n",
        "***\n",
    ),
    ('"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk…" cut', '"***…" cut'),
    (
        "https://hooks.slack.com/services/T0000000A/B0000000B/abcdefghijklmnopqrstuvwx",
        "https://hooks.slack.com/services/***",
    ),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", "***"),
    ("xapp-1-A0123456789-1234567890123-abcdef", "***"),
    (
        f"git::https://x-access-token:{GITHUB_TOKEN[:-4]}@github.com/org/mod.git?ref=v1.0.0",
        "git::https://x-access-token:***@github.com/org/mod.git?ref=v1.0.0",
    ),
    ("postgres://app:pa55word@db.internal:5432/app", "postgres://app:***@db.internal:5432/app"),
    ("https://0123456789abcdefghij@git.example.com/x", "https://***@git.example.com/x"),
    ("app:pa55word@tcp(db:3306)/app", "app:***@tcp(db:3306)/app"),
    (
        "Server=db;User Id=sa;Password=Pa55;Encrypt=true",
        "Server=db;User Id=sa;Password=***;Encrypt=true",
    ),
    ("jdbc:x://db/app?user=a&PWD=Pa55&ssl=1", "jdbc:x://db/app?user=a&PWD=***&ssl=1"),
]
NOT_SECRETS = [
    "commit 0123456789abcdef0123456789abcdef01234567",
    "arn:aws:iam::123456789012:role/deploy",
    "ssh://git@github.com/org/repo.git",
    "https://registry.example.com:443/v2/app@sha256:abc",
    'secret_name = "prod/db"',
    "AKIAshort",
    "ghp_short",
    "user=alice&password_hint=x",
]


@pytest.mark.parametrize(("text", "masked"), SHAPED, ids=[t[:24] for t, _ in SHAPED])
def test_secret_shapes_are_masked_without_being_marked(text: str, masked: str) -> None:
    assert Masker()(text) == masked


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_things_that_look_alike_are_left_alone(text: str) -> None:
    assert Masker()(text) == text


def test_secret_shapes_are_masked_in_json_and_markdown_too() -> None:
    document = json.dumps({"tags": {"key": AWS_KEY_ID, "url": SHAPED[15][0]}})
    assert AWS_KEY_ID not in Masker()(document)
    assert GITHUB_TOKEN[:-4] not in Masker()(document)
    assert AWS_KEY_ID not in Masker()(escape(f"| {AWS_KEY_ID} |"))


def test_mask_patterns_from_config_add_to_the_shapes() -> None:
    masker = Masker([r"dfp_live_[0-9a-f]+"])
    assert masker(f"dfp_live_5f3a {AWS_KEY_ID}") == "*** ***"


def test_a_sensitive_value_holding_a_shape_is_masked_whole() -> None:
    dsn = "postgres://app:pa55word@db.internal:5432/app"
    assert Masker(values=[dsn])(f"url = {dsn}") == "url = ***"


# ---- known values in every escaping (issue 15 row 13) -----------------------------------

TRICKY = 'pa"ss\\wörd\nzwei <&> ${x} ✓'


def _forms() -> dict[str, str]:
    ascii_json = json.dumps(TRICKY)[1:-1]
    plain_json = json.dumps(TRICKY, ensure_ascii=False)[1:-1]
    go_json = plain_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return {
        "raw": TRICKY,
        "json ensure_ascii": ascii_json,
        "json utf-8": plain_json,
        "go json (terraform -json)": go_json,
        "terraform quoted string": plain_json.replace("${", "$${"),
        "markdown cell": escape(TRICKY),
        "markdown of json": escape(ascii_json),
        "markdown of utf-8 json": escape(plain_json),
        "html": html.escape(TRICKY),
        "html of json": html.escape(ascii_json),
        "html without quotes": html.escape(TRICKY, quote=False),
        "workflow command": TRICKY.replace("%", "%25").replace("\n", "%0A"),
    }


@pytest.mark.parametrize(("form", "text"), list(_forms().items()), ids=list(_forms()))
def test_a_sensitive_value_is_masked_in_every_escaping(form: str, text: str) -> None:
    masker = Masker(values=[TRICKY])
    shown = masker(f"before {text} after")
    assert shown == f"before {MASK} after", form


def test_a_multi_line_value_is_masked_line_by_line_as_terraform_prints_it() -> None:
    value = "first line of it\nsecond line, longer\nok"
    heredoc = (
        "      ~ output = <<-EOT\n            first line of it\n"
        "            second line, longer\n            ok\n        EOT\n"
    )
    shown = Masker(values=[value])(heredoc)
    assert "first line of it" not in shown and "second line, longer" not in shown


def test_the_markdown_form_is_what_the_renderer_escapes() -> None:
    for text in (TRICKY, "a|b\\c<d>e\nf", json.dumps(TRICKY)):
        assert escape(text) in escaped_forms(text)


def test_the_readme_lists_every_built_in_shape() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Masking", 1)[1].split("\n## ", 1)[0]
    for shape in SHAPES:
        if shape.description:
            assert f"| `{shape.name}` | {shape.description} |" in section


def test_a_long_value_is_masked_where_a_report_cut_it_short() -> None:
    value = "-----BEGIN CERTIFICATE-----\n" + "MIIBszCCAVmgAwIBAgIU" * 30
    shown = json.dumps(value)[:299] + "…"  # plan/model.py cuts values at 300 characters
    masked = Masker(values=[value])(f"  output: {shown} -> (known after apply)")
    assert masked.startswith(f'  output: "{MASK}') and masked.endswith("… -> (known after apply)")
    assert "MIIBszCCAVmgAwIBAgIU" not in masked and "CERTIFICATE" not in masked
