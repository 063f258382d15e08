"""DynamoDB's JSON 1.0 protocols for boto3's ``dynamodb`` and ``dynamodbstreams`` clients
(``X-Amz-Target: DynamoDB_20120810.<Operation>`` and ``DynamoDBStreams_20120810.<Operation>``).

Each operation is the table service's (``tables/service.py``): the request document in, the
answer's document out; errors carry DynamoDB's ``__type`` (``…#ConditionalCheckFailedException``)
and, where DynamoDB adds them, ``Item`` or ``CancellationReasons``.
"""

from __future__ import annotations

from typing import Any

from cumulo.api.awsjson import Operation, Service, register
from cumulo.api.http import Request

__all__ = ["SERVICE", "STREAMS", "TABLE_OPERATIONS", "STREAM_OPERATIONS"]

TABLE_OPERATIONS = (
    "CreateTable", "DescribeTable", "ListTables", "DeleteTable", "UpdateTable", "UpdateTimeToLive",
    "DescribeTimeToLive", "TagResource", "UntagResource", "ListTagsOfResource", "DescribeLimits", "PutItem",
    "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem", "TransactWriteItems",
    "TransactGetItems", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
    "CreateBackup", "DescribeBackup", "ListBackups", "DeleteBackup", "RestoreTableFromBackup", "UpdateContinuousBackups",
    "DescribeContinuousBackups", "RestoreTableToPointInTime")
STREAM_OPERATIONS = ("ListStreams", "DescribeStream", "GetShardIterator", "GetRecords")


def _operation(name: str) -> Operation:
    def run(c: Any, r: Request, d: dict[str, Any]) -> Any:
        return c.tables.call(name, d)
    return run


SERVICE = Service("DynamoDB_20120810", "com.amazonaws.dynamodb.v20120810", "application/x-amz-json-1.0",
                  {name: _operation(name) for name in TABLE_OPERATIONS}, model="dynamodb")
STREAMS = Service("DynamoDBStreams_20120810", "com.amazonaws.dynamodb.v20120810", "application/x-amz-json-1.0",
                  {name: _operation(name) for name in STREAM_OPERATIONS}, model="dynamodbstreams")
register(SERVICE)
register(STREAMS)
