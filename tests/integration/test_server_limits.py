"""``cumulo up`` against hostile clients, on real loopback sockets: every request may be an attack.

What a client without a valid key can make the server hold, what a slow or half-sent request
costs, how many connections one may open, and what a signature must cover — each asserted as a
client sees it (status, AWS error, connection closed within the limit's time), with the server
still serving others during and after. The server runs with short limits (seconds, not the
defaults' 20 s) through its settings.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from test_server import CumuloServer, create, error_of, invoke, unique

LIMITS = {"CUMULO_HTTP_HEADER_TIMEOUT_S": "1", "CUMULO_HTTP_BODY_TIMEOUT_S": "1", "CUMULO_HTTP_BODY_MIN_RATE": "20000",
          "CUMULO_HTTP_MAX_BUFFERED_MB": "12", "CUMULO_HTTP_MAX_CONNECTIONS": "16"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("limits") / "home", env=LIMITS)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def lam(guarded: CumuloServer) -> Iterator[BaseClient]:
    client = guarded.client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def fn(lam: BaseClient) -> str:
    name = unique()
    create(lam, name)
    return name


def port_of(server: CumuloServer) -> int:
    return int(server.endpoint.rsplit(":", 1)[1])


def gateway_port_of(server: CumuloServer) -> int:
    m = re.search(r"HTTP APIs\s+http://127\.0\.0\.1:(\d+)/", server.wait_for_output("HTTP APIs"))
    assert m, server.output
    return int(m.group(1))


def signed_head(server: CumuloServer, method: str, path: str, body: bytes, headers: dict[str, str] | None = None,
                key_id: str | None = None, at: datetime | None = None, length: int | None = None) -> bytes:
    """The head of ``method path`` signed by botocore over ``body`` (sent or not, by the caller)."""
    request = AWSRequest(method=method, url=f"{server.endpoint}{path}", data=body, headers=headers or {})
    credentials = Credentials(key_id or server.key_id, server.secret)
    with mock.patch("botocore.auth.get_current_datetime",
                    return_value=(at or datetime.now(timezone.utc)).replace(tzinfo=None)):
        SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port_of(server)}",
             *(f"{k}: {v}" for k, v in request.headers.items()),
             *([f"Content-Length: {len(body) if length is None else length}"] if length != -1 else
               ["Transfer-Encoding: chunked"])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one answer (status, lower-cased headers, body) from ``sock``."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {raw!r}"
        raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock: socket.socket, timeout: float = 10.0) -> bool:
    """Whether the server ends the connection (EOF or reset) within ``timeout``, what it still sends discarded."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def aws_error(status: int, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
    doc = json.loads(body)
    return status, headers.get("x-amzn-errortype") or doc["__type"].split("#")[-1], doc["message"]


# -- the body is never read for a client the head already refuses ------------------------------

@pytest.mark.parametrize("case, expected", [
    ("no signature", ("MissingAuthenticationTokenException", "Missing Authentication Token")),
    ("unknown key", ("UnrecognizedClientException", "The security token included in the request is invalid.")),
    ("signed 20 minutes ago", ("InvalidSignatureException", "Signature expired: ")),
    ("unsigned x-amz header", ("InvalidSignatureException", "were not signed: x-amz-log-type.")),
    ("expects 100-continue", ("UnrecognizedClientException", "The security token included")),
])
def test_a_request_with_a_bad_key_or_date_is_refused_before_its_body_is_sent(guarded: CumuloServer, case: str,
                                                                              expected: tuple[str, str]) -> None:
    path = "/2015-03-31/functions"
    body_size = 60 * 1024 * 1024          # declared, never sent
    if case == "no signature":
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {body_size}\r\n\r\n".encode()
    else:
        key = "AKIAUNKNOWNUNKNOWN22" if case in ("unknown key", "expects 100-continue") else None
        at = datetime.now(timezone.utc) - timedelta(minutes=20) if "20 minutes" in case else None
        head = signed_head(guarded, "POST", path, b"{}", key_id=key, at=at, length=body_size)
        if case == "unsigned x-amz header":
            head = head.replace(b"\r\n\r\n", b"\r\nX-Amz-Log-Type: Tail\r\n\r\n")
        if case == "expects 100-continue":
            head = head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    with connect(port_of(guarded)) as sock:
        sock.sendall(head)
        status, headers, body = answer(sock)
        assert b"100 Continue" not in body
        code, message = aws_error(status, headers, body)[1:]
        assert (status, code) == (403, expected[0]) and expected[1] in message, message
        assert headers["connection"] == "close" and headers["x-amzn-requestid"]
        assert closed_by_server(sock)


def test_a_bad_key_in_the_json_protocols_gets_their_error_shape(guarded: CumuloServer) -> None:
    head = signed_head(guarded, "POST", "/", b"{}", key_id="AKIAUNKNOWNUNKNOWN22", length=10 * 1024 * 1024,
                       headers={"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"})
    with connect(port_of(guarded)) as sock:
        sock.sendall(head)
        status, headers, body = answer(sock)
    assert status == 403 and json.loads(body)["__type"] == "com.amazonaws.sqs#UnrecognizedClientException"


def _rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def test_unauthenticated_clients_pushing_bodies_do_not_grow_the_server(guarded: CumuloServer, lam: BaseClient) -> None:
    size = 48 * 1024 * 1024
    head = signed_head(guarded, "POST", "/2015-03-31/functions", b"{}", key_id="AKIAUNKNOWNUNKNOWN22", length=size)
    before, peak = _rss_kb(guarded.proc.pid), 0
    refused: list[int] = []

    def push() -> None:
        with connect(port_of(guarded)) as sock:
            sock.sendall(head)
            chunk = b"z" * (1024 * 1024)
            try:
                for _ in range(size // len(chunk)):    # the server reads and discards: no reset while it lingers
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            refused.append(answer(sock)[0])

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_kb(guarded.proc.pid))
        time.sleep(0.01)
    assert refused == [403] * 4
    assert peak - before < 24 * 1024, f"the server grew by {(peak - before) // 1024} MB for 192 MB it never needed"
    assert "Functions" in lam.list_functions()


# -- sizes: AWS's errors, before or while the body arrives --------------------------------------

def test_an_invoke_declared_over_6_mb_is_refused_before_its_body(guarded: CumuloServer, fn: str) -> None:
    path = f"/2015-03-31/functions/{fn}/invocations"
    with connect(port_of(guarded)) as sock:
        sock.sendall(signed_head(guarded, "POST", path, b"{}", length=6 * 1024 * 1024 + 1))
        assert aws_error(*answer(sock)) == (413, "RequestEntityTooLargeException", "Request must be smaller than "
                                            "6291456 bytes for the InvokeFunction operation")
    with connect(port_of(guarded)) as sock:
        sock.sendall(signed_head(guarded, "POST", path, b"{}", headers={"X-Amz-Invocation-Type": "Event"},
                                 length=300_000))
        assert aws_error(*answer(sock)) == (413, "RequestEntityTooLargeException", "300000 byte payload is too large "
                                            "for the Event invocation type (limit 262144 bytes)")


def test_a_chunked_invoke_is_refused_once_its_chunks_pass_6_mb(guarded: CumuloServer, fn: str, lam: BaseClient) -> None:
    body = b'"' + b"x" * (8 * 1024 * 1024) + b'"'
    piece = 256 * 1024
    with connect(port_of(guarded)) as sock:
        sock.sendall(signed_head(guarded, "POST", f"/2015-03-31/functions/{fn}/invocations", body, length=-1))
        sent, got = 0, None
        for start in range(0, len(body), piece):
            part = body[start:start + piece]
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(part)
            sock.settimeout(0.05)
            try:
                got = sock.recv(65536, socket.MSG_PEEK)
            except TimeoutError:
                pass
            sock.settimeout(10)
            if got:
                break
        assert aws_error(*answer(sock))[:2] == (413, "RequestEntityTooLargeException")
    assert 6 * 1024 * 1024 < sent <= 6 * 1024 * 1024 + 2 * piece, sent
    assert invoke(lam, fn, {"after": 1})[1]["event"] == {"after": 1}


def test_bodies_arriving_at_once_share_a_budget_and_over_it_is_503(guarded: CumuloServer) -> None:
    big = b"x" * (10 * 1024 * 1024)                  # the budget is 12 MB
    with connect(port_of(guarded)) as first, connect(port_of(guarded)) as second:
        first.sendall(signed_head(guarded, "POST", "/2015-03-31/functions", big))
        first.sendall(big[:9 * 1024 * 1024])
        time.sleep(0.2)
        second.sendall(signed_head(guarded, "POST", "/2015-03-31/functions", big[:5 * 1024 * 1024]))
        status, code, message = aws_error(*answer(second))
        assert (status, code) == (503, "ServiceUnavailableException") and "try again" in message
        first.sendall(big[9 * 1024 * 1024:])
        status, code, _ = aws_error(*answer(first))     # read whole: an operation's own answer
        assert status == 400 and code == "InvalidRequestContentException"


# -- heads: size, count, and a header that never ends -------------------------------------------

def test_too_many_or_too_large_headers_get_431(guarded: CumuloServer) -> None:
    many = "".join(f"X-H{i}: v\r\n" for i in range(101))
    for head in (f"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n{many}\r\n",
                 f"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 70_000}\r\n\r\n"):
        with connect(port_of(guarded)) as sock:
            sock.sendall(head.encode())
            status, code, _ = aws_error(*answer(sock))
        assert (status, code) == (431, "BadRequestException")


def test_a_header_that_never_ends_is_refused_once_past_the_limit(guarded: CumuloServer, lam: BaseClient) -> None:
    with connect(port_of(guarded)) as sock:
        sock.sendall(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        try:
            while sent < 10 * 1024 * 1024:
                sock.sendall(b"a" * 1024)
                sent += 1024
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, code, _ = aws_error(*answer(sock))
    assert (status, code) == (431, "BadRequestException")
    assert "Functions" in lam.list_functions()


# -- slow clients: timed out, the server serving others all along -------------------------------

def _dribble(port: int, head: bytes, piece: bytes, every_s: float, results: list[tuple[float, bytes]]) -> None:
    """Send ``head``, then ``piece`` every ``every_s`` until the server answers or closes."""
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(head)
        got = b""
        while not got and time.monotonic() - started < 10:
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.settimeout(every_s)
            try:
                got = sock.recv(65536)
            except TimeoutError:
                pass
        sock.settimeout(5)
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        results.append((time.monotonic() - started, got))


def test_slow_heads_and_bodies_are_closed_while_everyone_else_is_served(guarded: CumuloServer, lam: BaseClient,
                                                                         fn: str) -> None:
    results: list[tuple[float, bytes]] = []
    body_head = signed_head(guarded, "POST", f"/2015-03-31/functions/{fn}/invocations", b"{}", length=100_000)
    attackers = [threading.Thread(target=_dribble, args=(port_of(guarded), b"GET / HTTP/1.1\r\nHost: x\r\n",
                                                         b"X-A: b\r\n", 0.1, results)) for _ in range(6)]
    attackers += [threading.Thread(target=_dribble, args=(port_of(guarded), body_head, b"{" * 100, 0.1, results))
                  for _ in range(3)]
    attackers.append(threading.Thread(target=_dribble, args=(gateway_port_of(guarded), b"GET /x HTTP/1.1\r\n",
                                                             b"X-A: b\r\n", 0.1, results)))
    for t in attackers:
        t.start()
    served = []
    while any(t.is_alive() for t in attackers):
        started = time.monotonic()
        assert invoke(lam, fn, {"during": True})[1]["event"] == {"during": True}
        served.append(time.monotonic() - started)
        time.sleep(0.05)
    assert len(results) == 10 and len(served) >= 5 and max(served) < 1.0, served
    for elapsed, got in results:
        assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"connection: close" in got, got
        assert 0.8 < elapsed < 3.5, elapsed
    docs = [(b"x-amzn-errortype: RequestTimeoutException" in got, json.loads(got.split(b"\r\n\r\n", 1)[1]))
            for _, got in results]
    messages = sorted(doc["message"] for control, doc in docs if control)
    assert messages == ["The request's body arrived slower than 20000 bytes/s over 1 s"] * 3 + \
        ["The request's head did not arrive within 1 s"] * 6
    assert [doc for control, doc in docs if not control] == [{"message": "Request Timeout"}]   # the gateway's shape
    assert invoke(lam, fn, {"after": True})[1]["event"] == {"after": True}


def test_connections_over_the_cap_are_refused_at_once_and_served_again_once_others_go(
        guarded: CumuloServer, lam: BaseClient) -> None:
    late = guarded.client()                  # made before: its first connection comes at the cap
    for port in (port_of(guarded), gateway_port_of(guarded)):
        attackers = []
        try:
            for _ in range(24):              # the cap is 16; each sits in an unfinished head (not idle)
                sock = connect(port)
                sock.sendall(b"GET /never-finished HTTP/1.1\r\n")
                attackers.append(sock)
            time.sleep(0.2)                  # answers come at once; the held ones time out only after 1 s
            readable, _, _ = select.select(attackers, [], [], 0)
            refusals = [sock.recv(65536) for sock in readable]
            assert len(refusals) >= 8 and all(r.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
                                              for r in refusals), refusals
            if port == port_of(guarded):
                assert all(b"x-amzn-errortype: ServiceUnavailableException" in r for r in refusals)
                with pytest.raises(ClientError) as info:
                    late.list_functions()
                assert error_of(info) == ("ServiceUnavailableException", 503)
        finally:
            for sock in attackers:
                sock.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            assert "Functions" in late.list_functions()
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    late.close()


def test_at_the_cap_idle_connections_make_room_for_new_clients(guarded: CumuloServer, lam: BaseClient) -> None:
    idle = [connect(port_of(guarded)) for _ in range(24)]      # open, and never a byte
    try:
        client = guarded.client()
        for _ in range(3):
            assert "Functions" in client.list_functions()
            client.close()
            client = guarded.client()                          # a new connection each time
        client.close()
        closed = sum(1 for sock in idle if closed_by_server(sock, 0.05))
        assert closed >= 8 + 1           # each of the 8 over the cap took an idle one's place, the first client too
    finally:
        for sock in idle:
            sock.close()


# -- what a signature must cover, as real clients meet it ---------------------------------------

def test_an_x_amz_header_added_after_boto3_signed_is_refused(guarded: CumuloServer, fn: str) -> None:
    lam = guarded.client()
    sqs = guarded.aws("sqs")
    try:
        def add(name: str, value: str) -> Any:
            def hook(request: Any, **_: Any) -> None:
                request.headers[name] = value      # after signing: not among SignedHeaders
            return hook

        lam.meta.events.register("before-send.lambda.Invoke", add("X-Amz-Invocation-Type", "Event"))
        with pytest.raises(ClientError) as info:
            lam.invoke(FunctionName=fn, Payload=b"{}")
        assert error_of(info) == ("InvalidSignatureException", 403)
        assert "not signed: x-amz-invocation-type." in info.value.response["Error"]["Message"]
        sqs.meta.events.register("before-send.sqs.ListQueues", add("X-Amz-Extra", "1"))
        with pytest.raises(ClientError) as info:
            sqs.list_queues()
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert "not signed: x-amz-extra." in info.value.response["Error"]["Message"]
    finally:
        lam.close()
        sqs.close()
