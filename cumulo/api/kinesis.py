"""The Kinesis Data Streams JSON protocol (``Kinesis_20131202.<Operation>``) for boto3's ``kinesis`` client."""

from __future__ import annotations

from typing import Any

from cumulo.api.awsjson import Service, register
from cumulo.api.http import Request

__all__ = ["SERVICE"]


def _where(d: dict[str, Any]) -> dict[str, Any]:
    return {"name": d.get("StreamName"), "arn": d.get("StreamARN")}


def create_stream(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.streams.create_stream(d.get("StreamName"), d.get("ShardCount"))


def delete_stream(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.streams.delete_stream(**_where(d))


def describe_stream(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"StreamDescription": c.streams.describe_stream(**_where(d))}


def describe_stream_summary(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"StreamDescriptionSummary": c.streams.describe_stream_summary(**_where(d))}


def list_streams(c: Any, r: Request, d: dict[str, Any]) -> Any:
    names = c.streams.list_streams()
    return {"StreamNames": names, "HasMoreStreams": False,
            "StreamSummaries": [{"StreamName": n, "StreamARN": c.streams.arn(n), "StreamStatus": "ACTIVE",
                                 "StreamModeDetails": {"StreamMode": "PROVISIONED"}} for n in names]}


def list_shards(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"Shards": c.streams.list_shards(**_where(d))}


def put_record(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.streams.put_record(data=d.get("Data"), partition_key=d.get("PartitionKey"),
                                explicit_hash_key=d.get("ExplicitHashKey"), **_where(d))


def put_records(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.streams.put_records(d.get("Records"), **_where(d))


def get_shard_iterator(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"ShardIterator": c.streams.get_shard_iterator(d.get("ShardId"), d.get("ShardIteratorType"),
                                                          sequence=d.get("StartingSequenceNumber"),
                                                          timestamp=d.get("Timestamp"), **_where(d))}


def get_records(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.streams.get_records(d.get("ShardIterator"), d.get("Limit"))


SERVICE = Service("Kinesis_20131202", "com.amazonaws.kinesis.v20131202", "application/x-amz-json-1.1", {
    "CreateStream": create_stream, "DeleteStream": delete_stream, "DescribeStream": describe_stream,
    "DescribeStreamSummary": describe_stream_summary, "ListStreams": list_streams, "ListShards": list_shards,
    "PutRecord": put_record, "PutRecords": put_records, "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
}, model="kinesis")
register(SERVICE)
