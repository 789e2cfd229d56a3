"""Mask secrets in everything tfops prints or posts.

Three kinds of secret are masked, in this order:
- known values: sensitive values from state and the plan, tokens tfops holds — in every
  escaping they can appear in (raw, JSON with and without `ensure_ascii`, Go's HTML-safe
  JSON, Terraform's quoted strings, tfops's Markdown and HTML escaping, workflow-command
  escaping), and a multi-line value line by line too (Terraform prints it as a heredoc);
- `mask:` patterns from tfops.yaml;
- secret-shaped strings nobody marked (`SHAPES`, always on): cloud and chat tokens,
  private key blocks, credentials in URLs and connection strings. The rules follow
  gitleaks' for the token formats; like tfmask, a value is also masked when its name says
  it is a secret key.

A long known value is also masked where a report cut it short ("…"): from its first 32
characters to the end of the string it is in.

Known values go first: a sensitive value that contains a secret shape (a DSN with a
password) is masked whole, not just the password in it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

MASK = "***"
MIN_VALUE_CHARS = 4  # shorter known values would mask noise
MIN_LINE_CHARS = 8  # a line of a multi-line value is masked on its own from this length
# A report cuts long values ("…"): a value this long is also masked from its first
# HEAD_CHARS characters on, to the end of the string it is in, wherever it is cut.
LONG_VALUE_CHARS = 48
HEAD_CHARS = 32
_REST_OF_STRING = r'(?:[^"\\\n…]|\\.)*'
Trie = dict[str, "Trie"]


@dataclass(frozen=True)
class SecretShape:
    """A kind of secret recognised by its form.

    `find` locates it (a shape may have several entries, one per spelling); what is masked
    is the named group (`secret`, `token`, `dsn`, `webhook`) that matched, else every match
    of `inner` inside the found text when given, else all of it.
    Speed matters (a big plan renders to megabytes): a pattern that starts with a literal is
    found by the regex engine as fast as `in` would; one that can't (case-insensitive) has
    `keywords`, and a text containing none of them is skipped, as gitleaks does.
    """

    name: str
    description: str
    find: str
    keywords: tuple[str, ...] = ()
    inner: str | None = None


_AWS_SECRET = r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
_PRIVATE_KEY = r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
_PRIVATE_KEY_END = r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" for c in word)


_AWS_SECRET_NAMED = (
    "40-character AWS secret keys on a line that names one "
    "(`aws_secret_access_key`, `secret_key`, `AWS_SECRET_ACCESS_KEY=`, `SecretAccessKey`, …)"
)

SHAPES: tuple[SecretShape, ...] = (
    SecretShape(
        "aws-access-key-id",
        "AWS access key ids (`AKIA…`, `ASIA…`, `ABIA…`, `ACCA…`, `A3T…`)",
        r"A(?<![A-Z0-9]A)(?:3T[A-Z0-9]|KIA|SIA|BIA|CCA)[A-Z2-7]{16}(?![A-Z0-9])",
    ),
    SecretShape(  # two spellings, each starting with a literal: `(?i)` would be 30x slower
        "aws-secret-access-key",
        _AWS_SECRET_NAMED,
        r"ecret_?(?:[Aa]ccess_?)?[Kk]ey[^\n]{0,200}",
        inner=_AWS_SECRET,
    ),
    SecretShape(
        "aws-secret-access-key",
        _AWS_SECRET_NAMED,
        r"ECRET_?(?:ACCESS_?)?KEY[^\n]{0,200}",
        inner=_AWS_SECRET,
    ),
    SecretShape(
        "github-token",
        "GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and `github_pat_`",
        r"g(?:h[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{22,255})",
    ),
    SecretShape(
        "private-key",
        "private key blocks (`-----BEGIN … PRIVATE KEY-----` to its END line, or to the "
        "end of the key material when the text was cut)",
        rf"{_PRIVATE_KEY}(?:[\s\S]{{0,20000}}?{_PRIVATE_KEY_END}|(?:[A-Za-z0-9+/=\s]|\\[nr])*)",
    ),
    SecretShape(
        "slack-token",
        "Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxe-`, `xoxr-`, `xoxs-`, `xoxo-`, `xapp-`)",
        r"x(?:ox[abeoprs](?:\.xox[bp])?|app)-[0-9A-Za-z-]{8,}",
    ),
    SecretShape(  # one scan for all three: each starts at a `:`
        "url-credentials",
        "credentials in URLs: the password in the user info (`https://user:PASSWORD@host`, "
        "`git::https://x-access-token:TOKEN@github.com/…`, `postgres://u:PASSWORD@db/…`), "
        "a user name of 20 or more token characters (`https://TOKEN@host`), the secret path "
        "of a Slack webhook (`https://hooks.slack.com/services/…`, `/workflows/…`, "
        "`/triggers/…`), and the password of Go's `user:PASSWORD@tcp(…)` DSNs",
        r":(?://(?:[^\s/@:'\"\\]*:(?P<secret>[^\s/@'\"\\]+)|(?P<token>[A-Za-z0-9_.~-]{20,}))@"
        r"|(?P<dsn>[^\s:@/'\"\\]+)@(?:tcp|unix)\("
        r"|//hooks\.slack\.com/(?:services|workflows|triggers)/(?P<webhook>[A-Za-z0-9+/]{43,120}))",
    ),
    SecretShape(  # starts at the `=`, rarer than any letter; the name is looked behind for
        "dsn-password",
        "passwords in connection strings: `password=…`, `pwd=…`, `passwd=…` "
        "(any case, up to `;`, `&`, a quote or a space)",
        "=(?:"
        + "|".join(
            f"(?<={name}=)(?<![A-Za-z0-9_]{name}=)"
            for name in (_any_case("password"), _any_case("passwd"), _any_case("pwd"))
        )
        + r")(?P<secret>[^;&\s'\"\\]+)",
    ),
)

_SECRET_GROUPS = ("secret", "token", "dsn", "webhook")
# Characters with another spelling in some escaping; a value without them has one form.
_ESCAPED_CHARS = re.compile(r"[^A-Za-z0-9 _.,:;/+=@#!?()\[\]{}*~^$-]")


class Masker:
    def __init__(self, patterns: Iterable[str] = (), values: Iterable[str] = ()):
        self._patterns = [re.compile(p) for p in patterns]
        self._values: set[str] = set()
        self._combined: re.Pattern[str] | None = None
        self._heads: re.Pattern[str] | None = None
        self._shapes = [_CompiledShape(shape) for shape in SHAPES]
        self.add_values(values)

    def add_values(self, values: Iterable[str]) -> None:
        """Literal secrets (e.g. sensitive values from a plan), in every escaping."""
        new = {
            form
            for value in values
            if isinstance(value, str) and len(value) >= MIN_VALUE_CHARS
            for form in escaped_forms(value)
        } - self._values
        if not new and (self._combined is not None or not self._patterns):
            return
        self._values |= new
        heads = {v[:HEAD_CHARS] for v in self._values if len(v) >= LONG_VALUE_CHARS}
        if heads:
            try:
                self._heads = re.compile(f"(?:{_literals_trie(heads)}){_REST_OF_STRING}")
            except (RecursionError, re.error):
                alternation = _literals_alternation(heads)
                self._heads = re.compile(f"(?:{alternation}){_REST_OF_STRING}")
        configured = [p.pattern for p in self._patterns]
        try:
            self._combined = self._compile(configured, _literals_trie(self._values))
        except (RecursionError, re.error):  # pathological nesting: the plain alternation
            self._combined = self._compile(configured, _literals_alternation(self._values))

    def _compile(self, configured: list[str], literals: str) -> re.Pattern[str] | None:
        parts = [*configured, literals] if literals else configured
        return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if self._combined is not None:
            text = self._combined.sub(MASK, text)
        if self._heads is not None:  # what is left of long values a report cut short
            text = self._heads.sub(MASK, text)
        for shape in self._shapes:
            text = shape.mask(text)
        return text


class _CompiledShape:
    def __init__(self, shape: SecretShape):
        self.keywords = shape.keywords
        self.find = re.compile(shape.find)
        self.inner = re.compile(shape.inner) if shape.inner else None
        self.groups = [g for g in _SECRET_GROUPS if g in self.find.groupindex]

    def mask(self, text: str) -> str:
        if self.keywords and not any(keyword in text for keyword in self.keywords):
            return text
        return self.find.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group()
        if self.inner is not None:
            return self.inner.sub(MASK, found)
        for group in self.groups:
            start, end = match.span(group)
            if start >= 0:
                offset = match.start()
                return found[: start - offset] + MASK + found[end - offset :]
        return MASK


def escaped_forms(value: str) -> set[str]:
    """`value` as each of tfops's outputs, and Terraform's, may spell it.

    JSON with `ensure_ascii` (Python's default, tfops's plan rendering) and without; Go's
    `encoding/json` (Terraform's `-json`), which also escapes `<`, `>` and `&`; Terraform's
    own quoted strings (`$${` for `${`); tfops's Markdown escaping (render/markdown.py) and
    HTML escaping; GitHub workflow-command escaping (render/annotations.py). A multi-line
    value's lines are forms of their own: Terraform prints such a value as a heredoc, one
    indented line at a time.
    """
    if not _ESCAPED_CHARS.search(value) and "${" not in value and "%{" not in value:
        return {value}
    ascii_json = json.dumps(value)[1:-1]
    plain_json = json.dumps(value, ensure_ascii=False)[1:-1]
    go_json = (
        plain_json.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    terraform = plain_json.replace("${", "$${").replace("%{", "%%{")
    forms = {value, ascii_json, plain_json, go_json, terraform}
    for form in list(forms):
        forms |= {_markdown(form), html.escape(form), html.escape(form, quote=False)}
    forms.add(value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
    if "\n" in value:
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= MIN_LINE_CHARS:
                forms |= escaped_forms(line)
    return {form for form in forms if len(form) >= MIN_VALUE_CHARS}


def _markdown(text: str) -> str:
    """render/markdown.py's `escape` (kept in step with it by tests/test_masking.py)."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
    )


def _literals_trie(values: set[str]) -> str:
    """One regex for many literal values, longest match first, as a trie.

    An alternation of a thousand escaped values (a big plan has that many sensitive
    strings) makes the regex engine try each of them at every position of the text; the
    trie tries one branch per character. A value that is a prefix of another matches only
    when the longer one doesn't, as with the alternation sorted longest first.
    """
    trie: Trie = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}  # a value ends here

    def pattern(node: Trie) -> str:
        branches = []
        for char, child in sorted(node.items()):
            if not char:
                continue
            text = re.escape(char)
            while len(child) == 1 and "" not in child:  # a run without branches: a literal
                ((char, child),) = child.items()
                text += re.escape(char)
            branches.append(text + pattern(child))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return pattern(trie)


def _literals_alternation(values: set[str]) -> str:
    return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
