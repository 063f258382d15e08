"""Runtime API runtimes behind `cumulo up`: boto3's Invoke and GetFunction, and the gateway's warm path."""

from __future__ import annotations

import io
import json
import shutil
import textwrap
import zipfile
from typing import Any, Iterator

import pytest
from botocore.client import BaseClient

from test_gateway import Gateway
from test_server import ROLE, CumuloServer, invoke, unique

from tests.integration import envid

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="[node] Node.js is not installed")

NODE_APP = """
exports.handler = async (event, context) => {
  if (event.rawPath && event.rawPath.endsWith('/sleep')) await new Promise((r) => setTimeout(r, 5000));
  console.log('node saw', context.awsRequestId);
  const body = { env: ENVID, fn: context.functionName, path: event.rawPath || null, event };
  return event.rawPath ? { statusCode: 200, body: JSON.stringify(body) } : body;
};
""".replace("ENVID", envid.NODE)
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Node:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: index.handler
      Runtime: nodejs20.x
      Timeout: 1
      Events:
        Any: {Type: HttpApi, Properties: {Path: "/{proxy+}", Method: GET}}
"""


def _zip(files: dict[str, tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, textwrap.dedent(text).lstrip("\n"))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    tmp = tmp_path_factory.mktemp("rapi-up")
    (tmp / "app" / "fn").mkdir(parents=True)
    (tmp / "app" / "fn" / "index.js").write_text(NODE_APP)
    (tmp / "app" / "template.yaml").write_text(TEMPLATE)
    server = CumuloServer(tmp / "home", str(tmp / "app" / "template.yaml"))
    try:
        server.wait_for_output("Stop with Ctrl-C")
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def lam(up: CumuloServer) -> Iterator[BaseClient]:
    client = up.client()
    yield client
    client.close()


def _create(lam: BaseClient, runtime: str, handler: str, files: dict[str, tuple[str, int]]) -> str:
    name = unique(runtime.split(".")[0])
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Timeout=5,
                        Code={"ZipFile": _zip(files)})
    return name


def test_boto3_invokes_a_nodejs_function_and_reads_its_runtime_version(lam: BaseClient) -> None:
    name = _create(lam, "nodejs20.x", "index.handler", {"index.js": (NODE_APP, 0o644)})
    resp, body = invoke(lam, name, {"k": "v"}, LogType="Tail")
    assert "FunctionError" not in resp and body["event"] == {"k": "v"} and body["fn"] == name
    import base64

    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "\tINFO\tnode saw " in tail and "Init Duration" in tail
    config = lam.get_function(FunctionName=name)["Configuration"]
    assert config["Runtime"] == "nodejs20.x"
    assert config["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:")


def test_boto3_invokes_a_custom_runtime_from_a_zip_with_an_executable_bootstrap(lam: BaseClient) -> None:
    bootstrap = """
        #!/bin/sh
        API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
        while true; do
          H="$(mktemp)"
          E="$(curl -sS -D "$H" "$API/invocation/next")"
          ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$H" | tr -d '[:space:]' | cut -d: -f2)"
          curl -sS -o /dev/null "$API/invocation/$ID/error" -H "Lambda-Runtime-Function-Error-Type: Shell.Error" \
            -d "{\\"errorType\\": \\"Shell.Error\\", \\"errorMessage\\": \\"from sh\\", \\"event\\": $E}"
        done
    """
    name = _create(lam, "provided.al2023", "x", {"bootstrap": (bootstrap, 0o755)})
    resp, body = invoke(lam, name, {"n": 1})
    assert resp["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Shell.Error", "errorMessage": "from sh", "event": {"n": 1}}


def test_gateway_serves_a_nodejs_function_warm_and_kills_it_at_its_timeout(up: CumuloServer) -> None:
    gw = Gateway(up)
    url = gw.routes[("ServerlessHttpApi", "GET /{proxy+}")]

    def get(tail: str) -> tuple[int, Any]:
        status, _, body = gw.request("GET", url.replace("{proxy+}", tail))
        return status, json.loads(body)

    status, first = get("hello")
    assert status == 200 and first["path"].endswith("/hello")
    assert [get("again")[1]["env"] for _ in range(3)] == [first["env"]] * 3
    assert get("sleep") == (500, {"message": "Internal Server Error"})
    assert get("after")[1]["env"] != first["env"]
