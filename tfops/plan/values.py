"""How a plan value is told: one line, the way Terraform says it.

- strings in double quotes, with `"`, `\\` and control characters escaped, printable
  Unicode as is (`"für Zürich ✓"`), and characters that don't print — bidi overrides,
  zero-width spaces, lone surrogates — escaped, so a value can't hide or reorder text;
- `(known after apply)` where `after_unknown` says so, also inside lists and objects, and
  for object keys that exist only in `after_unknown`;
- `(sensitive value)` where a sensitive marker says so: the part, not the whole;
- at most MAX_VALUE_CHARS characters (or the limit a Teller is given).

Masking of the report happens later, on its text; that can only find a secret in the form
the text holds. So a secret that this escaping changes (one with a quote, a backslash, a
control character) is masked here too, in its escaped form, before anything can print it,
and so is a secret a cut would otherwise leave half of.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from tfops.masking import Masker

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
MAX_VALUE_CHARS = 300
# json.dumps with options builds an encoder per call; a plan renders ~100,000 values
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


class Teller:
    """Tells the values of one plan. `secrets` lists its sensitive strings, asked for only
    when a value needs escaping or cutting (most plans never ask)."""

    def __init__(self, secrets: Callable[[], Iterable[str]] = tuple, limit: int = MAX_VALUE_CHARS):
        self._secrets = secrets
        self._limit = limit
        self._raw_secrets: list[str] | None = None
        self._escaped: Masker | None = None
        self._all: Masker | None = None

    def __call__(self, value: Any, unknown: Any = False, sensitive: Any = False) -> str:
        if sensitive is True:
            return SENSITIVE
        if unknown is True:
            return UNKNOWN
        if (unknown and has_true(unknown)) or (sensitive and has_true(sensitive)):
            text = _compose(value, unknown, sensitive)
        elif value is None:
            return "null"
        else:
            text = _ENCODER.encode(value)
        # JSON escaped something (a backslash), or left something that doesn't print: DEL
        # among ASCII, anything among the rest. Checked cheaply: most values are neither.
        if "\\" in text or ("\x7f" in text if text.isascii() else not text.isprintable()):
            text = self._escaped_secrets()(escape_unprintable(text))
        if len(text) > self._limit:
            text = self._every_secret()(text)
            if len(text) > self._limit:
                text = text[: self._limit - 1] + "…"
        return text

    def _escaped_secrets(self) -> Masker:
        if self._escaped is None:
            raw = self._raw()
            self._escaped = Masker(values={quoted(s)[1:-1] for s in raw} - set(raw))
        return self._escaped

    def _every_secret(self) -> Masker:
        if self._all is None:
            raw = self._raw()
            self._all = Masker(values={quoted(s)[1:-1] for s in raw} | set(raw))
        return self._all

    def _raw(self) -> list[str]:
        if self._raw_secrets is None:
            self._raw_secrets = [s for s in self._secrets() if isinstance(s, str)]
        return self._raw_secrets


def quoted(text: str) -> str:
    """A string as Terraform's plan shows it: quoted, escaped, printable Unicode kept."""
    return escape_unprintable(_ENCODER.encode(text))


def escape_unprintable(text: str) -> str:
    """Escape what JSON leaves raw but doesn't print (U+202E, U+200B, U+2028, lone
    surrogates, …) as \\uXXXX, the way Go's %q does in Terraform's own output."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def has_true(marker: Any) -> bool:
    """Whether a marker (after_unknown, *_sensitive) is true anywhere inside."""
    if marker is True:
        return True
    if not marker:  # False, {}, []: most markers, so answered without a generator
        return False
    if isinstance(marker, dict):
        return any(v is True or (v and has_true(v)) for v in marker.values())
    if isinstance(marker, list):
        return any(v is True or (v and has_true(v)) for v in marker)
    return False


def _escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _compose(value: Any, unknown: Any, sensitive: Any) -> str:
    """A value with unknown and sensitive parts, as one line of JSON-like text."""
    if sensitive is True:
        return SENSITIVE
    if unknown is True:
        return UNKNOWN
    if not (unknown and has_true(unknown)) and not (sensitive and has_true(sensitive)):
        return "null" if value is None else _ENCODER.encode(value)
    if isinstance(value, dict) or (value is None and isinstance(unknown, dict)):
        if sensitive and not isinstance(sensitive, dict):
            return SENSITIVE  # a marker that doesn't fit the value: show nothing of it
        fields: dict[str, Any] = value or {}
        unknown_keys = unknown if isinstance(unknown, dict) else {}
        key_marks: dict[str, Any] = sensitive if isinstance(sensitive, dict) else {}
        keys = sorted({*fields, *(k for k, v in unknown_keys.items() if v)})
        parts = [
            f"{_ENCODER.encode(str(key))}: "
            + _compose(fields.get(key), unknown_keys.get(key, False), key_marks.get(key, False))
            for key in keys
        ]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list) or (value is None and isinstance(unknown, list)):
        if sensitive and not isinstance(sensitive, list):
            return SENSITIVE
        items = value or []
        unknown_items = unknown if isinstance(unknown, list) else []
        item_marks: list[Any] = sensitive if isinstance(sensitive, list) else []
        size = max(len(items), len(unknown_items))
        parts = [
            _compose(
                items[i] if i < len(items) else None,
                unknown_items[i] if i < len(unknown_items) else False,
                item_marks[i] if i < len(item_marks) else False,
            )
            for i in range(size)
        ]
        return "[" + ", ".join(parts) + "]"
    if sensitive:  # a container marker on a scalar: doesn't fit, so show nothing
        return SENSITIVE
    return "null" if value is None else _ENCODER.encode(value)
