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
import re

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


_WORDS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*|\S""")
_PARTIQL = {"SELECT": "dynamodb:PartiQLSelect", "EXISTS": "dynamodb:PartiQLSelect", "INSERT": "dynamodb:PartiQLInsert",
            "UPDATE": "dynamodb:PartiQLUpdate", "DELETE": "dynamodb:PartiQLDelete"}


def statement_check(statement: object, scope: Scope) -> Check:
    """What a PartiQL statement asks of IAM: PartiQLSelect/Insert/Update/Delete on the table (an index's
    ARN for a SELECT from "table"."index"), read off its first words (the service parses it in full)."""
    words = _WORDS.findall(statement) if isinstance(statement, str) else []
    action = _PARTIQL.get(words[0].upper(), "dynamodb:PartiQLSelect") if words else "dynamodb:PartiQLSelect"
    after = {"dynamodb:PartiQLUpdate": "UPDATE", "dynamodb:PartiQLInsert": "INTO"}.get(action, "FROM")
    names: list[str] = []
    for i, w in enumerate(words):
        if w.upper() == after and i + 1 < len(words):
            names = [words[i + 1]]
            if i + 3 < len(words) and words[i + 2] == "." and action == "dynamodb:PartiQLSelect":
                names.append(words[i + 3])
            break
    names = [n[1:-1].replace('""', '"') if n.startswith('"') else n for n in names]
    resource = table_arn(names[0] if names else "", scope)
    if len(names) > 1:
        resource += f"/index/{names[1]}"
    return Check(action, resource)


def execute_statement(call: Call, scope: Scope) -> tuple[Check, ...]:
    return (statement_check(call.doc.get("Statement"), scope),)


def statements(member: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        found = call.doc.get(member)
        out: list[Check] = []
        for spec in found if isinstance(found, list) else []:
            check = statement_check(spec.get("Statement") if isinstance(spec, dict) else None, scope)
            if check not in out:
                out.append(check)
        return tuple(out) or (Check("dynamodb:PartiQLSelect", table_arn("", scope)),)
    return mapper


def on_backup(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        arn = text(call.doc.get("BackupArn"))
        return (Check(action, arn if arn.startswith("arn:") else scope.arn("dynamodb", "table/*/backup/*")),)
    return mapper


def restore(call: Call, scope: Scope) -> tuple[Check, ...]:
    """RestoreTableFromBackup acts on the table it makes and reads the backup."""
    return (Check("dynamodb:RestoreTableFromBackup", table_arn(text(call.doc.get("TargetTableName")), scope)),
            *on_backup("dynamodb:RestoreTableFromBackup")(call, scope))


def restore_to_point_in_time(call: Call, scope: Scope) -> tuple[Check, ...]:
    """RestoreTableToPointInTime reads the source table and makes the target."""
    source = text(call.doc.get("SourceTableArn") or call.doc.get("SourceTableName"))
    return (Check("dynamodb:RestoreTableToPointInTime", table_arn(source, scope)),
            Check("dynamodb:RestoreTableToPointInTime", table_arn(text(call.doc.get("TargetTableName")), scope)))


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
    "ExecuteStatement": execute_statement,
    "BatchExecuteStatement": statements("Statements"),
    "ExecuteTransaction": statements("TransactStatements"),
    "CreateBackup": on_table("dynamodb:CreateBackup"),
    "DescribeBackup": on_backup("dynamodb:DescribeBackup"),
    "DeleteBackup": on_backup("dynamodb:DeleteBackup"),
    "ListBackups": anywhere("dynamodb:ListBackups"),
    "RestoreTableFromBackup": restore,
    "UpdateContinuousBackups": on_table("dynamodb:UpdateContinuousBackups"),
    "DescribeContinuousBackups": on_table("dynamodb:DescribeContinuousBackups"),
    "RestoreTableToPointInTime": restore_to_point_in_time,
}

STREAM_OPERATIONS: dict[str, Mapper] = {
    "ListStreams": anywhere("dynamodb:ListStreams"),
    "DescribeStream": on_stream("dynamodb:DescribeStream"),
    "GetShardIterator": on_stream("dynamodb:GetShardIterator"),
    "GetRecords": get_records,
}

register("dynamodb", OPERATIONS)
register("dynamodbstreams", STREAM_OPERATIONS)
