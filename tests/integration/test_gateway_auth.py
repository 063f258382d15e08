"""Who gets through the gateway: JWT and Lambda authorizers, API keys with usage plans,
throttling under concurrent load, and CORS — on a real `cumulo up`, over real HTTP."""

from __future__ import annotations

import http.server
import json
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import boto3
import pytest
from botocore.config import Config

from test_gateway import Gateway
from test_server import CumuloServer, create as create_function, zip_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "gateway"))
from jwt_keys import AUDIENCE, ISSUER, SigningKey, jwks  # noqa: E402

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json",
            "access-control-allow-origin": "https://from-the-function.example"}, "body": json.dumps(event)}
"""
# Allows x-token "good" (simple), or answers with a policy for /iam/1 only (IAM format).
AUTHORIZER = """
import json
def handler(event, context):
    token = event["identitySource"][0]
    print("AUTHORIZE", token)
    if "/iam/" in event["rawPath"]:
        api_and_stage = "/".join(event["routeArn"].split("/")[:2])
        return {"principalId": "user-" + token, "context": {"tier": "gold"},
                "policyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Action": "execute-api:Invoke", "Effect": "Allow",
                    "Resource": api_and_stage + "/GET/iam/1"}]}}
    if token == "crash":
        raise RuntimeError("authorizer bug")
    return {"isAuthorized": token == "good", "context": {"user": "ada", "token": token}}
"""
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  JwksPath:
    Type: String
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
Resources:
  Secure:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: live
      CorsConfiguration:
        AllowOrigins: [https://app.example.com]
        AllowMethods: [GET, POST]
        AllowHeaders: [authorization, x-token]
        ExposeHeaders: [x-trace]
        MaxAge: 300
      RouteSettings:
        "GET /limited":
          ThrottlingBurstLimit: 3
          ThrottlingRateLimit: 0.001
      Auth:
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: %(issuer)s
              audience: [%(audience)s]
              JwksUri: !Sub "file://${JwksPath}"
          Simple:
            FunctionArn: !GetAtt Authorizer.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [x-token]
              ReauthorizeEvery: 60
          Policy:
            FunctionArn: !GetAtt Authorizer.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            Identity:
              Headers: [x-token]
              ReauthorizeEvery: 60
  Authorizer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: authorizer/
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Events:
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Secure, Path: /open, Method: get}}
        Limited: {Type: HttpApi, Properties: {ApiId: !Ref Secure, Path: /limited, Method: get}}
        Jwt: {Type: HttpApi, Properties: {ApiId: !Ref Secure, Path: /jwt, Method: get, Auth: {Authorizer: Jwt}}}
        Scoped:
          Type: HttpApi
          Properties: {ApiId: !Ref Secure, Path: /scoped, Method: get,
                       Auth: {Authorizer: Jwt, AuthorizationScopes: [admin]}}
        JwtV1:
          Type: HttpApi
          Properties: {ApiId: !Ref Secure, Path: /jwt-v1, Method: get, PayloadFormatVersion: "1.0",
                       Auth: {Authorizer: Jwt}}
        Simple: {Type: HttpApi, Properties: {ApiId: !Ref Secure, Path: /simple, Method: get, Auth: {Authorizer: Simple}}}
        Iam: {Type: HttpApi, Properties: {ApiId: !Ref Secure, Path: "/iam/{id}", Method: get, Auth: {Authorizer: Policy}}}
        Keyed: {Type: Api, Properties: {Path: /keyed, Method: get, Auth: {ApiKeyRequired: true}}}
"""


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, key: SigningKey) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("auth")
    app = tmp / "app"
    for folder, source in (("echo", ECHO), ("authorizer", AUTHORIZER)):
        (app / folder).mkdir(parents=True)
        (app / folder / "app.py").write_text(textwrap.dedent(source))
    (tmp / "jwks.json").write_bytes(jwks(key))
    (app / "template.yaml").write_text(TEMPLATE % {"issuer": ISSUER, "audience": AUDIENCE})
    server_args = ["--parameter", f"JwksPath={tmp / 'jwks.json'}"]
    yield from _serve_with(tmp, app / "template.yaml", server_args)


def _serve_with(tmp: Path, template: Path, args: list[str]) -> Iterator[Gateway]:
    server = CumuloServer(tmp / "home", str(template), *args)
    try:
        server.wait_for_output("Stop with Ctrl-C")   # printed after every deployed line
        yield Gateway(server)
    finally:
        server.close()


def _path(gw: Gateway, route_key: str, logical: str = "Secure") -> str:
    return gw.routes[(logical, route_key)]


def _json(body: bytes) -> dict:
    return json.loads(body)


# -- JWT -----------------------------------------------------------------------------------
def test_jwt_routes_refuse_missing_and_bad_tokens_without_invoking(gw: Gateway, key: SigningKey) -> None:
    path = _path(gw, "GET /jwt")
    status, headers, body = gw.request("GET", path)
    assert (status, _json(body)) == (401, {"message": "Unauthorized"})
    for token in ("garbage", SigningKey().token(), key.token(lifetime=-5), key.token(aud="someone-else"),
                  key.token(iss="https://evil.example.com")):
        status, headers, body = gw.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        assert status == 401, token
        assert 'error="invalid_token"' in headers["www-authenticate"][0]


def test_a_valid_jwt_reaches_the_function_with_its_claims(gw: Gateway, key: SigningKey) -> None:
    token = key.token(email="ada@example.com", groups=["admin", "dev"], scope="read write")
    status, _, body = gw.request("GET", _path(gw, "GET /jwt"), headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    jwt_ctx = _json(body)["requestContext"]["authorizer"]["jwt"]
    assert jwt_ctx["claims"]["email"] == "ada@example.com" and jwt_ctx["claims"]["groups"] == "[admin dev]"
    assert jwt_ctx["scopes"] == ["read", "write"]
    status, _, body = gw.request("GET", _path(gw, "GET /jwt-v1"), headers={"Authorization": token})
    assert status == 200 and _json(body)["requestContext"]["authorizer"]["claims"]["sub"] == "user-1"


def test_route_scopes_need_a_matching_scope(gw: Gateway, key: SigningKey) -> None:
    path = _path(gw, "GET /scoped")
    status, _, body = gw.request("GET", path, headers={"Authorization": f"Bearer {key.token(scope='read')}"})
    assert (status, _json(body)) == (403, {"message": "Forbidden"})
    status, _, _ = gw.request("GET", path, headers={"Authorization": f"Bearer {key.token(scope='read admin')}"})
    assert status == 200


# -- Lambda authorizers ----------------------------------------------------------------------
def _authorizer_calls(gw: Gateway, token: str) -> int:
    """How often the authorizer ran for ``token``, once its first run's lines are in the store (the
    server's log writer commits every 50 ms, later on a busy machine: wait for it, not for a guess)."""
    import subprocess

    deadline = time.monotonic() + 30
    while True:
        out = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(gw.server.home), "logs", "app-Authorizer",
                              "--since", "1h"], capture_output=True, text=True, timeout=60).stdout
        calls = sum(1 for line in out.splitlines() if line.rstrip().endswith(f"AUTHORIZE {token}"))
        if calls or time.monotonic() > deadline:
            return calls
        time.sleep(0.1)


def test_simple_lambda_authorizer_allows_denies_and_caches(gw: Gateway) -> None:
    path = _path(gw, "GET /simple")
    status, _, _ = gw.request("GET", path)
    assert status == 401, "a missing identity source is refused without calling the authorizer"
    status, _, body = gw.request("GET", path, headers={"x-token": "nope"})
    assert (status, _json(body)) == (403, {"message": "Forbidden"})
    for _ in range(3):
        status, _, body = gw.request("GET", path, headers={"x-token": "good"})
        assert status == 200
    assert _json(body)["requestContext"]["authorizer"] == {"lambda": {"user": "ada", "token": "good"}}
    assert _authorizer_calls(gw, "good") == 1, "the verdict is cached for ReauthorizeEvery seconds"
    status, _, body = gw.request("GET", path, headers={"x-token": "crash"})
    assert (status, _json(body)) == (500, {"message": "Internal Server Error"})


def test_iam_policy_authorizer_is_evaluated_per_route_even_from_the_cache(gw: Gateway) -> None:
    one, two = _path(gw, "GET /iam/{id}").replace("{id}", "1"), _path(gw, "GET /iam/{id}").replace("{id}", "2")
    status, _, body = gw.request("GET", one, headers={"x-token": "t1"})
    assert status == 200, body
    assert _json(body)["requestContext"]["authorizer"] == {"lambda": {"tier": "gold"}}
    status, _, _ = gw.request("GET", two, headers={"x-token": "t1"})
    assert status == 403, "the cached policy allows /iam/1 only"
    assert _authorizer_calls(gw, "t1") == 1


# -- throttling --------------------------------------------------------------------------------
def test_route_throttle_holds_exactly_under_concurrent_load(gw: Gateway) -> None:
    path = _path(gw, "GET /limited")
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: gw.request("GET", path), range(12)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 3 + [429] * 9, statuses
    refused = [(h, b) for s, h, b in results if s == 429]
    assert all(_json(b) == {"message": "Too Many Requests"} and int(h["retry-after"][0]) >= 1 for h, b in refused)
    status, _, _ = gw.request("GET", _path(gw, "GET /open"))
    assert status == 200, "other routes have buckets of their own"


# -- CORS ----------------------------------------------------------------------------------------
def test_preflight_is_answered_by_the_gateway_even_on_authorized_routes(gw: Gateway) -> None:
    status, headers, body = gw.request("OPTIONS", _path(gw, "GET /jwt"), headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert status == 204 and body == b""
    assert headers["access-control-allow-origin"] == ["https://app.example.com"]
    assert headers["access-control-allow-methods"] == ["GET,POST"]
    assert headers["access-control-max-age"] == ["300"]
    status, headers, _ = gw.request("OPTIONS", _path(gw, "GET /open"), headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"})
    assert status == 204 and "access-control-allow-origin" not in headers


def test_responses_carry_the_apis_cors_headers_not_the_functions(gw: Gateway) -> None:
    status, headers, _ = gw.request("GET", _path(gw, "GET /open"), headers={"Origin": "https://app.example.com"})
    assert status == 200
    assert headers["access-control-allow-origin"] == ["https://app.example.com"]
    assert headers["access-control-expose-headers"] == ["x-trace"]
    status, headers, _ = gw.request("GET", _path(gw, "GET /jwt"), headers={"Origin": "https://app.example.com"})
    assert status == 401 and headers["access-control-allow-origin"] == ["https://app.example.com"]


# -- API keys and usage plans ----------------------------------------------------------------------
def _apigateway(server: CumuloServer):  # type: ignore[no-untyped-def]
    return boto3.client("apigateway", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=server.key_id, aws_secret_access_key=server.secret,
                        config=Config(retries={"max_attempts": 0}))


def test_api_keys_with_a_usage_plan_quota(gw: Gateway) -> None:
    path = _path(gw, "GET /keyed", "ServerlessRestApi")
    api_id = path.split("/")[1]
    client = _apigateway(gw.server)
    key = client.create_api_key(name="ada", enabled=True)
    disabled = client.create_api_key(name="off")          # AWS creates keys disabled unless told otherwise
    plan = client.create_usage_plan(name="basic", apiStages=[{"apiId": api_id, "stage": "Prod"}],
                                    quota={"limit": 2, "period": "DAY"}, throttle={"rateLimit": 100, "burstLimit": 10})
    client.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    client.create_usage_plan_key(usagePlanId=plan["id"], keyId=disabled["id"], keyType="API_KEY")
    assert gw.request("GET", path)[0] == 403
    assert gw.request("GET", path, headers={"x-api-key": "x" * 40})[0] == 403
    assert gw.request("GET", path, headers={"x-api-key": disabled["value"]})[0] == 403
    results = [gw.request("GET", path, headers={"x-api-key": key["value"]}) for _ in range(3)]
    assert [r[0] for r in results] == [200, 200, 429]
    assert _json(results[2][2]) == {"message": "Limit Exceeded"}
    assert client.get_api_key(apiKey=key["id"], includeValue=True)["value"] == key["value"]
    assert [p["id"] for p in client.get_usage_plans(keyId=key["id"])["items"]] == [plan["id"]]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    deadline = time.monotonic() + 5
    while True:   # usage is written behind, within a second
        usage = client.get_usage(usagePlanId=plan["id"], startDate=today, endDate=today)
        if usage["items"].get(key["id"]) == [[2, 0]] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert usage["items"][key["id"]] == [[2, 0]]
    with pytest.raises(client.exceptions.NotFoundException):
        client.create_usage_plan(name="bad", apiStages=[{"apiId": api_id, "stage": "nope"}])


# -- boto3's apigatewayv2 with OpenID discovery ----------------------------------------------------
class _Issuer(http.server.BaseHTTPRequestHandler):
    keys: bytes = b""
    base: str = ""

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/.well-known/openid-configuration":
            body = json.dumps({"issuer": self.base, "jwks_uri": self.base + "/keys"}).encode()
        elif self.path == "/keys":
            body = self.keys
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_apigatewayv2_jwt_authorizer_discovers_the_issuers_keys(tmp_path: Path) -> None:
    key = SigningKey("disc-1")
    issuer_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Issuer)
    _Issuer.base = f"http://127.0.0.1:{issuer_server.server_address[1]}"
    _Issuer.keys = jwks(key)
    threading.Thread(target=issuer_server.serve_forever, daemon=True).start()
    server = CumuloServer(tmp_path / "home")
    try:
        gw = Gateway(server)
        create_function(server.client(), "web", zip_of(**{"app.py": textwrap.dedent(ECHO)}))
        v2 = boto3.client("apigatewayv2", endpoint_url=server.endpoint, region_name="us-east-1",
                          aws_access_key_id=server.key_id, aws_secret_access_key=server.secret,
                          config=Config(retries={"max_attempts": 0}))
        api = v2.create_api(Name="idp", ProtocolType="HTTP",
                            CorsConfiguration={"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"]})
        assert api["CorsConfiguration"]["AllowOrigins"] == ["https://a.example"]
        integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                            IntegrationUri="web", PayloadFormatVersion="2.0")
        authorizer = v2.create_authorizer(ApiId=api["ApiId"], Name="idp", AuthorizerType="JWT",
                                          IdentitySource=["$request.header.Authorization"],
                                          JwtConfiguration={"Issuer": _Issuer.base, "Audience": [AUDIENCE]})
        route = v2.create_route(ApiId=api["ApiId"], RouteKey="GET /me", Target=f"integrations/{integration['IntegrationId']}",
                                AuthorizationType="JWT", AuthorizerId=authorizer["AuthorizerId"])
        with pytest.raises(v2.exceptions.BadRequestException):
            v2.create_route(ApiId=api["ApiId"], RouteKey="GET /iam", AuthorizationType="AWS_IAM",
                            Target=f"integrations/{integration['IntegrationId']}")
        token = key.token(iss=_Issuer.base)
        status, _, body = gw.request("GET", f"/{api['ApiId']}/me", headers={"Authorization": f"Bearer {token}"})
        assert status == 200, body
        assert status == 200 and json.loads(body)["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "user-1"
        assert gw.request("GET", f"/{api['ApiId']}/me")[0] == 401
        v2.update_route(ApiId=api["ApiId"], RouteId=route["RouteId"], AuthorizationType="NONE", AuthorizerId="")
        assert gw.request("GET", f"/{api['ApiId']}/me")[0] == 200
        v2.update_stage(ApiId=api["ApiId"], StageName="$default",
                        DefaultRouteSettings={"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001})
        assert v2.get_stage(ApiId=api["ApiId"], StageName="$default")["DefaultRouteSettings"][
            "ThrottlingBurstLimit"] == 1
        assert [gw.request("GET", f"/{api['ApiId']}/me")[0] for _ in range(2)] == [200, 429]
    finally:
        server.close()
        issuer_server.shutdown()
        issuer_server.server_close()
