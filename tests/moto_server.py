"""A real S3 and DynamoDB endpoint on loopback: moto's server mode, one per test worker.

`aws` (function-scoped) points the process environment at it — dummy credentials and
`AWS_ENDPOINT_URL`, nothing from the machine's own AWS config — and hands out fresh bucket
and table names so tests never see each other's objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws_env(endpoint: str, home: Path) -> dict[str, str]:
    """What a process needs to talk to the moto server and nothing else."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(home / "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials-none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class Aws:
    endpoint: str
    env: dict[str, str]

    def s3(self) -> S3Client:
        import boto3

        client: S3Client = boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION)
        return client

    def dynamodb(self) -> DynamoDBClient:
        import boto3

        client: DynamoDBClient = boto3.client(
            "dynamodb", endpoint_url=self.endpoint, region_name=REGION
        )
        return client

    def bucket(self) -> str:
        name = f"tfops-test-{uuid.uuid4().hex[:12]}"
        self.s3().create_bucket(Bucket=name)
        return name

    def lock_table(self) -> str:
        """A table shaped like Terraform's state lock table (hash key LockID)."""
        name = f"tfops-locks-{uuid.uuid4().hex[:12]}"
        self.dynamodb().create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return name


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Aws:
    env = aws_env(moto_endpoint, tmp_path)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Aws(moto_endpoint, env)
