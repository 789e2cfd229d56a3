"""S3 backend settings spelled the way the Terraform version in use expects them.

The S3 backend renamed its endpoint settings in Terraform 1.6:

| setting            | 1.0 – 1.5                     | 1.6 and later                       |
|--------------------|-------------------------------|-------------------------------------|
| S3 endpoint        | `endpoint`                    | `endpoints = { s3 = … }`            |
| DynamoDB endpoint  | `dynamodb_endpoint`           | `endpoints = { dynamodb = … }`      |
| path-style URLs    | `force_path_style`            | `use_path_style`                    |
| no STS/IAM lookups | `skip_credentials_validation` | also `skip_requesting_account_id`   |
| state locking      | `dynamodb_table`              | same; or `use_lockfile` (1.10+)     |

`render_s3_backend()` writes a file for `terraform init -backend-config=FILE` (what
`backend_config:` in tfops.yaml passes on), for a root that declares `backend "s3" {}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tfops.terraform.versions import satisfies


@dataclass(frozen=True)
class S3Backend:
    bucket: str
    key: str
    region: str
    dynamodb_table: str | None = None
    endpoint: str | None = None  # a custom endpoint (MinIO, LocalStack, moto) for S3 and DynamoDB
    use_lockfile: bool = False  # S3-native state locking, Terraform 1.10+


def s3_backend_settings(terraform_version: str, backend: S3Backend) -> dict[str, Any]:
    """The backend arguments for this Terraform version."""
    new_style = satisfies(terraform_version, ">= 1.6.0")
    settings: dict[str, Any] = {
        "bucket": backend.bucket,
        "key": backend.key,
        "region": backend.region,
    }
    if backend.dynamodb_table:
        settings["dynamodb_table"] = backend.dynamodb_table
    if backend.use_lockfile:
        if not satisfies(terraform_version, ">= 1.10.0"):
            raise ValueError(f"use_lockfile needs Terraform 1.10 or later, not {terraform_version}")
        settings["use_lockfile"] = True
    if backend.endpoint:
        settings["skip_credentials_validation"] = True
        settings["skip_metadata_api_check"] = True
        settings["skip_region_validation"] = True
        if new_style:
            settings["endpoints"] = {"s3": backend.endpoint, "dynamodb": backend.endpoint}
            settings["use_path_style"] = True
            settings["skip_requesting_account_id"] = True
        else:
            settings["endpoint"] = backend.endpoint
            settings["dynamodb_endpoint"] = backend.endpoint
            settings["force_path_style"] = True
    return settings


def render_s3_backend(terraform_version: str, backend: S3Backend) -> str:
    """A backend config file (HCL) for `terraform init -backend-config=FILE`."""
    lines = []
    for name, value in s3_backend_settings(terraform_version, backend).items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{name} = {{ {inner} }}")
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
