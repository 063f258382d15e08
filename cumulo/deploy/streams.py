"""``AWS::Kinesis::Stream`` resources in templates: read, named and checked.

What CloudFormation does, and so what this does:

- ``Name`` absent: the stream is named ``<stack>-<LogicalId>-<suffix>``, at most
  128 characters. CloudFormation's suffix is random; ours is a hash of stack and
  logical id (as for queues), so a re-deploy finds the same stream.
- ``Ref`` is the stream name; ``Fn::GetAtt`` gives ``Arn``.
- ``ShardCount`` (1 when absent, at most Cumulo's 64) and ``RetentionPeriodHours``
  (24 to 8760, 24 when absent). Cumulo cannot reshard a stream or change its
  retention in place, so a deploy that changes either of an existing stream is
  refused (``cumulo.deploy.kinds.stream``); CloudFormation would update in place.
- ``StreamModeDetails``: ``PROVISIONED``, or ``ON_DEMAND``, which is accepted
  with a note and served as one shard (Cumulo does not scale shards; ordering per
  partition key is the same). ``ShardCount`` with ``ON_DEMAND`` is refused, as
  Kinesis refuses it.
- ``Tags`` (a list of ``{Key, Value}``) are checked and noted: Cumulo's streams
  keep no tags.
- Properties Kinesis has no use for here (encryption, shard-level metrics,
  record size) are accepted and noted (``StreamSpec.notes``); anything else is
  refused.

Pure: property maps in, ``StreamSpec``s out. Faults are ``IntrinsicError``s
naming the property; the ``stream`` kind (``cumulo.deploy.kinds.stream``) adds the resource and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.names import stable_name
from cumulo.deploy.queues import _tags
from cumulo.deploy.triggers import _integer
from cumulo.sources.streams import MAX_SHARDS, RETENTION_DEFAULT_H

__all__ = ["STREAM_TYPE", "StreamSpec", "stream_name_for", "stream_arn", "read_stream", "stream_attributes",
           "check_stream_name"]

STREAM_TYPE = "AWS::Kinesis::Stream"
_IGNORED = {
    "StreamEncryption": "records are stored unencrypted in Cumulo's store",
    "DesiredShardLevelMetrics": "shard-level metrics are not kept",
    "MaxRecordSizeInKiB": "records are limited to 1 MiB, as by default on Kinesis",
}
_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_NAME_MAX = 128
RETENTION_MAX_H = 8760


def stream_name_for(stack: str, logical_id: str) -> str:
    """CloudFormation's ``<stack>-<LogicalId>-<suffix>``, the suffix stable for a stack and logical id."""
    return stable_name(stack, logical_id, _NAME_MAX)


def stream_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{name}"


def check_stream_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise IntrinsicError(f"property Name: stream names are 1 to 128 letters, digits, '_', '-' or '.', "
                             f"got {name!r}")
    return name


@dataclass(frozen=True)
class StreamSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    shard_count: int = 1
    retention_hours: int = RETENTION_DEFAULT_H
    mode: str = "PROVISIONED"
    tags: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list, compare=False)


def stream_attributes(logical_id: str, name: str, arn: str) -> dict[tuple[str, str], str]:
    """What ``Ref`` and ``Fn::GetAtt`` give for a stream."""
    return {(logical_id, "Ref"): name, (logical_id, "Arn"): arn}


def _mode(value: Any) -> str:
    if not isinstance(value, dict) or set(value) != {"StreamMode"}:
        raise IntrinsicError("property StreamModeDetails: must be a map with StreamMode (PROVISIONED or ON_DEMAND)")
    mode = value["StreamMode"]
    if mode not in ("PROVISIONED", "ON_DEMAND"):
        raise IntrinsicError(f"property StreamModeDetails.StreamMode: must be PROVISIONED or ON_DEMAND, got {mode!r}")
    return str(mode)


def read_stream(logical_id: str, line: int, name: str, arn: str, props: dict[str, Any]) -> StreamSpec:
    """One stream's (resolved, plain) properties; ``name`` is already decided (``Name`` or the default)."""
    notes: list[str] = []
    for key in props:
        if key in _IGNORED:
            notes.append(f"{key} ignored: {_IGNORED[key]}")
        elif key not in ("Name", "ShardCount", "RetentionPeriodHours", "StreamModeDetails", "Tags"):
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
    check_stream_name(name)
    mode = _mode(props["StreamModeDetails"]) if "StreamModeDetails" in props else "PROVISIONED"
    if mode == "ON_DEMAND":
        if "ShardCount" in props:
            raise IntrinsicError("property ShardCount: must not be given when StreamMode is ON_DEMAND")
        notes.append("StreamMode ON_DEMAND is served as a stream of 1 shard: Cumulo does not scale shards")
        shards = 1
    else:
        shards = _integer(props.get("ShardCount", 1), "ShardCount", 1, MAX_SHARDS)
    retention = _integer(props.get("RetentionPeriodHours", RETENTION_DEFAULT_H), "RetentionPeriodHours",
                         RETENTION_DEFAULT_H, RETENTION_MAX_H)
    tags = _tags(props.get("Tags", []))
    if tags:
        notes.append("Tags ignored: Cumulo's streams keep no tags")
    return StreamSpec(logical_id, line, name, arn, shards, retention, mode, tags, notes)
