"""Kinesis Data Streams' operations as IAM sees them (Service Authorization Reference, "Amazon
Kinesis"): every operation on a stream acts on ``stream/<name>`` (``StreamName`` or ``StreamARN``);
``GetRecords`` on the stream its ``ShardIterator`` was issued for (Cumulo's iterators carry the
stream's name); ``ListStreams`` has no resource (``*``)."""

from __future__ import annotations

import base64
import binascii
import json

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["stream_arn", "OPERATIONS"]


def stream_arn(call: Call, scope: Scope) -> str:
    arn = text(call.doc.get("StreamARN"))
    if arn.startswith("arn:"):
        return arn
    return scope.arn("kinesis", f"stream/{text(call.doc.get('StreamName')) or '*'}")


def _iterator_stream(token: str) -> str:
    """The stream a shard iterator of ours names ('' for anything else: the operation refuses it)."""
    try:
        found = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, RecursionError):
        return ""
    return found[0] if isinstance(found, list) and found and isinstance(found[0], str) else ""


def on_stream(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, stream_arn(call, scope)),)
    return mapper


def get_records(call: Call, scope: Scope) -> tuple[Check, ...]:
    name = _iterator_stream(text(call.doc.get("ShardIterator")))
    return (Check("kinesis:GetRecords", scope.arn("kinesis", f"stream/{name}") if name else "*"),)


OPERATIONS: dict[str, Mapper] = {
    "CreateStream": on_stream("kinesis:CreateStream"),
    "DeleteStream": on_stream("kinesis:DeleteStream"),
    "DescribeStream": on_stream("kinesis:DescribeStream"),
    "DescribeStreamSummary": on_stream("kinesis:DescribeStreamSummary"),
    "ListStreams": anywhere("kinesis:ListStreams"),
    "ListShards": on_stream("kinesis:ListShards"),
    "PutRecord": on_stream("kinesis:PutRecord"),
    "PutRecords": on_stream("kinesis:PutRecords"),
    "GetShardIterator": on_stream("kinesis:GetShardIterator"),
    "GetRecords": get_records,
}

register("kinesis", OPERATIONS)
