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
  without a request;
- ``stop()`` waits for every request already begun: those still arriving, and those being
  handled for a client that has gone (the function runs to its end, and its logs are kept);
- pipelined requests are answered one at a time, in order; reading pauses while
  ``_MAX_QUEUED`` requests (or ``_MAX_QUEUED_BYTES`` of their bodies) wait, and while the
  transport's write buffer is full;
- bodies in ``Content-Length`` or chunked encoding, ``Expect: 100-continue``;
- a request is handed over only once its whole body has arrived: a client that leaves
  early, or sends a broken chunked body, never reaches the handler;
- a client that leaves while its request is being handled loses the answer; the
  handler runs to its end (as on AWS, where the function runs on).

Every client may be hostile, so what one can hold is bounded, and refused with an answer
(through ``refusal``) that closes the connection:
- the head: at most ``max_head_bytes`` of request target, header names and values and at
  most ``max_headers`` headers (431); it is buffered by the edge, not by the parser, until
  its blank line arrives (httptools joins a header's pieces one copy per read, so a header
  dribbled in small reads would cost quadratic time), and it must arrive whole within
  ``header_timeout_s`` of its first byte (408);
- the body: at most ``max_body_bytes``, or what the ``gate`` allows this request (413, as
  soon as ``Content-Length`` or the chunks received say so); it must keep arriving at
  ``body_min_rate`` bytes/s, judged every ``body_timeout_s`` (408); chunk framing and
  trailers beyond ``max_head_bytes`` plus the body's own size are refused (400);
- ``gate`` (optional) sees each request's head before any of its body is read and answers
  it at once (a signature from an unknown key, say), or says how large its body may be;
  ``Expect: 100-continue`` is answered only after it;
- all the bodies still arriving, or complete and queued behind a pipelined request, on one edge
  hold at most ``max_buffered_bytes`` (503 for the request that would go over); a request leaves
  that budget when it is handed to the handler;
- at most ``max_connections`` open connections: one over takes the place of a connection idle
  between requests if there is one (closed), else gets a 503 at once and is closed;
- an answer the client does not read for ``body_timeout_s`` (the write buffer stays full)
  drops the connection;
- malformed requests get 400. Refused connections linger — our side shut, what the client
  still sends read and discarded for up to ``_LINGER_S`` (``_SHORT_LINGER_S`` after a timeout
  or over ``max_connections``) — so it reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import email.utils
import resource
import select
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, Protocol

import httptools

__all__ = ["Request", "Response", "Answer", "HttpEdge", "Readiness", "Refusal", "Gate", "Upgrade", "UpgradeHandler"]

_MAX_QUEUED = 16          # pipelined requests waiting behind the one being handled
_MAX_QUEUED_BYTES = 1024 * 1024   # ... or this much of their bodies
_LINGER_S = 5.0           # after refusing a request: how long to keep reading (and discarding) what it sends
_LINGER_BYTES = 64 * 1024 * 1024
_SHORT_LINGER_S = 1.0     # the same after a timeout, and for a connection over max_connections
_MAX_OVERFLOWING = 128    # ... and at most this many of those at a time: more are reset without an answer
_HEAD_END = b"\r\n\r\n"
_MAX_EARLY_BYTES = 256 * 1024   # what a client may send after its upgrade request before it is answered
_REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
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
    note: Any = None                   # what the gate left for the handler (a checked signature)


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


@dataclass(slots=True)
class Upgrade:
    """An upgrade handler's acceptance: the ``101 Switching Protocols`` answer's headers, and what takes the
    connection over (``start(transport)`` returns an object with ``data_received(bytes)``,
    ``connection_lost(exc)`` and ``close(code, reason)``; ``edge/websocket.py``'s ``WebSocket``)."""

    headers: list[tuple[str, str]]
    start: Callable[[Any], Any]


# A request asking for ``Upgrade`` (its head, no body) -> an answer refusing it (sent, then closed), or an Upgrade
UpgradeHandler = Callable[[Request], Coroutine[Any, Any, "Answer | Upgrade"]]
# (status, what went wrong, the request's head or None if it never got that far) -> the answer
Refusal = Callable[[int, str, "Request | None"], Response]
# a request's head (body still b"") -> refuse it with this answer, or the most its body may hold, or None
Gate = Callable[[Request], "Response | int | None"]


def _json_refusal(status: int, detail: str, request: Request | None) -> Response:
    """API Gateway's shape: the status's own phrase as the message (the detail is not shown)."""
    return Response(status, [("content-type", "application/json")], b'{"message":"%s"}' % _REASONS[status].encode())


def _default_max_connections() -> int:
    """1,024, or a quarter of the process's file-descriptor limit if that is less (environments,
    the store and the other edge need descriptors too)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 1024 if soft == resource.RLIM_INFINITY else max(16, min(1024, soft // 4))


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
    """The server: ``await edge.start(sock)``, later ``await edge.stop()``. Limits: see the module."""

    def __init__(self, handler: Handler, max_head_bytes: int = 64 * 1024, max_body_bytes: int = 10 * 1024 * 1024,
                 idle_timeout_s: float = 5.0, refusal: Refusal | None = None,
                 readiness: Readiness | None = None, *, gate: Gate | None = None, max_headers: int = 100,
                 header_timeout_s: float = 20.0, body_timeout_s: float = 20.0, body_min_rate: int = 4096,
                 max_connections: int | None = None, max_buffered_bytes: int = 256 * 1024 * 1024,
                 upgrade: UpgradeHandler | None = None) -> None:
        self.handler = handler
        self.upgrade = upgrade     # None: upgrades are refused (answered as plain HTTP, then closed)
        self.readiness = readiness
        self.refusal = refusal or _json_refusal   # the answer to a request refused before the handler
        self.gate = gate
        self.max_head_bytes = max_head_bytes
        self.max_headers = max_headers
        # The head as received also holds the method, the version, ": " and CRLF of each line.
        self.max_raw_head_bytes = max_head_bytes + 4 * max_headers + 1024
        self.max_body_bytes = max_body_bytes
        self.idle_timeout_s = idle_timeout_s
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.body_min_rate = body_min_rate
        self.max_connections = max_connections if max_connections is not None else _default_max_connections()
        self.max_buffered_bytes = max_buffered_bytes
        self.buffered = 0          # bytes of bodies still arriving or queued, all connections
        self.open = 0              # connections whose socket is open (not those over the cap)
        self.overflowing = 0       # connections over max_connections, answered and lingering
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
        self.queued_bytes = 0                          # their bodies
        self.busy = False                              # a request is being handled
        self.closing = False
        self.write_paused = False
        self.read_paused = False
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.timer: asyncio.TimerHandle | None = None       # idle, head deadline or body progress
        self.send_timer: asyncio.TimerHandle | None = None  # the client reads nothing of our answer
        self.lingering = -1        # >= 0 once refused: bytes discarded since
        self.overflow = False      # over max_connections: answered 503, never listed
        self.in_message = False    # a request has begun and not yet fully arrived
        self.messages = 0          # requests begun on this connection
        self.started = 0.0         # when the one arriving began (loop time)
        self.head_buf: bytearray | None = None   # the rest of a head still arriving, not yet parsed
        self.head_skip = 0         # head_buf's first bytes were parsed already (kept to find the blank line)
        self.continue_pending = False   # its "100 Continue" waits for the answers before it
        self.refusal: Response | None = None   # refused behind requests still to answer
        self.held = 0              # bytes of the arriving body counted in edge.buffered
        self.upgrading: bytearray | None = None   # an upgrade request being decided: what arrived after it
        self.taken: Any = None     # the protocol that took the connection over (a WebSocket)
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.head_bytes = 0
        self.head_done = False
        self.request: Request | None = None
        self.limit = self.edge.max_body_bytes
        self.declared: int | None = None
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.mark = 0              # body_bytes when the current progress window began
        self.framing = 0           # chunk framing and trailers received
        self.refused = False

    @property
    def idle(self) -> bool:
        """Between requests: nothing being answered, queued, or still arriving."""
        return self.waiting and not self.in_message and self.taken is None and self.upgrading is None

    @property
    def waiting(self) -> bool:
        """For the client: nothing of ours being answered or queued."""
        return not self.busy and not self.queue

    # -- transport events -----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes
        if self.edge.open >= self.edge.max_connections and not self._evict_idle():
            self._overflow()
            return
        self.edge.open += 1
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
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.taken is not None:
            self.taken.connection_lost(exc)
        if self.overflow:
            if self.lingering >= 0:
                self.edge.overflowing -= 1
            return
        self.edge.open -= 1
        self.closing = True
        self.queue.clear()
        self.edge.buffered -= self.queued_bytes
        self.queued_bytes = 0
        self.in_message = False
        self.head_buf = None
        self._release()
        if not self.busy:     # a request still being handled keeps it listed: stop() waits for it
            self.edge.connections.discard(self)
        self._disarm()
        if self.send_timer is not None:
            self.send_timer.cancel()
            self.send_timer = None
        if not self.busy and not self.finished.done():
            self.finished.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.taken is not None:
            self.taken.data_received(data)
            return
        if self.upgrading is not None:      # kept for the protocol that may take over
            self.upgrading += data
            if len(self.upgrading) > _MAX_EARLY_BYTES:
                self.close()
            return
        if self.lingering >= 0:
            self.lingering += len(data)
            if self.lingering > _LINGER_BYTES:
                self.close()
            return
        if self.closing or self.refused:   # refused: its answer waits for those before it
            return
        if self.head_buf is not None:      # the rest of a head: parsed once its blank line is here
            buf = self.head_buf
            start = max(len(buf) - 3, 0)
            buf += data
            if buf.find(_HEAD_END, start) < 0:
                if len(buf) - self.head_skip > self.edge.max_raw_head_bytes:
                    self.head_buf = None
                    self._refuse(431, f"The request's head is larger than {self.edge.max_head_bytes} bytes")
                return
            data = bytes(memoryview(buf)[self.head_skip:])
            self.head_buf = None
        message, in_body, body_before = self.messages, self.in_message and self.head_done, self.body_bytes
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            # Without an upgrade handler (or behind other requests) upgrades are not offered: the
            # request is answered as plain HTTP/1.1 and the connection closed, since the rest of
            # the stream is not HTTP/1.1.
            if self.edge.upgrade is not None and len(self.queue) == 1 and not self.busy and not self.refused:
                request, _ = self.queue.pop(0)
                self.queued_bytes -= len(request.body)
                self.edge.buffered -= len(request.body)
                offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
                self._upgrade(request, data[offset:])
                return
            if self.queue:
                self.queue[-1] = (self.queue[-1][0], False)
            else:
                self._refuse(400, "Protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            if not self.refused:
                self._refuse(400, f"Malformed HTTP request: {exc}")
        if self.in_message and not self.refused and not self.closing:
            if not self.head_done:
                # What follows of this head is kept by us until its blank line arrives; the
                # last bytes parsed stay in front, in case the blank line began among them.
                self.head_buf = bytearray(data[-3:])
                self.head_skip = len(self.head_buf)
            elif in_body and message == self.messages:   # the whole read was this body's: the rest is framing
                self.framing += len(data) - (self.body_bytes - body_before)
                if self.framing > self.edge.max_head_bytes + self.body_bytes:
                    self._refuse(400, "The chunked body's framing and trailers are larger than its data allows")
        self._next()
        if self.transport is not None and not self.read_paused and self.queue and \
                (len(self.queue) >= _MAX_QUEUED or self.queued_bytes >= _MAX_QUEUED_BYTES):
            self.read_paused = True
            self.transport.pause_reading()
        elif self.waiting and not self.closing:
            self._arm()      # between requests, or within one still arriving

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.send_timer is None:
            self.send_timer = self.loop.call_later(self.edge.body_timeout_s, self._send_stalled)

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.send_timer is not None:
            self.send_timer.cancel()
            self.send_timer = None
        self._next()

    # -- parser callbacks -----------------------------------------------------
    def on_message_begin(self) -> None:
        if self.timer is not None:     # the idle timer (bytes that begin no request do not stop it)
            self._disarm()
        self._reset()
        self.in_message = True
        self.messages += 1
        self.started = self.loop.time()
        self.continue_pending = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)
        if self.head_bytes > self.edge.max_head_bytes:
            self._refuse(431, f"The request's target and headers are larger than {self.edge.max_head_bytes} bytes")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value)
        if self.head_bytes > self.edge.max_head_bytes:
            self._refuse(431, f"The request's target and headers are larger than {self.edge.max_head_bytes} bytes")
            raise _Refused
        if len(self.headers) >= self.edge.max_headers:
            self._refuse(431, f"The request has more than {self.edge.max_headers} headers")
            raise _Refused
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.head_done = True
        if self.timer is not None:     # the head's deadline
            self._disarm()
        expect = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == "content-length":
                self.declared = int(value) if value.strip().isdigit() else None
            elif lower == "expect" and value.lower() == "100-continue":
                expect = True
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
        self.request = request = Request(self.parser.get_method().decode("latin-1"), path.decode("latin-1"),
                                          query.decode("latin-1"), self.headers, b"", self.client, self.server_port)
        declared = self.declared
        if declared is not None and declared > self.edge.max_body_bytes:
            self._refuse(413, f"The request's body is larger than {self.edge.max_body_bytes} bytes")
            raise _Refused
        if self.edge.gate is not None:
            try:
                verdict = self.edge.gate(request)
            except Exception as exc:   # a broken gate lets nothing through
                self.loop.call_exception_handler({"message": "HTTP gate failed", "exception": exc})
                self._refuse(500, "The request could not be checked")
                raise _Refused from None
            if isinstance(verdict, int):
                self.limit = min(verdict, self.edge.max_body_bytes)
            elif verdict is not None:
                self._refuse(verdict.status, "", verdict)
                raise _Refused
        if declared is not None:
            if declared > self.limit:
                self._refuse(413, f"The request's body is larger than {self.limit} bytes")
                raise _Refused
            if self.edge.buffered + declared > self.edge.max_buffered_bytes:
                self._refuse(503, "Too many request bodies are arriving at once; try again later")
                raise _Refused
        if expect and self.transport is not None:
            if self.busy or self.queue:   # after the answers to the requests before it, in order
                self.continue_pending = True
            else:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        n = len(body)
        self.body_bytes += n
        if self.body_bytes > self.limit:
            self._refuse(413, f"The request's body is larger than {self.limit} bytes")
            raise _Refused
        self.held += n
        self.edge.buffered += n
        if self.edge.buffered > self.edge.max_buffered_bytes:
            self._refuse(503, "Too many request bodies are arriving at once; try again later")
            raise _Refused
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        if self.timer is not None:     # the body's progress check
            self._disarm()
        if self.held:
            self._release()
        if self.refused or self.request is None:
            return
        request = self.request
        if self.body:
            request.body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
            self.queued_bytes += len(request.body)
            self.edge.buffered += len(request.body)     # still ours to hold until handed over
        self.queue.append((request, self.parser.should_keep_alive()))

    # -- answering ------------------------------------------------------------
    def _refuse(self, status: int, detail: str, answer: Response | None = None) -> None:
        """Answer an unacceptable request at once; nothing after it is parsed.

        The connection then lingers: our side is shut for writing and what the client still
        sends (the rest of a 20 MB body, say) is read and discarded for a while, so the
        client gets to read the answer instead of a connection reset."""
        if self.refused:
            return
        self.refused = True
        self.head_buf = None
        self._release()
        if answer is None:
            answer = self.edge.refusal(status, detail, self.request)
        if self.busy or self.queue:   # answers go out in order: this one after those before it
            self.refusal = answer
            return
        self._write(answer.status, answer.headers, answer.body, keep_alive=False)
        self._linger(_LINGER_S)

    def _upgrade(self, request: Request, early: bytes) -> None:
        """Hand an upgrade request to the edge's upgrade handler; what the client sends meanwhile is kept."""
        self.upgrading = bytearray(early)
        self._disarm()
        self.busy = True
        task = self.loop.create_task(self.edge.upgrade(request))   # type: ignore[misc]
        task.add_done_callback(self._upgraded)

    def _upgraded(self, task: "asyncio.Task[Answer | Upgrade]") -> None:
        self.busy = False
        early, self.upgrading = self.upgrading or b"", None
        answer: Answer | Upgrade
        if task.cancelled():
            answer = Response(503, [("content-type", "application/json")], b'{"message":"Service Unavailable"}')
        elif task.exception() is not None:
            answer = Response(500, [("content-type", "application/json")], b'{"message":"Internal Server Error"}')
            self.loop.call_exception_handler({"message": "upgrade handler failed", "exception": task.exception()})
        else:
            answer = task.result()
        transport = self.transport
        if self.closing or transport is None or transport.is_closing():
            if isinstance(answer, Upgrade):     # accepted for a client already gone: it ends at once
                taken = answer.start(transport)
                taken.connection_lost(None)
            self.edge.connections.discard(self)
            if not self.finished.done():
                self.finished.set_result(None)
            return
        if not isinstance(answer, Upgrade):
            self._write(answer.status, answer.headers, answer.body, keep_alive=False)
            self._linger(_SHORT_LINGER_S)
            return
        parts = [b"HTTP/1.1 101 Switching Protocols\r\n"]
        for name, value in answer.headers:
            parts.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
        parts.append(b"\r\n")
        transport.write(b"".join(parts))
        self.taken = answer.start(transport)
        if not self.finished.done():     # stop() does not wait for upgraded connections: it closes them
            self.finished.set_result(None)
        if early:
            self.taken.data_received(bytes(early))

    def _linger(self, seconds: float) -> None:
        transport = self.transport
        if transport is None or not transport.can_write_eof():
            self.close()
            return
        self.lingering = 0
        self.closing = True
        self._disarm()
        transport.write_eof()
        self.loop.call_later(seconds, self._end_linger)
        if not self.finished.done():
            self.finished.set_result(None)

    def _end_linger(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _evict_idle(self) -> bool:
        """At the cap, close a connection that sits between requests (the cheapest way to hold a
        slot is to open it and send nothing): the new one takes its place."""
        for conn in self.edge.connections:
            if conn.idle and not conn.closing:
                conn.close()
                return True
        return False

    def _overflow(self) -> None:
        """Over ``max_connections``: a 503 at once, then closed (reset if too many are lingering)."""
        self.overflow = self.closing = True
        self.finished.set_result(None)
        transport = self.transport
        assert transport is not None
        if self.edge.overflowing >= _MAX_OVERFLOWING or not transport.can_write_eof():
            transport.abort()
            return
        self.edge.overflowing += 1
        answer = self.edge.refusal(503, f"The server has {self.edge.max_connections} connections open, its "
                                        "most; try again later", None)
        self._write(answer.status, answer.headers, answer.body, keep_alive=False)
        self.lingering = 0
        transport.write_eof()
        self.loop.call_later(_SHORT_LINGER_S, self._end_linger)

    def _next(self) -> None:
        if self.busy or not self.queue or self.closing or self.write_paused:
            return
        request, keep_alive = self.queue.pop(0)
        self.queued_bytes -= len(request.body)
        self.edge.buffered -= len(request.body)
        if self.read_paused and len(self.queue) < _MAX_QUEUED // 2 and self.queued_bytes < _MAX_QUEUED_BYTES // 2 \
                and self.transport is not None:
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
        length = getattr(response, "length", None)    # a HEAD answer may stand for a body it does not carry
        self._write(response.status, response.headers, b"" if method == "HEAD" else response.body,
                    keep_alive, len(response.body) if length is None else length)
        if self.refusal is not None and not self.queue and keep_alive:
            answer, self.refusal = self.refusal, None
            self._write(answer.status, answer.headers, answer.body, keep_alive=False)
            self._linger(_LINGER_S)
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
            self._arm()

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
        if self.taken is not None and not self.closing:
            self.taken.close(1001, "Going away")     # the server stops, or the connection is evicted
        if not self.closing or self.lingering >= 0:
            self.closing = True
            self._disarm()
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.close()
                if transport.get_write_buffer_size():   # closing waits for the client to read the rest
                    self.loop.call_later(self.edge.body_timeout_s, transport.abort)
        if not self.busy and not self.finished.done():
            self.finished.set_result(None)

    def _release(self) -> None:
        """The arriving body no longer counts against the edge's budget."""
        self.edge.buffered -= self.held
        self.held = 0

    def _arm(self) -> None:
        """Start the timer the connection's state calls for, if none runs: between requests, the
        keep-alive ``idle_timeout_s``; a head arriving, its deadline; a body arriving, its next
        progress check."""
        if self.timer is not None or self.closing or self.taken is not None or self.upgrading is not None:
            return
        if not self.in_message:
            self.timer = self.loop.call_later(self.edge.idle_timeout_s, self._timed_out)
        elif not self.head_done:
            self.timer = self.loop.call_at(self.started + self.edge.header_timeout_s, self._timed_out)
        else:
            self.mark = self.body_bytes
            self.timer = self.loop.call_later(self.edge.body_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _timed_out(self) -> None:
        self.timer = None
        if self.closing or not self.waiting or self.taken is not None:   # answering: the timer starts again after
            return
        if not self.in_message:
            self.close()
            return
        if not self.head_done:
            detail = f"The request's head did not arrive within {self.edge.header_timeout_s:g} s"
        else:
            edge = self.edge
            needed = edge.body_min_rate * edge.body_timeout_s
            if self.declared is not None:
                needed = min(needed, self.declared - self.mark)
            if self.body_bytes - self.mark >= needed:
                self._arm()
                return
            detail = (f"The request's body arrived slower than {edge.body_min_rate} bytes/s over "
                      f"{edge.body_timeout_s:g} s")
        # Slow on purpose or not: answered, then a short linger so that the answer is read.
        answer = self.edge.refusal(408, detail, self.request)
        self.refused = True
        self.head_buf = None
        self._release()
        self._write(answer.status, answer.headers, answer.body, keep_alive=False)
        self._linger(_SHORT_LINGER_S)

    def _send_stalled(self) -> None:
        """The client has read nothing of our answer for ``body_timeout_s``: drop it."""
        self.send_timer = None
        if self.write_paused and self.transport is not None:
            self.transport.abort()
