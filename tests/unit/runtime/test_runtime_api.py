"""The Runtime API's pieces: HTTP parsing, routing into commands, the lifecycle core, and the server
over real loopback sockets."""

from __future__ import annotations

import json
import os
import select
import socket
from typing import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.runtime.runtime_api import (
    ErrorPosted, HttpError, HttpParser, InitError, InitErrorPosted, InvocationError, InvocationResponse,
    NextInvocation, Responded, RuntimeApiServer, RuntimeApiState, Unroutable, command_of, error_document, http_reply,
)

BASE = "/2018-06-01/runtime"


def _request(method: str, path: str, body: bytes = b"", headers: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _chunked(method: str, path: str, parts: list[bytes]) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    return head + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\nX-Trailer: y\r\n\r\n"


def _split(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    start = 0
    for p in points + [len(data)]:
        yield data[start:p]
        start = p


# -- parser ---------------------------------------------------------------------------------
def test_parses_content_length_requests_and_keep_alive() -> None:
    parser = HttpParser(1024)
    [a, b] = parser.feed(_request("POST", f"{BASE}/invocation/1/response", b'{"x":1}') + _request("GET", "/a?q=1"))
    assert (a.method, a.path, a.body, a.keep_alive) == ("POST", f"{BASE}/invocation/1/response", b'{"x":1}', True)
    assert b.path == "/a" and b.body == b"" and b.headers["host"] == "x"


@pytest.mark.parametrize(("version", "connection", "keep"), [
    ("HTTP/1.1", "", True), ("HTTP/1.1", "close", False), ("HTTP/1.0", "", False), ("HTTP/1.0", "keep-alive", True),
])
def test_keep_alive_follows_the_http_version(version: str, connection: str, keep: bool) -> None:
    extra = f"Connection: {connection}\r\n" if connection else ""
    [req] = HttpParser(10).feed(f"GET / {version}\r\n{extra}\r\n".encode())
    assert req.keep_alive is keep


@given(st.lists(st.binary(max_size=40), max_size=5), st.lists(st.integers(0, 10_000), max_size=8))
def test_chunked_bodies_parse_whatever_the_read_boundaries(parts: list[bytes], cuts: list[int]) -> None:
    data = _chunked("POST", "/p", parts) + _request("GET", "/after")
    parser = HttpParser(1 << 20)
    got = [r for piece in _split(data, cuts) for r in parser.feed(piece)]
    assert [r.path for r in got] == ["/p", "/after"]
    assert got[0].body == b"".join(parts) and not got[0].oversized


@given(st.binary(max_size=300), st.lists(st.integers(0, 10_000), max_size=8))
def test_content_length_bodies_parse_whatever_the_read_boundaries(body: bytes, cuts: list[int]) -> None:
    parser = HttpParser(1 << 20)
    got = [r for piece in _split(_request("POST", "/p", body), cuts) for r in parser.feed(piece)]
    assert len(got) == 1 and got[0].body == body and got[0].body_size == len(body)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_counted_not_kept(chunked: bool) -> None:
    body = b"y" * 5000
    data = _chunked("POST", "/p", [body[:3000], body[3000:]]) if chunked else _request("POST", "/p", body)
    [req] = HttpParser(4096).feed(data)
    assert req.oversized and req.body == b"" and req.body_size == 5000


@pytest.mark.parametrize("raw", [
    b"NOT HTTP\r\n\r\n",
    b"GET / HTTP/2\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX",
])
def test_malformed_requests_are_http_errors(raw: bytes) -> None:
    with pytest.raises(HttpError):
        HttpParser(100).feed(raw)


def test_an_endless_head_is_an_error_not_a_buffer() -> None:
    parser = HttpParser(100)
    with pytest.raises(HttpError):
        for _ in range(100):
            parser.feed(b"X-Filler: " + b"a" * 1000 + b"\r\n")


def test_replies_are_one_buffer_with_length() -> None:
    raw = http_reply(202, b'{"status":"OK"}', (("A", "b"),), keep_alive=False)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 202 Accepted"
    assert b"Content-Length: 15" in head and b"A: b" in head and b"Connection: close" in head
    assert body == b'{"status":"OK"}'


# -- routing --------------------------------------------------------------------------------
def _cmd(method: str, path: str, body: bytes = b"", headers: str = "") -> object:
    [req] = HttpParser(100).feed(_request(method, path, body, headers))
    return command_of(req)


def test_routes_into_commands() -> None:
    err_type = "Lambda-Runtime-Function-Error-Type: Custom.E\r\n"
    assert _cmd("GET", f"{BASE}/invocation/next") == NextInvocation()
    assert _cmd("POST", f"{BASE}/invocation/abc/response", b"1") == InvocationResponse("abc", b"1", False)
    assert _cmd("POST", f"{BASE}/invocation/abc/error", b"{}", err_type) == InvocationError("abc", "Custom.E", b"{}", False)
    assert _cmd("POST", f"{BASE}/init/error", b"x", err_type) == InitError("Custom.E", b"x")
    assert _cmd("GET", "/2018-06-01/other") == Unroutable(404, "Path not found: /2018-06-01/other")
    assert isinstance(_cmd("POST", f"{BASE}/invocation/next"), Unroutable)
    assert _cmd("GET", f"{BASE}/invocation/abc/response") == Unroutable(405, "Method not allowed")


# -- the lifecycle core ---------------------------------------------------------------------
def test_first_next_ends_init_and_is_parked() -> None:
    state = RuntimeApiState(100)
    assert state.handle(NextInvocation()) == (None, None) and state.initialized


def test_response_for_the_current_invocation_is_accepted_once() -> None:
    state = RuntimeApiState(100)
    state.handle(NextInvocation())
    state.begin("r1")
    assert state.handle(InvocationResponse("r1", b'"ok"', False)) == ((202, b'{"status":"OK"}'), Responded(b'"ok"'))
    (status, body), signal = state.handle(InvocationResponse("r1", b'"again"', False))
    assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition" and signal is None
    (status, body), _ = state.handle(InvocationError("r1", None, b"{}", False))
    assert status == 403


def test_unknown_request_id_is_400() -> None:
    state = RuntimeApiState(100)
    state.begin("r1")
    (status, body), signal = state.handle(InvocationResponse("nope", b"", False))
    assert status == 400 and json.loads(body) == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
    assert signal is None and state.current == "r1"


def test_oversized_response_is_413_and_a_size_error_for_the_caller() -> None:
    state = RuntimeApiState(6 * 1024 * 1024)
    state.begin("r1")
    (status, body), signal = state.handle(InvocationResponse("r1", b"", True))
    assert status == 413 and json.loads(body)["errorType"] == "RequestEntityTooLarge"
    assert isinstance(signal, ErrorPosted)
    assert json.loads(signal.document) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge"}


def test_init_error_only_before_the_first_next() -> None:
    state = RuntimeApiState(100)
    answer, signal = state.handle(InitError("E.T", b'{"errorMessage": "m"}'))
    assert answer == (202, b'{"status":"OK"}') and isinstance(signal, InitErrorPosted)
    assert json.loads(signal.document) == {"errorType": "E.T", "errorMessage": "m"}
    state.handle(NextInvocation())
    (status, _), signal = state.handle(InitError(None, b"{}"))
    assert status == 403 and signal is None


@pytest.mark.parametrize(("error_type", "body", "expected"), [
    ("H", b'{"errorType": "B", "errorMessage": "m"}', {"errorType": "B", "errorMessage": "m"}),
    ("H", b'{"errorMessage": "m"}', {"errorType": "H", "errorMessage": "m"}),
    ("H", b"not json", {"errorType": "H", "errorMessage": "not json"}),
    (None, b"[1, 2]", {"errorType": "Unhandled", "errorMessage": "[1, 2]"}),
    (None, b"", {"errorType": "Unhandled", "errorMessage": ""}),
])
def test_error_documents_for_the_caller(error_type: str | None, body: bytes, expected: dict) -> None:
    assert json.loads(error_document(error_type, body)) == expected


# -- the server over real sockets -----------------------------------------------------------
@pytest.fixture
def server() -> Iterator[RuntimeApiServer]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    s = RuntimeApiServer(listener, 1000)
    yield s
    s.close()


def _pump(server: RuntimeApiServer, until: float = 0.2) -> list[object]:
    """Poll the server's descriptors like an environment's driver does, collecting signals."""
    signals: list[object] = []
    poller = select.poll()
    for _ in range(20):
        for fd in server.fds():
            poller.register(fd, select.POLLIN)
        ready = poller.poll(until * 1000)
        if not ready:
            break
        for fd, _ in ready:
            signals.extend(server.on_readable(fd))
    return signals


@pytest.fixture
def connect(server: RuntimeApiServer) -> Iterator[Callable[[], socket.socket]]:
    opened: list[socket.socket] = []

    def make() -> socket.socket:
        host, port = server.address.split(":")
        opened.append(socket.create_connection((host, int(port))))
        return opened[-1]

    yield make
    for sock in opened:
        sock.close()


def test_accepted_connections_send_without_waiting_for_acks(server: RuntimeApiServer, connect) -> None:
    """TCP_NODELAY on every connection the server accepts: without it a keep-alive exchange with a
    runtime waits for the peer's delayed ACK (~40-90 ms) at each warm invocation."""
    connect()
    _pump(server)
    accepted = [fd for fd in server.fds() if fd != server.listener.fileno()]
    assert accepted
    for fd in accepted:
        sock = socket.socket(fileno=os.dup(fd))
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            sock.close()


def _read_reply(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    while len(body) < int(headers["Content-Length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def test_next_waits_for_an_event_then_a_response_ends_it(server: RuntimeApiServer, connect: Callable[[], socket.socket]) -> None:
    client = connect()
    client.sendall(_request("GET", f"{BASE}/invocation/next"))
    assert _pump(server) == [] and server.waiting_for_event and server.state.initialized
    server.submit("rid-1", (("Lambda-Runtime-Aws-Request-Id", "rid-1"),), b'{"e":1}', deadline=1e12)
    status, headers, body = _read_reply(client)
    assert status == 200 and headers["Lambda-Runtime-Aws-Request-Id"] == "rid-1" and body == b'{"e":1}'
    client.sendall(_request("POST", f"{BASE}/invocation/rid-1/response", b'"done"'))   # same keep-alive connection
    assert _pump(server) == [Responded(b'"done"')]
    assert _read_reply(client)[:1] == (202,)


def test_an_event_submitted_first_goes_to_the_next_that_comes(server: RuntimeApiServer, connect: Callable[[], socket.socket]) -> None:
    server.submit("rid-2", (), b"{}", deadline=1e12)
    client = connect()
    client.sendall(_request("GET", f"{BASE}/invocation/next"))
    _pump(server)
    assert _read_reply(client)[0] == 200 and server.state.current == "rid-2"


def test_accepted_connections_have_tcp_nodelay(server: RuntimeApiServer, connect: Callable[[], socket.socket]) -> None:
    client = connect()
    _pump(server)
    [fd] = [fd for fd in server.fds() if fd != server.listener.fileno()]
    accepted = socket.socket(fileno=fd)
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        accepted.detach()


def test_malformed_http_is_answered_400_and_closed(server: RuntimeApiServer, connect: Callable[[], socket.socket]) -> None:
    client = connect()
    client.sendall(b"GARBAGE\r\n\r\n")
    _pump(server)
    status, headers, _ = _read_reply(client)
    assert status == 400 and headers["Connection"] == "close"
    assert client.recv(10) == b""


def test_a_streamed_response_is_taken_whole() -> None:
    raw = (f"POST {BASE}/invocation/r1/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           "Lambda-Runtime-Function-Response-Mode: streaming\r\n\r\n").encode() + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    [req] = HttpParser(100).feed(raw)
    assert command_of(req) == InvocationResponse("r1", b"abcde", False)


def test_an_error_in_a_streamed_responses_trailers_fails_the_invocation() -> None:
    import base64

    doc = b'{"errorType": "Boom", "errorMessage": "mid-stream"}'
    raw = (f"POST {BASE}/invocation/r1/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "2\r\npa\r\n0\r\nLambda-Runtime-Function-Error-Type: Boom\r\n"
           f"Lambda-Runtime-Function-Error-Body: {base64.b64encode(doc).decode()}\r\n\r\n").encode()
    [req] = HttpParser(100).feed(raw)
    assert req.trailers["lambda-runtime-function-error-type"] == "Boom"
    assert command_of(req) == InvocationError("r1", "Boom", doc, False)


def test_connections_beyond_the_cap_are_closed(server: RuntimeApiServer, connect: Callable[[], socket.socket]) -> None:
    from cumulo.runtime.runtime_api import MAX_CONNECTIONS

    clients = []
    for _ in range(MAX_CONNECTIONS + 5):   # accepted as they come (the listen backlog is small)
        clients.append(connect())
        select.select([server.listener], [], [], 2)
        server.on_readable(server.listener.fileno())
    assert len(server.fds()) == MAX_CONNECTIONS + 1   # the listener and the first connections
    extra = clients[-1]
    extra.settimeout(2)
    assert extra.recv(10) == b""


def test_expect_100_continue_is_answered_before_the_body(server: RuntimeApiServer,
                                                         connect: Callable[[], socket.socket]) -> None:
    client = connect()
    client.sendall(_request("GET", f"{BASE}/invocation/next"))
    _pump(server)
    server.submit("r1", (), b"{}", deadline=1e12)
    _read_reply(client)
    client.sendall(f"POST {BASE}/invocation/r1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                   "Expect: 100-continue\r\n\r\n".encode())
    _pump(server)
    client.settimeout(2)
    assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.sendall(b'"ok"')
    assert _pump(server) == [Responded(b'"ok"')]
    assert _read_reply(client)[0] == 202
