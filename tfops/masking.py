"""Mask secrets in everything tfops prints or posts: configured patterns and known values."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
Trie = dict[str, "Trie"]


class Masker:
    def __init__(self, patterns: Iterable[str] = (), values: Iterable[str] = ()):
        self._patterns = [re.compile(p) for p in patterns]
        self._values: set[str] = set()
        self._combined: re.Pattern[str] | None = None
        self.add_values(values)

    def add_values(self, values: Iterable[str]) -> None:
        """Literal secrets (e.g. sensitive values from a plan); short ones would mask noise."""
        self._values.update(v for v in values if isinstance(v, str) and len(v) >= 4)
        parts = [p.pattern for p in self._patterns]
        if self._values:
            parts.append(_literals_pattern(self._values))
        self._combined = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    def __call__(self, text: str) -> str:
        if self._combined is None or not text:
            return text
        return self._combined.sub(MASK, text)


def _literals_pattern(values: set[str]) -> str:
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

    try:
        text = pattern(trie)
        re.compile(text)
        return text
    except (RecursionError, re.error):  # pathological nesting: the plain alternation
        return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
