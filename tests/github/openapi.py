"""GitHub's OpenAPI descriptions (npm @octokit/openapi, @octokit/openapi-webhooks), as
JSON Schema validators for the fake API's answers and the event payloads.

The Makefile installs the pinned packages into .cache/octokit (`make test` does it first).
The REST description is OpenAPI 3.0, whose `nullable: true` JSON Schema spells as a "null"
type; it is rewritten once on load. The webhooks description is OpenAPI 3.1: JSON Schema as is.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

PACKAGES = Path(__file__).resolve().parents[2] / ".cache" / "octokit" / "node_modules" / "@octokit"
REST = PACKAGES / "openapi" / "generated" / "api.github.com.json"
WEBHOOKS = PACKAGES / "openapi-webhooks" / "generated" / "api.github.com.json"


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `make test` (or `make {_stamp()}`) to install GitHub's "
            "OpenAPI descriptions from npm",
            pytrace=False,
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _stamp() -> str:
    makefile = (PACKAGES.parents[2] / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^OCTOKIT := (.+)$", makefile, re.M)
    return match.group(1).replace("$(OCTOKIT_DIR)", ".cache/octokit") if match else "test"


def _nullable_to_null(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema's "null" type, everywhere in `node`."""
    if isinstance(node, list):
        return [_nullable_to_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_to_null(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        if "type" in node:
            kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
            node["type"] = [*kinds, "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


class Description:
    """One OpenAPI document, its schemas validated by reference into it."""

    def __init__(self, spec: dict[str, Any], uri: str):
        self.spec = spec
        self.uri = uri
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(uri, resource)

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator for the schema at `pointer` (e.g. "#/components/schemas/issue")."""
        return Draft202012Validator({"$ref": self.uri + pointer}, registry=self.registry)

    def errors(self, pointer: str, instance: Any) -> list[str]:
        found = self.validator(pointer).iter_errors(instance)
        return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


@functools.cache
def rest() -> Description:
    spec = _load(REST)
    return Description(
        {
            **spec,
            "components": _nullable_to_null(spec["components"]),
            "paths": _nullable_to_null(spec["paths"]),
        },
        "urn:github:rest",
    )


@functools.cache
def webhooks() -> Description:
    return Description(_load(WEBHOOKS), "urn:github:webhooks")


def operation(method: str, template: str) -> dict[str, Any]:
    """The OpenAPI operation for `method` on a path template such as "/repos/{owner}/{repo}"."""
    op: dict[str, Any] = rest().spec["paths"][template][method.lower()]
    return op


def response_pointer(method: str, template: str, status: int) -> str | None:
    """Where the JSON schema of that operation's `status` answer is, or None (no body)."""
    responses = operation(method, template)["responses"]
    answer = responses.get(str(status))
    if answer is None:
        return None
    path = "#/paths/" + template.replace("~", "~0").replace("/", "~1")
    pointer = f"{path}/{method.lower()}/responses/{status}"
    if "$ref" in answer:
        pointer = answer["$ref"]
        answer = rest().spec["components"]["responses"][pointer.rsplit("/", 1)[-1]]
    if "application/json" not in answer.get("content", {}):
        return None
    return f"{pointer}/content/application~1json/schema"
