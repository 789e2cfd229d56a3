"""Sensitive values in a root's current state, known before terraform prints anything.

Terraform's streamed plan text shows prior values, and it does not always mark them
(1.11 prints `terraform_data`'s prior `output` in clear while its `input` is sensitive).
The same strings are in state, marked there: masking them before the plan streams keeps
them out of the log. Collected from the raw state (format version 4, as `terraform state
pull` prints it and a local backend keeps it), which needs no provider schemas:
- every output marked `sensitive`;
- every attribute path in an instance's `sensitive_attributes`, whole subtrees included.
A value of a dynamically typed attribute (`terraform_data`'s `input`) is stored as
`{"value": …, "type": …}`; the type is not a secret, so only the value is collected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_WORKSPACE = "default"


def sensitive_values(state: dict[str, Any]) -> list[str]:
    """Every string the state marks sensitive."""
    found: list[str] = []
    for output in (state.get("outputs") or {}).values():
        if isinstance(output, dict) and output.get("sensitive"):
            _strings(output.get("value"), found)
    for resource in state.get("resources") or []:
        for instance in (resource.get("instances") or []) if isinstance(resource, dict) else []:
            if not isinstance(instance, dict):
                continue
            attributes = instance.get("attributes") or {}
            for path in instance.get("sensitive_attributes") or []:
                steps = [path] if isinstance(path, dict) else path
                if isinstance(steps, list):
                    _strings(_follow(attributes, steps), found)
    return found


def _follow(node: Any, steps: list[Any]) -> Any:
    for step in steps:
        node = _unwrap(node)
        key = step.get("value") if isinstance(step, dict) else None
        if isinstance(key, dict):  # an index step: {"value": 0, "type": "number"}
            key = key.get("value")
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int | float) and 0 <= key < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _unwrap(node: Any) -> Any:
    """A dynamically typed value as state stores it, `{"value": V, "type": T}`, is V."""
    if isinstance(node, dict) and set(node) == {"value", "type"}:
        return node["value"]
    return node


def _strings(node: Any, found: list[str]) -> None:
    stack = [node]
    while stack:
        item = _unwrap(stack.pop())
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack += item.values()
        elif isinstance(item, list):
            stack += item


def local_state_file(workdir: Path, env: dict[str, str]) -> Path | None:
    """The state file of a root whose backend is local (none configured, or `local`), so it
    can be read without running terraform; None for any other backend."""
    backend_file = workdir / ".terraform" / "terraform.tfstate"
    config: dict[str, Any] = {}
    if backend_file.is_file():
        try:
            backend = json.loads(backend_file.read_text(encoding="utf-8")).get("backend") or {}
        except (OSError, ValueError, AttributeError):
            return None
        if backend.get("type") != "local":
            return None
        config = backend.get("config") or {}
    workspace = env.get("TF_WORKSPACE") or _selected_workspace(workdir)
    if workspace == DEFAULT_WORKSPACE:
        return workdir / (config.get("path") or "terraform.tfstate")
    directory = config.get("workspace_dir") or "terraform.tfstate.d"
    return workdir / directory / workspace / "terraform.tfstate"


def _selected_workspace(workdir: Path) -> str:
    try:
        return (workdir / ".terraform" / "environment").read_text(encoding="utf-8").strip() or (
            DEFAULT_WORKSPACE
        )
    except OSError:
        return DEFAULT_WORKSPACE


def parse(text: str) -> dict[str, Any]:
    """State JSON, or {} when there is none yet or it can't be read (terraform itself will
    then say what is wrong with it)."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def read_local(path: Path) -> dict[str, Any]:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}
