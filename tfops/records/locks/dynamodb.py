"""Locks as DynamoDB items (`LockID = "tfops:<env>"`), written with conditional puts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tfops.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

from tfops.records.locks.model import (
    KEY_PREFIX,
    LEASE_SECONDS,
    LockInfo,
    Warn,
    _CompareAndSwap,
    _stderr_warning,
)


class DynamoLocks(_CompareAndSwap):
    """Locks as items of a DynamoDB table whose hash key is `LockID` (a string)."""

    def __init__(
        self,
        table: str,
        client: DynamoDBClient | None = None,
        *,
        warn: Warn | None = None,
        lease_seconds: float = 0,
    ):
        from tfops.records.aws import dynamodb_client

        self.table = table
        self.client = client or dynamodb_client()
        self.warn = warn or _stderr_warning
        self.lease_seconds = lease_seconds or LEASE_SECONDS

    @staticmethod
    def _key(environment: str) -> dict[str, AttributeValueTypeDef]:
        return {"LockID": {"S": KEY_PREFIX + environment}}

    def _item(self, info: LockInfo) -> dict[str, AttributeValueTypeDef]:
        item: dict[str, AttributeValueTypeDef] = dict(self._key(info.environment))
        for name, value in info.to_dict().items():
            if isinstance(value, list):
                item[name] = {"S": json.dumps(value)}
            else:
                item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
        return item

    @staticmethod
    def _info(item: dict[str, Any]) -> LockInfo:
        data: dict[str, Any] = {}
        for name, value in item.items():
            if name == "LockID":
                continue
            data[name] = int(value["N"]) if "N" in value else value.get("S")
        return LockInfo.from_dict(data)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        from tfops.records.aws import aws_error, error_code

        try:
            yield
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise ConfigError(
                    f"the DynamoDB lock table {self.table!r} does not exist",
                    where="tfops.yaml: locks.table",
                    hint=f"create it with a string hash key LockID: aws dynamodb create-table "
                    f"--table-name {self.table} --attribute-definitions "
                    "AttributeName=LockID,AttributeType=S --key-schema "
                    "AttributeName=LockID,KeyType=HASH --billing-mode PAY_PER_REQUEST",
                ) from None
            raise aws_error(exc, what, where="tfops.yaml: locks.table") from None
        except BotoCoreError as exc:
            raise aws_error(exc, what, where="tfops.yaml: locks.table") from None

    def _conditional(self, call: Callable[[], object], what: str) -> bool:
        from botocore.exceptions import ClientError

        from tfops.records.aws import error_code

        with self._errors(what):
            try:
                call()
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def _create(self, environment: str, info: LockInfo) -> bool:
        return self._conditional(
            lambda: self.client.put_item(
                TableName=self.table,
                Item=self._item(info),
                ConditionExpression="attribute_not_exists(LockID)",
            ),
            f"locking {environment}",
        )

    def _replace(self, environment: str, expected: LockInfo, info: LockInfo) -> bool:
        return self._conditional(
            lambda: self.client.put_item(
                TableName=self.table,
                Item=self._item(info),
                ConditionExpression="holder_id = :holder AND since = :since",
                ExpressionAttributeValues={
                    ":holder": {"S": expected.holder_id},
                    ":since": {"S": expected.since},
                },
            ),
            f"locking {environment}",
        )

    def get(self, environment: str) -> LockInfo | None:
        with self._errors(f"reading the lock of {environment}"):
            response = self.client.get_item(
                TableName=self.table, Key=self._key(environment), ConsistentRead=True
            )
        item = response.get("Item")
        return self._info(item) if item else None

    def release(self, environment: str, holder_id: str) -> None:
        self._conditional(
            lambda: self.client.delete_item(
                TableName=self.table,
                Key=self._key(environment),
                ConditionExpression="holder_id = :holder",
                ExpressionAttributeValues={":holder": {"S": holder_id}},
            ),
            f"unlocking {environment}",
        )

    def break_lock(self, environment: str) -> LockInfo | None:
        with self._errors(f"breaking the lock of {environment}"):
            response = self.client.delete_item(
                TableName=self.table, Key=self._key(environment), ReturnValues="ALL_OLD"
            )
        old = response.get("Attributes")
        return self._info(old) if old else None

    def all(self) -> list[LockInfo]:
        infos: list[LockInfo] = []
        with self._errors("listing locks"):
            pages = self.client.get_paginator("scan").paginate(
                TableName=self.table,
                FilterExpression="begins_with(LockID, :prefix)",
                ExpressionAttributeValues={":prefix": {"S": KEY_PREFIX}},
                ConsistentRead=True,
            )
            for page in pages:
                infos += [self._info(item) for item in page.get("Items", [])]
        return sorted(infos, key=lambda i: i.environment)
