"""The gateway's warm path runs invocations on its event loop: timeouts, crashes and logs there
behave exactly as on the threaded path (a killed environment, a 500, a fresh one next time)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from typing import Iterator

import pytest

from test_gateway import Gateway
from test_server import CumuloServer

from tests.integration import envid

APP = """
import os, time
def handler(event, context):
    path = event["rawPath"]
    if path.endswith("/sleep"):
        time.sleep(5)
    if path.endswith("/exit"):
        os._exit(3)
    print("hello from", context.aws_request_id)
    return {"statusCode": 200, "body": ENVID}
""".replace("ENVID", envid.PYTHON)
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 1
      Events:
        Any: {Type: HttpApi, Properties: {Path: "/{proxy+}", Method: GET}}
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("loop")
    (tmp / "app" / "fn").mkdir(parents=True)
    (tmp / "app" / "fn" / "app.py").write_text(textwrap.dedent(APP))
    (tmp / "app" / "template.yaml").write_text(TEMPLATE)
    server = CumuloServer(tmp / "home", str(tmp / "app" / "template.yaml"))
    try:
        server.wait_for_output("Stop with Ctrl-C")   # printed after every deployed line
        yield Gateway(server)
    finally:
        server.close()


def _url(gw: Gateway, tail: str) -> str:
    return gw.routes[("ServerlessHttpApi", "GET /{proxy+}")].replace("{proxy+}", tail)


def _env(gw: Gateway) -> str:
    """Which environment answered (tests/integration/envid.py)."""
    status, _, body = gw.request("GET", _url(gw, "hello"))
    assert status == 200, body
    return body.decode()


def test_warm_invocations_reuse_the_environment_and_keep_their_logs(gw: Gateway) -> None:
    first = _env(gw)
    assert [_env(gw) for _ in range(5)] == [first] * 5
    deadline = time.monotonic() + 30
    while True:      # the server's log writer commits every 50 ms (later on a busy machine)
        out = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(gw.server.home), "logs", "app-Fn",
                              "--since", "1h"], capture_output=True, text=True, timeout=60).stdout
        starts = [line.split("RequestId: ")[1].split()[0] for line in out.splitlines() if "START RequestId:" in line]
        if len(starts) >= 6 and all(f"hello from {r}" in out for r in starts) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(starts) >= 6
    for request_id in starts:
        assert f"hello from {request_id}" in out, f"the function's output of {request_id} was kept"


def test_a_timeout_on_the_warm_path_kills_the_environment(gw: Gateway) -> None:
    before = _env(gw)
    started = time.monotonic()
    status, _, body = gw.request("GET", _url(gw, "sleep"))
    elapsed = time.monotonic() - started
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert 0.9 < elapsed < 3, "killed at the function's 1 s timeout, not after its 5 s sleep"
    after = _env(gw)
    assert after != before, "a fresh environment replaced the killed one"


def test_a_crash_on_the_warm_path_is_a_500_and_the_next_call_gets_a_fresh_environment(gw: Gateway) -> None:
    before = _env(gw)
    status, _, _ = gw.request("GET", _url(gw, "exit"))
    assert status == 500
    assert _env(gw) != before
