"""The edge's request parsing (edge/server.py), driven byte by byte without sockets: however a
client cuts its bytes into reads, the handler sees the same requests, and the head's limits
hold exactly. A fake transport records what the edge writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.edge.server import HttpEdge, Request, Response, _Connection


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = self.eof = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 9000)}.get(name, default)

    def write(self, data: Any) -> None:
        self.out += data

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Driven:
    """One connection of an edge on a private event loop; ``feed`` delivers reads."""

    def __init__(self, **limits: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.seen: list[Request] = []

        async def handler(request: Request) -> Response:
            self.seen.append(request)
            return Response(200, [], b"ok")

        self.edge = HttpEdge(handler, **limits)
        asyncio.set_event_loop(self.loop)
        self.conn = _Connection(self.edge)
        self.transport = FakeTransport()
        self.conn.connection_made(self.transport)

    def feed(self, *reads: bytes) -> None:
        for data in reads:
            self.conn.data_received(data)
            self.loop.run_until_complete(asyncio.sleep(0))
        for _ in range(100):   # answering a pipeline takes a loop turn per request
            self.loop.run_until_complete(asyncio.sleep(0))

    def close(self) -> None:
        self.conn.connection_lost(None)
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()
        asyncio.set_event_loop(None)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


_token = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
_value = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=30)
_path = st.text("abcdefghijklmnopqrstuvwxyz0123456789/%-._~", max_size=30).map(lambda p: "/" + p)


@st.composite
def requests(draw: Any) -> tuple[bytes, tuple[str, str, str, list[tuple[str, str]], bytes]]:
    """A request as sent, and what the handler must see of it."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    path, query = draw(_path), draw(st.text("abc=&%0123", max_size=12))
    headers = [(n, v.strip()) for n, v in draw(st.lists(st.tuples(_token, _value), max_size=6))
               if n.lower() not in ("content-length", "transfer-encoding", "connection", "expect", "upgrade")]
    body = draw(st.binary(max_size=300)) if method != "GET" else b""
    if draw(st.booleans()) and body:
        sizes = draw(st.lists(st.integers(1, 64), min_size=1, max_size=8))
        pieces: list[bytes] = []
        i = 0
        while i < len(body):
            n = sizes[len(pieces) % len(sizes)]
            pieces.append(b"%x\r\n%s\r\n" % (n if i + n <= len(body) else len(body) - i, body[i:i + n]))
            i += n
        framing, payload = [("Transfer-Encoding", "chunked")], b"".join(pieces) + b"0\r\n\r\n"
    else:
        framing, payload = [("Content-Length", str(len(body)))] if body or method != "GET" else [], body
    sent = [("Host", "x"), *headers, *framing]
    target = path + (f"?{query}" if query else "")
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in sent) + "\r\n"
    return head.encode() + payload, (method, path, query, sent, body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(requests(), min_size=1, max_size=5), points=st.lists(st.integers(0, 10_000), max_size=30))
def test_pipelined_requests_cut_anywhere_reach_the_handler_whole_and_in_order(
        batch: list[tuple[bytes, tuple[str, str, str, list[tuple[str, str]], bytes]]], points: list[int]) -> None:
    driven = Driven()
    try:
        driven.feed(*cut(b"".join(data for data, _ in batch), points))
        assert [(r.method, r.raw_path, r.query_string, r.headers, r.body) for r in driven.seen] == \
            [expected for _, expected in batch]
        assert driven.transport.out.count(b"HTTP/1.1 200 OK") == len(batch)
        assert driven.edge.buffered == 0
    finally:
        driven.close()


LIMIT = 2048


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(over=st.integers(-40, 40), extra=st.integers(0, 20), points=st.lists(st.integers(0, 10_000), max_size=40))
def test_the_head_limit_holds_exactly_however_the_head_is_cut(over: int, extra: int, points: list[int]) -> None:
    # Counted: the request target, header names and values (not ": ", CRLF, method or version).
    names = [f"X-{i}" for i in range(extra)]
    fixed = len("/p") + len("Host") + len("x") + sum(len(n) + 1 for n in names) + len("X-Big")
    head = (b"GET /p HTTP/1.1\r\nHost: x\r\n" + b"".join(b"%s: v\r\n" % n.encode() for n in names)
            + b"X-Big: " + b"a" * (LIMIT - fixed + over) + b"\r\n\r\n")
    driven = Driven(max_head_bytes=LIMIT)
    try:
        driven.feed(*cut(head, points))
        if over <= 0:
            assert len(driven.seen) == 1 and driven.transport.out.startswith(b"HTTP/1.1 200 ")
        else:
            assert driven.seen == [] and driven.transport.out.startswith(b"HTTP/1.1 431 ")
    finally:
        driven.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 64))
def test_a_header_dribbled_in_small_reads_is_refused_once_past_the_limit_not_at_its_end(size: int) -> None:
    driven = Driven(max_head_bytes=LIMIT)
    try:
        driven.feed(b"GET / HTTP/1.1\r\nX-Endless: ")
        sent = 0
        while not driven.transport.out and sent < 10 * LIMIT:
            driven.conn.data_received(b"a" * size)
            sent += size
        assert driven.transport.out.startswith(b"HTTP/1.1 431 ") and driven.seen == []
        assert sent <= driven.edge.max_raw_head_bytes + size       # held: the limit, not what was sent
    finally:
        driven.close()


def test_more_headers_than_allowed_get_431() -> None:
    driven = Driven(max_headers=10)
    try:
        driven.feed(b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(10)) + b"\r\n")
        driven.feed(b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(11)) + b"\r\n")
        assert len(driven.seen) == 1 and b"HTTP/1.1 431 " in driven.transport.out
    finally:
        driven.close()


@pytest.mark.parametrize("chunks", [
    [b"1\r\na\r\n"] * 3000,                                      # framing five times the data
    [b"5\r\nhello\r\n0\r\n", b"X-Trailer: " + b"t" * 8000],     # a trailer that never ends
], ids=["tiny-chunks", "endless-trailer"])
def test_chunked_framing_and_trailers_are_bounded(chunks: list[bytes]) -> None:
    driven = Driven(max_head_bytes=LIMIT)
    try:
        driven.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for chunk in chunks:
            if driven.transport.out:
                break
            driven.conn.data_received(chunk)
        assert driven.transport.out.startswith(b"HTTP/1.1 400 ") and driven.seen == []
    finally:
        driven.close()


def test_the_gate_sees_the_head_before_the_body_and_may_refuse_or_limit_it() -> None:
    heads: list[Request] = []

    def gate(head: Request) -> Response | int | None:
        heads.append(head)
        if head.raw_path == "/no":
            return Response(403, [("x-why", "gate")], b"no")
        head.note = "checked"
        return 10 if head.raw_path == "/small" else None

    driven = Driven(gate=gate)
    try:
        driven.feed(b"POST /ok HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
        assert [h.raw_path for h in heads] == ["/ok"] and heads[0].body == b"" and driven.seen == []
        driven.feed(b"hello")
        assert driven.seen[0].body == b"hello" and driven.seen[0].note == "checked"
        driven.feed(b"POST /small HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n")
        driven.feed(b"8\r\n12345678\r\n")
        assert len(driven.seen) == 1 and b"HTTP/1.1 413 " in driven.transport.out and driven.edge.buffered == 0
    finally:
        driven.close()
    driven = Driven(gate=gate)
    try:
        driven.feed(b"POST /no HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert driven.transport.out.startswith(b"HTTP/1.1 403 Forbidden\r\nx-why: gate\r\n")
        assert b"100 Continue" not in driven.transport.out and driven.transport.eof
    finally:
        driven.close()


def test_bodies_still_arriving_share_one_budget() -> None:
    driven = Driven(max_buffered_bytes=1000)
    other = _Connection(driven.edge)
    other_transport = FakeTransport()
    other.connection_made(other_transport)
    try:
        driven.feed(b"POST /a HTTP/1.1\r\nContent-Length: 900\r\n\r\n" + b"a" * 800)
        assert driven.edge.buffered == 800
        other.data_received(b"POST /b HTTP/1.1\r\nContent-Length: 300\r\n\r\n")     # declared: cannot fit
        assert other_transport.out.startswith(b"HTTP/1.1 503 ")
        driven.feed(b"a" * 100)                                                   # complete: out of the budget
        assert driven.edge.buffered == 0 and driven.seen[0].body == b"a" * 900
    finally:
        other.connection_lost(None)
        driven.close()
