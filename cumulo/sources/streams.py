"""Streams with Kinesis Data Streams' semantics: shards, partition keys, ordered records.

A record's shard is the one whose hash-key range holds the MD5 of its partition key
(or its ``ExplicitHashKey``); within a shard, sequence numbers only grow. Records
are kept for the stream's retention period (24 hours by default). The service
answers with the documents boto3's ``kinesis`` client returns; iterators are
opaque tokens (valid five minutes, as on AWS) naming a shard and a position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any

from cumulo.errors import CumuloError, ResourceNotFoundException
from cumulo.model.stream import (
    ExpiredIteratorException, InvalidArgumentException, ResourceInUseException, parse_sequence_number, sequence_number,
    shard_id, shard_index,
)
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.ports import now_ms as clock_ms
from cumulo.store.ports import StreamRecords

__all__ = ["StreamService", "InvalidArgumentException", "ResourceInUseException", "ExpiredIteratorException",
           "sequence_number", "parse_sequence_number", "shard_id"]

HASH_SPACE = 2 ** 128
NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
MAX_SHARDS = 64
MAX_RECORD_BYTES = 1024 * 1024
MAX_PUT_RECORDS = 500
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024
ITERATOR_TTL_MS = 5 * 60 * 1000
RETENTION_DEFAULT_H = 24


class StreamService:
    def __init__(self, records: StreamRecords, region: str, account: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self.records = records
        self.clock = clock      # records' arrival, iterators' age, retention
        self.region, self.account = region, account

    def arn(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account}:stream/{name}"

    def _name(self, name: Any = None, arn: Any = None) -> str:
        if arn:
            if not isinstance(arn, str) or ":stream/" not in arn:
                raise InvalidArgumentException(f"Invalid StreamARN: {arn}")
            return arn.rsplit("/", 1)[1]
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise InvalidArgumentException("StreamName must be 1 to 128 letters, digits, '_', '-' or '.'.")
        return name

    def _stream(self, name: Any = None, arn: Any = None) -> dict[str, Any]:
        stream = self._name(name, arn)
        doc = self.records.get_stream(stream)
        if doc is None:
            raise ResourceNotFoundException(f"Stream {stream} under account {self.account} not found.")
        return doc

    # -- streams --------------------------------------------------------------
    def create_stream(self, name: str, shard_count: int | None = 1, retention_hours: int = RETENTION_DEFAULT_H) -> None:
        self._name(name)
        count = 1 if shard_count is None else shard_count
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SHARDS:
            raise InvalidArgumentException(f"ShardCount must be between 1 and {MAX_SHARDS}.")
        doc = {"name": name, "shards": count, "created": self.clock.now(), "retention_hours": retention_hours}
        if not self.records.create_stream(name, doc):
            raise ResourceInUseException(f"Stream {name} under account {self.account} already exists.")

    def delete_stream(self, name: Any = None, arn: Any = None) -> None:
        doc = self._stream(name, arn)
        self.records.delete_stream(doc["name"])

    def list_streams(self) -> list[str]:
        return [d["name"] for d in self.records.list_streams()]

    def shard_count(self, name: str) -> int:
        return int(self._stream(name)["shards"])

    def _shards(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        n = doc["shards"]
        out = []
        for i in range(n):
            first, _ = self.records.shard_bounds(doc["name"], i)
            out.append({"ShardId": shard_id(i), "HashKeyRange": {
                "StartingHashKey": str(i * HASH_SPACE // n), "EndingHashKey": str((i + 1) * HASH_SPACE // n - 1)},
                "SequenceNumberRange": {"StartingSequenceNumber": sequence_number(i, max(first, 1))}})
        return out

    def describe_stream(self, name: Any = None, arn: Any = None) -> dict[str, Any]:
        doc = self._stream(name, arn)
        head, tail = self._description(doc)
        return {**head, "Shards": self._shards(doc), "HasMoreShards": False, **tail}

    def describe_stream_summary(self, name: Any = None, arn: Any = None) -> dict[str, Any]:
        doc = self._stream(name, arn)
        head, tail = self._description(doc)
        return {**head, **tail, "OpenShardCount": doc["shards"], "ConsumerCount": 0}

    def _description(self, doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """What DescribeStream and DescribeStreamSummary share: the fields before and after the shards."""
        return ({"StreamName": doc["name"], "StreamARN": self.arn(doc["name"]), "StreamStatus": "ACTIVE",
                 "StreamModeDetails": {"StreamMode": "PROVISIONED"}},
                {"RetentionPeriodHours": doc["retention_hours"], "StreamCreationTimestamp": doc["created"],
                 "EnhancedMonitoring": [{"ShardLevelMetrics": []}], "EncryptionType": "NONE"})

    def require(self, arn: str) -> None:
        """ResourceNotFoundException unless the stream exists."""
        self._stream(arn=arn)

    def list_shards(self, name: Any = None, arn: Any = None) -> list[dict[str, Any]]:
        return self._shards(self._stream(name, arn))

    # -- writing --------------------------------------------------------------
    def _place(self, doc: dict[str, Any], data: Any, key: Any, explicit: Any) -> tuple[int, str, bytes]:
        if not isinstance(key, str) or not 1 <= len(key) <= 256:
            raise InvalidArgumentException("PartitionKey must be 1 to 256 characters.")
        blob = _blob(data)
        if len(blob) + len(key.encode()) > MAX_RECORD_BYTES:
            raise InvalidArgumentException(f"Record size (data and partition key) exceeds {MAX_RECORD_BYTES} bytes.")
        if explicit is not None:
            if not isinstance(explicit, str) or not re.fullmatch(r"[0-9]{1,39}", explicit) or \
                    int(explicit) >= HASH_SPACE:
                raise InvalidArgumentException("ExplicitHashKey must be a decimal number below 2^128.")
            point = int(explicit)
        else:
            point = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        return point * doc["shards"] // HASH_SPACE, key, blob

    def put_record(self, name: Any = None, data: Any = None, partition_key: Any = None,
                   explicit_hash_key: Any = None, arn: Any = None) -> dict[str, Any]:
        doc = self._stream(name, arn)
        shard, key, blob = self._place(doc, data, partition_key, explicit_hash_key)
        (seq,) = self.records.put_records(doc["name"], [(shard, key, blob)], clock_ms(self.clock))
        return {"ShardId": shard_id(shard), "SequenceNumber": sequence_number(shard, seq), "EncryptionType": "NONE"}

    def put_records(self, records: Any, name: Any = None, arn: Any = None) -> dict[str, Any]:
        doc = self._stream(name, arn)
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_PUT_RECORDS:
            raise InvalidArgumentException(f"Records must hold 1 to {MAX_PUT_RECORDS} records.")
        placed: list[tuple[int, str, bytes] | CumuloError] = []
        total = 0
        for r in records:
            try:
                p = self._place(doc, r.get("Data") if isinstance(r, dict) else None,
                                r.get("PartitionKey") if isinstance(r, dict) else None,
                                r.get("ExplicitHashKey") if isinstance(r, dict) else None)
                total += len(p[2]) + len(p[1])
                placed.append(p)
            except CumuloError as err:
                placed.append(err)
        if total > MAX_PUT_RECORDS_BYTES:
            raise InvalidArgumentException(f"Records size exceeds {MAX_PUT_RECORDS_BYTES} bytes.")
        good = [p for p in placed if isinstance(p, tuple)]
        seqs = iter(self.records.put_records(doc["name"], good, clock_ms(self.clock)) if good else [])
        out, failed = [], 0
        for item in placed:
            if isinstance(item, CumuloError):
                failed += 1
                out.append({"ErrorCode": item.type, "ErrorMessage": item.message})
            else:
                out.append({"ShardId": shard_id(item[0]), "SequenceNumber": sequence_number(item[0], next(seqs))})
        return {"FailedRecordCount": failed, "Records": out, "EncryptionType": "NONE"}

    # -- reading --------------------------------------------------------------
    def position(self, name: str, shard: int, kind: str, sequence: Any = None, timestamp: Any = None) -> int:
        """The seq a reader starts after, for a shard iterator type (or a mapping's StartingPosition)."""
        if kind == "TRIM_HORIZON":
            first, _ = self.records.shard_bounds(name, shard)
            return max(first - 1, 0)
        if kind == "LATEST":
            return self.records.shard_bounds(name, shard)[1]
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            s_shard, seq = parse_sequence_number(sequence)
            if s_shard != shard:
                raise InvalidArgumentException(f"StartingSequenceNumber {sequence} is not in {shard_id(shard)}.")
            return seq - 1 if kind == "AT_SEQUENCE_NUMBER" else seq
        if kind == "AT_TIMESTAMP":
            if isinstance(timestamp, datetime):
                ms = int(timestamp.timestamp() * 1000)
            elif isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
                ms = int(timestamp * 1000)
            else:
                raise InvalidArgumentException("AT_TIMESTAMP needs a Timestamp.")
            return self.records.seq_at(name, shard, ms)
        raise InvalidArgumentException(f"Invalid ShardIteratorType: {kind}")

    def get_shard_iterator(self, shard: Any, kind: Any, name: Any = None, arn: Any = None, sequence: Any = None,
                           timestamp: Any = None) -> str:
        doc = self._stream(name, arn)
        index = shard_index(shard)
        if index >= doc["shards"]:
            raise ResourceNotFoundException(f"Shard {shard} in stream {doc['name']} under account {self.account} "
                                            "does not exist")
        after = self.position(doc["name"], index, str(kind), sequence, timestamp)
        return _iterator(doc["name"], index, after, clock_ms(self.clock))

    def get_records(self, iterator: Any, limit: Any = None) -> dict[str, Any]:
        name, index, after = _parse_iterator(iterator, clock_ms(self.clock))
        count = 10_000 if limit is None else limit
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
            raise InvalidArgumentException("Limit must be between 1 and 10000.")
        doc = self._stream(name)
        cutoff = clock_ms(self.clock) - doc["retention_hours"] * 3_600_000
        rows = [r for r in self.records.read_records(name, index, after, count) if r[3] >= cutoff]
        last = rows[-1][0] if rows else after
        _, newest = self.records.shard_bounds(name, index)
        behind = 0
        if rows and newest > last:
            behind = max(clock_ms(self.clock) - rows[-1][3], 0)
        return {"Records": [{"SequenceNumber": sequence_number(index, seq), "ApproximateArrivalTimestamp": ms / 1000,
                             "Data": data, "PartitionKey": key, "EncryptionType": "NONE"}
                            for seq, key, data, ms in rows],
                "NextShardIterator": _iterator(name, index, last, clock_ms(self.clock)), "MillisBehindLatest": behind}

    def sweep(self) -> int:
        n = 0
        for doc in self.records.list_streams():
            n += self.records.trim_records(doc["name"], clock_ms(self.clock) - doc["retention_hours"] * 3_600_000)
        return n


def _blob(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):              # the JSON protocol carries blobs as base64
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgumentException("Data must be base64-encoded.") from None
    raise InvalidArgumentException("Data is required.")


def _iterator(name: str, shard: int, after: int, now_ms: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, shard, after, now_ms]).encode()).decode()


def _parse_iterator(token: Any, now_ms: int) -> tuple[str, int, int]:
    try:
        name, shard, after, issued = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        # one this service gave: [name, shard number, sequence, issued ms]
        if not (isinstance(name, str) and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**63
                                              for n in (shard, after, issued))):
            raise ValueError(token)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise InvalidArgumentException(f"Invalid ShardIterator: {str(token)[:256]}") from None
    if now_ms - issued > ITERATOR_TTL_MS:
        raise ExpiredIteratorException(f"Iterator expired. The iterator was created at time "
                                       f"{datetime.fromtimestamp(issued / 1000, timezone.utc):%a %b %d %H:%M:%S UTC %Y}"
                                       " and is no longer valid (iterators last 5 minutes).")
    return name, int(shard), int(after)
