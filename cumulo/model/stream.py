"""Streams as Kinesis Data Streams names them: shard ids, sequence numbers and Kinesis' errors.

Pure, no I/O: the stream service (``sources/streams.py``) and the stream mappings' pollers
(``functions/pollers.py``) both read and write these names.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.errors import CumuloError

__all__ = ["InvalidArgumentException", "ResourceInUseException", "ExpiredIteratorException", "shard_id",
           "shard_index", "sequence_number", "parse_sequence_number"]


class InvalidArgumentException(CumuloError):
    status = 400


class ResourceInUseException(CumuloError):
    status = 400


class ExpiredIteratorException(CumuloError):
    status = 400


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_index(text: Any) -> int:
    if isinstance(text, str) and re.fullmatch(r"shardId-\d{12}", text):
        return int(text[8:])
    raise InvalidArgumentException(f"Invalid ShardId: {text}")


def sequence_number(shard: int, seq: int) -> str:
    """56 decimal digits, like AWS's; comparable as numbers within a shard."""
    return f"49{shard:06d}{seq:048d}"


def parse_sequence_number(text: Any) -> tuple[int, int]:
    if not isinstance(text, str) or not re.fullmatch(r"49\d{54}", text):
        raise InvalidArgumentException(f"Invalid StartingSequenceNumber: {text}")
    return int(text[2:8]), int(text[8:])
