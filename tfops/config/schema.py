"""tfops.yaml read and validated: YAML that can't hurt, the pydantic models, and errors
that name the setting and its line.

The models are derived from the dataclasses in `tfops.config.model` (the one definition
of every setting) and hold the checks a type can't express. This module is imported
only when a tfops.yaml is read for the first time (`tfops.config` keeps what it
validated, by the file's hash) and for `tfops config schema`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from tfops.config.model import (
    ENVIRONMENT_NAME,
    SLACK_TEAM_ID,
    SLACK_USER_ID,
    DriftConfig,
    EnvironmentConfig,
    GithubConfig,
    ModulesConfig,
    SlackConfig,
    TfopsConfig,
)
from tfops.errors import ConfigError

SCHEMA_URL = "https://raw.githubusercontent.com/tfops/tfops/main/schema/tfops.schema.json"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---- checks a type can't express -----------------------------------------------------


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


def _names_the_release(value: str) -> str:
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if "release" not in pattern.groupindex:
        raise ValueError(
            "needs a group named `release` for the release tag, e.g. "
            r"'^(?P<release>v\d+\.\d+\.\d+)-rc\d+$'"
        )
    return value


def _no_apply_roles(data: Any) -> Any:
    if isinstance(data, dict) and "apply_roles" in data:
        raise ValueError(
            "apply_roles was removed: an author association says how someone relates to "
            "the repository, not what they may do. GitHub's permission API decides "
            "(write, maintain or admin may apply); delete this setting"
        )
    return data


def _no_webhook_url(data: Any) -> Any:
    if isinstance(data, dict) and "slack_webhook_url" in data:
        raise ValueError(
            "slack_webhook_url was removed: the webhook URL is a secret and does not "
            "belong in a file; set the TFOPS_SLACK_WEBHOOK_URL environment variable"
        )
    return data


def _user_ids(values: dict[str, list[str]]) -> dict[str, list[str]]:
    for env, users in values.items():
        for user in users:
            if not SLACK_USER_ID.fullmatch(user):
                raise ValueError(
                    f"{env}: {user!r} is not a Slack user ID; use the member ID (like "
                    "U0123ABCD: profile → ⋮ → Copy member ID), not a name"
                )
    return values


def _team_id(value: str | None) -> str | None:
    if value is not None and not SLACK_TEAM_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a Slack workspace ID (like T0123ABCD)")
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]{0,127}", value):
        raise ValueError(
            f"{value!r} is not an environment variable name; name the variable that "
            "holds the secret (the secret itself never goes in tfops.yaml)"
        )
    return value


def _masks_compile(values: list[str]) -> list[str]:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    return values


def _environment_names(values: dict[str, Any]) -> dict[str, Any]:
    for name in values:
        if not ENVIRONMENT_NAME.fullmatch(name):
            raise ValueError(
                f"environment name {name!r} must be lower-case letters, digits and "
                "dashes, with `/` between the parts of a path such as prod/eu-west-1"
            )
    return values


FIELD_CHECKS: dict[type, dict[str, Any]] = {
    ModulesConfig: {
        "release_tag_pattern": _compiles,
        "release_candidate_pattern": _names_the_release,
    },
    SlackConfig: {
        "appliers": _user_ids,
        "team_id": _team_id,
        "signing_secret_env": _env_name,
    },
    TfopsConfig: {"mask": _masks_compile, "environments": _environment_names},
}
SECTION_CHECKS: dict[type, Any] = {
    GithubConfig: _no_apply_roles,
    DriftConfig: _no_webhook_url,
}


# ---- the pydantic models, from the dataclasses ---------------------------------------

_MODELS: dict[type, type[BaseModel]] = {}


def model_of(settings: type) -> type[BaseModel]:
    """The pydantic model that validates one settings dataclass (built once)."""
    if settings in _MODELS:
        return _MODELS[settings]
    hints = typing.get_type_hints(settings)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(settings):
        # a field BaseModel already has an attribute of (`validate`) gets a `_` and an alias
        clash = hasattr(BaseModel, item.name)
        name, alias = (item.name + "_", item.name) if clash else (item.name, None)
        options: dict[str, Any] = dict(item.metadata)
        if alias:
            options["alias"] = alias
        if item.default_factory is not dataclasses.MISSING:
            made = item.default_factory()
            if dataclasses.is_dataclass(made):  # a section: its defaults, as its model
                section = model_of(type(made))
                defaults = dataclasses.asdict(made)  # type: ignore[arg-type]
                options["default_factory"] = lambda s=section, d=defaults: s.model_validate(d)
            else:
                options["default_factory"] = item.default_factory
        else:
            options["default"] = item.default
        fields[name] = (_pydantic_type(hints[item.name]), Field(**options))
    validators: dict[str, Any] = {
        f"_check_{name}": field_validator(name)(_as_validator(check))
        for name, check in FIELD_CHECKS.get(settings, {}).items()
    }
    if settings in SECTION_CHECKS:
        validators["_check_section"] = model_validator(mode="before")(
            _as_validator(SECTION_CHECKS[settings])
        )
    doc = settings.__doc__ or ""
    built: type[BaseModel] = create_model(
        settings.__name__,
        __base__=Strict,
        __doc__=None if doc.startswith(settings.__name__ + "(") else doc,
        __module__=__name__,
        __validators__=validators,
        **fields,
    )
    _MODELS[settings] = built
    return built


def _as_validator(check: Any) -> Any:
    """A check of a value as pydantic calls validators (on the class)."""

    def validator(cls: type, value: Any) -> Any:
        return check(value)

    return validator


def _pydantic_type(kind: Any) -> Any:
    """A field's type with settings dataclasses replaced by their models."""
    if dataclasses.is_dataclass(kind):
        return model_of(kind)  # type: ignore[arg-type]
    origin = typing.get_origin(kind)
    if origin in (list, dict):
        return origin[tuple(_pydantic_type(arg) for arg in typing.get_args(kind))]
    return kind


def validate(text: str | bytes, path: Path) -> dict[str, Any] | None:
    """tfops.yaml's text (or bytes) → its settings as plain data (`TfopsConfig.to_dict`'s
    shape), None for an empty file; a ConfigError naming file, line and setting. The
    caller has checked its size (`tfops.config.MAX_CONFIG_BYTES`)."""
    if isinstance(text, bytes):
        text = _decode(text, path)
    node = _compose(text, path)
    if node is None:
        return None
    _check_nodes(node, path)
    data = _construct(node, path)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of settings", where=path.name)
    try:
        validated = model_of(TfopsConfig).model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, node, path) from None
    dumped: dict[str, Any] = validated.model_dump(by_alias=True)
    return dumped


# A "billion laughs" of nested aliases is tiny on disk and huge once expanded, so the
# expanded size is counted on the node graph, where each anchor is one node however often
# it is used.
MAX_CONFIG_VALUES = 10_000
MAX_CONFIG_DEPTH = 50


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            where=f"{path.name}:{line}",
            hint="save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
        ) from None


def _yaml_error(exc: yaml.YAMLError, path: Path) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
    problem = getattr(exc, "problem", None) or str(exc)
    return ConfigError(f"not valid YAML: {problem}", where=where)


def _too_deep(path: Path) -> ConfigError:
    return ConfigError(
        f"is nested too deeply (more than {MAX_CONFIG_DEPTH} levels)", where=path.name
    )


def _compose(text: str, path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path) from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise _too_deep(path) from None


def _construct(node: yaml.Node, path: Path) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path) from None
    finally:
        loader.dispose()


def _check_nodes(root: yaml.Node, path: Path) -> None:
    """Refuse what YAML allows and a config must not have: duplicate keys, deep nesting,
    and aliases that expand past MAX_CONFIG_VALUES values. Iterative: a hostile file
    must not exhaust the stack either."""
    sizes: dict[int, int] = {}  # node id → values it expands to
    depths: dict[int, int] = {id(root): 1}
    keys_at: dict[int, list[str]] = {id(root): []}
    order: list[yaml.Node] = []  # every distinct node, parents before children
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        children = _children(node)
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(node, keys_at[id(node)], path)
        for key, child in children:
            if id(child) in depths:
                continue  # an alias of a node already seen
            depths[id(child)] = depths[id(node)] + 1
            if depths[id(child)] > MAX_CONFIG_DEPTH:
                raise _too_deep(path)
            keys_at[id(child)] = [*keys_at[id(node)], key] if key else keys_at[id(node)]
            stack.append(child)
    for node in reversed(order):
        sizes[id(node)] = 1 + sum(sizes[id(child)] for _, child in _children(node))
        if sizes[id(node)] > MAX_CONFIG_VALUES:
            line = node.start_mark.line + 1
            raise ConfigError(
                f"its aliases expand to more than {MAX_CONFIG_VALUES:,} values",
                where=f"{path.name}:{line}",
                hint="tfops.yaml allows anchors and aliases for small repeated blocks only",
            )


def _children(node: yaml.Node) -> list[tuple[str, yaml.Node]]:
    """A node's children with the key each sits under ("" inside a list), keys included."""
    if isinstance(node, yaml.SequenceNode):
        return [("", child) for child in node.value]
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[str, yaml.Node]] = []
        for key, value in node.value:
            out += [("", key), (str(key.value) if isinstance(key, yaml.ScalarNode) else "", value)]
        return out
    return []


def _refuse_duplicate_keys(node: yaml.MappingNode, keys: list[str], path: Path) -> None:
    """YAML keeps the last of two equal keys: a second `prod:` would silently drop the first."""
    first: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if key.value in first:
            name = ".".join([*keys, str(key.value)])
            raise ConfigError(
                f"{name} is given twice (lines {first[key.value]} and {line}); "
                "YAML would keep only the second",
                where=f"{path.name}:{line}",
                hint="merge the two into one",
            )
        first[key.value] = line


def _config_error(exc: ValidationError, node: yaml.Node | None, path: Path) -> ConfigError:
    lines = []
    first_where = path.name
    for index, error in enumerate(exc.errors()):
        loc = [part for part in error["loc"] if not str(part).startswith("function-")]
        key_path = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(node, loc)
        where = f"{path.name}:{line}" if line else path.name
        if index == 0:
            first_where = where
        lines.append(f"{where}: {key_path}: {_describe(error, loc)}")
    message = (
        lines[0].split(": ", 1)[1]
        if len(lines) == 1
        else "invalid settings:\n  " + "\n  ".join(lines)
    )
    return ConfigError(
        message,
        where=first_where,
        hint="see the config reference in README.md or `tfops config schema`",
    )


def _describe(error: Any, loc: list[Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        text = "unknown setting"
        if guess:
            text += f"; did you mean {guess[0]!r}?"
        return text + f" Allowed here: {', '.join(allowed)}"
    if kind == "literal_error":
        return f"{error['input']!r} is not allowed; use one of {error['ctx']['expected']}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return f"{error['msg']} (got {error['input']!r})"


def _allowed_keys(loc: list[Any]) -> list[str]:
    top = model_of(TfopsConfig)
    current: Any = top
    for part in loc:
        if current is None:
            return []
        if current is top and part == "environments":
            current = dict
            continue
        if current is dict:
            current = model_of(EnvironmentConfig)
            continue
        found = next(
            (f for name, f in current.model_fields.items() if (f.alias or name) == part), None
        )
        current = getattr(found, "annotation", None) if found else None
    if current is None or not hasattr(current, "model_fields"):
        return []
    return [f.alias or name for name, f in current.model_fields.items()]


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of the deepest parent found."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def json_schema() -> dict[str, Any]:
    schema = model_of(TfopsConfig).model_json_schema(by_alias=True)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["$id"] = SCHEMA_URL
    schema["title"] = "tfops.yaml"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
