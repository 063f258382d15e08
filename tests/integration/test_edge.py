"""The HTTP/1.1 edge (edge/server.py) on a real loopback socket, driven by raw clients."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvloop

from cumulo.edge.server import HttpEdge, Request, Response


class Served:
    """An edge on its own uvloop thread; ``seen`` records every request the handler got."""

    def __init__(self, delay_s: float = 0.0, **limits: Any) -> None:
        self.seen: list[Request] = []
        self.delay_s = delay_s
        self.limits = limits
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    async def handler(self, request: Request) -> Response:
        self.seen.append(request)
        if self.delay_s or request.raw_path == "/slow":
            await asyncio.sleep(self.delay_s or 0.2)
        body = f"{request.method} {request.raw_path} ?{request.query_string} {len(request.body)}".encode()
        if request.raw_path == "/huge":
            body = b"h" * (64 * 1024 * 1024)
        return Response(200, [("content-type", "text/plain"), ("x-seen", str(len(self.seen)))], body)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            self.port = sock.getsockname()[1]
            self.edge = HttpEdge(self.handler, **{"idle_timeout_s": 0.5, **self.limits})
            await self.edge.start(sock)
            self.stop = asyncio.Event()
            self.ready.set()
            await self.stop.wait()
            await self.edge.stop(grace_s=2)
        uvloop.run(main())

    def close(self) -> None:
        self.close_async()
        self.thread.join(5)

    def close_async(self) -> None:
        """Begin the edge's shutdown (``HttpEdge.stop``) without waiting for it."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.stop.set)

    def raw(self, data: bytes, timeout: float = 3.0) -> bytes:
        """Send bytes, read until the server closes (or the timeout)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while chunk := s.recv(65536):
                    chunks.append(chunk)
            except (TimeoutError, ConnectionResetError):
                pass
            return b"".join(chunks)


def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for what the test needs to have happened (a request reached the handler, shutdown began),
    however busy the machine, instead of sleeping for a guess."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(max_head_bytes=4096, max_body_bytes=1024 * 1024)
    yield s
    s.close()


def test_keep_alive_serves_many_requests_on_one_connection(served: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=3)
    for i in range(5):
        conn.request("POST", f"/a/{i}?x=1&y=%20", body=b"z" * i)
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, f"POST /a/{i} ?x=1&y=%20 {i}".encode())
        assert r.getheader("content-length") == str(len(f"POST /a/{i} ?x=1&y=%20 {i}")) and r.getheader("date")
    conn.close()
    assert len(served.seen) == 5
    assert served.seen[0].client[0] == "127.0.0.1" and served.seen[0].server_port == served.port


def test_headers_keep_case_and_repetition(served: Served) -> None:
    served.raw(b"GET /h HTTP/1.1\r\nHost: x\r\nX-Thing: a\r\nx-thing: b\r\nConnection: close\r\n\r\n")
    assert served.seen[-1].headers == [("Host", "x"), ("X-Thing", "a"), ("x-thing", "b"), ("Connection", "close")]


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    out = served.raw(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200 OK") == 3
    assert out.index(b"GET /slow") < out.index(b"GET /fast") < out.index(b"GET /last")
    assert out.rstrip().endswith(b"GET /last ? 0") and b"connection: close" in out


def test_chunked_body_and_expect_continue(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=3) as s:
        s.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        time.sleep(0.1)
        assert b"POST /c ? 11" in s.recv(65536)
    assert served.seen[-1].body == b"hello world"


def test_head_gets_headers_without_body(served: Served) -> None:
    out = served.raw(b"HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"content-length: 11" in head and body == b""


def test_http10_closes_after_the_answer(served: Served) -> None:
    out = served.raw(b"GET /old HTTP/1.0\r\n\r\n")
    assert b"GET /old" in out and b"connection: close" in out


def test_declared_body_over_the_limit_is_refused_before_the_handler(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=3) as s:
        s.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
        s.sendall(b"x" * 2_000_000)   # the server keeps reading (lingers), so this does not reset
        out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 413 ") and served.seen == []


def test_chunked_body_over_the_limit_is_refused(served: Served) -> None:
    chunk = b"%x\r\n%s\r\n" % (300_000, b"y" * 300_000)
    out = served.raw(b"POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 4 + b"0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413 ") and served.seen == []


def test_huge_headers_get_431(served: Served) -> None:
    out = served.raw(b"GET /h HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 ") and served.seen == []


@pytest.mark.parametrize("garbage", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
])
def test_malformed_requests_get_400_and_never_reach_the_handler(served: Served, garbage: bytes) -> None:
    out = served.raw(garbage)
    assert out.startswith(b"HTTP/1.1 400 ") and served.seen == []


def test_a_body_that_never_completes_never_reaches_the_handler(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=3) as s:
        s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
    time.sleep(0.2)
    assert served.seen == []


def test_idle_connections_are_closed(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=3) as s:
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.05)
        assert b"GET /a" in s.recv(65536)
        started = time.monotonic()
        assert s.recv(65536) == b""            # closed by the server after its idle timeout (0.5 s)
        assert 0.3 < time.monotonic() - started < 2.5


def test_stop_lets_a_request_in_flight_finish() -> None:
    s = Served(delay_s=1.0)
    out: list[bytes] = []
    t = threading.Thread(target=lambda: out.append(s.raw(b"GET /w HTTP/1.1\r\nHost: x\r\n\r\n")))
    t.start()
    _until(lambda: len(s.seen) == 1)           # in the handler, for a second
    s.close()
    t.join(5)
    assert out and b"HTTP/1.1 200 OK" in out[0] and b"connection: close" in out[0]


def test_a_body_paused_longer_than_the_keep_alive_timeout_is_still_answered(served: Served) -> None:
    # The 0.5 s idle timeout is for time between requests, not within one still arriving.
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        time.sleep(1.2)
        s.sendall(b"56789")
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"POST /upload ? 10")


def test_stopping_waits_for_a_request_whose_client_left_and_for_one_still_arriving() -> None:
    served = Served(delay_s=1.0)
    done: list[str] = []
    original = served.handler

    async def handler(request: Request) -> Response:
        answer = await original(request)
        done.append(request.raw_path)
        return answer

    served.edge.handler = handler
    gone = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    gone.sendall(b"GET /abandoned HTTP/1.1\r\nHost: x\r\n\r\n")
    arriving = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    arriving.sendall(b"POST /arriving HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
    edge = served.edge
    _until(lambda: [r.raw_path for r in served.seen] == ["/abandoned"]
           and len(edge.connections) == 2 and not any(c.idle for c in list(edge.connections)))
    gone.close()                               # the client gives up while its request is handled
    served.close_async()                       # shutdown begins with both in flight
    _until(lambda: edge.stopping)
    arriving.sendall(b"cd")
    answer = arriving.recv(65536)
    arriving.close()
    served.thread.join(10)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"connection: close" in answer
    assert sorted(done) == ["/abandoned", "/arriving"]   # the abandoned one ran to its end too


def test_a_pipelined_100_continue_comes_after_the_answer_before_it() -> None:
    served = Served(delay_s=0.3)
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
            s.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"POST /second HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
            got = b""
            while b"100 Continue" not in got:
                chunk = s.recv(65536)
                assert chunk, got
                got += chunk
            assert got.startswith(b"HTTP/1.1 200 ") and got.index(b"GET /first") < got.index(b"100 Continue")
            s.sendall(b"ok")
            while b"POST /second" not in got:
                got += s.recv(65536)
    finally:
        served.close()


# -- hostile clients: each is cut off by a limit, and the edge goes on serving everyone else ----

def _read_all(s: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := s.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def _served_meanwhile(served: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=2)
    conn.request("GET", "/other")
    assert conn.getresponse().read() == b"GET /other ? 0"
    conn.close()


def test_a_head_dribbled_in_slower_than_the_header_timeout_gets_408_and_is_closed() -> None:
    served = Served(header_timeout_s=0.6)
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
            started = time.monotonic()
            s.sendall(b"GET /slow-head HTTP/1.1\r\nHost: x\r\n")
            out = b""
            for i in range(40):          # a header line every 0.05 s: always something, never the end
                try:
                    s.sendall(b"X-%d: y\r\n" % i)
                except (BrokenPipeError, ConnectionResetError):
                    break
                _served_meanwhile(served) if i == 3 else time.sleep(0.05)
                s.settimeout(0.001)
                try:
                    out += s.recv(65536)
                except (TimeoutError, BlockingIOError):
                    pass
                s.settimeout(5)
                if out:
                    break
            out += _read_all(s)
            elapsed = time.monotonic() - started
        assert out.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"connection: close" in out
        assert 0.5 < elapsed < 2.0 and served.seen[-1].raw_path == "/other"
        _served_meanwhile(served)
    finally:
        served.close()


def test_bytes_that_begin_no_request_do_not_keep_a_connection_open(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 3 and not closed:
            try:
                s.sendall(b"\r\n")          # allowed before a request line, and not one
                time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
        assert closed or _read_all(s) == b""
        assert time.monotonic() - started < 2.0      # the 0.5 s idle timeout, not extended


def test_a_body_slower_than_the_minimum_rate_gets_408_and_a_fast_enough_one_is_answered() -> None:
    served = Served(body_timeout_s=0.4, body_min_rate=2000)     # 800 bytes per 0.4 s window
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
            s.sendall(b"POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 6000\r\n\r\n")
            for _ in range(6):              # 1000 bytes per 0.2 s: enough
                s.sendall(b"b" * 1000)
                time.sleep(0.2)
            assert s.recv(65536).endswith(b"POST /steady ? 6000")
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
            started = time.monotonic()
            s.sendall(b"POST /trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            try:
                for i in range(60):         # 10 bytes per 0.05 s: 80 per window
                    s.sendall(b"t" * 10)
                    _served_meanwhile(served) if i == 3 else time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
            out = _read_all(s)
            elapsed = time.monotonic() - started
        assert out.startswith(b"HTTP/1.1 408 ") and 0.35 < elapsed < 2.5
        assert [r.raw_path for r in served.seen] == ["/steady", "/other"] and served.edge.buffered == 0
    finally:
        served.close()


def test_connections_over_the_cap_get_503_at_once_and_the_edge_serves_again_when_they_go() -> None:
    served = Served(max_connections=4)
    try:
        held = [socket.create_connection(("127.0.0.1", served.port), timeout=5) for _ in range(4)]
        for s in held:
            s.sendall(b"GET /never-finished HTTP/1.1\r\n")      # within a request: not idle
        _until(lambda: len(served.edge.connections) == 4 and not any(c.idle for c in served.edge.connections))
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
            s.sendall(b"GET /refused HTTP/1.1\r\nHost: x\r\n\r\n")
            out = _read_all(s)
        assert out.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and b"connection: close" in out
        assert served.seen == []
        held.pop().close()
        _until(lambda: len(served.edge.connections) == 3)
        _served_meanwhile(served)
        for s in held:
            s.close()
    finally:
        served.close()


def test_at_the_cap_a_new_connection_takes_the_place_of_an_idle_one() -> None:
    served = Served(max_connections=4, idle_timeout_s=30)
    try:
        idle = [socket.create_connection(("127.0.0.1", served.port), timeout=5) for _ in range(4)]
        _until(lambda: len(served.edge.connections) == 4)
        _served_meanwhile(served)                   # one of the idle ones made room
        closed: list[socket.socket] = []
        for s in idle:
            s.settimeout(0.2)
            try:
                if s.recv(100) == b"":
                    closed.append(s)
            except TimeoutError:
                pass
        assert len(closed) == 1
        for s in idle:
            s.close()
    finally:
        served.close()


def test_a_client_that_reads_nothing_of_a_large_answer_is_dropped() -> None:
    served = Served(body_timeout_s=0.5)
    try:
        s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        _until(lambda: len(served.seen) == 1)
        started = time.monotonic()
        _until(lambda: not served.edge.connections, timeout_s=10)      # 64 MB never read: dropped
        assert time.monotonic() - started < 5
        _served_meanwhile(served)
        s.close()
    finally:
        served.close()
