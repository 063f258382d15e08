"""Frames between the supervisor, the zygote and environments.

A frame is ``>II`` (header length, body length), a JSON header, then the body
as raw bytes. Event and result payloads travel as the body, so the supervisor
moves them without parsing them. Standard library only: this module is
imported by the zygote, and its size is paid by every fork.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Callable

__all__ = ["PREFIX", "encode", "send", "recv", "FrameReader", "ProtocolError", "MAX_HEADER"]

PREFIX = struct.Struct(">II")
MAX_HEADER = 1 << 20


class ProtocolError(Exception):
    """The peer sent something that is not a frame."""


def encode(header: dict, body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(head), len(body)) + head + body


def send(sock: socket.socket, header: dict, body: bytes = b"", fds: list[int] | None = None) -> None:
    data = encode(header, body)
    if fds:
        sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
        data = data[sent:]
    if data:
        sock.sendall(data)


def _decode_header(raw: bytes, loads: Callable[[bytes], Any] = json.loads) -> dict:
    try:
        header = loads(raw)
    except ValueError as exc:   # JSONDecodeError and UnicodeDecodeError both
        if loads is json.loads:
            raise ProtocolError(f"frame header is not JSON: {exc}") from None
        # A faster decoder may refuse what the stdlib wrote: a lone surrogate ("\udcff", from a
        # file name that is not UTF-8) is valid JSON to json.loads and not to orjson.
        return _decode_header(raw)
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not a JSON object")
    return header


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError
        got += k
    return bytes(buf)


def recv(sock: socket.socket, max_body: int) -> tuple[dict, bytes, list[int]]:
    """Blocking read of one frame and any file descriptors passed with it."""
    fds: list[int] = []
    msg, ancdata, _, _ = sock.recvmsg(PREFIX.size, socket.CMSG_SPACE(8 * 4))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(struct.unpack(f"{len(data) // 4}i", data[: len(data) - len(data) % 4]))
    if not msg:
        raise EOFError
    if len(msg) < PREFIX.size:
        msg += _recv_exact(sock, PREFIX.size - len(msg))
    hlen, blen = PREFIX.unpack(msg)
    if hlen > MAX_HEADER or blen > max_body:
        raise ProtocolError(f"frame too large ({hlen}+{blen} bytes)")
    header = _decode_header(_recv_exact(sock, hlen)) if hlen else {}
    body = _recv_exact(sock, blen) if blen else b""
    return header, body, fds


class FrameReader:
    """Incremental decoder for a non-blocking reader: feed bytes, take frames."""

    def __init__(self, max_body: int, loads: Callable[[bytes], Any] = json.loads) -> None:
        self._buf = bytearray()
        self._max_body = max_body
        self._loads = loads     # the supervisor passes orjson's; environments have the stdlib only

    def feed(self, data: bytes) -> list[tuple[dict, bytes]]:
        self._buf += data
        frames = []
        while len(self._buf) >= PREFIX.size:
            hlen, blen = PREFIX.unpack_from(self._buf)
            if hlen > MAX_HEADER or blen > self._max_body:
                raise ProtocolError(f"frame too large ({hlen}+{blen} bytes)")
            end = PREFIX.size + hlen + blen
            if len(self._buf) < end:
                break
            header = _decode_header(bytes(self._buf[PREFIX.size: PREFIX.size + hlen]), self._loads)
            body = bytes(self._buf[PREFIX.size + hlen: end])
            del self._buf[:end]
            frames.append((header, body))
        return frames

    @property
    def pending(self) -> int:
        return len(self._buf)
