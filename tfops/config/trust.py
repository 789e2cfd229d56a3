"""What a change under review may not grant itself: the power-granting settings.

On a pull request they come from the default branch's tfops.yaml; a PR that changes them
is planned as usual and says so, and they take effect after it merges.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tfops.config.model import EnvironmentConfig, TfopsConfig, build

# Settings that grant power: who may apply and how, what runs, where records go, which
# gates and pin rules hold. Everything else (layout, environment files and directories,
# var and backend files, module repos) describes the repo, and comes from the change itself.
POWER_SECTIONS = ("terraform", "gates", "store", "locks", "github", "drift", "slack")
POWER_ENVIRONMENT_SETTINGS = ("pinned", "apply", "heal", "require_signed_commits")
POWER_MODULE_SETTINGS = ("release_tag_pattern", "require_lock", "lock_file")


def with_trusted(head: TfopsConfig, trusted: TfopsConfig) -> tuple[TfopsConfig, list[str]]:
    """`head` with every power-granting setting taken from `trusted`; and the settings the
    head changes that way (dotted paths), which take effect only after merge.

    An environment the head adds gets the defaults, not what it asks for; `mask` patterns
    are the union of both (more masking never grants anything). Both were validated when
    they were read, so the result is too."""
    data = head.to_dict()
    base = trusted.to_dict()
    changed: list[str] = []
    for section in POWER_SECTIONS:
        changed += _differences(section, data[section], base[section])
        data[section] = base[section]
    default_env = dataclasses.asdict(EnvironmentConfig())
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
    return build(TfopsConfig, data), changed


def _differences(path: str, mine: Any, theirs: Any) -> list[str]:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in sorted(set(mine) | set(theirs), key=str):
            out += _differences(f"{path}.{key}", mine.get(key), theirs.get(key))
        return out
    return [] if mine == theirs else [path]
