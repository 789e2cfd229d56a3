"""tfops.yaml's settings as plain dataclasses: what every run reads, without pydantic.

These classes are the one definition of the settings: name, type, default and
description. `tfops.config.schema` derives the pydantic models that validate tfops.yaml
and print its JSON Schema from them, and is imported only when a tfops.yaml is read for
the first time (importing pydantic and building its models costs more than most of a
`tfops plan` with a warm `.terraform`). Field metadata carries what pydantic needs:
`description`, and bounds (`ge`, `le`).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
DEFAULT_PINNED_ENVIRONMENTS = frozenset({"prod", "production", "prd"})
# lower-case words and dashes; a region below an environment directory keeps its path
# (`prod/eu-west-1`); no `.` or `..`, no leading slash, at most 100 characters
ENVIRONMENT_NAME = re.compile(r"(?=.{1,100}$)[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*")
DEFAULT_SIGNING_SECRET_ENV = "TFOPS_SLACK_SIGNING_SECRET"
ApplyRequirement = Literal["approved", "mergeable", "not_draft"]
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
SLACK_TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,20}")


def setting(
    default: Any = dataclasses.MISSING,
    description: str | None = None,
    *,
    factory: Any = dataclasses.MISSING,
    **bounds: int,
) -> Any:
    """A dataclass field with the metadata the schema needs (description, ge/le)."""
    metadata: dict[str, Any] = {"description": description} if description else {}
    metadata.update(bounds)
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class GateConfig:
    enabled: bool = setting(True, "Run this gate.")
    required: bool = setting(False, "A missing tool fails the gate instead of skipping it.")
    args: list[str] = setting(factory=list, description="Extra arguments for the tool.")
    fail_on: Severity = setting("low", "Findings at or above this severity fail the gate.")
    ignore: list[str] = setting(factory=list, description="Rule ids whose findings are dropped.")


def _gate(**defaults: Any) -> Any:
    return field(default_factory=lambda: GateConfig(**defaults))


@dataclass
class GatesConfig:
    fmt: GateConfig = _gate(required=True)
    pins: GateConfig = _gate(required=True)
    validate: GateConfig = _gate(required=True)
    tflint: GateConfig = _gate()
    tfsec: GateConfig = _gate()
    checkov: GateConfig = _gate(enabled=False)
    trivy: GateConfig = _gate(enabled=False)

    def get(self, name: str) -> GateConfig:
        value: GateConfig = getattr(self, name)
        return value


@dataclass
class TerraformConfig:
    binary: str | None = setting(
        None, "terraform executable (path or name). Default: `terraform` on PATH."
    )
    init_args: list[str] = setting(factory=list)
    plan_args: list[str] = setting(factory=list)
    apply_args: list[str] = setting(factory=list)
    plugin_cache_dir: str | None = setting(
        None,
        "Shared provider plugin cache. Default: one for this tfops installation in "
        "~/.cache/tfops/plugin-cache/.",
    )
    timeout_minutes: int = setting(
        60, "A terraform call running longer than this is interrupted.", ge=1
    )
    env: dict[str, str] = setting(
        factory=dict, description="Extra environment variables for terraform."
    )


@dataclass
class EnvironmentConfig:
    files: list[str] | None = setting(
        None, "Prefix layout: globs of this environment's files. Default: NAME_*.tf"
    )
    directory: str | None = setting(None, "Directory layout: this environment's root directory.")
    pinned: bool | None = setting(
        None, "Modules must be pinned to release tags. Default: true for prod/production."
    )
    apply: Literal["auto", "manual"] = setting(
        "auto", "auto: applied on merge and by the watcher; manual: only by `/tfops apply`."
    )
    var_files: list[str] = setting(factory=list)
    backend_config: list[str] = setting(
        factory=list, description="`-backend-config` values for terraform init."
    )
    require_signed_commits: bool = setting(
        False, "Refuse to apply a commit whose signature git does not accept."
    )
    heal: bool = setting(False, "Drift in this environment is applied back.")


@dataclass
class ModulesConfig:
    repos: dict[str, str] = setting(
        factory=dict,
        description=(
            "Sibling repos by the path modules use, e.g. `../backend: "
            "https://github.com/org/backend.git`. Default: a checkout next to the "
            "environments repo, else a URL derived from its own remote."
        ),
    )
    release_tag_pattern: str = setting(
        r"^v?\d+\.\d+\.\d+$", "Tags that count as releases in pinned environments."
    )
    release_candidate_pattern: str = setting(
        r"^(?P<release>v?\d+\.\d+\.\d+)-rc\.?\d+$",
        "Module repos: tags `tfops release` accepts as release candidates; the "
        "group `release` is the release tag it creates (v1.2.0-rc1 → v1.2.0).",
    )
    lock_file: str = "tfops.lock.json"
    require_lock: bool = setting(False, "A pinned module with no lock entry fails.")
    ls_remote_timeout_seconds: int = setting(30, ge=1)


@dataclass
class StoreConfig:
    url: str = setting(
        ".tfops/plans",
        "Where plans are kept: a directory (relative to the repo) or s3://bucket/prefix.",
    )


@dataclass
class LocksConfig:
    backend: Literal["file", "dynamodb"] = "file"
    path: str = setting(".tfops/locks", "file backend: the lock directory.")
    table: str | None = setting(None, "dynamodb backend: the table name.")
    wait_seconds: int = setting(0, "How long an apply waits for a held lock.", ge=0)


@dataclass
class GithubConfig:
    comment: bool = setting(True, "Post the sticky plan comment on pull requests.")
    apply_requirements: list[ApplyRequirement] = setting(
        factory=lambda: list[ApplyRequirement](["approved"]),
        description="What `/tfops apply` before merge needs besides the commenter's write "
        "access: `approved` (an approving review by someone else with write access, on the "
        "current head), `mergeable` (GitHub says it can merge: checks and protections pass), "
        "`not_draft`. Closed pull requests and drafts are always refused.",
    )
    bot_login: str | None = setting(
        None,
        "The login tfops comments as, when the token can't tell "
        "(GitHub App installation tokens). Default: github-actions[bot].",
    )
    fork_commands: bool = setting(
        False,
        "Run `/tfops` commands on pull requests from forks. They run the fork's "
        "code with this repository's secrets: leave off unless every fork is trusted.",
    )


@dataclass
class DriftConfig:
    interval_minutes: int = setting(60, "How often `tfops watch` checks for drift.", ge=1)
    github_issues: bool = setting(True, "Open one GitHub issue per drifted environment.")


@dataclass
class SlackConfig:
    """Slack slash commands on `tfops watch --listen` (POST /slack/commands and
    /slack/interactions). The signing secret is a secret: it comes from the environment."""

    appliers: dict[str, list[str]] = setting(
        factory=dict,
        description="Slack user IDs (U0123ABCD) allowed to apply and unlock, per environment: "
        "`prod: [U0ALICE]`. plan, status, drift and help are open to the workspace.",
    )
    team_id: str | None = setting(
        None, "Accept requests from this Slack workspace (T0123ABCD) only."
    )
    signing_secret_env: str = setting(
        DEFAULT_SIGNING_SECRET_ENV,
        "The environment variable that holds the Slack app's signing secret; "
        "without it the Slack endpoints are off.",
    )
    plan_ttl_minutes: int = setting(
        15, "How long the Apply button of a plan shown in Slack works.", ge=1, le=1440
    )

    def may_apply(self, user_id: str, environment: str) -> bool:
        return user_id in self.appliers.get(environment, [])


@dataclass
class TfopsConfig:
    version: Literal[1] = 1
    layout: Literal["prefix", "directory"] | None = setting(
        None, "prefix: one root, files named ENV_*.tf; directory: one root per env."
    )
    environments: dict[str, EnvironmentConfig] = setting(factory=dict)
    shared_files: list[str] | None = setting(
        None,
        "Files that belong to every environment. Default: the unprefixed files at the root.",
    )
    var_files: list[str] = setting(factory=list, description="Var files for every plan.")
    terraform: TerraformConfig = setting(factory=TerraformConfig)
    gates: GatesConfig = setting(factory=GatesConfig)
    modules: ModulesConfig = setting(factory=ModulesConfig)
    store: StoreConfig = setting(factory=StoreConfig)
    locks: LocksConfig = setting(factory=LocksConfig)
    github: GithubConfig = setting(factory=GithubConfig)
    drift: DriftConfig = setting(factory=DriftConfig)
    slack: SlackConfig = setting(factory=SlackConfig)
    mask: list[str] = setting(
        factory=list,
        description="Regular expressions whose matches are masked in every comment and log.",
    )

    def env(self, name: str) -> EnvironmentConfig:
        return self.environments.get(name) or EnvironmentConfig()

    def is_pinned(self, name: str) -> bool:
        pinned = self.env(name).pinned
        return name in DEFAULT_PINNED_ENVIRONMENTS if pinned is None else pinned

    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain data, keyed as in tfops.yaml."""
        return dataclasses.asdict(self)


Settings = TypeVar("Settings")


def build(cls: type[Settings], data: dict[str, Any]) -> Settings:
    """Settings from validated data (`to_dict`'s shape): nested sections become their
    classes. Not a validator: the data comes from `tfops.config.schema` or a cache of it."""
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.name in data:
            values[item.name] = _value(hints[item.name], data[item.name])
    return cls(**values)


def _value(kind: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(kind):
        return build(kind, value)  # type: ignore[arg-type]
    if typing.get_origin(kind) is dict:
        inner = typing.get_args(kind)[1]
        if dataclasses.is_dataclass(inner):
            return {k: build(inner, v) for k, v in value.items()}  # type: ignore[arg-type]
    if isinstance(value, list):
        return list(value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]
