"""tfops.yaml: the settings, read from the repo root, validated once per content.

Every setting is optional; an environments repo without tfops.yaml runs on conventions.
The settings are plain dataclasses (`tfops.config.model`). A tfops.yaml is validated by
`tfops.config.schema` (PyYAML, pydantic) the first time its content is seen; what it
validated to is kept in the cache by the file's hash and the validating code's, so later
runs read one small JSON file instead of importing pydantic.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tfops.caches import default_cache_dir, read_entry, write_entry
from tfops.config.model import (
    DEFAULT_PINNED_ENVIRONMENTS,
    DEFAULT_SIGNING_SECRET_ENV,
    ENVIRONMENT_NAME,
    SEVERITY_ORDER,
    SLACK_TEAM_ID,
    SLACK_USER_ID,
    ApplyRequirement,
    DriftConfig,
    EnvironmentConfig,
    GateConfig,
    GatesConfig,
    GithubConfig,
    LocksConfig,
    ModulesConfig,
    Severity,
    SlackConfig,
    StoreConfig,
    TerraformConfig,
    TfopsConfig,
    build,
)
from tfops.config.trust import with_trusted
from tfops.errors import ConfigError

CONFIG_NAMES = ("tfops.yaml", "tfops.yml")
# A tfops.yaml is a few hundred lines. The caps keep a hostile one (a PR can change it)
# from taking the machine's memory (see tfops.config.schema for the expanded size).
MAX_CONFIG_BYTES = 1024 * 1024
_CODE = ("model.py", "schema.py")  # what decides the validated result, besides the text
_fingerprint: str | None = None


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
        raise too_big(size, path)
    with path.open("rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)  # the file may grow between stat and read
    return parse_config(data, path), path


def parse_config(text: str | bytes, path: Path) -> TfopsConfig:
    """Validate tfops.yaml's text (or bytes, read from a file or from git) into settings."""
    if len(text) > MAX_CONFIG_BYTES:
        raise too_big(len(text), path)
    raw = text.encode("utf-8") if isinstance(text, str) else text
    entry = default_cache_dir() / "config" / f"{_key(raw)}.json"
    cached = read_entry(entry)
    if isinstance(cached, dict) and isinstance(cached.get("settings"), dict | None):
        try:
            return _settings(cached["settings"])
        except (TypeError, KeyError, AttributeError):
            pass  # not what this code writes: validate again
    from tfops.config import schema  # pydantic and PyYAML: only for a content not seen yet

    data = schema.validate(text, path)
    write_entry(entry, {"settings": data})
    return _settings(data)


def _settings(data: dict[str, Any] | None) -> TfopsConfig:
    return TfopsConfig() if data is None else build(TfopsConfig, data)


def _key(raw: bytes) -> str:
    """The text's hash with the validating code's: a new tfops validates again."""
    global _fingerprint
    if _fingerprint is None:
        code = hashlib.sha256()
        for name in _CODE:
            code.update((Path(__file__).parent / name).read_bytes())
        _fingerprint = code.hexdigest()
    return hashlib.sha256(_fingerprint.encode() + b"\0" + raw).hexdigest()


def too_big(size: int, path: Path) -> ConfigError:
    return ConfigError(
        f"is {size / 1e6:.1f} MB; tfops reads at most {MAX_CONFIG_BYTES // (1024 * 1024)} MB",
        where=path.name,
        hint="tfops.yaml holds settings only; keep lists of values in var files",
    )


def json_schema() -> dict[str, Any]:
    from tfops.config import schema

    return schema.json_schema()


def json_schema_text() -> str:
    from tfops.config import schema

    return schema.json_schema_text()


__all__ = [
    "CONFIG_NAMES",
    "DEFAULT_PINNED_ENVIRONMENTS",
    "DEFAULT_SIGNING_SECRET_ENV",
    "ENVIRONMENT_NAME",
    "SEVERITY_ORDER",
    "SLACK_TEAM_ID",
    "SLACK_USER_ID",
    "ApplyRequirement",
    "DriftConfig",
    "EnvironmentConfig",
    "GateConfig",
    "GatesConfig",
    "GithubConfig",
    "LocksConfig",
    "ModulesConfig",
    "Severity",
    "SlackConfig",
    "StoreConfig",
    "TerraformConfig",
    "TfopsConfig",
    "find_config",
    "json_schema",
    "json_schema_text",
    "load_config",
    "parse_config",
    "with_trusted",
]
