"""What a newcomer reads back in the first hour (issue 16), through a real `cumulo up`: boto3 against
its Lambda API, real HTTP against its gateway, `cumulo logs` against its store.

- GetFunction/GetFunctionConfiguration's SnapStart never contradicts itself (it said
  ``ApplyOn: None`` with ``OptimizationStatus: On`` for Cumulo's default).
- A route a REST API (SAM ``Api`` events) does not have answers as API Gateway's REST APIs do,
  403 ``Missing Authentication Token``; HTTP APIs keep 404 ``Not Found``.
- After an Init failure REPORT measures memory (it printed the memory size) and the stored lines
  are stamped in AWS's order (the ``[ERROR]`` line was stamped before ``INIT_START``).
- ``Architectures: [arm64]`` is kept and reported back (it was reported as x86_64), with one
  warning that the function runs on the host's architecture; anything else is refused as AWS does.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from cumulo.runtime.catalog import host_architecture
from test_gateway import API_LINE, Gateway
from test_server import CumuloServer, create, error_of, unique, zip_of

OTHER_ARCH = "arm64" if host_architecture() != "arm64" else "x86_64"
TEMPLATE = f"""
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      Runtime: python3.11
      Architectures: [{OTHER_ARCH}]
      Events:
        Rest:
          Type: Api
          Properties: {{Path: /hello, Method: get}}
        Http:
          Type: HttpApi
          Properties: {{Path: /hello, Method: get}}
"""
HELLO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"message": "hello world"})}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    tmp = tmp_path_factory.mktemp("newcomer")
    (tmp / "app" / "hello").mkdir(parents=True)
    (tmp / "app" / "hello" / "app.py").write_text(textwrap.dedent(HELLO))
    (tmp / "app" / "template.yaml").write_text(TEMPLATE)
    srv = CumuloServer(tmp / "home", str(tmp / "app" / "template.yaml"))
    try:
        srv.wait_for_output("Stop with Ctrl-C")
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def lam(server: CumuloServer) -> BaseClient:
    return server.client()


# -- 1. SnapStart ---------------------------------------------------------------------------------

def _consistent(snap: dict[str, str]) -> bool:
    """AWS's shape: OptimizationStatus On only where ApplyOn is PublishedVersions."""
    return (snap["ApplyOn"] in ("PublishedVersions", "None") and snap["OptimizationStatus"] in ("On", "Off")
            and (snap["OptimizationStatus"] == "Off" or snap["ApplyOn"] == "PublishedVersions"))


def test_snapstart_of_the_default_does_not_contradict_itself(lam: BaseClient) -> None:
    name = unique("snap")
    created = create(lam, name)
    version = lam.publish_version(FunctionName=name)["Version"]
    seen = [created["SnapStart"], lam.get_function_configuration(FunctionName=name)["SnapStart"],
            lam.get_function(FunctionName=name)["Configuration"]["SnapStart"],
            lam.get_function_configuration(FunctionName=name, Qualifier=version)["SnapStart"],
            lam.get_function(FunctionName=name, Qualifier=version)["Configuration"]["SnapStart"]]
    assert seen == [{"ApplyOn": "None", "OptimizationStatus": "Off"}] * 5   # as AWS reports ApplyOn None
    explicit = unique("snap")
    create(lam, explicit, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=explicit)["Version"]
    latest = lam.get_function_configuration(FunctionName=explicit)["SnapStart"]
    published = lam.get_function_configuration(FunctionName=explicit, Qualifier=version)["SnapStart"]
    assert (latest["OptimizationStatus"], published["OptimizationStatus"]) == ("Off", "On")
    assert all(_consistent(s) for s in [*seen, latest, published])


# -- 2. missing routes ----------------------------------------------------------------------------

def test_a_missing_route_on_a_rest_api_is_missing_authentication_token(server: CumuloServer) -> None:
    gw = Gateway(server)
    rest = gw.routes[("ServerlessRestApi", "GET /hello")]          # /<api-id>/Prod/hello
    http = gw.routes[("ServerlessHttpApi", "GET /hello")]          # /<api-id>/hello
    assert gw.request("GET", rest)[0] == 200 and gw.request("GET", http)[0] == 200
    rest_api = rest.split("/")[1]
    for method, path in [("GET", rest.replace("/hello", "/nope")),   # no such path
                         ("POST", rest),                              # no such method
                         ("GET", f"/{rest_api}/hello")]:              # no stage
        status, headers, body = gw.request(method, path)
        assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"}), (method, path)
        assert headers["x-amzn-errortype"] == ["MissingAuthenticationTokenException"]
    for method, path in [("GET", http.replace("/hello", "/nope")), ("POST", http)]:
        status, headers, body = gw.request(method, path)
        assert (status, json.loads(body)) == (404, {"message": "Not Found"}), (method, path)
        assert "x-amzn-errortype" not in headers


# -- 3. Init failure: REPORT and the order of the lines ------------------------------------------

def _tail(resp: dict) -> list[str]:
    return base64.b64decode(resp["LogResult"]).decode().splitlines()


def _max_memory_used(lines: list[str]) -> int:
    report = next(line for line in lines if line.startswith("REPORT "))
    return int(re.search(r"Max Memory Used: (\d+) MB", report).group(1))


def _stored(server: CumuloServer, name: str, request_id: str) -> list[tuple[datetime, str]]:
    """`cumulo logs NAME --request-id ID`'s lines (timestamp, text), once REPORT is stored."""
    deadline = time.monotonic() + 10
    while True:
        out = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "logs", name,
                              "--since", "10m"], capture_output=True, text=True, timeout=60, check=True).stdout
        lines = [(datetime.fromisoformat(line[:23]), line[25:]) for line in out.splitlines() if line[:4].isdigit()]
        if any(text.startswith(f"REPORT RequestId: {request_id}") for _, text in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_init_failure_reports_measured_memory_in_aws_order(lam: BaseClient, server: CumuloServer) -> None:
    small, big = unique("initfail"), unique("initfail")
    create(lam, small, zip_of(**{"app.py": "import no_such_module\ndef handler(e, c):\n    return 1\n"}),
           MemorySize=512)
    create(lam, big, zip_of(**{"app.py": "hold = bytearray(150 * 1024 * 1024)\nimport no_such_module\n"
                                         "def handler(e, c):\n    return 1\n"}), MemorySize=512)
    for name, low, high in [(small, 1, 100), (big, 150, 511)]:
        resp = lam.invoke(FunctionName=name, LogType="Tail")
        doc = json.loads(resp["Payload"].read())
        assert doc["errorType"] == "Runtime.ImportModuleError" and resp["FunctionError"] == "Unhandled"
        lines = _tail(resp)
        kinds = [line.split(" ", 1)[0] for line in lines]
        assert kinds == ["INIT_START", "[ERROR]", "INIT_REPORT", "START", "END", "REPORT"], lines
        assert low <= _max_memory_used(lines) <= high, lines           # measured, not the memory size
        request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        stored = _stored(server, name, request_id)
        texts = [text.split(" ", 1)[0] for _, text in stored]
        assert texts == kinds, stored
        stamps = [ts for ts, _ in stored]
        assert stamps == sorted(stamps), stored                         # INIT_START no later than the error


# -- 4. Architectures -----------------------------------------------------------------------------

def test_architectures_are_kept_warned_once_and_validated(lam: BaseClient, server: CumuloServer) -> None:
    name = unique("arch")
    assert create(lam, name, Architectures=[OTHER_ARCH])["Architectures"] == [OTHER_ARCH]
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == [OTHER_ARCH]
    assert lam.get_function(FunctionName=name)["Configuration"]["Architectures"] == [OTHER_ARCH]
    code = zip_of(**{"app.py": "def handler(e, c):\n    return 2\n"})
    assert lam.update_function_code(FunctionName=name, ZipFile=code, Architectures=[OTHER_ARCH])["Architectures"] \
        == [OTHER_ARCH]
    version = lam.publish_version(FunctionName=name)["Version"]
    assert lam.get_function_configuration(FunctionName=name, Qualifier=version)["Architectures"] == [OTHER_ARCH]
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == 2     # it runs, on the host's
    warning = f"function {name}: Architectures [{OTHER_ARCH}] is kept in its configuration, but it runs on " \
              f"this host's architecture ({host_architecture()})"
    output = server.wait_for_output(warning)
    assert output.count(warning) == 1, output                         # once, not per request
    changed = lam.update_function_code(FunctionName=name, ZipFile=code, Architectures=[host_architecture()])
    assert changed["Architectures"] == [host_architecture()]
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == [host_architecture()]
    assert create(lam, unique("arch"))["Architectures"] == ["x86_64"]   # AWS's default
    unchecked = server.client(parameter_validation=False)   # boto3 itself refuses an empty list
    for bad in (["x86_64", "arm64"], ["sparc"], ["arm64", "arm64"], []):
        with pytest.raises(ClientError) as err:
            create(unchecked, unique("arch"), Architectures=bad)
        assert error_of(err) == ("ValidationException", 400), bad


def test_sam_architectures_are_kept_with_a_deploy_warning(lam: BaseClient, server: CumuloServer) -> None:
    config = lam.get_function_configuration(FunctionName=_deployed_hello(server))
    assert config["Architectures"] == [OTHER_ARCH]
    if OTHER_ARCH != host_architecture():
        note = (f"Architectures: {OTHER_ARCH} requested and kept in the configuration; Cumulo runs functions on "
                f"its host's architecture ({host_architecture()})")
        assert server.output.count(note) == 1, server.output


def _deployed_hello(server: CumuloServer) -> str:
    return next(fn for logical, _, _, fn, _ in API_LINE.findall(server.output) if logical == "ServerlessRestApi")
