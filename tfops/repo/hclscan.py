"""HCL's structure without python-hcl2: top-level blocks, their labels and lines, and
literal attribute values.

Two uses:
- `index`: one fast pass over a file (regular expressions jump over block bodies) that
  finds every top-level block's type, labels and line span, so callers parse only the
  blocks they need — pins needs the module blocks of a 3 MB file, not its 100,000 lines.
- `read_blocks`: the tolerant fallback reader for files python-hcl2 rejects although
  Terraform accepts them (a newline before `.attr` inside parentheses, `=>` starting a
  line in a `for`, a comment between block labels, a Unicode identifier). It reads
  attributes and nested blocks; a value that is not a literal is kept as `${expression}`,
  the way python-hcl2 serialises expressions.

Both raise `ScanError` (with a 1-based line) on text that is not HCL's structure: an
unclosed block, string or heredoc, or a stray character where a block should start.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any


class ScanError(Exception):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Header:
    """A top-level block's place in its file; `start` is the offset of its first line."""

    type: str
    labels: tuple[str, ...]
    line: int
    end_line: int
    start: int
    end: int


_IDENT = re.compile(r"[^\W\d][\w-]*")
_SPACE = re.compile(r"(?:[ \t\r]+|/\*.*?\*/)*", re.S)  # blanks and block comments, same line
_BLANK = re.compile(r"(?:\s+|#[^\n]*|//[^\n]*|/\*.*?\*/)*", re.S)  # anything between items
_BODY_STOP = re.compile(r'[{}"#/<]')
_EXPR_STOP = re.compile(r'[\n{}()\[\]"#/<]')
_STRING_STOP = re.compile(r'[\\"\n$%]')
_HEREDOC = re.compile(r"<<(-?)([^\W\d][\w-]*)[ \t]*\r?\n")
_OPENERS = {"{": "}", "(": ")", "[": "]"}
_SIMPLE_STRING = re.compile(r'"((?:[^"\\$%\n]|\\.|\$\$\{|%%\{|\$(?!\{)|%(?!\{))*)"', re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|\$\$\{|%%\{", re.S)


class _Text:
    """The text and the offsets of its line starts (offset → line without rescanning)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def line_start(self, offset: int) -> int:
        return self.starts[self.line(offset) - 1]


def index(text: str) -> list[Header]:
    """Every top-level block, in file order. Top-level attributes (tfvars) are skipped."""
    return [header for header, _ in _top_level(_Text(text), bodies=False)]


def read_blocks(text: str) -> list[dict[str, Any]]:
    """Every top-level block with its attributes, as `hcl._parse_to_dicts` returns them."""
    out = []
    for header, parsed in _top_level(_Text(text), bodies=True):
        assert parsed is not None
        body, attr_lines = parsed
        out.append(
            {
                "type": header.type,
                "labels": list(header.labels),
                "line": header.line,
                "end_line": header.end_line,
                "body": body,
                "attr_lines": attr_lines,
            }
        )
    return out


def _top_level(
    source: _Text, *, bodies: bool
) -> list[tuple[Header, tuple[dict[str, Any], dict[str, int]] | None]]:
    text = source.text
    found: list[tuple[Header, tuple[dict[str, Any], dict[str, int]] | None]] = []
    pos = _BLANK.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        start = pos
        name = _IDENT.match(text, pos)
        if name is None:
            raise ScanError(f"expected a block, found {_shown(text, pos)}", source.line(pos))
        pos = _SPACE.match(text, name.end()).end()  # type: ignore[union-attr]
        if text.startswith("=", pos) and not text.startswith(("==", "=>"), pos):
            pos = _skip_expression(source, pos + 1)  # a top-level attribute (tfvars)
        else:
            labels, pos = _labels(source, pos)
            if not text.startswith("{", pos):
                raise ScanError(
                    f"expected '{{' after `{name.group()}`, found {_shown(text, pos)}",
                    source.line(pos),
                )
            parsed = None
            if bodies:
                body, attr_lines, pos = _body(source, pos + 1)
                parsed = (body, attr_lines)
            else:
                pos = _skip_braced(source, pos + 1)
            header = Header(
                name.group(),
                labels,
                source.line(start),
                source.line(pos - 1),
                source.line_start(start),
                pos,
            )
            found.append((header, parsed))
        pos = _BLANK.match(text, pos).end()  # type: ignore[union-attr]
    return found


def _labels(source: _Text, pos: int) -> tuple[tuple[str, ...], int]:
    text = source.text
    labels = []
    while True:
        if text.startswith('"', pos):
            end = _skip_string(source, pos + 1)
            labels.append(_literal_string(text[pos:end]) or text[pos + 1 : end - 1])
            pos = end
        else:
            label = _IDENT.match(text, pos)
            if label is None:
                return tuple(labels), pos
            labels.append(label.group())
            pos = label.end()
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]


def _body(source: _Text, pos: int) -> tuple[dict[str, Any], dict[str, int], int]:
    """A block body after its `{`: attributes and nested blocks, and the offset after `}`."""
    text = source.text
    body: dict[str, Any] = {}
    attr_lines: dict[str, int] = {}
    opened = source.line(pos - 1)
    while True:
        pos = _BLANK.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            raise ScanError(f"block opened on line {opened} is not closed", opened)
        if text.startswith("}", pos):
            return body, attr_lines, pos + 1
        name = _IDENT.match(text, pos)
        if name is None:
            raise ScanError(
                f"expected an attribute or a block, found {_shown(text, pos)}", source.line(pos)
            )
        pos = _SPACE.match(text, name.end()).end()  # type: ignore[union-attr]
        if text.startswith("=", pos) and not text.startswith(("==", "=>"), pos):
            value_start = pos + 1
            pos = _skip_expression(source, value_start)
            if not text[value_start:pos].strip():
                raise ScanError(f"`{name.group()} =` has no value", source.line(name.start()))
            body[name.group()] = _value(text[value_start:pos])
            attr_lines[name.group()] = source.line(name.start())
            continue
        labels, pos = _labels(source, pos)
        if not text.startswith("{", pos):
            raise ScanError(
                f"expected '=' or '{{' after `{name.group()}`, found {_shown(text, pos)}",
                source.line(pos),
            )
        nested, _, pos = _body(source, pos + 1)
        for label in reversed(labels):
            nested = {label: nested}
        body.setdefault(name.group(), []).append(nested)


def _skip_braced(source: _Text, pos: int) -> int:
    """From inside a `{`, the offset after its matching `}` (strings, comments, heredocs
    and nested braces skipped)."""
    text = source.text
    opened = pos - 1
    depth = 1
    while True:
        match = _BODY_STOP.search(text, pos)
        if match is None:
            line = source.line(opened)
            raise ScanError(f"'{{' on line {line} is not closed", line)
        char, pos = match.group(), match.end()
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return pos
        elif char == '"':
            pos = _skip_string(source, pos)
        else:
            pos = _skip_comment_or_heredoc(source, match.start())


def _skip_expression(source: _Text, pos: int) -> int:
    """The end of an attribute's expression: a newline or a closing bracket outside any
    bracket the expression opened."""
    text = source.text
    closers: list[str] = []
    while True:
        match = _EXPR_STOP.search(text, pos)
        if match is None:
            if closers:
                raise ScanError("an expression is not closed", source.line(pos))
            return len(text)
        char = match.group()
        if char == "\n" and not closers:
            return match.start()
        pos = match.end()
        if char in _OPENERS:
            closers.append(_OPENERS[char])
        elif char in "})]":
            if not closers:
                return match.start()
            if closers.pop() != char:
                raise ScanError(f"unexpected {char!r}", source.line(match.start()))
        elif char == '"':
            pos = _skip_string(source, pos)
        elif char != "\n":
            end = _skip_comment_or_heredoc(source, match.start())
            if not closers and text[end - 1 : end] == "\n" and char in "#/":
                return match.start()  # a line comment ends the expression's line
            pos = end


def _skip_comment_or_heredoc(source: _Text, pos: int) -> int:
    """At `#`, `/` or `<`: the offset after the comment or heredoc there, or after the
    character when it starts neither (a division, a comparison)."""
    text = source.text
    char = text[pos]
    if char == "#" or text.startswith("//", pos):
        end = text.find("\n", pos)
        return len(text) if end == -1 else end + 1
    if text.startswith("/*", pos):
        end = text.find("*/", pos + 2)
        if end == -1:
            raise ScanError("a /* comment is not closed", source.line(pos))
        return end + 2
    if char == "<":
        heredoc = _HEREDOC.match(text, pos)
        if heredoc is not None:
            closing = re.compile(rf"^[ \t]*{re.escape(heredoc.group(2))}[ \t]*\r?$", re.M)
            marker = closing.search(text, heredoc.end())
            if marker is None:
                line = source.line(pos)
                raise ScanError(f"heredoc <<{heredoc.group(2)} is not closed", line)
            return marker.end()
    return pos + 1


def _skip_string(source: _Text, pos: int) -> int:
    """From after an opening quote, the offset after the closing one (templates skipped)."""
    text = source.text
    while True:
        match = _STRING_STOP.search(text, pos)
        if match is None or match.group() == "\n":
            line = source.line(pos)
            raise ScanError("a string is not closed on its line (unclosed quote?)", line)
        char, pos = match.group(), match.end()
        if char == "\\":
            pos += 1
        elif char == '"':
            return pos
        elif text.startswith(char, pos):  # `$${` and `%%{` are literal
            pos += 1
        elif text.startswith("{", pos):
            pos = _skip_braced(source, pos + 1)


def _value(expression: str) -> Any:
    """A literal's value (string, number, bool, null); any other expression as `${…}`."""
    stripped = expression.strip()
    string = _literal_string(stripped)
    if string is not None:
        return string
    if stripped in ("true", "false"):
        return stripped == "true"
    if stripped == "null":
        return None
    if stripped.startswith('"') and _is_one_string(stripped):
        return stripped[1:-1]  # a template, as python-hcl2 keeps it: `a-${var.b}`
    if _NUMBER.fullmatch(stripped):
        number = float(stripped)
        return int(number) if number.is_integer() and "." not in stripped else number
    return f"${{{stripped}}}"


def _is_one_string(quoted: str) -> bool:
    try:
        return _skip_string(_Text(quoted), 1) == len(quoted)
    except ScanError:
        return False


def _literal_string(quoted: str) -> str | None:
    """The value of a quoted string without interpolation; None for anything else."""
    if not _SIMPLE_STRING.fullmatch(quoted):
        return None
    return _ESCAPE.sub(_unescape, quoted[1:-1])


def _unescape(match: re.Match[str]) -> str:
    whole = match.group()
    if whole in ("$${", "%%{"):
        return whole[1:]
    code = match.group(1)
    if code[0] in "uU" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)


def _shown(text: str, pos: int) -> str:
    if pos >= len(text):
        return "end of file"
    return repr(text[pos : pos + 20].splitlines()[0] if text[pos] != "\n" else "\n")
