"""CBOR (RFC 8949), the body of Smithy's RPC v2 CBOR protocol (``api/rpcv2.py``).

``decode`` reads one data item: integers, byte and text strings (definite or indefinite
length), arrays, maps, tag 1 (an epoch timestamp, read as a float of seconds), floats (half,
single, double), booleans, null and undefined. Anything else, a truncated item, trailing bytes or
nesting deeper than ``MAX_DEPTH`` raises ``CBORError``. ``encode`` writes the values a reply holds:
``Timestamp`` becomes tag 1, floats are written as doubles.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

__all__ = ["decode", "encode", "CBORError", "Timestamp", "MAX_DEPTH"]

MAX_DEPTH = 64


class CBORError(ValueError):
    pass


@dataclass(frozen=True)
class Timestamp:
    """Epoch seconds, written as CBOR tag 1."""

    seconds: float


_BREAK = object()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise CBORError("truncated CBOR item")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def argument(self, info: int) -> int | None:
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return int(struct.unpack(">H", self.take(2))[0])
        if info == 26:
            return int(struct.unpack(">I", self.take(4))[0])
        if info == 27:
            return int(struct.unpack(">Q", self.take(8))[0])
        if info == 31:
            return None          # indefinite length
        raise CBORError(f"reserved additional information {info}")

    def item(self, depth: int = 0, allow_break: bool = False) -> Any:
        if depth > MAX_DEPTH:
            raise CBORError("CBOR nested too deeply")
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 31
        if major == 7:
            return self.simple(info, allow_break)
        arg = self.argument(info)
        if major == 0:
            if arg is None:
                raise CBORError("indefinite length integer")
            return arg
        if major == 1:
            if arg is None:
                raise CBORError("indefinite length integer")
            return -1 - arg
        if major in (2, 3):
            if arg is None:
                parts = []
                while True:
                    part = self.item(depth + 1, allow_break=True)
                    if part is _BREAK:
                        break
                    if not isinstance(part, (bytes, str)) or isinstance(part, str) != (major == 3):
                        raise CBORError("bad chunk in an indefinite length string")
                    parts.append(part)
                return "".join(parts) if major == 3 else b"".join(parts)   # type: ignore[arg-type]
            raw = self.take(arg)
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CBORError("text string is not UTF-8") from None
        if major == 4:
            out = []
            if arg is None:
                while (value := self.item(depth + 1, allow_break=True)) is not _BREAK:
                    out.append(value)
            else:
                if arg > len(self.data) - self.pos:
                    raise CBORError("truncated CBOR array")
                for _ in range(arg):
                    out.append(self.item(depth + 1))
            return out
        if major == 5:
            result: dict[Any, Any] = {}
            count = 0
            if arg is not None and 2 * arg > len(self.data) - self.pos:    # each key and value: a byte at least
                raise CBORError("truncated CBOR map")
            while arg is None or count < arg:
                key = self.item(depth + 1, allow_break=arg is None)
                if key is _BREAK:
                    break
                if not isinstance(key, (str, int, bytes)):
                    raise CBORError("map key of an unsupported type")
                result[key] = self.item(depth + 1)
                count += 1
            return result
        # major 6: tags
        value = self.item(depth + 1)
        if arg == 1:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CBORError("tag 1 wants a number")
            return float(value)
        raise CBORError(f"unsupported CBOR tag {arg}")

    def simple(self, info: int, allow_break: bool) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return float(struct.unpack(">e", self.take(2))[0])
        if info == 26:
            return float(struct.unpack(">f", self.take(4))[0])
        if info == 27:
            return float(struct.unpack(">d", self.take(8))[0])
        if info == 31 and allow_break:
            return _BREAK
        raise CBORError(f"unsupported simple value {info}")


def decode(data: bytes) -> Any:
    reader = _Reader(data)
    value = reader.item()
    if reader.pos != len(data):
        raise CBORError("trailing bytes after the CBOR item")
    return value


def _head(out: bytearray, major: int, n: int) -> None:
    if n < 24:
        out.append(major << 5 | n)
    elif n < 1 << 8:
        out += bytes((major << 5 | 24, n))
    elif n < 1 << 16:
        out.append(major << 5 | 25)
        out += struct.pack(">H", n)
    elif n < 1 << 32:
        out.append(major << 5 | 26)
        out += struct.pack(">I", n)
    else:
        out.append(major << 5 | 27)
        out += struct.pack(">Q", n)


def _encode(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CBORError("value nested too deeply")
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if value >= 0:
            _head(out, 0, value)
        else:
            _head(out, 1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _head(out, 3, len(raw))
        out += raw
    elif isinstance(value, (bytes, bytearray)):
        _head(out, 2, len(value))
        out += value
    elif isinstance(value, Timestamp):
        out.append(0xC1)
        _encode(out, float(value.seconds) if math.isfinite(value.seconds) else 0.0, depth + 1)
    elif isinstance(value, (list, tuple)):
        _head(out, 4, len(value))
        for v in value:
            _encode(out, v, depth + 1)
    elif isinstance(value, dict):
        _head(out, 5, len(value))
        for k, v in value.items():
            _encode(out, k, depth + 1)
            _encode(out, v, depth + 1)
    else:
        raise CBORError(f"{type(value).__name__} cannot be written as CBOR")


def encode(value: Any) -> bytes:
    out = bytearray()
    _encode(out, value, 0)
    return bytes(out)
