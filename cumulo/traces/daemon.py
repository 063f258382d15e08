"""The X-Ray daemon's UDP endpoint: what the X-Ray SDK and Powertools' ``Tracer`` send from inside a
function (``AWS_XRAY_DAEMON_ADDRESS``). Each datagram is a header line and one segment document,
``{"format": "json", "version": 1}\\n{...}``, as the daemon takes them; a datagram that is not one
is dropped, as the daemon drops it. One thread reads the socket and hands documents to ``receive``
(``TraceService.receive``)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Callable

__all__ = ["XRayDaemon", "parse_datagram", "PORT"]

PORT = 2000                   # the daemon's default, 127.0.0.1:2000
_DATAGRAM_MAX = 65_535
log = logging.getLogger("cumulo.traces")


def parse_datagram(data: bytes) -> str | None:
    """The segment document a datagram carries, or None when it is not one (its header is not
    ``{"format": "json", "version": 1}``)."""
    head, sep, body = data.partition(b"\n")
    if not sep or not body.strip():
        return None
    try:
        header = json.loads(head)
        text = body.decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("format") != "json" or header.get("version") != 1:
        return None
    return text


class XRayDaemon:
    """Reads ``sock`` (a bound UDP socket) until ``stop``; each document goes to ``receive``."""

    def __init__(self, sock: socket.socket, receive: Callable[[list[str]], object]) -> None:
        self._sock, self._receive = sock, receive
        self._sock.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-xray-daemon", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(_DATAGRAM_MAX)
            except socket.timeout:
                continue
            except OSError:
                return
            text = parse_datagram(data)
            if text is None:
                continue
            try:
                self._receive([text])
            except Exception:
                log.exception("a segment from the X-Ray daemon's port could not be kept")
