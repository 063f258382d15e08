"""Large payloads on an environment whichever driver used it last (issue 17, item 7).

A warm environment serves small requests from the server's event loop (``invoke_on_loop``) and
large ones (over ``LOOP_PAYLOAD_MAX``) from a worker thread. The loop left the environment's
channel non-blocking (uvloop sets ``O_NONBLOCK`` on every descriptor it watches), and a worker's
blocking ``sendall`` of a large request frame then failed with ``EAGAIN``: the environment was
thrown away as ``Runtime.ExitError "exit status unknown"`` (Invoke) or the request answered 500
(gateway), for half of the requests when small and large ones alternated.

A real ``cumulo up`` with one Python echo function behind an HTTP API: small and 1–6 MB requests
and responses alternate, through the gateway and through boto3's Invoke, and every answer must be
exact and come from the same environment (its own id and a count of the invocations it served).
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from test_gateway import Gateway, _serve
from test_server import CumuloServer

MB = 1024 * 1024
LIMIT = 6 * MB          # a synchronous invocation's request and response (limits.SYNC_PAYLOAD_MAX)

APP = """
import json, uuid

SEEN = {"id": None, "count": 0}   # per process: set at the first invocation (a template's forks share Init)

def _served():
    if SEEN["id"] is None:
        SEEN["id"] = uuid.uuid4().hex
    SEEN["count"] += 1
    return SEEN["id"], SEEN["count"]

def handler(event, context):
    env_id, count = _served()
    if "rawPath" in event:            # the HTTP API: echo the body, or answer `size` bytes
        size = int((event.get("queryStringParameters") or {}).get("size", -1))
        body = event.get("body") or ""
        return {"statusCode": 200, "body": body if size < 0 else _pattern(size),
                "headers": {"content-type": "text/plain", "x-env": env_id, "x-count": str(count)}}
    size = event.get("size", -1)
    return {"env": env_id, "count": count, "data": event["data"] if size < 0 else _pattern(size)}

def _pattern(n):
    unit = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return (unit * (n // len(unit) + 1))[:n]
"""
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: large-echo
      CodeUri: echo/
      Handler: app.handler
      Runtime: python3.11
      MemorySize: 1024
      Timeout: 30
      Events:
        Api:
          Type: HttpApi
          Properties:
            Path: /echo
            Method: POST
"""


def _pattern(n: int) -> str:
    unit = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return (unit * (n // len(unit) + 1))[:n]


def _data(n: int, seed: int) -> str:
    """``n`` characters that differ from one request to the next (a corrupted or mixed-up frame shows)."""
    block = base64.b64encode(hashlib.sha512(seed.to_bytes(8, "big")).digest() * 48).decode()   # 4,096 chars
    return (block * (n // len(block) + 1))[:n]


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("large")
    (tmp / "app" / "echo").mkdir(parents=True)
    (tmp / "app" / "echo" / "app.py").write_text(textwrap.dedent(APP))
    (tmp / "app" / "template.yaml").write_text(TEMPLATE)
    yield from _serve(tmp, tmp / "app" / "template.yaml")


class SameEnvironment:
    """Every answer comes from one environment, which served each request exactly once."""

    def __init__(self) -> None:
        self.env: str | None = None
        self.count = 0

    def check(self, env: str, count: int, what: str) -> None:
        if self.env is None:
            self.env, self.count = env, count
            return
        assert (env, count) == (self.env, self.count + 1), \
            f"{what}: answered by environment {env} (its invocation {count}), expected {self.env} ({self.count + 1})"
        self.count = count


# (request bytes, response bytes or None for an echo); each large one follows a small one.
GATEWAY_SIZES = [1 * MB, 200 * 1024, 5 * MB, 300 * 1024, 3 * MB, int(2.5 * MB), 4 * MB + 12345, MB + 1]
INVOKE_SIZES = [MB, 300 * 1024, LIMIT - 256, 2 * MB, 3 * MB + 7, 200 * 1024, 5 * MB, int(4.5 * MB)]


def test_gateway_alternates_small_and_large_bodies_on_one_environment(echo: Gateway) -> None:
    path = echo.routes[("ServerlessHttpApi", "POST /echo")]
    same = SameEnvironment()

    def call(body: bytes, size: int | None, what: str) -> None:
        url = path if size is None else f"{path}?size={size}"
        status, headers, answer = echo.request("POST", url, body, {"Content-Type": "text/plain"})
        assert status == 200, f"{what}: {status} {answer[:300]!r}"
        expected = body if size is None else _pattern(size).encode()
        assert len(answer) == len(expected) and answer == expected, f"{what}: a different body"
        same.check(headers["x-env"][0], int(headers["x-count"][0]), what)

    for i in range(24):
        big = GATEWAY_SIZES[i % len(GATEWAY_SIZES)]
        call(b"small %d" % i, None, f"small request {i}")                           # on the event loop
        call(_data(big, i).encode(), None, f"{big}-byte request {i}")                # on a worker thread
        call(b"", big, f"small request {i} for {big} bytes")                         # large answer, on the loop
        call(_data(big // 2, 1000 + i).encode(), big, f"{big // 2}-byte request {i} for {big} bytes")


def test_invoke_alternates_small_and_large_payloads_on_one_environment(echo: Gateway) -> None:
    client = echo.server.client()
    same = SameEnvironment()

    def call(payload: dict, what: str) -> None:
        raw = json.dumps(payload).encode()
        assert len(raw) <= LIMIT
        reply = client.invoke(FunctionName="large-echo", Payload=raw)
        body = reply["Payload"].read()
        assert reply["StatusCode"] == 200 and "FunctionError" not in reply, f"{what}: {body[:300]!r}"
        doc = json.loads(body)
        expected = payload["data"] if payload.get("size", -1) < 0 else _pattern(payload["size"])
        assert len(doc["data"]) == len(expected) and doc["data"] == expected, f"{what}: a different payload"
        same.check(doc["env"], doc["count"], what)

    for i in range(24):
        big = INVOKE_SIZES[i % len(INVOKE_SIZES)]
        call({"data": f"small {i}"}, f"small payload {i}")                                    # on the event loop
        call({"data": _data(big, i)}, f"{big}-byte payload {i}")                              # on a worker thread
        call({"data": "", "size": big}, f"small payload {i} for {big} bytes")                 # large answer, on the loop
        call({"data": _data(big // 3, 1000 + i), "size": big}, f"{big // 3}-byte payload {i} for {big} bytes")
