"""Frames between supervisor, zygote and environments: codec, incremental reader, sockets and fd passing."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from typing import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.runtime.inside.protocol import MAX_HEADER, PREFIX, FrameReader, ProtocolError, encode, recv, send

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
headers = st.dictionaries(st.text(), json_values, max_size=6)
bodies = st.binary(max_size=2048)


def chunks(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    start = 0
    for p in points + [len(data)]:
        yield data[start:p]
        start = p


# -- encode -------------------------------------------------------------------------------
def test_frame_layout_is_lengths_then_json_header_then_body() -> None:
    frame = encode({"op": "invoke", "id": 7}, b"\x00payload")
    head = b'{"op":"invoke","id":7}'
    assert frame == struct.pack(">II", len(head), 8) + head + b"\x00payload"
    assert PREFIX.size == 8


def test_empty_body_is_allowed() -> None:
    assert FrameReader(0).feed(encode({"op": "ping"})) == [({"op": "ping"}, b"")]


# -- FrameReader -----------------------------------------------------------------------------
@given(st.lists(st.tuples(headers, bodies), min_size=1, max_size=5), st.lists(st.integers(0, 20_000), max_size=12))
def test_frames_survive_any_chunking(frames: list[tuple[dict, bytes]], cuts: list[int]) -> None:
    stream = b"".join(encode(h, b) for h, b in frames)
    reader = FrameReader(max_body=4096)
    out: list[tuple[dict, bytes]] = []
    for piece in chunks(stream, cuts):
        out.extend(reader.feed(piece))
    assert out == frames
    assert reader.pending == 0


@given(headers, bodies)
def test_byte_by_byte_feeding_yields_the_frame_only_at_its_last_byte(header: dict, body: bytes) -> None:
    frame = encode(header, body)
    reader = FrameReader(max_body=len(body))
    for i, byte in enumerate(frame[:-1]):
        assert reader.feed(bytes([byte])) == []
        assert reader.pending == i + 1
    assert reader.feed(frame[-1:]) == [(header, body)]
    assert reader.pending == 0


def test_partial_next_frame_stays_pending() -> None:
    first, second = encode({"n": 1}, b"one"), encode({"n": 2}, b"two")
    reader = FrameReader(max_body=10)
    assert reader.feed(first + second[:5]) == [({"n": 1}, b"one")]
    assert reader.pending == 5
    assert reader.feed(second[5:]) == [({"n": 2}, b"two")]


def test_body_at_the_limit_is_accepted() -> None:
    assert FrameReader(max_body=5).feed(encode({}, b"12345")) == [({}, b"12345")]


def test_body_over_the_limit_is_refused_before_it_arrives() -> None:
    reader = FrameReader(max_body=5)
    with pytest.raises(ProtocolError):
        reader.feed(encode({}, b"123456")[: PREFIX.size])


def test_header_over_the_limit_is_refused() -> None:
    with pytest.raises(ProtocolError):
        FrameReader(max_body=10).feed(PREFIX.pack(MAX_HEADER + 1, 0))


def test_header_at_the_limit_is_accepted() -> None:
    header = {"k": "x" * (MAX_HEADER - len('{"k":""}'))}
    frame = encode(header)
    assert struct.unpack(">I", frame[:4])[0] == MAX_HEADER
    assert FrameReader(max_body=0).feed(frame) == [(header, b"")]


@given(st.integers(0, 1000), st.integers(1, 2**32 - 1))
def test_any_declared_body_over_the_limit_is_refused(limit: int, extra: int) -> None:
    blen = min(limit + extra, 2**32 - 1)
    with pytest.raises(ProtocolError):
        FrameReader(max_body=limit).feed(PREFIX.pack(2, blen) + b"{}")


@pytest.mark.parametrize("head", [b"not json", b"{\"a\":", b"\xff\xfe\x00", b"[1,2]", b"42"])
def test_header_that_is_not_a_json_object_is_a_protocol_error(head: bytes) -> None:
    """Environments run user code: a garbled header must be a ProtocolError, which callers handle."""
    with pytest.raises(ProtocolError):
        FrameReader(max_body=10).feed(PREFIX.pack(len(head), 0) + head)


# -- send / recv over a socket pair ------------------------------------------------------------
@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(5)
    b.settimeout(5)
    yield a, b
    a.close()
    b.close()


def test_send_recv_round_trip(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    send(a, {"op": "invoke", "request_id": "r-1"}, b'{"x": 1}')
    assert recv(b, max_body=100) == ({"op": "invoke", "request_id": "r-1"}, b'{"x": 1}', [])


def test_several_frames_in_a_row(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    for i in range(5):
        send(a, {"i": i}, bytes([i]) * i)
    assert [recv(b, 10)[:2] for _ in range(5)] == [({"i": i}, bytes([i]) * i) for i in range(5)]


def test_large_body_round_trip(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    body = os.urandom(3 * 1024 * 1024)
    sender = threading.Thread(target=send, args=(a, {"op": "result"}, body))
    sender.start()
    header, got, fds = recv(b, max_body=len(body))
    sender.join()
    assert (header, got == body, fds) == ({"op": "result"}, True, [])


def test_recv_refuses_oversize_body(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    send(a, {"op": "x"}, b"0123456789")
    with pytest.raises(ProtocolError):
        recv(b, max_body=9)


def test_recv_on_closed_peer_is_eof(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.close()
    with pytest.raises(EOFError):
        recv(b, 10)


def test_recv_of_truncated_frame_is_eof(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(encode({"op": "x"}, b"0123456789")[:-3])
    a.close()
    with pytest.raises(EOFError):
        recv(b, 100)


def test_recv_reassembles_a_prefix_split_across_writes(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    frame = encode({"op": "slow"}, b"body")
    a.sendall(frame[:3])
    threading.Timer(0.05, a.sendall, args=(frame[3:],)).start()
    assert recv(b, 10) == ({"op": "slow"}, b"body", [])


def test_recv_of_garbled_header_is_a_protocol_error(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(PREFIX.pack(8, 0) + b"not json")
    with pytest.raises(ProtocolError):
        recv(b, 10)


def _pipe_through(fd: int, data: bytes) -> None:
    os.write(fd, data)
    os.close(fd)


def test_file_descriptors_pass_with_the_frame(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        send(a, {"op": "spawn"}, b"body", fds=[w1, w2])
        header, body, fds = recv(b, max_body=10)
        assert (header, body, len(fds)) == ({"op": "spawn"}, b"body", 2)
        assert set(fds).isdisjoint({w1, w2})          # new descriptors in the receiver
        _pipe_through(fds[0], b"first")
        _pipe_through(fds[1], b"second")
        os.close(w1)
        os.close(w2)
        assert os.read(r1, 100) == b"first"
        assert os.read(r2, 100) == b"second"
    finally:
        os.close(r1)
        os.close(r2)


def test_descriptors_arrive_with_their_own_frame(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        send(a, {"n": 1}, b"", fds=[w1])
        send(a, {"n": 2}, b"")
        send(a, {"n": 3}, b"x", fds=[w2])
        first, second, third = recv(b, 10), recv(b, 10), recv(b, 10)
        assert (first[0], len(first[2])) == ({"n": 1}, 1)
        assert second == ({"n": 2}, b"", [])
        assert (third[0], third[1], len(third[2])) == ({"n": 3}, b"x", 1)
        _pipe_through(first[2][0], b"1")
        _pipe_through(third[2][0], b"3")
        os.close(w1)
        os.close(w2)
        assert (os.read(r1, 10), os.read(r2, 10)) == (b"1", b"3")
    finally:
        os.close(r1)
        os.close(r2)


def test_sent_frame_is_readable_by_frame_reader(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    send(a, {"op": "result", "ok": True}, b"\x00\x01")
    reader = FrameReader(max_body=10)
    frames: list[tuple[dict, bytes]] = []
    while not frames:
        frames = reader.feed(b.recv(3))
    assert frames == [({"op": "result", "ok": True}, b"\x00\x01")]


def test_header_json_is_compact() -> None:
    frame = encode({"a": [1, 2], "b": "c"})
    assert json.loads(frame[PREFIX.size:]) == {"a": [1, 2], "b": "c"}
    assert b" " not in frame[PREFIX.size:]


def test_a_reader_with_a_faster_decoder_still_takes_what_the_stdlib_writes() -> None:
    import orjson
    # An environment reports a file left open by Init whose name is not UTF-8: json.dumps writes
    # the lone surrogate as "\udcff", which orjson refuses and json.loads accepts.
    header = {"op": "ready", "refused": "open file /tmp/log-" + b"\xff".decode(errors="surrogateescape")}
    reader = FrameReader(1 << 20, orjson.loads)
    [(got, body)] = reader.feed(encode(header, b"x"))
    assert got == header and body == b"x"
    with pytest.raises(ProtocolError):
        reader.feed(PREFIX.pack(3, 0) + b"{x}")
