"""boto3 clients for the plan store and the locks, and AWS errors a user can act on.

boto3 honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_S3`, `…_DYNAMODB`) by itself; with a
custom endpoint (MinIO, LocalStack, moto) S3 is addressed path-style, which those expect.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tfops.errors import TfopsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


def _custom_endpoint(service: str) -> bool:
    return bool(
        os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    )


def _region() -> str | None:
    """botocore reads AWS_DEFAULT_REGION; Terraform and many CI setups set AWS_REGION."""
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None


def s3_client() -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"} if _custom_endpoint("s3") else {},
        retries={"max_attempts": 5, "mode": "standard"},
    )
    client: S3Client = boto3.client("s3", config=config, region_name=_region())
    return client


def dynamodb_client() -> DynamoDBClient:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    client: DynamoDBClient = boto3.client("dynamodb", config=config, region_name=_region())
    return client


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def aws_error(exc: BaseException, what: str, *, where: str | None = None) -> TfopsError:
    """Turn a botocore exception into a TfopsError that says what failed and what to check."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return TfopsError(
            f"{what}: no AWS credentials",
            where=where,
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an OIDC role",
        )
    if isinstance(exc, NoRegionError):
        return TfopsError(f"{what}: no AWS region", where=where, hint="set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return TfopsError(
            f"{what}: cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}",
            where=where,
            hint="check AWS_ENDPOINT_URL and the network",
        )
    code = error_code(exc)
    return TfopsError(f"{what}: {code or type(exc).__name__}: {exc}", where=where)
