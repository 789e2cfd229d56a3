"""Terraform's JSON configuration syntax (`*.tf.json`): its top-level blocks, with lines.

`{"module": {"prod_db": {"source": "…"}}}` is `module "prod_db" { source = "…" }`. A block
type's labels are the nested object keys (resource and data have two, module, variable,
output, provider and check one, terraform and locals none); at any level an array of
objects stands for several blocks. Keys named "//" are comments. The standard `json`
module keeps no positions, so this small reader records each key's line: findings point
at the line of `"source"`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, cast

from tfops.errors import HclSyntaxError

LABELS = {
    "resource": 2,
    "data": 2,
    "ephemeral": 2,
    "module": 1,
    "variable": 1,
    "output": 1,
    "provider": 1,
    "check": 1,
}
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}
# the standard library's (C) string scanner: the JSON string at an offset, and its end
_scanstring = cast(Callable[[str, int], tuple[str, int]], json.decoder.scanstring)  # type: ignore[attr-defined]


class _Object(dict[str, Any]):
    """A JSON object that remembers the line of each key and of its braces."""

    line = 0
    end_line = 0
    key_lines: dict[str, int]


def read_blocks(text: str, filename: str) -> list[dict[str, Any]]:
    """Every top-level block, as `hcl._parse_to_dicts` returns them for native syntax."""
    try:
        document = _Reader(text).document()
    except _JsonError as exc:
        raise HclSyntaxError(
            f"not valid JSON: {exc.message}",
            where=f"{filename}:{exc.line}",
            hint="fix the JSON there; `terraform validate` shows Terraform's own message",
        ) from None
    if not isinstance(document, _Object):
        raise HclSyntaxError(
            "a .tf.json file must hold one JSON object of block types",
            where=f"{filename}:1",
            hint='e.g. {"module": {"name": {"source": "…"}}}',
        )
    out = []
    for block_type, value in document.items():
        if block_type == "//":
            continue
        line = document.key_lines[block_type]
        for labels, body, body_line in _expand(value, LABELS.get(block_type, 0), (), line):
            out.append(
                {
                    "type": block_type,
                    "labels": list(labels),
                    "line": body_line,
                    "end_line": body.end_line if isinstance(body, _Object) else body_line,
                    "body": _plain({k: v for k, v in body.items() if k != "//"})
                    if isinstance(body, dict)
                    else {},
                    "attr_lines": dict(body.key_lines) if isinstance(body, _Object) else {},
                }
            )
    return out


def _expand(
    value: Any, labels_left: int, labels: tuple[str, ...], line: int
) -> Iterator[tuple[tuple[str, ...], Any, int]]:
    """(labels, body, line of the last label) for each block a value stands for."""
    if isinstance(value, list):
        for item in value:
            yield from _expand(item, labels_left, labels, line)
        return
    if labels_left == 0 or not isinstance(value, _Object):
        yield labels, value, line
        return
    for key, inner in value.items():
        if key != "//":
            yield from _expand(inner, labels_left - 1, (*labels, key), value.key_lines[key])


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _JsonError(Exception):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.lines_before = 0  # newlines before self._line_pos
        self._line_pos = 0

    def line(self, pos: int | None = None) -> int:
        """1-based line of `pos`; positions are visited in order, so counting is incremental."""
        target = self.pos if pos is None else pos
        if target < self._line_pos:
            return self.text.count("\n", 0, target) + 1
        self.lines_before += self.text.count("\n", self._line_pos, target)
        self._line_pos = target
        return self.lines_before + 1

    def document(self) -> Any:
        self.skip()
        value = self.value()
        self.skip()
        if self.pos != len(self.text):
            raise _JsonError("extra data after the document", self.line())
        return value

    def skip(self) -> None:
        self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def value(self) -> Any:
        text, pos = self.text, self.pos
        char = text[pos : pos + 1]
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char == '"':
            return self.string()
        number = _NUMBER.match(text, pos)
        if number is not None:
            self.pos = number.end()
            literal = number.group()
            return float(literal) if any(c in literal for c in ".eE") else int(literal)
        for word, result in _LITERALS.items():
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                return result
        found = repr(char) if char else "end of file"
        raise _JsonError(f"expected a value, found {found}", self.line())

    def string(self) -> str:
        try:
            value, self.pos = _scanstring(self.text, self.pos + 1)
        except json.JSONDecodeError as exc:
            raise _JsonError(exc.msg, self.line(exc.pos)) from None
        return value

    def object(self) -> _Object:
        result = _Object()
        result.line = self.line()
        result.key_lines = {}
        self.pos += 1
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            result.end_line = self.line()
            return result
        while True:
            if not self.text.startswith('"', self.pos):
                raise _JsonError("expected a quoted key", self.line())
            key_line = self.line()
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise _JsonError(f"expected ':' after key {key!r}", self.line())
            self.pos += 1
            self.skip()
            result[key] = self.value()
            result.key_lines[key] = key_line
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                self.skip()
                continue
            if self.text.startswith("}", self.pos):
                result.end_line = self.line()
                self.pos += 1
                return result
            raise _JsonError("expected ',' or '}'", self.line())

    def array(self) -> list[Any]:
        items: list[Any] = []
        self.pos += 1
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return items
        while True:
            items.append(self.value())
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                self.skip()
                continue
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return items
            raise _JsonError("expected ',' or ']'", self.line())
