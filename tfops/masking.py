"""Mask secrets in everything tfops prints or posts: configured patterns and known values."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"


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
        parts += [re.escape(v) for v in sorted(self._values, key=len, reverse=True)]
        self._combined = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    def __call__(self, text: str) -> str:
        if self._combined is None or not text:
            return text
        return self._combined.sub(MASK, text)

    @property
    def active(self) -> bool:
        return self._combined is not None
