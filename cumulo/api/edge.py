"""A lean HTTP/1.1 server for asyncio: one protocol object per connection, no ASGI.

The HTTP API gateway answers every request with one function invocation, so what
sits between the socket and the gateway is on the hot path of every request. This
edge parses with httptools (the C parser uvicorn uses) and hands the gateway one
``Request`` per complete message; the gateway returns a ``Response`` and the edge
writes status line, headers and body in a single ``write`` on a TCP_NODELAY socket.
What an ASGI server adds per request — scope and message dictionaries, a task
with receive/send channels, a middleware chain — is gone.

HTTP/1.1 as clients use it:
- keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked), closed after ``idle_timeout_s``
  without a request; a request that has begun may pause up to ``_STALLED_S`` between bytes;
- ``stop()`` waits for every request already begun: those still arriving, and those being
  handled for a client that has gone (the function runs to its end, and its logs are kept);
- pipelined requests are answered one at a time, in order; reading pauses while
  ``_MAX_QUEUED`` requests wait, and while the transport's write buffer is full;
- bodies in ``Content-Length`` or chunked encoding, ``Expect: 100-continue``;
- limits: the request line and headers together at most ``max_head_bytes`` (431), the
  body at most ``max_body_bytes`` (413, answered as soon as the declared length or the
  received chunks say so); malformed requests get 400; each of these closes the connection;
- a request is handed over only once its whole body has arrived: a client that leaves
  early, or sends a broken chunked body, never reaches the handler;
- a client that leaves while its request is being handled loses the answer; the
  handler runs to its end (as on AWS, where the function runs on).
"""

from __future__ import annotations

import asyncio
import email.utils
import select
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, Protocol

import httptools

__all__ = ["Request", "Response", "Answer", "HttpEdge", "Readiness", "Refusal"]

_MAX_QUEUED = 16          # pipelined requests waiting behind the one being handled
_LINGER_S = 5.0           # after refusing a request: how long to keep reading (and discarding) what it sends
_LINGER_BYTES = 64 * 1024 * 1024
_STALLED_S = 60.0         # a request that has begun but sends nothing for this long is dropped
_REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
    429: "Too Many Requests", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


@dataclass(slots=True)
class Request:
    method: str
    raw_path: str                      # percent-encoded, as received (latin-1)
    query_string: str                  # without '?', as received
    headers: list[tuple[str, str]]     # as received: case and repetition kept
    body: bytes
    client: tuple[str, int]
    server_port: int


class Answer(Protocol):
    """What a handler returns (the gateway's ``GatewayResponse`` is one)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> list[tuple[str, str]]: ...   # without Content-Length: the edge writes it

    @property
    def body(self) -> bytes: ...


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


Handler = Callable[[Request], Coroutine[Any, Any, Answer]]
Refusal = Callable[[int, str], Response]     # (status, reason) -> the answer


def _json_refusal(status: int, reason: str) -> Response:
    return Response(status, [("content-type", "application/json")], b'{"message":"%s"}' % reason.encode())


class _Refused(Exception):
    """Raised from a parser callback once a request is refused: stops the parser."""


class _Date:
    """The ``Date`` header value, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def value(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = email.utils.formatdate(now, usegmt=True).encode()
        return self._value


class Readiness:
    """Whether the event loop of the edges sharing this object has other work: more than one
    request being answered, or a socket with something to read — a request on a connection, or a
    connection to accept — that the loop has not taken yet.

    A handler about to wait briefly without yielding (polling an environment for a short
    invocation's answer) asks ``pending()`` first and while it waits: requests still in the
    kernel's buffers are invisible to the loop's own bookkeeping. One epoll set, level-triggered;
    a socket leaves it by itself when it is closed.
    """

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self.answering = 0      # requests handed to a handler and not yet answered, all edges

    def watch(self, fd: int) -> None:
        try:
            self._epoll.register(fd, select.EPOLLIN)
        except (OSError, ValueError):   # already watched (a reused number), or closed
            pass

    def pending(self) -> bool:
        return self.answering > 1 or bool(self._epoll.poll(0))

    def close(self) -> None:
        self._epoll.close()


class HttpEdge:
    """The server: ``await edge.start(sock)``, later ``await edge.stop()``."""

    def __init__(self, handler: Handler, max_head_bytes: int = 64 * 1024, max_body_bytes: int = 10 * 1024 * 1024,
                 idle_timeout_s: float = 5.0, refusal: Refusal | None = None,
                 readiness: Readiness | None = None) -> None:
        self.handler = handler
        self.readiness = readiness
        self.refusal = refusal or _json_refusal   # the answer to a request refused before the handler
        self.max_head_bytes = max_head_bytes
        self.max_body_bytes = max_body_bytes
        self.idle_timeout_s = idle_timeout_s
        self.date = _Date()
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self.stopping = False

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        if self.readiness is not None:
            self.readiness.watch(sock.fileno())
        self._server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=1024)

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop accepting, close idle connections, let requests in flight finish (up to ``grace_s``)."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.idle:
                conn.close()
        waiters = [c.finished for c in self.connections if not c.finished.done()]
        if waiters:
            await asyncio.wait(waiters, timeout=grace_s)
        for conn in list(self.connections):
            conn.close()


class _Connection(asyncio.Protocol):
    def __init__(self, edge: HttpEdge) -> None:
        self.edge = edge
        self.loop = asyncio.get_event_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client: tuple[str, int] = ("", 0)
        self.server_port = 0
        self.queue: list[tuple[Request, bool]] = []    # complete requests, each with keep-alive
        self.busy = False                              # a request is being handled
        self.closing = False
        self.write_paused = False
        self.read_paused = False
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.idle_timer: asyncio.TimerHandle | None = None
        self.lingering = -1        # >= 0 once refused: bytes discarded since
        self.in_message = False    # a request has begun and not yet fully arrived
        self.continue_pending = False   # its "100 Continue" waits for the answers before it
        self.refusal: int | None = None   # refused behind requests still to answer
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.head_bytes = 0
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.refused = False

    @property
    def idle(self) -> bool:
        """Between requests: nothing being answered, queued, or still arriving."""
        return self.waiting and not self.in_message

    @property
    def waiting(self) -> bool:
        """For the client: nothing of ours being answered or queued."""
        return not self.busy and not self.queue

    # -- transport events -----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:   # not TCP (a Unix socket in tests)
                pass
            if self.edge.readiness is not None:
                self.edge.readiness.watch(sock.fileno())
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client = (str(peer[0]), int(peer[1]))
        local = transport.get_extra_info("sockname")
        if isinstance(local, tuple):
            self.server_port = int(local[1])
        self.edge.connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.queue.clear()
        self.in_message = False
        if not self.busy:     # a request still being handled keeps it listed: stop() waits for it
            self.edge.connections.discard(self)
        self._disarm_idle()
        if not self.busy and not self.finished.done():
            self.finished.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.lingering >= 0:
            self.lingering += len(data)
            if self.lingering > _LINGER_BYTES:
                self.close()
            return
        if self.closing or self.refused:   # refused: its answer waits for those before it
            return
        self._disarm_idle()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrades (WebSocket, h2c) are not offered: the request is answered as plain
            # HTTP/1.1 and the connection closed, since the rest of the stream is not HTTP/1.1.
            if self.queue:
                self.queue[-1] = (self.queue[-1][0], False)
            else:
                self._refuse(400)
        except httptools.HttpParserError:
            if not self.refused:
                self._refuse(400)
        self._next()
        if len(self.queue) >= _MAX_QUEUED and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        elif self.waiting and not self.closing:
            self._arm_idle()      # between requests, or within one still arriving

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._next()

    # -- parser callbacks -----------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()
        self.in_message = True
        self.continue_pending = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)
        if self.head_bytes > self.edge.max_head_bytes:
            self._refuse(431)
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value)
        if self.head_bytes > self.edge.max_head_bytes:
            self._refuse(431)
            raise _Refused
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        declared = None
        expect = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == "content-length":
                declared = value
            elif lower == "expect" and value.lower() == "100-continue":
                expect = True
        if declared is not None and declared.strip().isdigit() and int(declared) > self.edge.max_body_bytes:
            self._refuse(413)
            raise _Refused
        if expect and self.transport is not None:
            if self.busy or self.queue:   # after the answers to the requests before it, in order
                self.continue_pending = True
            else:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.edge.max_body_bytes:
            self._refuse(413)
            raise _Refused
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        if self.refused:
            return
        raw = self.url
        q = raw.find(b"?")
        path, query = (raw, b"") if q < 0 else (raw[:q], raw[q + 1:])
        f = path.find(b"#")
        if f >= 0:
            path = path[:f]
        if (f := query.find(b"#")) >= 0:
            query = query[:f]
        if path.startswith(b"http://") or path.startswith(b"https://"):   # absolute form
            slash = path.find(b"/", path.find(b"//") + 2)
            path = path[slash:] if slash >= 0 else b"/"
        request = Request(self.parser.get_method().decode("latin-1"), path.decode("latin-1"),
                          query.decode("latin-1"), self.headers,
                          self.body[0] if len(self.body) == 1 else b"".join(self.body),
                          self.client, self.server_port)
        self.queue.append((request, self.parser.should_keep_alive()))

    # -- answering ------------------------------------------------------------
    def _refuse(self, status: int) -> None:
        """Answer an unacceptable request at once; nothing after it is parsed.

        The connection then lingers: our side is shut for writing and what the client still
        sends (the rest of a 20 MB body, say) is read and discarded for a while, so the
        client gets to read the answer instead of a connection reset."""
        if self.refused:
            return
        self.refused = True
        if self.busy or self.queue:   # answers go out in order: this one after those before it
            self.refusal = status
            return
        answer = self.edge.refusal(status, _REASONS[status])
        self._write(status, answer.headers, answer.body, keep_alive=False)
        transport = self.transport
        if transport is None or not transport.can_write_eof():
            self.close()
            return
        self.lingering = 0
        self.closing = True
        self._disarm_idle()
        transport.write_eof()
        self.loop.call_later(_LINGER_S, self._end_linger)
        if not self.finished.done():
            self.finished.set_result(None)

    def _end_linger(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _next(self) -> None:
        if self.busy or not self.queue or self.closing or self.write_paused:
            return
        request, keep_alive = self.queue.pop(0)
        if self.read_paused and len(self.queue) < _MAX_QUEUED // 2 and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        self.busy = True
        if self.edge.readiness is not None:
            self.edge.readiness.answering += 1
        task: asyncio.Task[Answer] = self.loop.create_task(self.edge.handler(request))
        task.add_done_callback(lambda t: self._answered(t, request.method, keep_alive))

    def _answered(self, task: "asyncio.Task[Answer]", method: str, keep_alive: bool) -> None:
        self.busy = False
        if self.edge.readiness is not None:
            self.edge.readiness.answering -= 1
        response: Answer
        if task.cancelled():
            response = Response(503, [("content-type", "application/json")], b'{"message":"Service Unavailable"}')
        elif task.exception() is not None:
            response = Response(500, [("content-type", "application/json")], b'{"message":"Internal Server Error"}')
            self.loop.call_exception_handler({"message": "HTTP handler failed", "exception": task.exception()})
        else:
            response = task.result()
        if self.closing:     # the client went away: the answer has nobody to go to
            self.edge.connections.discard(self)
            if not self.finished.done():
                self.finished.set_result(None)
            return
        keep_alive = keep_alive and not self.edge.stopping
        self._write(response.status, response.headers, b"" if method == "HEAD" else response.body,
                    keep_alive, len(response.body))
        if self.refusal is not None and not self.queue and keep_alive:
            status = self.refusal
            self.refusal, self.refused = None, False
            self._refuse(status)
            return
        if not keep_alive:
            self.close()
            return
        if self.queue:
            self._next()
        else:
            if self.continue_pending and self.in_message and self.transport is not None:
                self.continue_pending = False
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._arm_idle()

    def _write(self, status: int, headers: list[tuple[str, str]], body: bytes, keep_alive: bool,
               length: int | None = None) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, "Unknown").encode())]
        for name, value in headers:
            parts.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
        parts.append(b"date: %s\r\ncontent-length: %d\r\n" % (self.edge.date.value(),
                                                                len(body) if length is None else length))
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        parts.append(body)
        self.transport.write(b"".join(parts))

    # -- ending -----------------------------------------------------------------
    def close(self) -> None:
        if not self.closing or self.lingering >= 0:
            self.closing = True
            self._disarm_idle()
            if self.transport is not None:
                self.transport.close()
        if not self.busy and not self.finished.done():
            self.finished.set_result(None)

    def _arm_idle(self) -> None:
        """Between requests, close after ``idle_timeout_s`` without one; within a request still
        arriving, after ``_STALLED_S`` without a byte of it (re-armed by each chunk)."""
        if self.idle_timer is None and not self.closing:
            timeout = _STALLED_S if self.in_message else self.edge.idle_timeout_s
            self.idle_timer = self.loop.call_later(timeout, self._idle_timeout)

    def _disarm_idle(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def _idle_timeout(self) -> None:
        self.idle_timer = None
        if self.waiting:
            self.close()
