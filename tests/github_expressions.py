"""GitHub Actions expressions (`${{ … }}`), evaluated as the runner does, for workflow tests.

The workflow examples route jobs with `if:` conditions and name environments and
concurrency groups with expressions; the tests evaluate those conditions for events a user
would see (a `/tfops apply -e prod` comment, a scheduled drift check, a closed pull
request) instead of comparing their text. Semantics follow GitHub's documentation
("Evaluate expressions in workflows and actions"): loose equality that ignores the case of
strings and coerces mismatched types to numbers, `&&`/`||` returning an operand, the
falsy values false, 0, '', null and NaN, case-insensitive property names, and a job `if:`
without a status function meaning `success() && (…)`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)
STATUS_FUNCTIONS = ("success", "always", "cancelled", "failure")


class ExpressionError(ValueError):
    """An expression this evaluator (or GitHub) cannot read."""


@dataclass
class Context:
    """The contexts an expression sees (github, needs, inputs, vars, matrix, …)."""

    values: Mapping[str, Any]
    status: str = "success"  # success | failure | cancelled: how the job's needs went
    files: set[str] = field(default_factory=set)  # what hashFiles() finds

    def lookup(self, name: str) -> Any:
        return _get(self.values, name)


def evaluate(expression: str, context: Context) -> Any:
    """The value of one expression (with or without its `${{ }}`)."""
    match = TEMPLATE.fullmatch(expression.strip())
    parser = _Parser(match.group(1) if match else expression, context)
    return parser.parse()


def job_runs(condition: str | bool | None, context: Context) -> bool:
    """Whether a job (or step) with this `if:` runs, status functions included."""
    if condition is None:
        return context.status == "success"
    text = str(condition).lower() if isinstance(condition, bool) else condition
    match = TEMPLATE.fullmatch(text.strip())
    inner = match.group(1) if match else text
    if not any(re.search(rf"\b{name}\s*\(", inner) for name in STATUS_FUNCTIONS):
        inner = f"success() && ({inner})"
    return truthy(evaluate(inner, context))


def interpolate(text: str, context: Context) -> str:
    """A string with `${{ … }}` parts, as the runner renders it (environment names, groups)."""
    return TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), context)), text)


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return left is right
    if type(left) is type(right):
        return bool(left == right)
    return _number(left) == _number(right)  # mismatched types compare as numbers


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        wanted = str(key).casefold()
        for name, value in container.items():
            if str(name).casefold() == wanted:
                return value
        return None
    if isinstance(container, list) and isinstance(key, (int, float)) and not math.isnan(key):
        index = int(key)
        return container[index] if 0 <= index < len(container) else None
    return None


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(_equal(element, item) for element in search)
    return to_string(item).casefold() in to_string(search).casefold()


class _Parser:
    """Recursive descent over GitHub's precedence: || < && < == != < < <= > >= < ! < access."""

    def __init__(self, text: str, context: Context) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.position = 0
        self.context = context
        self.functions: dict[str, Callable[..., Any]] = {
            "contains": _contains,
            "startswith": lambda s, p: to_string(s).casefold().startswith(to_string(p).casefold()),
            "endswith": lambda s, p: to_string(s).casefold().endswith(to_string(p).casefold()),
            "fromjson": lambda s: json.loads(to_string(s)),
            "tojson": lambda v: json.dumps(v, indent=2),
            "format": lambda f, *a: re.sub(
                r"\{(\d+)\}", lambda m: to_string(a[int(m.group(1))]), to_string(f)
            ),
            "join": lambda v, sep=",": (
                to_string(sep).join(map(to_string, v)) if isinstance(v, list) else to_string(v)
            ),
            "hashfiles": lambda *p: "0" * 64 if any(x in context.files for x in p) else "",
            "success": lambda: context.status == "success",
            "always": lambda: True,
            "cancelled": lambda: context.status == "cancelled",
            "failure": lambda: context.status == "failure",
        }

    def parse(self) -> Any:
        value = self._or()
        if self.position != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.position][1]!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise ExpressionError("the expression ends too early")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"expected {expected!r}, found {token[1]!r}")
        self.position += 1
        return token

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._equality()
        while self._peek() == "&&":
            self._take()
            right = self._equality()
            value = right if truthy(value) else value
        return value

    def _equality(self) -> Any:
        value = self._comparison()
        while self._peek() in ("==", "!="):
            op = self._take()[1]
            same = _equal(value, self._comparison())
            value = same if op == "==" else not same
        return value

    def _comparison(self) -> Any:
        value = self._unary()
        while self._peek() in ("<", "<=", ">", ">="):
            op = self._take()[1]
            left, right = value, self._unary()
            if isinstance(left, str) and isinstance(right, str):
                a: Any = left.casefold()
                b: Any = right.casefold()
            else:
                a, b = _number(left), _number(right)
            value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._access()

    def _access(self) -> Any:
        value = self._primary()
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                kind, name = self._take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name, found {name!r}")
                value = _get(value, name)
            else:
                key = self._or()
                self._take("]")
                value = _get(value, key)
        return value

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._peek() == "(":
            self._take()
            arguments: list[Any] = []
            while self._peek() != ")":
                arguments.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take(")")
            function = self.functions.get(text.casefold())
            if function is None:
                raise ExpressionError(f"unknown function {text}()")
            return function(*arguments)
        return self.context.lookup(text)
