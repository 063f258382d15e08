"""RFC 6455 WebSockets on the HTTP edge: the opening handshake's checks, the frame codec and one
connection's protocol (``WebSocket``), written here rather than taken from a library.

What a client may send is hostile input, so every rule of the RFC that protects the server is
enforced and answered with the close code the RFC names, then the connection is closed:

- frames from a client must be masked; reserved bits and opcodes, fragmented or over-long
  (> 125 bytes) control frames, a continuation without a start or a new data message inside a
  fragmented one, a 64-bit length with its top bit set, a malformed close frame: 1002;
- a frame's payload over ``max_frame`` bytes (API Gateway: 32 KB) or a message over
  ``max_message`` bytes (128 KB): 1009, decided from the header, before the payload is read;
- a text message (or close reason) that is not UTF-8: 1007.

The parser is incremental (bytes in any cut), never holds more than one frame's header and
payload, and raises only ``ProtocolError``. Pure apart from ``WebSocket``, which drives one
asyncio transport: pings are answered with pongs, the close handshake is completed, and the
connection is closed after ``idle_timeout_s`` without a frame from the client (API Gateway: 10
minutes) or ``max_duration_s`` after it opened (2 hours), each with 1001 ``Going away``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from dataclasses import dataclass
from typing import Callable

__all__ = ["ProtocolError", "FrameParser", "Frame", "Message", "Assembler", "encode_frame", "accept_key",
           "handshake_problem", "WebSocket", "CONT", "TEXT", "BINARY", "CLOSE", "PING", "PONG",
           "MAX_FRAME", "MAX_MESSAGE"]

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA = (CONT, TEXT, BINARY)
_CONTROL = (CLOSE, PING, PONG)
MAX_FRAME = 32 * 1024            # API Gateway: a WebSocket frame's payload, at most
MAX_MESSAGE = 128 * 1024         # ... and a message's
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Close codes a peer may send (RFC 6455 7.4.1; 1004-1006 and 1015 are never sent on the wire)
_SENDABLE = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}


class ProtocolError(Exception):
    """The client broke the protocol: close with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Frame:
    opcode: int
    fin: bool
    payload: bytes


@dataclass(frozen=True, slots=True)
class Message:
    opcode: int          # TEXT, BINARY, CLOSE, PING or PONG
    payload: bytes


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("latin-1") + _GUID).digest()).decode()


def handshake_problem(method: str, headers: list[tuple[str, str]]) -> tuple[int, str] | None:
    """Why a request is not a valid WebSocket opening handshake (status, message), or None."""
    values: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        values[lower] = f"{values[lower]}, {value}" if lower in values else value
    if method != "GET":
        return 400, "A WebSocket handshake is a GET"
    if "websocket" not in [p.strip().lower() for p in values.get("upgrade", "").split(",")]:
        return 400, "Upgrade: websocket is required"
    if "upgrade" not in [p.strip().lower() for p in values.get("connection", "").split(",")]:
        return 400, "Connection: Upgrade is required"
    if values.get("sec-websocket-version", "").strip() != "13":
        return 426, "Sec-WebSocket-Version 13 is required"
    key = values.get("sec-websocket-key", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        return 400, "Sec-WebSocket-Key must be 16 bytes in base64"
    return None


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if not n:
        return payload
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One frame; servers send unmasked (``mask`` None), clients masked with 4 bytes."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head.append(bit | n)
    elif n < 1 << 16:
        head.append(bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(bit | 127)
        head += struct.pack("!Q", n)
    if mask is not None:
        head += mask
        payload = _unmask(payload, mask)
    return bytes(head) + payload


class FrameParser:
    """Bytes in, whole frames out (unmasked). ``feed`` raises ``ProtocolError`` on the first fault; frames
    whole before it in the same bytes are returned first, and the fault raised by the next ``feed``."""

    def __init__(self, max_frame: int = MAX_FRAME, require_mask: bool = True) -> None:
        self.max_frame = max_frame
        self.require_mask = require_mask
        self._buf = bytearray()
        self._fault: ProtocolError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        if self._fault is not None:
            raise self._fault
        frames: list[Frame] = []
        try:
            self._parse(data, frames)
        except ProtocolError as exc:
            self._buf.clear()
            if not frames:
                raise
            self._fault = exc
        return frames

    def _parse(self, data: bytes, frames: list[Frame]) -> None:
        buf = self._buf
        buf += data
        while True:
            if len(buf) < 2:
                break
            b0, b1 = buf[0], buf[1]
            fin, opcode, masked, n = bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F
            if b0 & 0x70:
                raise ProtocolError(1002, "Reserved bits set without an extension")
            if opcode not in _DATA and opcode not in _CONTROL:
                raise ProtocolError(1002, f"Reserved opcode {opcode:#x}")
            if masked != self.require_mask:
                raise ProtocolError(1002, "Client frames must be masked" if self.require_mask
                                    else "Server frames must not be masked")
            if opcode in _CONTROL and (not fin or n > 125):
                raise ProtocolError(1002, "Control frames must be whole and at most 125 bytes")
            at = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n = struct.unpack_from("!H", buf, 2)[0]
                at = 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n = struct.unpack_from("!Q", buf, 2)[0]
                if n >> 63:
                    raise ProtocolError(1002, "A frame's length has its top bit set")
                at = 10
            if n > self.max_frame:
                raise ProtocolError(1009, f"Frames are limited to {self.max_frame} bytes")
            mask = b""
            if masked:
                if len(buf) < at + 4:
                    break
                mask = bytes(buf[at:at + 4])
                at += 4
            if len(buf) < at + n:
                break
            payload = bytes(buf[at:at + n])
            del buf[:at + n]
            frames.append(Frame(opcode, fin, _unmask(payload, mask) if masked else payload))


class Assembler:
    """Frames to messages: fragments joined (at most ``max_message`` bytes), text checked as UTF-8,
    close frames checked; control frames pass through between fragments."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._opcode: int | None = None     # the fragmented message being joined
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, frame: Frame) -> Message | None:
        if frame.opcode in _CONTROL:
            if frame.opcode == CLOSE:
                close_of(frame.payload)     # checked
            return Message(frame.opcode, frame.payload)
        if frame.opcode == CONT:
            if self._opcode is None:
                raise ProtocolError(1002, "A continuation frame without a message to continue")
        elif self._opcode is not None:
            raise ProtocolError(1002, "A new message began inside a fragmented one")
        else:
            self._opcode = frame.opcode
        self._size += len(frame.payload)
        if self._size > self.max_message:
            raise ProtocolError(1009, f"Messages are limited to {self.max_message} bytes")
        self._parts.append(frame.payload)
        if not frame.fin:
            return None
        opcode, payload = self._opcode, b"".join(self._parts)
        self._opcode, self._parts, self._size = None, [], 0
        if opcode == TEXT:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(1007, "A text message that is not UTF-8") from None
        return Message(opcode, payload)


def close_of(payload: bytes) -> tuple[int, str]:
    """A close frame's (code, reason); 1005 for an empty one. ``ProtocolError`` when malformed."""
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise ProtocolError(1002, "A close frame with a one-byte payload")
    code = struct.unpack_from("!H", payload)[0]
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        raise ProtocolError(1002, f"Close code {code} may not be sent")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(1007, "A close reason that is not UTF-8") from None


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode("utf-8")[:123]


class WebSocket:
    """One upgraded connection, as the edge's protocol object once the handshake is answered.

    ``on_message(opcode, payload)`` gets each TEXT/BINARY message; ``on_closed(code, reason)`` is
    called once when the connection ends, however it ends (1006 when the TCP connection simply
    went away). ``send`` and ``close`` may be called from the loop at any time."""

    def __init__(self, transport: asyncio.Transport, on_message: Callable[[int, bytes], None],
                 on_closed: Callable[[int, str], None], *, idle_timeout_s: float = 600.0,
                 max_duration_s: float = 7200.0, max_frame: int = MAX_FRAME, max_message: int = MAX_MESSAGE,
                 send_timeout_s: float = 20.0) -> None:
        self.transport = transport
        self._on_message = on_message
        self._on_closed = on_closed
        self._parser = FrameParser(max_frame)
        self._assembler = Assembler(max_message)
        self.loop = asyncio.get_event_loop()
        self.idle_timeout_s = idle_timeout_s
        self.last_active = self.loop.time()
        self.closed = False          # no more frames go out (a close was sent or the socket is gone)
        self._ended = False          # on_closed was called
        self._send_timeout_s = send_timeout_s
        self._idle = self.loop.call_later(idle_timeout_s, self._check_idle)
        self._lifetime = self.loop.call_later(max_duration_s, self.close, 1001, "Going away")
        self._linger: asyncio.TimerHandle | None = None

    # -- from the transport ------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        try:
            frames = self._parser.feed(data)
            for frame in frames:
                self.last_active = self.loop.time()
                message = self._assembler.add(frame)
                if message is None:
                    continue
                if message.opcode == PING:
                    self._write(PONG, message.payload)
                elif message.opcode == PONG:
                    pass
                elif message.opcode == CLOSE:
                    code, reason = close_of(message.payload)
                    if not self.closed:      # the client began it: answer with its code
                        self._write(CLOSE, b"" if code == 1005 else close_payload(code))
                        self.closed = True
                    self._end(code, reason)
                    self.transport.close()
                    return
                elif not self.closed:
                    self._on_message(message.opcode, message.payload)
            if frames:
                self._parser.feed(b"")      # a fault after those frames, in the same bytes
        except ProtocolError as exc:
            self.close(exc.code, exc.reason)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._end(1006, "Connection lost")

    # -- ours ----------------------------------------------------------------------
    def send(self, payload: bytes, text: bool = True) -> bool:
        """One message to the client as one frame; False when the connection is closed."""
        if self.closed or self.transport.is_closing():
            return False
        self._write(TEXT if text else BINARY, payload)
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and end: the client's own close frame is awaited for a moment."""
        if self.closed:
            return
        self._write(CLOSE, close_payload(code, reason))
        self.closed = True
        self._end(code, reason)
        self._linger = self.loop.call_later(2.0, self.transport.close)

    def _write(self, opcode: int, payload: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(encode_frame(opcode, payload))
            if self.transport.get_write_buffer_size() > 4 * MAX_MESSAGE:
                # a client that reads nothing: dropped after a while rather than buffered forever
                self.loop.call_later(self._send_timeout_s, self._drop_if_stalled)

    def _drop_if_stalled(self) -> None:
        if self.transport.get_write_buffer_size() > 4 * MAX_MESSAGE:
            self.transport.abort()

    def _check_idle(self) -> None:
        left = self.last_active + self.idle_timeout_s - self.loop.time()
        if left > 0:
            self._idle = self.loop.call_later(left, self._check_idle)
        else:
            self.close(1001, "Going away")

    def _end(self, code: int, reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._idle.cancel()
        self._lifetime.cancel()
        self._on_closed(code, reason)
