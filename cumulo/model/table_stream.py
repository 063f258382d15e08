"""DynamoDB streams as the table service writes them and their readers (the Streams API, the
event-source mappings' pollers) read them. Pure, no I/O.

A table's stream is a one-shard stream of the message store (``StreamRecords``) named for the
resource part of its ARN (``table/<name>/stream/<label>``). A record is kept as the JSON of the
Lambda event record without ``SequenceNumber`` and ``eventSourceARN``, which the reader adds from
the record's seq and the stream it reads.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["is_table_stream", "stream_name", "stream_arn", "sequence_number", "parse_sequence_number",
           "event_record", "api_record", "SHARD_ID"]

SHARD_ID = "shardId-00000000000000000000-00000000"


def is_table_stream(arn: str) -> bool:
    return isinstance(arn, str) and arn.startswith("arn:") and ":dynamodb:" in arn and "/stream/" in arn


def stream_name(arn: str) -> str:
    """``table/<name>/stream/<label>`` of a stream's ARN."""
    return arn.split(":", 5)[5]


def stream_arn(region: str, account: str, table: str, label: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}"


def sequence_number(seq: int) -> str:
    """21 decimal digits, as DynamoDB Streams' are; ordered as numbers."""
    return f"{seq:021d}"


def parse_sequence_number(text: Any) -> int | None:
    if isinstance(text, str) and text.isascii() and text.isdigit() and 1 <= len(text) <= 40:
        return int(text)
    return None


def _record(data: bytes, seq: int) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(data)
    record["dynamodb"]["SequenceNumber"] = sequence_number(seq)
    return record


def event_record(data: bytes, seq: int, arn: str) -> dict[str, Any]:
    """The record as a function's event holds it (Records[] of a DynamoDB event)."""
    record = _record(data, seq)
    record["eventSourceARN"] = arn
    return record


def api_record(data: bytes, seq: int) -> dict[str, Any]:
    """The record as the Streams API's GetRecords answers it."""
    return _record(data, seq)
