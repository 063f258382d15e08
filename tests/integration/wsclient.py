"""A minimal RFC 6455 WebSocket client for tests, written apart from the server's codec
(``cumulo/edge/websocket.py``) so that a mistake shared by both cannot pass unseen."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from urllib.parse import urlsplit

__all__ = ["WsClient", "Refused", "connect"]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Refused(Exception):
    """The server answered the handshake with something other than 101."""

    def __init__(self, status: int, head: str) -> None:
        super().__init__(f"{status}: {head}")
        self.status = status
        self.head = head


class WsClient:
    def __init__(self, sock: socket.socket, rest: bytes) -> None:
        self.sock = sock
        self.buf = bytearray(rest)
        self.close_code: int | None = None
        self.close_reason = ""

    # -- sending (client frames are masked) ---------------------------------------
    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, *, length: int | None = None,
                   rsv: int = 0, mask: bool = True) -> None:
        n = len(payload) if length is None else length
        head = bytearray([(0x80 if fin else 0) | rsv << 4 | opcode])
        bit = 0x80 if mask else 0
        if n < 126:
            head.append(bit | n)
        elif n < 65536:
            head += bytes([bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([bit | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            head += key
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(head) + payload)

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode())

    def send_binary(self, data: bytes) -> None:
        self.send_frame(0x2, data)

    # -- receiving ---------------------------------------------------------------------
    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def recv_frame(self) -> tuple[int, bytes]:
        b0, b1 = self._read(2)
        assert not b1 & 0x80, "server frames are never masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return b0 & 0x0F, self._read(n)

    def recv(self) -> str | bytes | None:
        """The next data message (str for text, bytes for binary); None once the server closed."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == 0x1:
                return payload.decode()
            if opcode == 0x2:
                return payload
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_reason = payload[2:].decode()
                return None
            if opcode == 0x9:
                self.send_frame(0xA, payload)

    def close(self, code: int = 1000) -> None:
        try:
            self.send_frame(0x8, struct.pack("!H", code))
            self.sock.settimeout(2)
            while self.recv() is not None:
                pass
        except (OSError, ConnectionError):
            pass
        finally:
            self.sock.close()


def connect(url: str, headers: dict[str, str] | None = None, timeout: float = 30.0) -> WsClient:
    """Open ``ws://host:port/path?query``; ``Refused`` when the handshake is not answered with 101."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", "User-Agent: cumulo-tests",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            sock.close()
            raise Refused(0, data.decode("latin-1"))
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    status = int(text.split(" ", 2)[1])
    if status != 101:
        sock.close()
        raise Refused(status, text)
    expected = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
    fields = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in text.split("\r\n")[1:]))
    assert fields.get("sec-websocket-accept") == expected, text
    return WsClient(sock, rest)
