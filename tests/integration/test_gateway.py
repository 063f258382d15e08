"""The HTTP API gateway, end to end: real server, real HTTP, real frameworks as functions."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Iterator

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel, APIGatewayProxyEventV2Model

from test_server import CumuloServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GATEWAY = re.compile(r"HTTP APIs\s+(http://\S+?)/<api-id>")
API_LINE = re.compile(r"api (\w+) \((\w+)\): (\S+ \S+|\$default) -> (\S+) at http://[^/\s]+(\S+)")

ECHO = """
import json, time
def handler(event, context):
    if event.get("rawPath", event.get("path", "")).endswith("/boom"):
        raise ValueError("boom")
    if event.get("rawPath", event.get("path", "")).endswith("/slow"):
        time.sleep(3)
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""
ECHO_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 10
      Events:
        V2:
          Type: HttpApi
          Properties:
            Path: /v2/{proxy+}
            Method: ANY
            TimeoutInMillis: 1000
        V1:
          Type: Api
          Properties:
            Path: /v1/{id}
            Method: post
"""


class Gateway:
    def __init__(self, server: CumuloServer) -> None:
        self.server = server
        m = GATEWAY.search(server.output)
        assert m, server.output
        self.host, port = m.group(1).removeprefix("http://").split(":")
        self.port = int(port)
        self.routes = {(r[0], r[2]): r[4] for r in API_LINE.findall(server.output)}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, list[str]], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body, headers or {})
            resp = conn.getresponse()
            found: dict[str, list[str]] = {}
            for k, v in resp.getheaders():
                found.setdefault(k.lower(), []).append(v)
            return resp.status, found, resp.read()
        finally:
            conn.close()


def _serve(tmp_path: Path, template: Path) -> Iterator[Gateway]:
    server = CumuloServer(tmp_path / "home", str(template))
    try:
        server.wait_for_output("Stop with Ctrl-C")   # printed after every deployed line
        yield Gateway(server)
    finally:
        server.close()


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("echo")
    (tmp / "app" / "echo").mkdir(parents=True)
    (tmp / "app" / "echo" / "app.py").write_text(textwrap.dedent(ECHO))
    (tmp / "app" / "template.yaml").write_text(ECHO_TEMPLATE)
    yield from _serve(tmp, tmp / "app" / "template.yaml")


def _prefix(gw: Gateway, logical: str, route_key: str) -> str:
    return gw.routes[(logical, route_key)]


def test_payload_v2_event_validates_against_aws_model(echo: Gateway) -> None:
    path = _prefix(echo, "ServerlessHttpApi", "ANY /v2/{proxy+}").replace("{proxy+}", "a%20b/c")
    status, headers, body = echo.request("POST", path + "?x=1&x=2&y=", b"hello",
                                         {"Cookie": "s=1; t=2", "X-Multi": "a", "User-Agent": "tests"})
    assert status == 200, body
    event = json.loads(body)
    APIGatewayProxyEventV2Model.model_validate(event)
    assert event["version"] == "2.0" and event["routeKey"] == "ANY /v2/{proxy+}"
    assert event["rawPath"].endswith("/v2/a%20b/c") and event["pathParameters"] == {"proxy": "a b/c"}
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["cookies"] == ["s=1", "t=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "a" and event["requestContext"]["http"]["userAgent"] == "tests"
    assert event["body"] == "hello" and event["isBase64Encoded"] is False


def test_payload_v1_event_validates_against_aws_model(echo: Gateway) -> None:
    path = _prefix(echo, "ServerlessRestApi", "POST /v1/{id}").replace("{id}", "42")
    status, _, body = echo.request("POST", path, b'{"k": 1}', {"Content-Type": "application/json"})
    assert status == 200, body
    event = json.loads(body)
    APIGatewayProxyEventModel.model_validate(event)
    assert event["httpMethod"] == "POST" and event["resource"] == "/v1/{id}"
    assert event["pathParameters"] == {"id": "42"} and event["requestContext"]["stage"] == "Prod"


def test_binary_request_bodies_are_base64(echo: Gateway) -> None:
    path = _prefix(echo, "ServerlessHttpApi", "ANY /v2/{proxy+}").replace("{proxy+}", "bin")
    raw = bytes(range(256))
    status, _, body = echo.request("PUT", path, raw, {"Content-Type": "application/octet-stream"})
    event = json.loads(body)
    import base64

    assert status == 200 and event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw


def test_errors_timeouts_and_unknown_routes(echo: Gateway) -> None:
    base = _prefix(echo, "ServerlessHttpApi", "ANY /v2/{proxy+}").replace("{proxy+}", "")
    status, _, body = echo.request("GET", base + "boom")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    status, _, body = echo.request("GET", base + "slow")
    assert status == 504
    status, _, body = echo.request("GET", "/nope/at/all")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    status, _, _ = echo.request("POST", base + "big", b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413


def test_host_header_selects_the_api(echo: Gateway) -> None:
    prefix = _prefix(echo, "ServerlessHttpApi", "ANY /v2/{proxy+}")
    api_id = prefix.split("/")[1]
    status, _, body = echo.request("GET", "/v2/hosted", headers={"Host": f"{api_id}.execute-api.localhost"})
    assert status == 200 and json.loads(body)["rawPath"] == "/v2/hosted"


@pytest.fixture(scope="module")
def fastapi_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("fastapi")
    shutil.copytree(EXAMPLES / "fastapi-mangum", tmp / "fastapi-mangum")
    yield from _serve(tmp, tmp / "fastapi-mangum" / "template.yaml")


def test_fastapi_behind_mangum(fastapi_app: Gateway) -> None:
    base = _prefix(fastapi_app, "ServerlessHttpApi", "$default").removesuffix("/...")
    status, _, body = fastapi_app.request("GET", base + "/hello?name=Ada")
    assert (status, json.loads(body)) == (200, {"message": "Hello, Ada!"})
    status, headers, body = fastapi_app.request("POST", base + "/items/5", b'{"name": "pen", "price": 1.5}',
                                                {"Content-Type": "application/json"})
    assert status == 200 and json.loads(body) == {"id": 5, "name": "pen", "price": 1.5}
    assert any(c.startswith("last_item=5") for c in headers.get("set-cookie", []))
    status, _, body = fastapi_app.request("GET", base + "/items/5", headers={"Cookie": "last_item=5"})
    assert json.loads(body) == {"id": 5, "item": {"name": "pen", "price": 1.5}, "last_item_cookie": "5"}
    status, headers, body = fastapi_app.request("GET", base + "/pixel.png")
    assert status == 200 and headers["content-type"] == ["image/png"] and body.startswith(b"\x89PNG")
    status, _, _ = fastapi_app.request("GET", base + "/items/not-a-number")
    assert status == 422


@pytest.fixture(scope="module")
def powertools_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("powertools")
    shutil.copytree(EXAMPLES / "powertools-http", tmp / "powertools-http")
    yield from _serve(tmp, tmp / "powertools-http" / "template.yaml")


def test_powertools_http_resolver(powertools_app: Gateway) -> None:
    todo = _prefix(powertools_app, "ServerlessHttpApi", "GET /todos/{todo_id}").replace("{todo_id}", "t1")
    status, _, body = powertools_app.request("GET", todo)
    assert (status, json.loads(body)) == (404, {"error": "not found"})
    status, headers, body = powertools_app.request("POST", todo, b'{"title": "write tests"}')
    assert status == 201 and json.loads(body) == {"id": "t1"}
    assert any(c.startswith("last_todo=t1") for c in headers.get("set-cookie", []))
    status, _, body = powertools_app.request("GET", todo + "?verbose=true", headers={"Cookie": "session=abc"})
    assert status == 200
    assert json.loads(body) == {"todo": {"title": "write tests"}, "verbose": True, "session": ["session=abc"]}
    logo = _prefix(powertools_app, "ServerlessHttpApi", "GET /logo.bin")
    status, headers, body = powertools_app.request("GET", logo)
    assert status == 200 and body == bytes(range(256))


def test_sam_init_hello_world_serves_its_api(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "hello-sam", tmp_path / "hello-sam")
    for gw in _serve(tmp_path, tmp_path / "hello-sam" / "template.yaml"):
        path = _prefix(gw, "ServerlessRestApi", "GET /hello")
        status, _, body = gw.request("GET", path)
        assert (status, json.loads(body)) == (200, {"message": "hello world"})


def test_up_with_a_stack_name_prints_outputs_as_local_urls(tmp_path: Path) -> None:
    """`sam init`'s output `https://{api}.execute-api.{region}.amazonaws.com/Prod/hello/` is printed as the
    gateway's URL, by `cumulo up` and by `cumulo deploy` while it runs, and both URLs answer."""
    import subprocess
    import sys

    shutil.copytree(EXAMPLES / "hello-sam", tmp_path / "hello-sam")
    template = tmp_path / "hello-sam" / "template.yaml"
    server = CumuloServer(tmp_path / "home", str(template), "--stack-name", "demo")
    try:
        output = server.wait_for_output("Stop with Ctrl-C")
        gw = Gateway(server)
        assert "  stack       demo (deployed)" in output
        assert "demo-HelloWorldFunction (HelloWorldFunction): create" in output and "hello-sam-" not in output
        assert "amazonaws.com" not in output, output
        url = re.search(r"output HelloWorldApi = (\S+)", output)
        assert url and url.group(1).startswith(f"http://{gw.host}:{gw.port}/") and url.group(1).endswith("/Prod/hello/")
        status, _, body = gw.request("GET", url.group(1).split(f":{gw.port}", 1)[1])
        assert (status, json.loads(body)) == (200, {"message": "hello world"})

        deployed = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "deploy", str(template),
                                   "--stack-name", "other"], capture_output=True, text=True, timeout=120)
        assert deployed.returncode == 0, deployed.stderr
        url = re.search(r"output HelloWorldApi = (\S+)", deployed.stdout)
        assert url and url.group(1).startswith(f"http://{gw.host}:{gw.port}/"), deployed.stdout
        status, _, body = gw.request("GET", url.group(1).split(f":{gw.port}", 1)[1])
        assert (status, json.loads(body)) == (200, {"message": "hello world"})
    finally:
        server.close()


def test_apigatewayv2_client_builds_a_working_api(tmp_path: Path) -> None:
    import subprocess
    import sys

    import boto3
    from botocore.config import Config

    from test_server import create as create_function

    server = CumuloServer(tmp_path / "home")
    try:
        gw = Gateway(server)
        lam = server.client()
        create_function(lam, "web", __import__("test_server").zip_of(**{"app.py": textwrap.dedent(ECHO)}))
        apigw = boto3.client("apigatewayv2", endpoint_url=server.endpoint, region_name="us-east-1",
                             aws_access_key_id=server.key_id, aws_secret_access_key=server.secret,
                             config=Config(retries={"max_attempts": 0}))
        api = apigw.create_api(Name="shop", ProtocolType="HTTP")
        assert api["ApiEndpoint"].endswith("/" + api["ApiId"])
        integration = apigw.create_integration(
            ApiId=api["ApiId"], IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
            IntegrationUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                           "arn:aws:lambda:us-east-1:000000000000:function:web/invocations")
        route = apigw.create_route(ApiId=api["ApiId"], RouteKey="GET /items/{id}",
                                   Target=f"integrations/{integration['IntegrationId']}")
        apigw.create_stage(ApiId=api["ApiId"], StageName="v1", StageVariables={"color": "blue"})
        assert [r["RouteKey"] for r in apigw.get_routes(ApiId=api["ApiId"])["Items"]] == ["GET /items/{id}"]
        assert {s["StageName"] for s in apigw.get_stages(ApiId=api["ApiId"])["Items"]} == {"$default", "v1"}

        status, _, body = gw.request("GET", f"/{api['ApiId']}/v1/items/7?q=x")
        event = json.loads(body)
        assert status == 200 and event["pathParameters"] == {"id": "7"}
        assert event["stageVariables"] == {"color": "blue"} and event["requestContext"]["stage"] == "v1"
        status, _, _ = gw.request("GET", f"/{api['ApiId']}/items/7")
        assert status == 200, "the $default stage serves without a stage prefix"

        logs = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(tmp_path / "home"), "api", "logs",
                               api["ApiId"]], capture_output=True, text=True, timeout=60)
        lines = [json.loads(line) for line in logs.stdout.splitlines()]
        assert any(l["routeKey"] == "GET /items/{id}" and l["status"] == 200 and l["stage"] == "v1"
                   and l["integrationLatency"] is not None for l in lines), logs.stdout + logs.stderr

        apigw.delete_route(ApiId=api["ApiId"], RouteId=route["RouteId"])
        status, _, _ = gw.request("GET", f"/{api['ApiId']}/v1/items/7")
        assert status == 404
        with pytest.raises(apigw.exceptions.NotFoundException):
            apigw.get_api(ApiId="missing123")
        apigw.delete_api(ApiId=api["ApiId"])
        assert apigw.get_apis()["Items"] == []
    finally:
        server.close()


def _raw(gw: Gateway, data: bytes) -> bytes:
    import socket

    with socket.create_connection((gw.host, gw.port), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def _invocations(home: Path, function: str) -> int:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), "logs", function, "--since", "1h"],
                         capture_output=True, text=True, timeout=60).stdout
    return out.count("START RequestId:")


def test_malformed_requests_get_4xx_and_never_reach_the_function(echo: Gateway) -> None:
    import time

    home = echo.server.home
    before = -1
    while before != (now := _invocations(home, "app-Echo")):   # earlier tests' slow calls may still finish
        before = now
        time.sleep(0.5)
    path = _prefix(echo, "ServerlessHttpApi", "ANY /v2/{proxy+}").replace("{proxy+}", "x").encode()
    bad_chunked = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nnope\r\n0\r\n\r\n"
    assert _raw(echo, bad_chunked).split(b" ")[1].startswith(b"4")
    bad_escape = b"GET " + path + b"/%zz HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _raw(echo, bad_escape).split(b" ")[1] == b"400"
    huge = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    assert _raw(echo, huge).split(b" ")[1] == b"431"
    time.sleep(0.3)   # let the server's log writer commit
    assert _invocations(home, "app-Echo") == before
