"""The Lambda Runtime API (version 2018-06-01), served to one environment's own process.

Layered as firecracker's API is, so that nothing happens before a request is typed:

- ``HttpParser``: bytes in, ``HttpRequest``s out (HTTP/1.1 keep-alive, Content-Length or
  chunked bodies; a body over the limit is counted and dropped, never buffered).
- ``command_of``: a request into one of a closed set of commands (``NextInvocation``,
  ``InvocationResponse``, ``InvocationError``, ``InitError``, ``Unroutable``).
- ``RuntimeApiState``: the pure core. A command in, an HTTP answer and at most one
  ``Signal`` out (what the environment learns: a response, an error, an init error).
  It never raises; a wrong request id or a second response is an answer, as on AWS.
- ``RuntimeApiServer``: the shell. It owns the listening socket and the connections and is
  driven by whoever polls it (the thread running the invocation): it never runs on its own,
  so between invocations a runtime's ``next`` simply waits, as in a frozen AWS environment.

A streamed response (``Lambda-Runtime-Function-Response-Mode: streaming``, chunked) is taken
whole and answered as a buffered one (what AWS does for a plain Invoke of a streaming
function); an error the runtime reports in its trailers (``Lambda-Runtime-Function-Error-Type``,
``-Body`` in base64) fails the invocation like ``/error``.

Status codes and bodies follow AWS's OpenAPI description of the Runtime API: 202
``{"status":"OK"}``; 400 for an unknown request id; 403 for a call the state does not allow
(a second response, an init error after Init); 413 for a payload over the limit; errors as
``{"errorMessage", "errorType"}``.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "HttpError", "HttpParser", "HttpRequest", "http_reply",
    "NextInvocation", "InvocationResponse", "InvocationError", "InitError", "Unroutable", "Command", "command_of",
    "Responded", "ErrorPosted", "InitErrorPosted", "Signal", "RuntimeApiState", "RuntimeApiServer",
    "error_document",
]

API_PREFIX = "/2018-06-01/runtime/"
_MAX_HEAD = 64 * 1024
_MAX_CHUNK_LINE = 1024
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 413: "Request Entity Too Large", 500: "Internal Server Error"}
_READ_CHUNK = 1 << 16
_RECENT_IDS = 64
MAX_CONNECTIONS = 32        # open connections per environment; more are closed as they come


# -- HTTP/1.1 -------------------------------------------------------------------------------
class HttpError(Exception):
    """The bytes are not HTTP/1.1: answered with 400 and the connection closed."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str                 # without the query string
    headers: dict[str, str]   # lower-cased names
    body: bytes               # empty when ``oversized``
    body_size: int
    oversized: bool
    keep_alive: bool
    trailers: dict[str, str] = field(default_factory=dict)   # of a chunked body, lower-cased names


class HttpParser:
    """Incremental request parser for one connection."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._head: tuple[str, str, dict[str, str], bool] | None = None
        self._mode = ""           # "length" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailer"
        self._left = 0
        self._body = bytearray()
        self._size = 0
        self._trailers: dict[str, str] = {}
        self.expects_continue = False   # a head asked for "100 Continue" (curl does for large bodies)

    def feed(self, data: bytes) -> list[HttpRequest]:
        self._buf += data
        out = []
        while (request := self._step()) is not None:
            out.append(request)
        return out

    def _step(self) -> HttpRequest | None:
        if self._head is None and not self._read_head():
            return None
        while True:
            if self._mode == "length":
                take = min(self._left, len(self._buf))
                self._take(take)
                self._left -= take
                return self._complete() if self._left == 0 else None
            if self._mode in ("chunk-size", "trailer"):
                end = self._buf.find(b"\r\n")
                if end < 0:
                    if len(self._buf) > _MAX_CHUNK_LINE:
                        raise HttpError("chunk line too long")
                    return None
                line = bytes(self._buf[:end])
                del self._buf[:end + 2]
                if self._mode == "trailer":
                    if not line:
                        return self._complete()
                    name, sep, value = line.decode("latin-1").partition(":")
                    if not sep or not name:
                        raise HttpError("bad trailer line")
                    self._trailers[name.strip().lower()] = value.strip()
                    continue
                try:
                    self._left = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise HttpError("bad chunk size") from None
                if self._left < 0:
                    raise HttpError("bad chunk size")
                self._mode = "chunk-data" if self._left else "trailer"
            elif self._mode == "chunk-data":
                take = min(self._left, len(self._buf))
                self._take(take)
                self._left -= take
                if self._left:
                    return None
                self._mode = "chunk-crlf"
            elif self._mode == "chunk-crlf":
                if len(self._buf) < 2:
                    return None
                if self._buf[:2] != b"\r\n":
                    raise HttpError("chunk not followed by CRLF")
                del self._buf[:2]
                self._mode = "chunk-size"
            else:
                return self._complete()

    def _read_head(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _MAX_HEAD:
                raise HttpError("request head too large")
            return False
        raw = bytes(self._buf[:end])
        del self._buf[:end + 4]
        lines = raw.decode("latin-1").split("\r\n")
        while lines and not lines[0]:   # tolerate CRLFs between requests
            lines.pop(0)
        parts = lines[0].split(" ") if lines else []
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError("bad request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HttpError("bad header line")
            headers[name.lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        self._head = (method, target.split("?", 1)[0], headers, keep_alive)
        if headers.get("expect", "").lower() == "100-continue":
            self.expects_continue = True
        self._body, self._size = bytearray(), 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._mode = "chunk-size"
        elif "content-length" in headers:
            try:
                self._left = int(headers["content-length"])
            except ValueError:
                raise HttpError("bad Content-Length") from None
            if self._left < 0:
                raise HttpError("bad Content-Length")
            self._mode = "length"
        else:
            self._mode = "done"
        return True

    def _take(self, n: int) -> None:
        if n <= 0:
            return
        self._size += n
        if self._size <= self.max_body:
            self._body += self._buf[:n]
        else:
            self._body.clear()
        del self._buf[:n]

    def _complete(self) -> HttpRequest:
        assert self._head is not None
        method, path, headers, keep_alive = self._head
        oversized = self._size > self.max_body
        request = HttpRequest(method, path, headers, b"" if oversized else bytes(self._body), self._size,
                              oversized, keep_alive, self._trailers)
        self._head, self._mode, self._body, self._trailers = None, "", bytearray(), {}
        return request


def http_reply(status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = (),
               keep_alive: bool = True, content_type: str = "application/json") -> bytes:
    """One whole response, written with a single send (no Nagle wait between head and body)."""
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
            f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    head.extend(f"{name}: {value}" for name, value in headers)
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


# -- commands -------------------------------------------------------------------------------
@dataclass(frozen=True)
class NextInvocation:
    pass


@dataclass(frozen=True)
class InvocationResponse:
    request_id: str
    body: bytes
    oversized: bool


@dataclass(frozen=True)
class InvocationError:
    request_id: str
    error_type: str | None
    body: bytes
    oversized: bool


@dataclass(frozen=True)
class InitError:
    error_type: str | None
    body: bytes


@dataclass(frozen=True)
class Unroutable:
    status: int
    message: str


Command = Union[NextInvocation, InvocationResponse, InvocationError, InitError, Unroutable]


def command_of(request: HttpRequest) -> Command:
    if not request.path.startswith(API_PREFIX):
        return Unroutable(404, f"Path not found: {request.path}")
    parts = request.path[len(API_PREFIX):].split("/")
    method = request.method
    error_type = request.headers.get("lambda-runtime-function-error-type") or None
    if parts == ["invocation", "next"]:
        return NextInvocation() if method == "GET" else Unroutable(405, "Method not allowed")
    if parts == ["init", "error"]:
        return InitError(error_type, request.body) if method == "POST" else Unroutable(405, "Method not allowed")
    if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
        if method != "POST":
            return Unroutable(405, "Method not allowed")
        if parts[2] == "response":
            trailer_type = request.trailers.get("lambda-runtime-function-error-type")
            if trailer_type:   # a streamed response that failed part-way: the error is in its trailers
                return InvocationError(parts[1], trailer_type, _trailer_body(request.trailers), False)
            return InvocationResponse(parts[1], request.body, request.oversized)
        return InvocationError(parts[1], error_type, request.body, request.oversized)
    return Unroutable(404, f"Path not found: {request.path}")


def _trailer_body(trailers: dict[str, str]) -> bytes:
    raw = trailers.get("lambda-runtime-function-error-body", "")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw.encode()


# -- the pure core --------------------------------------------------------------------------
@dataclass(frozen=True)
class Responded:
    body: bytes


@dataclass(frozen=True)
class ErrorPosted:
    document: bytes          # the error document the caller gets


@dataclass(frozen=True)
class InitErrorPosted:
    document: bytes


Signal = Union[Responded, ErrorPosted, InitErrorPosted]


def error_document(error_type: str | None, body: bytes) -> bytes:
    """What the caller gets for an error the runtime posted: its JSON object as posted, else one made of
    the raw body and the ``Lambda-Runtime-Function-Error-Type`` header."""
    try:
        doc = json.loads(body) if body.strip() else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        if "errorType" not in doc and error_type:
            doc = {"errorType": error_type, **doc}
            return json.dumps(doc).encode()
        return body
    message = body.decode(errors="replace")
    return json.dumps({"errorType": error_type or "Unhandled", "errorMessage": message}).encode()


def _api_error(status: int, error_type: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"errorMessage": message, "errorType": error_type}).encode()


_ACCEPTED = (202, b'{"status":"OK"}')


class RuntimeApiState:
    """Where the environment is in AWS's lifecycle: Init, then one invocation at a time."""

    def __init__(self, max_payload: int) -> None:
        self.max_payload = max_payload
        self.initialized = False       # a first ``next`` arrived: Init is over
        self.current: str | None = None
        self._finished: list[str] = []

    def begin(self, request_id: str) -> None:
        self.current = request_id

    def handle(self, command: Command) -> tuple[tuple[int, bytes] | None, Signal | None]:
        """The answer (None: park the request until there is an event) and what the environment learns."""
        if isinstance(command, NextInvocation):
            self.initialized = True
            return None, None
        if isinstance(command, Unroutable):
            return _api_error(command.status, "InvalidRequest", command.message), None
        if isinstance(command, InitError):
            if self.initialized or self.current is not None:
                return _api_error(403, "InvalidStateTransition",
                                  "Init error is allowed only before the first /next"), None
            return _ACCEPTED, InitErrorPosted(error_document(command.error_type, command.body))
        rid = command.request_id
        if rid != self.current:
            if rid in self._finished:
                return _api_error(403, "InvalidStateTransition",
                                  f"Invocation {rid} has already been answered"), None
            return _api_error(400, "InvalidRequestID", "Invalid request ID"), None
        self._finish(rid)
        if command.oversized:
            doc = json.dumps({"errorMessage": "Response payload size exceeded maximum allowed payload size "
                                              f"({self.max_payload + 100} bytes).",
                              "errorType": "Function.ResponseSizeTooLarge"}).encode()
            answer = _api_error(413, "RequestEntityTooLarge",
                                f"Exceeded maximum allowed payload size ({self.max_payload} bytes).")
            return answer, ErrorPosted(doc)
        if isinstance(command, InvocationResponse):
            return _ACCEPTED, Responded(command.body)
        return _ACCEPTED, ErrorPosted(error_document(command.error_type, command.body))

    def _finish(self, rid: str) -> None:
        self.current = None
        self._finished.append(rid)
        del self._finished[:-_RECENT_IDS]


# -- the shell ------------------------------------------------------------------------------
class _Connection:
    __slots__ = ("sock", "parser", "fd")

    def __init__(self, sock: socket.socket, max_body: int) -> None:
        self.sock, self.parser, self.fd = sock, HttpParser(max_body), sock.fileno()


class RuntimeApiServer:
    """The Runtime API of one environment: a listening socket on loopback and its connections.

    Driven by ``on_readable`` for each descriptor of ``fds()`` that a caller's ``poll`` found ready.
    One invocation event waits in ``submit`` until the runtime's ``next`` is there to take it.
    """

    def __init__(self, listener: socket.socket, max_payload: int, peer: tuple[int, int | None] | None = None) -> None:
        """``peer``: (pid, uid) of the environment — its network namespace is shared with other
        environments, so a connection is served only if its socket belongs to that uid (uid None:
        all environments share one uid, so only if a process of the environment holds it)."""
        listener.setblocking(False)
        self.listener = listener
        self._peer = peer
        self.address = "%s:%d" % listener.getsockname()[:2]
        self.state = RuntimeApiState(max_payload)
        self._max_body = max_payload + 1   # one byte over is enough to know it is too large
        self._conns: dict[int, _Connection] = {}
        self._parked: _Connection | None = None
        self._pending: tuple[str, bytes] | None = None   # (request id, the whole HTTP answer)
        self._send_deadline = 0.0

    def fds(self) -> list[int]:
        return [self.listener.fileno(), *self._conns]

    @property
    def waiting_for_event(self) -> bool:
        return self._parked is not None

    def submit(self, request_id: str, headers: tuple[tuple[str, str], ...], payload: bytes, deadline: float) -> None:
        """Hand an invocation to the runtime: now, if its ``next`` is waiting, else when it asks."""
        self._send_deadline = deadline
        self._pending = (request_id, http_reply(200, payload, headers))
        self._deliver()

    def on_readable(self, fd: int) -> list[Signal]:
        if fd == self.listener.fileno():
            self._accept()
            return []
        conn = self._conns.get(fd)
        if conn is None:
            return []
        try:
            data = conn.sock.recv(_READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return []
        try:
            requests = conn.parser.feed(data)
        except HttpError as exc:
            self._send(conn, http_reply(400, json.dumps({"errorMessage": str(exc), "errorType": "InvalidRequest"}
                                                        ).encode(), keep_alive=False))
            self._drop(conn)
            return []
        if conn.parser.expects_continue:   # else curl waits a second before sending a large body
            conn.parser.expects_continue = False
            self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
        signals = []
        for request in requests:
            answer, signal = self.state.handle(command_of(request))
            if signal is not None:
                signals.append(signal)
            if answer is None:
                self._parked = conn
                self._deliver()
            else:
                self._send(conn, http_reply(answer[0], answer[1], keep_alive=request.keep_alive))
                if not request.keep_alive:
                    self._drop(conn)
                    break
        return signals

    def _deliver(self) -> None:
        conn, pending = self._parked, self._pending
        if conn is None or pending is None:
            return
        self._parked = self._pending = None
        self.state.begin(pending[0])
        self._send(conn, pending[1])

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(self._conns) >= MAX_CONNECTIONS:   # user code must not exhaust the supervisor's descriptors
                sock.close()
                continue
            if self._peer is not None and not _owned_by(sock, *self._peer):   # another environment's
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock, self._max_body)
            self._conns[conn.fd] = conn

    def _send(self, conn: _Connection, data: bytes) -> None:
        """One ``send`` in the usual case; a large event to a runtime not reading waits up to the deadline."""
        try:
            try:
                sent = conn.sock.send(data)
            except BlockingIOError:
                sent = 0
            if sent < len(data):
                conn.sock.settimeout(max(self._send_deadline - time.monotonic(), 0.001))
                try:
                    conn.sock.sendall(memoryview(data)[sent:])
                finally:
                    conn.sock.setblocking(False)
        except OSError:
            self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        if self._conns.pop(conn.fd, None) is not None:
            conn.sock.close()
        if self._parked is conn:
            self._parked = None

    def close(self) -> None:
        for conn in list(self._conns.values()):
            self._drop(conn)
        self.listener.close()


def _owned_by(sock: socket.socket, pid: int, uid: int | None) -> bool:
    """Whether the client end of the accepted ``sock`` is a socket of ``uid``, read from the TCP
    table of ``pid``'s network namespace (``/proc/<pid>/net/tcp``: local address, remote
    address, ..., uid, ..., inode). With ``uid`` None: whether a process of the environment
    whose init is ``pid`` holds that socket (``_held_by_tree``)."""
    try:
        host, port = sock.getpeername()[:2]
        ours_host, ours_port = sock.getsockname()[:2]
    except OSError:
        return False
    wanted = (_hex_address(host, port), _hex_address(ours_host, ours_port))
    try:
        with open(f"/proc/{pid}/net/tcp") as table:
            for line in table:
                fields = line.split()
                if len(fields) > 9 and (fields[1], fields[2]) == wanted:
                    return fields[7] == str(uid) if uid is not None else _held_by_tree(pid, f"socket:[{fields[9]}]")
    except (OSError, ValueError):
        return False
    return False


def _held_by_tree(root: int, link: str) -> bool:
    """Whether ``root`` or one of its descendants has a descriptor that reads ``link``. Its
    processes are found through their parents' ``children`` lists, not by scanning /proc."""
    todo, seen = [root], set[int]()
    while todo and len(seen) < 4096:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                        return True
                except OSError:
                    continue
        except OSError:
            pass
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
        except (OSError, ValueError):
            continue
    return False


def _hex_address(host: str, port: int) -> str:
    """An IPv4 address as /proc/net/tcp writes it: the 32-bit value in host byte order, in hex."""
    packed = socket.inet_aton(host)
    return "%08X:%04X" % (int.from_bytes(packed, sys.byteorder), port)
