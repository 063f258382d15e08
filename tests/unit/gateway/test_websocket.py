"""WebSockets without sockets: the frame codec and message assembly (edge/websocket.py) under
hypothesis — messages survive any framing and any cut into reads, garbage only ever ends in a
close code, oversized frames and messages close with 1009 before their payload is read — one
connection's protocol on a fake transport, the edge's upgrade path fed garbage, and the pure
WebSocket API rules (gateway/websocket.py: route selection, events, route responses)."""

from __future__ import annotations

import asyncio
import json
import os
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.edge.server import HttpEdge, Response, Upgrade, _Connection
from cumulo.edge.websocket import (
    BINARY, CLOSE, CONT, PING, PONG, TEXT, Assembler, FrameParser, ProtocolError, WebSocket, accept_key,
    encode_frame, handshake_problem,
)
from cumulo.gateway import websocket as ws
from tests.unit.api.test_edge_parsing import FakeTransport, cut


def _masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    return encode_frame(opcode, payload, fin, os.urandom(4))


def _messages(data_reads: list[bytes], max_frame: int = 32 * 1024, max_message: int = 128 * 1024) -> list[Any]:
    parser, assembler, out = FrameParser(max_frame), Assembler(max_message), []
    for read in data_reads:
        for frame in parser.feed(read):
            message = assembler.add(frame)
            if message is not None:
                out.append((message.opcode, message.payload))
    return out


_message = st.one_of(st.tuples(st.just(TEXT), st.text(max_size=3000).map(lambda t: t.encode())),
                     st.tuples(st.just(BINARY), st.binary(max_size=3000)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_message, min_size=1, max_size=5), st.lists(st.integers(1, 1200), min_size=1, max_size=6),
       st.lists(st.integers(0, 20000), max_size=12), st.booleans())
def test_messages_survive_any_framing_and_any_cut(messages: list[tuple[int, bytes]], sizes: list[int],
                                                  points: list[int], pings: bool) -> None:
    wire = bytearray()
    for opcode, payload in messages:
        pieces = []
        i = 0
        while True:
            n = sizes[len(pieces) % len(sizes)]
            pieces.append(payload[i:i + n])
            i += n
            if i >= len(payload):
                break
        for index, piece in enumerate(pieces):
            wire += _masked(opcode if index == 0 else CONT, piece, index == len(pieces) - 1)
            if pings and index == 0:
                wire += _masked(PING, b"p")       # control frames may come between fragments
    got = [m for m in _messages(cut(bytes(wire), points)) if m[0] != PING]
    assert got == messages


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 700), max_size=8))
def test_garbage_only_ever_ends_in_a_close_code(data: bytes, points: list[int]) -> None:
    try:
        _messages(cut(data, points), max_frame=256, max_message=512)
    except ProtocolError as exc:
        assert exc.code in (1002, 1007, 1009)


@settings(max_examples=200, deadline=None)
@given(st.integers(32 * 1024 + 1, 2**63 - 1), st.sampled_from([TEXT, BINARY, CONT]))
def test_an_oversized_frame_is_refused_from_its_header_alone(length: int, opcode: int) -> None:
    if length < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", length)
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", length)
    with pytest.raises(ProtocolError) as refused:
        FrameParser().feed(head)       # no mask key, no payload: nothing more is awaited
    assert refused.value.code == 1009


def test_a_message_over_128_kb_is_refused_as_its_fragments_arrive() -> None:
    frames = [_masked(TEXT, b"a" * 32768, False)] + [_masked(CONT, b"a" * 32768, False)] * 3
    assert _messages(frames) == []
    with pytest.raises(ProtocolError) as refused:
        _messages(frames + [_masked(CONT, b"a", True)])
    assert refused.value.code == 1009


@pytest.mark.parametrize(("wire", "code"), [
    (encode_frame(TEXT, b"unmasked"), 1002),
    (bytes([0x80 | 0x3, 0x80]) + b"\0\0\0\0", 1002),                      # reserved opcode
    (bytes([0xC0 | TEXT, 0x80]) + b"\0\0\0\0", 1002),                      # RSV1 without an extension
    (_masked(PING, b"x" * 126), 1002),                                     # control frame over 125 bytes
    (_masked(PING, b"x", fin=False), 1002),                                # fragmented control frame
    (_masked(CONT, b"x"), 1002),                                           # continuation of nothing
    (_masked(TEXT, b"a", False) + _masked(TEXT, b"b"), 1002),               # new message inside one
    (_masked(TEXT, b"\xc3\x28"), 1007),                                    # not UTF-8
    (_masked(CLOSE, b"\x03"), 1002),                                       # one-byte close payload
    (_masked(CLOSE, struct.pack("!H", 1005)), 1002),                       # a code never sent on the wire
    (_masked(CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),             # reason not UTF-8
    (bytes([0x80 | BINARY, 0x80 | 127]) + struct.pack("!Q", 1 << 63), 1002),
], ids=["unmasked", "reserved opcode", "RSV1", "control over 125", "fragmented control", "lone continuation",
        "message inside one", "text not UTF-8", "one-byte close", "close 1005", "close reason not UTF-8",
        "length with the top bit"])    # named: the frames' masks are random, and xdist's workers must agree
def test_protocol_faults_have_their_close_codes(wire: bytes, code: int) -> None:
    with pytest.raises(ProtocolError) as refused:
        _messages([wire])
    assert refused.value.code == code


def test_handshake() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="     # RFC 6455's example
    good = [("Host", "x"), ("Upgrade", "WebSocket"), ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
    assert handshake_problem("GET", good) is None
    assert handshake_problem("POST", good) == (400, "A WebSocket handshake is a GET")
    assert handshake_problem("GET", good[:4] + [("Sec-WebSocket-Version", "8")])[0] == 426
    assert handshake_problem("GET", [*good[:3], ("Sec-WebSocket-Key", "short"), good[4]])[0] == 400


# -- one connection on a fake transport ------------------------------------------------
class Session:
    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.transport = FakeTransport()
        self.messages: list[tuple[int, bytes]] = []
        self.ended: list[tuple[int, str]] = []
        self.socket = WebSocket(self.transport, lambda op, data: self.messages.append((op, data)),
                                lambda code, reason: self.ended.append((code, reason)), **options)

    def sent(self) -> list[tuple[int, bytes]]:
        parser = FrameParser(require_mask=False, max_frame=1 << 30)
        return [(f.opcode, f.payload) for f in parser.feed(bytes(self.transport.out))]

    def close(self) -> None:
        self.loop.close()
        asyncio.set_event_loop(None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.lists(st.integers(0, 500), max_size=6))
def test_a_connection_fed_garbage_never_raises_and_ends_once(data: bytes, points: list[int]) -> None:
    session = Session()
    try:
        for read in cut(data, points):
            session.socket.data_received(read)
        session.socket.connection_lost(None)
        assert len(session.ended) == 1
        for opcode, _ in session.sent():          # what went out is well-formed frames
            assert opcode in (PONG, CLOSE)
    finally:
        session.close()


def test_a_connection_answers_pings_echoes_close_and_closes_oversized_frames() -> None:
    session = Session()
    try:
        session.socket.data_received(_masked(PING, b"hey") + _masked(TEXT, b"hello"))
        assert session.sent() == [(PONG, b"hey")] and session.messages == [(TEXT, b"hello")]
        assert session.socket.send(b"out") and session.sent()[-1] == (TEXT, b"out")
        session.socket.data_received(_masked(CLOSE, struct.pack("!H", 4000) + b"bye"))
        assert session.sent()[-1] == (CLOSE, struct.pack("!H", 4000)) and session.ended == [(4000, "bye")]
        assert not session.socket.send(b"late")
    finally:
        session.close()
    session = Session()
    try:
        session.socket.data_received(bytes([0x80 | TEXT, 0x80 | 127]) + struct.pack("!Q", 40000))
        assert session.sent() == [(CLOSE, struct.pack("!H", 1009) + b"Frames are limited to 32768 bytes")]
        assert session.ended[0][0] == 1009
    finally:
        session.close()


def test_idle_and_lifetime_limits_close_with_1001() -> None:
    session = Session(idle_timeout_s=0.05, max_duration_s=10)
    try:
        session.loop.run_until_complete(asyncio.sleep(0.12))
        assert session.ended == [(1001, "Going away")]
    finally:
        session.close()
    session = Session(idle_timeout_s=10, max_duration_s=0.05)
    try:
        for _ in range(3):                # active all along: the lifetime still ends it
            session.socket.data_received(_masked(TEXT, b"x"))
            session.loop.run_until_complete(asyncio.sleep(0.03))
        assert session.ended == [(1001, "Going away")]
    finally:
        session.close()


# -- the edge's upgrade path ------------------------------------------------------------
_HANDSHAKE = (b"GET /api/stage HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.lists(st.integers(0, 500), max_size=6), st.booleans())
def test_the_edge_upgrades_and_hands_over_whatever_follows(garbage: bytes, points: list[int], accept: bool) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    got: list[tuple[int, bytes]] = []

    async def handler(request: Any) -> Response:
        return Response(200, [], b"plain")

    async def upgrade(request: Any) -> Any:
        if not accept:
            return Response(403, [], b"")
        return Upgrade([("Sec-WebSocket-Accept", accept_key("dGhlIHNhbXBsZSBub25jZQ=="))],
                       lambda transport: WebSocket(transport, lambda op, data: got.append((op, data)),
                                                   lambda code, reason: None))

    conn = _Connection(HttpEdge(handler, upgrade=upgrade))
    transport = FakeTransport()
    conn.connection_made(transport)
    try:
        for read in cut(_HANDSHAKE + _masked(TEXT, b"first") + garbage, points):
            conn.data_received(read)
            loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(asyncio.sleep(0))
        out = bytes(transport.out)
        if accept:
            assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") and got[:1] == [(TEXT, b"first")]
        else:
            assert out.startswith(b"HTTP/1.1 403 ") and got == []
        conn.connection_lost(None)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


# -- the pure rules of WebSocket APIs -----------------------------------------------------
def test_route_selection() -> None:
    keys = {"$connect", "$default", "sendmessage", "7"}
    assert ws.select_route("$request.body.action", b'{"action": "sendmessage"}', keys) == "sendmessage"
    assert ws.select_route("${request.body.action}", b'{"action": "sendmessage"}', keys) == "sendmessage"
    assert ws.select_route("$request.body.a.b", b'{"a": {"b": "sendmessage"}}', keys) == "sendmessage"
    assert ws.select_route("$request.body.action", b'{"action": 7}', keys) == "7"
    for body in (b'{"action": "other"}', b"not json", b'{"action": "$connect"}', b"[1]", b'{"action": true}'):
        assert ws.select_route("$request.body.action", body, keys) == "$default"
    assert ws.select_route("$request.body.action", b"{}", {"sendmessage"}) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.text(max_size=20))
def test_route_selection_never_raises(body: bytes, expression: str) -> None:
    assert ws.select_route(expression, body, {"a", "$default"}) in ("a", "$default")


def test_events_and_route_responses() -> None:
    conn = ws.Connection("Abc=", "api1", "Prod", "127.0.0.1:8080", "10.0.0.1", "agent", 1_700_000_000_000,
                         [("Host", "127.0.0.1:8080"), ("Auth", "t")], "a=1&a=2", {"principalId": "p"})
    connect = ws.ws_event(conn, "CONNECT", "$connect", "rid", 1_700_000_000_005)
    assert connect["headers"]["Auth"] == "t" and connect["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert connect["queryStringParameters"] == {"a": "2"} and "body" not in connect
    ctx = connect["requestContext"]
    assert ctx["eventType"] == "CONNECT" and ctx["connectedAt"] == 1_700_000_000_000
    assert ctx["authorizer"] == {"principalId": "p"} and ctx["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    message = ws.ws_event(conn, "MESSAGE", "$default", "rid", 1, b"\xff", binary=True, message_id="m")
    assert message["body"] == "/w==" and message["isBase64Encoded"] and message["requestContext"]["messageId"] == "m"
    gone = ws.ws_event(conn, "DISCONNECT", "$disconnect", "rid", 1, disconnect=(1001, "Going away"))
    assert gone["requestContext"]["disconnectStatusCode"] == 1001 and "Auth" not in gone["headers"]
    assert ws.route_response_body(b'{"statusCode": 200, "body": "hi"}') == (b"hi", True)
    assert ws.route_response_body(b'{"statusCode": 200}') is None
    assert ws.route_response_body(b'"plain"') == (b'"plain"', True)
    assert ws.route_response_body(b'{"body": "/w==", "isBase64Encoded": true}') == (b"\xff", False)
    assert ws.connect_status(b'{"statusCode": 401}') == 401 and ws.connect_status(b"null") == 200
    assert json.loads(ws.error_message("Forbidden", "c", "r")) == {"message": "Forbidden", "connectionId": "c",
                                                                     "requestId": "r"}


def test_events_satisfy_powertools_models() -> None:
    """Powertools' parser models of API Gateway's WebSocket events (CONNECT, MESSAGE, DISCONNECT), which
    follow AWS's samples, accept what the gateway sends."""
    models = pytest.importorskip("aws_lambda_powertools.utilities.parser.models")
    conn = ws.Connection("Abc=", "api1", "Prod", "127.0.0.1:8080", "10.0.0.1", "agent", 1_700_000_000_000,
                         [("Host", "127.0.0.1:8080"), ("Sec-WebSocket-Key", "k"), ("X", "1"), ("x", "2")], "a=1")
    connect = models.APIGatewayWebSocketConnectEventModel.model_validate(
        ws.ws_event(conn, "CONNECT", "$connect", "rid", 1_700_000_000_005))
    assert connect.request_context.connection_id == "Abc=" and connect.multi_value_headers["X"] == ["1", "2"]
    message = models.APIGatewayWebSocketMessageEventModel.model_validate(
        ws.ws_event(conn, "MESSAGE", "sendmessage", "rid", 1_700_000_000_006, b'{"a":1}', message_id="m1"))
    assert message.body == '{"a":1}' and message.request_context.message_id == "m1"
    gone = models.APIGatewayWebSocketDisconnectEventModel.model_validate(
        ws.ws_event(conn, "DISCONNECT", "$disconnect", "rid", 1_700_000_000_007, disconnect=(1005, "")))
    assert gone.request_context.disconnect_status_code == 1005
