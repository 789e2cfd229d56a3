"""tfops.yaml: schema, defaults, and validation errors that name the setting and its line.

Every setting is optional; an environments repo without tfops.yaml runs on conventions.
`tfops config schema` prints the JSON Schema generated from these models.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tfops.errors import ConfigError

CONFIG_NAMES = ("tfops.yaml", "tfops.yml")
SCHEMA_URL = "https://raw.githubusercontent.com/tfops/tfops/main/schema/tfops.schema.json"

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
DEFAULT_PINNED_ENVIRONMENTS = frozenset({"prod", "production", "prd"})
# lower-case words and dashes; a region below an environment directory keeps its path
# (`prod/eu-west-1`); no `.` or `..`, no leading slash, at most 100 characters
ENVIRONMENT_NAME = re.compile(r"(?=.{1,100}$)[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class GateConfig(Strict):
    enabled: bool = Field(True, description="Run this gate.")
    required: bool = Field(
        False,
        description="A missing tool fails the gate instead of skipping it.",
    )
    args: list[str] = Field(default_factory=list, description="Extra arguments for the tool.")
    fail_on: Severity = Field(
        "low", description="Findings at or above this severity fail the gate."
    )
    ignore: list[str] = Field(
        default_factory=list, description="Rule ids whose findings are dropped."
    )


def _gate(**defaults: Any) -> Any:
    return Field(default_factory=lambda: GateConfig(**defaults))


class GatesConfig(Strict):
    fmt: GateConfig = _gate(required=True)
    pins: GateConfig = _gate(required=True)
    validate_: GateConfig = Field(
        default_factory=lambda: GateConfig(required=True), alias="validate"
    )
    tflint: GateConfig = _gate()
    tfsec: GateConfig = _gate()
    checkov: GateConfig = _gate(enabled=False)
    trivy: GateConfig = _gate(enabled=False)

    def get(self, name: str) -> GateConfig:
        value: GateConfig = getattr(self, "validate_" if name == "validate" else name)
        return value


class TerraformConfig(Strict):
    binary: str | None = Field(
        None, description="terraform executable (path or name). Default: `terraform` on PATH."
    )
    init_args: list[str] = Field(default_factory=list)
    plan_args: list[str] = Field(default_factory=list)
    apply_args: list[str] = Field(default_factory=list)
    plugin_cache_dir: str | None = Field(
        None, description="Shared provider plugin cache. Default: ~/.cache/tfops/plugin-cache."
    )
    timeout_minutes: int = Field(
        60, ge=1, description="A terraform call running longer than this is interrupted."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for terraform."
    )


class EnvironmentConfig(Strict):
    files: list[str] | None = Field(
        None, description="Prefix layout: globs of this environment's files. Default: NAME_*.tf"
    )
    directory: str | None = Field(
        None, description="Directory layout: this environment's root directory."
    )
    pinned: bool | None = Field(
        None,
        description="Modules must be pinned to release tags. Default: true for prod/production.",
    )
    apply: Literal["auto", "manual"] = Field(
        "auto",
        description="auto: applied on merge and by the watcher; manual: only by `/tfops apply`.",
    )
    var_files: list[str] = Field(default_factory=list)
    backend_config: list[str] = Field(
        default_factory=list, description="`-backend-config` values for terraform init."
    )
    require_signed_commits: bool = Field(
        False, description="Refuse to apply a commit whose signature git does not accept."
    )
    heal: bool = Field(False, description="Drift in this environment is applied back.")


class ModulesConfig(Strict):
    repos: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Sibling repos by the path modules use, e.g. `../backend: "
            "https://github.com/org/backend.git`. Default: a checkout next to the "
            "environments repo, else a URL derived from its own remote."
        ),
    )
    release_tag_pattern: str = Field(
        r"^v?\d+\.\d+\.\d+$", description="Tags that count as releases in pinned environments."
    )
    release_candidate_pattern: str = Field(
        r"^(?P<release>v?\d+\.\d+\.\d+)-rc\.?\d+$",
        description="Module repos: tags `tfops release` accepts as release candidates; the "
        "group `release` is the release tag it creates (v1.2.0-rc1 → v1.2.0).",
    )
    lock_file: str = "tfops.lock.json"
    require_lock: bool = Field(False, description="A pinned module with no lock entry fails.")
    ls_remote_timeout_seconds: int = Field(30, ge=1)

    @field_validator("release_tag_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("release_candidate_pattern")
    @classmethod
    def _names_the_release(cls, value: str) -> str:
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


class StoreConfig(Strict):
    url: str = Field(
        ".tfops/plans",
        description="Where plans are kept: a directory (relative to the repo) or s3://bucket/prefix.",
    )


class LocksConfig(Strict):
    backend: Literal["file", "dynamodb"] = "file"
    path: str = Field(".tfops/locks", description="file backend: the lock directory.")
    table: str | None = Field(None, description="dynamodb backend: the table name.")
    wait_seconds: int = Field(0, ge=0, description="How long an apply waits for a held lock.")


ApplyRequirement = Literal["approved", "mergeable", "not_draft"]


class GithubConfig(Strict):
    comment: bool = Field(True, description="Post the sticky plan comment on pull requests.")
    apply_requirements: list[ApplyRequirement] = Field(
        default_factory=lambda: list[ApplyRequirement](["approved"]),
        description="What `/tfops apply` before merge needs besides the commenter's write "
        "access: `approved` (an approving review by someone else with write access, on the "
        "current head), `mergeable` (GitHub says it can merge: checks and protections pass), "
        "`not_draft`. Closed pull requests and drafts are always refused.",
    )
    bot_login: str | None = Field(
        None,
        description="The login tfops comments as, when the token can't tell "
        "(GitHub App installation tokens). Default: github-actions[bot].",
    )
    fork_commands: bool = Field(
        False,
        description="Run `/tfops` commands on pull requests from forks. They run the fork's "
        "code with this repository's secrets: leave off unless every fork is trusted.",
    )

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "apply_roles" in data:
            raise ValueError(
                "apply_roles was removed: an author association says how someone relates to "
                "the repository, not what they may do. GitHub's permission API decides "
                "(write, maintain or admin may apply); delete this setting"
            )
        return data


class DriftConfig(Strict):
    interval_minutes: int = Field(60, ge=1, description="How often `tfops watch` checks for drift.")
    github_issues: bool = Field(True, description="Open one GitHub issue per drifted environment.")

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "slack_webhook_url" in data:
            raise ValueError(
                "slack_webhook_url was removed: the webhook URL is a secret and does not "
                "belong in a file; set the TFOPS_SLACK_WEBHOOK_URL environment variable"
            )
        return data


SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
SLACK_TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,20}")
DEFAULT_SIGNING_SECRET_ENV = "TFOPS_SLACK_SIGNING_SECRET"


class SlackConfig(Strict):
    """Slack slash commands on `tfops watch --listen` (POST /slack/commands and
    /slack/interactions). The signing secret is a secret: it comes from the environment."""

    appliers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Slack user IDs (U0123ABCD) allowed to apply and unlock, per environment: "
        "`prod: [U0ALICE]`. plan, status, drift and help are open to the workspace.",
    )
    team_id: str | None = Field(
        None, description="Accept requests from this Slack workspace (T0123ABCD) only."
    )
    signing_secret_env: str = Field(
        DEFAULT_SIGNING_SECRET_ENV,
        description="The environment variable that holds the Slack app's signing secret; "
        "without it the Slack endpoints are off.",
    )
    plan_ttl_minutes: int = Field(
        15, ge=1, le=1440, description="How long the Apply button of a plan shown in Slack works."
    )

    @field_validator("appliers")
    @classmethod
    def _user_ids(cls, values: dict[str, list[str]]) -> dict[str, list[str]]:
        for env, users in values.items():
            for user in users:
                if not SLACK_USER_ID.fullmatch(user):
                    raise ValueError(
                        f"{env}: {user!r} is not a Slack user ID; use the member ID (like "
                        "U0123ABCD: profile → ⋮ → Copy member ID), not a name"
                    )
        return values

    @field_validator("team_id")
    @classmethod
    def _team_id(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_TEAM_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a Slack workspace ID (like T0123ABCD)")
        return value

    @field_validator("signing_secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]{0,127}", value):
            raise ValueError(
                f"{value!r} is not an environment variable name; name the variable that "
                "holds the secret (the secret itself never goes in tfops.yaml)"
            )
        return value

    def may_apply(self, user_id: str, environment: str) -> bool:
        return user_id in self.appliers.get(environment, [])


class TfopsConfig(Strict):
    version: Literal[1] = 1
    layout: Literal["prefix", "directory"] | None = Field(
        None, description="prefix: one root, files named ENV_*.tf; directory: one root per env."
    )
    environments: dict[str, EnvironmentConfig] = Field(default_factory=dict)
    shared_files: list[str] | None = Field(
        None,
        description="Files that belong to every environment. "
        "Default: the unprefixed files at the root.",
    )
    var_files: list[str] = Field(default_factory=list, description="Var files for every plan.")
    terraform: TerraformConfig = Field(default_factory=TerraformConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    modules: ModulesConfig = Field(default_factory=ModulesConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    locks: LocksConfig = Field(default_factory=LocksConfig)
    github: GithubConfig = Field(default_factory=GithubConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    mask: list[str] = Field(
        default_factory=list,
        description="Regular expressions whose matches are masked in every comment and log.",
    )

    @field_validator("mask")
    @classmethod
    def _masks_compile(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        return values

    @field_validator("environments")
    @classmethod
    def _env_names(cls, values: dict[str, EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
        for name in values:
            if not ENVIRONMENT_NAME.fullmatch(name):
                raise ValueError(
                    f"environment name {name!r} must be lower-case letters, digits and "
                    "dashes, with `/` between the parts of a path such as prod/eu-west-1"
                )
        return values

    def env(self, name: str) -> EnvironmentConfig:
        return self.environments.get(name) or EnvironmentConfig()

    def is_pinned(self, name: str) -> bool:
        pinned = self.env(name).pinned
        return name in DEFAULT_PINNED_ENVIRONMENTS if pinned is None else pinned


def find_config(root: Path) -> Path | None:
    for name in CONFIG_NAMES:
        if (root / name).is_file():
            return root / name
    return None


def load_config(root: Path) -> tuple[TfopsConfig, Path | None]:
    """Load tfops.yaml from the repo root; defaults when there is none."""
    path = find_config(root)
    if path is None:
        return TfopsConfig(), None
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise _too_big(size, path)
    with path.open("rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)  # the file may grow between stat and read
    return parse_config(data, path), path


# A tfops.yaml is a few hundred lines. The caps keep a hostile one (a PR can change it) from
# taking the machine's memory: a "billion laughs" of nested aliases is tiny on disk and
# huge once expanded, so the expanded size is counted on the node graph, where each
# anchor is one node however often it is used.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_VALUES = 10_000
MAX_CONFIG_DEPTH = 50


def parse_config(text: str | bytes, path: Path) -> TfopsConfig:
    """Validate tfops.yaml's text (or bytes, read from a file or from git) into settings."""
    if len(text) > MAX_CONFIG_BYTES:
        raise _too_big(len(text), path)
    if isinstance(text, bytes):
        text = _decode(text, path)
    node = _compose(text, path)
    if node is None:
        return TfopsConfig()
    _check_nodes(node, path)
    data = _construct(node, path)
    if data is None:
        return TfopsConfig()
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of settings", where=path.name)
    try:
        return TfopsConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, node, path) from None


def _too_big(size: int, path: Path) -> ConfigError:
    return ConfigError(
        f"is {size / 1e6:.1f} MB; tfops reads at most {MAX_CONFIG_BYTES // (1024 * 1024)} MB",
        where=path.name,
        hint="tfops.yaml holds settings only; keep lists of values in var files",
    )


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
    model: Any = TfopsConfig
    for part in loc:
        if model is None:
            return []
        if model is TfopsConfig and part == "environments":
            model = dict
            continue
        if model is dict:
            model = EnvironmentConfig
            continue
        field = next(
            (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
        )
        model = getattr(field, "annotation", None) if field else None
    if model is None or not hasattr(model, "model_fields"):
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


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


# ---- trust: what a change under review may not grant itself --------------------------------

# Settings that grant power: who may apply and how, what runs, where records go, which
# gates and pin rules hold. On a pull request they come from the default branch's
# tfops.yaml; a PR that changes them is planned as usual and says so, and they take effect
# after it merges. Everything else (layout, environment files and directories, var and
# backend files, module repos) describes the repo, and comes from the change itself.
POWER_SECTIONS = ("terraform", "gates", "store", "locks", "github", "drift", "slack")
POWER_ENVIRONMENT_SETTINGS = ("pinned", "apply", "heal", "require_signed_commits")
POWER_MODULE_SETTINGS = ("release_tag_pattern", "require_lock", "lock_file")


def with_trusted(head: TfopsConfig, trusted: TfopsConfig) -> tuple[TfopsConfig, list[str]]:
    """`head` with every power-granting setting taken from `trusted`; and the settings the
    head changes that way (dotted paths), which take effect only after merge.

    An environment the head adds gets the defaults, not what it asks for; `mask` patterns
    are the union of both (more masking never grants anything)."""
    data = head.model_dump(by_alias=True)
    base = trusted.model_dump(by_alias=True)
    changed: list[str] = []
    for section in POWER_SECTIONS:
        changed += _differences(section, data[section], base[section])
        data[section] = base[section]
    default_env = EnvironmentConfig().model_dump(by_alias=True)
    for name, env in data["environments"].items():
        trusted_env = base["environments"].get(name, default_env)
        for key in POWER_ENVIRONMENT_SETTINGS:
            if env[key] != trusted_env[key]:
                changed.append(f"environments.{name}.{key}")
                env[key] = trusted_env[key]
    for key in POWER_MODULE_SETTINGS:
        if data["modules"][key] != base["modules"][key]:
            changed.append(f"modules.{key}")
            data["modules"][key] = base["modules"][key]
    data["mask"] = list(dict.fromkeys([*base["mask"], *data["mask"]]))
    return TfopsConfig.model_validate(data), changed


def _differences(path: str, mine: Any, theirs: Any) -> list[str]:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in sorted(set(mine) | set(theirs), key=str):
            out += _differences(f"{path}.{key}", mine.get(key), theirs.get(key))
        return out
    return [] if mine == theirs else [path]


def json_schema() -> dict[str, Any]:
    schema = TfopsConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["$id"] = SCHEMA_URL
    schema["title"] = "tfops.yaml"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
