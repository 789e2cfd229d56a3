"""The `localfile` provider: one resource, `localfile_file`, backed by a file on disk.

Read reports what is on disk, not what the state remembers, so a hand edit is drift and a
deleted file is a resource that is gone — exactly what tfops's drift handling needs to see.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tf.iface import (
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    Provider,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.schema import Attribute, Schema
from tf.types import String
from tf.utils import Diagnostics

from tfops.provider import SOURCE, TYPE

# Milliseconds every Read waits, as a cloud provider waits on its API. Off unless set: the
# parallel-plans benchmark (bench/parallel.py) uses it for an I/O-bound workload.
READ_LATENCY_ENV = "TFOPS_LOCALFILE_READ_LATENCY_MS"


class LocalFileProvider(Provider):  # type: ignore[misc]  # tf ships no type hints
    """No provider configuration: everything a resource needs is in its own arguments."""

    def full_name(self) -> str:
        return SOURCE

    def get_model_prefix(self) -> str:
        return f"{TYPE}_"

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(version=0, attributes=[])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        pass

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        pass

    def get_data_sources(self) -> list[type[DataSource]]:
        return []

    def get_resources(self) -> list[type[Resource]]:
        return [LocalFile]


class LocalFile(Resource):  # type: ignore[misc]  # tf ships no type hints
    """A file whose text is `content`.

    `sensitive_content` is kept in the state only (never written), so plans carry a value
    Terraform marks sensitive and masking can be tested without a secret landing on disk.
    """

    def __init__(self, provider: LocalFileProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "file"

    @classmethod
    def get_schema(cls) -> Schema:
        return Schema(
            version=0,
            attributes=[
                Attribute(
                    "path",
                    String(),
                    description="File to manage; relative paths are from Terraform's working "
                    "directory. Changing it replaces the file.",
                    required=True,
                    requires_replace=True,
                ),
                Attribute("content", String(), description="Text of the file.", required=True),
                Attribute(
                    "sensitive_content",
                    String(),
                    description="A secret kept in the state only, never written to the file.",
                    optional=True,
                    sensitive=True,
                ),
                Attribute("id", String(), description="The path, as given.", computed=True),
            ],
        )

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        path = config.get("path")
        if isinstance(path, str) and not path:
            diags.add_error("path must not be empty", path=["path"])

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        return self._write(ctx.diagnostics, planned)

    def read(self, ctx: ReadContext, current: State) -> State | None:
        _simulated_api_latency()
        path = Path(current["path"])
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None  # Terraform drops it from the state: the next plan creates it again.
        except OSError as exc:
            ctx.diagnostics.add_error(f"cannot read {path}", str(exc), path=["path"])
            return current
        return {**current, "content": data.decode("utf-8", errors="replace")}

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        return self._write(ctx.diagnostics, planned)

    def delete(self, ctx: DeleteContext, current: State) -> None:
        try:
            Path(current["path"]).unlink(missing_ok=True)
        except OSError as exc:
            ctx.diagnostics.add_error(f"cannot delete {current['path']}", str(exc))

    @staticmethod
    def _write(diags: Diagnostics, planned: State) -> State | None:
        path = Path(planned["path"])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(planned["content"].encode("utf-8"))
        except OSError as exc:
            diags.add_error(f"cannot write {path}", str(exc), path=["path"])
            return None
        state: dict[str, Any] = {**planned, "id": planned["path"]}
        return state


def _simulated_api_latency() -> None:
    try:
        milliseconds = float(os.environ.get(READ_LATENCY_ENV) or 0)
    except ValueError:
        milliseconds = 0.0
    if milliseconds > 0:
        time.sleep(milliseconds / 1000)


def serve(argv: list[str] | None = None) -> None:
    """Speak the plugin handshake on stdout and serve until Terraform stops us."""
    from tf.runner import run_provider

    run_provider(LocalFileProvider(), argv)
