"""AWS's event-stream framing (``application/vnd.amazon.eventstream``), for streamed answers.

Each message: total length and headers length (big-endian uint32), a CRC32 of those eight bytes,
the headers (name length byte, name, type 7 = string, uint16 value length, value), the payload,
and a CRC32 of everything before it. boto3 decodes these into the events of an EventStream.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["event_message"]


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack(">B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def event_message(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    headers = (_header(":event-type", event_type) + _header(":content-type", content_type)
               + _header(":message-type", "event"))
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))
