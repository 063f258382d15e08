"""DynamoDB's and DynamoDB Streams' operations as IAM sees them (Service Authorization Reference,
"Amazon DynamoDB"): an operation on a table acts on ``table/<name>`` (``TableName``, or a table ARN
in ``ResourceArn`` for tags); a Query or Scan of an index on ``table/<name>/index/<index>``; the
batches and transactions ask their action once per table they name (a transaction's actions by
kind: ``dynamodb:PutItem``, ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem``, ``GetItem``);
the Streams operations act on the stream's ARN (``GetRecords`` on the stream its iterator names);
``ListTables``, ``ListStreams`` and ``DescribeLimits`` have no resource (``*``)."""

from __future__ import annotations

import base64
import binascii
import json

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["table_arn", "OPERATIONS", "STREAM_OPERATIONS"]


def table_arn(name: str, scope: Scope) -> str:
    if name.startswith("arn:"):
        return name
    return scope.arn("dynamodb", f"table/{name or '*'}")


def on_table(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        name = text(call.doc.get("TableName")) or text(call.doc.get("ResourceArn"))
        resource = table_arn(name, scope)
        index = text(call.doc.get("IndexName"))
        if index:
            resource += f"/index/{index}"
        return (Check(action, resource),)
    return mapper


def per_table(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        tables = call.doc.get("RequestItems")
        names = sorted(str(t) for t in tables) if isinstance(tables, dict) else []
        return tuple(Check(action, table_arn(n, scope)) for n in names) or (Check(action, table_arn("", scope)),)
    return mapper


_TRANSACT = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
             "ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem"}


def transact(call: Call, scope: Scope) -> tuple[Check, ...]:
    items = call.doc.get("TransactItems")
    out: list[Check] = []
    for action in items if isinstance(items, list) else []:
        if isinstance(action, dict) and len(action) == 1:
            kind, spec = next(iter(action.items()))
            name = text(spec.get("TableName")) if isinstance(spec, dict) else ""
            check = Check(_TRANSACT.get(kind, "dynamodb:" + str(kind)), table_arn(name, scope))
            if check not in out:
                out.append(check)
    return tuple(out) or (Check("dynamodb:PutItem", table_arn("", scope)),)


def on_stream(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        arn = text(call.doc.get("StreamArn"))
        return (Check(action, arn if arn.startswith("arn:") else scope.arn("dynamodb", "table/*/stream/*")),)
    return mapper


def get_records(call: Call, scope: Scope) -> tuple[Check, ...]:
    """The stream a shard iterator of ours names (the service refuses any other)."""
    try:
        found = json.loads(base64.urlsafe_b64decode(text(call.doc.get("ShardIterator")).encode()))
    except (ValueError, binascii.Error, RecursionError):
        found = None
    arn = found[0] if isinstance(found, list) and found and isinstance(found[0], str) else ""
    return (Check("dynamodb:GetRecords", arn if arn.startswith("arn:") else "*"),)


OPERATIONS: dict[str, Mapper] = {
    "CreateTable": on_table("dynamodb:CreateTable"),
    "DescribeTable": on_table("dynamodb:DescribeTable"),
    "ListTables": anywhere("dynamodb:ListTables"),
    "DeleteTable": on_table("dynamodb:DeleteTable"),
    "UpdateTable": on_table("dynamodb:UpdateTable"),
    "UpdateTimeToLive": on_table("dynamodb:UpdateTimeToLive"),
    "DescribeTimeToLive": on_table("dynamodb:DescribeTimeToLive"),
    "TagResource": on_table("dynamodb:TagResource"),
    "UntagResource": on_table("dynamodb:UntagResource"),
    "ListTagsOfResource": on_table("dynamodb:ListTagsOfResource"),
    "DescribeLimits": anywhere("dynamodb:DescribeLimits"),
    "PutItem": on_table("dynamodb:PutItem"),
    "GetItem": on_table("dynamodb:GetItem"),
    "UpdateItem": on_table("dynamodb:UpdateItem"),
    "DeleteItem": on_table("dynamodb:DeleteItem"),
    "Query": on_table("dynamodb:Query"),
    "Scan": on_table("dynamodb:Scan"),
    "BatchGetItem": per_table("dynamodb:BatchGetItem"),
    "BatchWriteItem": per_table("dynamodb:BatchWriteItem"),
    "TransactWriteItems": transact,
    "TransactGetItems": transact,
}

STREAM_OPERATIONS: dict[str, Mapper] = {
    "ListStreams": anywhere("dynamodb:ListStreams"),
    "DescribeStream": on_stream("dynamodb:DescribeStream"),
    "GetShardIterator": on_stream("dynamodb:GetShardIterator"),
    "GetRecords": get_records,
}

register("dynamodb", OPERATIONS)
register("dynamodbstreams", STREAM_OPERATIONS)
