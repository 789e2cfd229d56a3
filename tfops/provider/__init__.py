"""A tiny Terraform provider for local files, so tests and the demo can make real drift.

Terraform starts the provider for every command, so this package's top level stays free of
heavy imports (gRPC, cryptography); only serving it (`python -m tfops.provider`) loads them.
"""

from __future__ import annotations

HOSTNAME = "registry.terraform.io"
NAMESPACE = "tfops"
TYPE = "localfile"
VERSION = "0.1.0"
SOURCE = f"{HOSTNAME}/{NAMESPACE}/{TYPE}"

__all__ = ["HOSTNAME", "NAMESPACE", "SOURCE", "TYPE", "VERSION"]
