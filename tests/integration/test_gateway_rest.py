"""REST APIs end to end: `cumulo up` with a SAM template shaped like AWS's serverless-patterns REST samples
(an ``AWS::Serverless::Api`` with a stage, stage variables, CORS, binary media types and Lambda TOKEN and
REQUEST authorizers), real HTTP requests on loopback, and a FastAPI app behind Mangum on the implicit
``ServerlessRestApi``."""

from __future__ import annotations

import base64
import json
import shutil
import textwrap
from pathlib import Path
from typing import Iterator

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from test_gateway import EXAMPLES, Gateway, _serve

ORDERS = """
import json
def handler(event, context):
    if event["path"].endswith("/boom"):
        raise RuntimeError("boom")
    return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://shop.example"},
            "multiValueHeaders": {"X-Seen": ["a", "b"]}, "body": json.dumps(event)}
"""
AUTH = """
def handler(event, context):
    if event["type"] == "TOKEN":
        principal = event["authorizationToken"].split(" ", 1)[1]
        if principal == "expired":
            raise Exception("Unauthorized")
        effect = "Deny" if principal == "blocked" else "Allow"
    else:
        principal = event["headers"]["X-Tenant"]
        effect = "Allow" if principal == "acme" and event["path"].startswith("/tenant/") else "Deny"
    return {"principalId": principal,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
            "context": {"kind": event["type"], "methodArn": event["methodArn"]}}
"""
TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Orders behind a REST API with a Lambda authorizer
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Timeout: 10
Resources:
  OrdersApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Variables: {table: orders-dev}
      EndpointConfiguration: REGIONAL
      TracingEnabled: true
      BinaryMediaTypes: ['image~1png']
      Cors:
        AllowOrigin: "'https://shop.example'"
        AllowHeaders: "'Content-Type,Authorization'"
        MaxAge: "'600'"
      Auth:
        DefaultAuthorizer: TokenAuth
        Authorizers:
          TokenAuth:
            FunctionArn: !GetAtt AuthFunction.Arn
            Identity: {ValidationExpression: "^Bearer [a-z]+$", ReauthorizeEvery: 0}
          TenantAuth:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt AuthFunction.Arn
            Identity: {Headers: [X-Tenant], ReauthorizeEvery: 0}
  OrdersFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: orders.handler
      Events:
        List: {Type: Api, Properties: {RestApiId: !Ref OrdersApi, Path: /orders, Method: get}}
        Create: {Type: Api, Properties: {RestApiId: !Ref OrdersApi, Path: /orders, Method: post}}
        Get: {Type: Api, Properties: {RestApiId: !Ref OrdersApi, Path: "/orders/{id}", Method: get}}
        Health:
          Type: Api
          Properties: {RestApiId: !Ref OrdersApi, Path: /health, Method: get, Auth: {Authorizer: NONE}}
        Tenant:
          Type: Api
          Properties:
            RestApiId: !Ref OrdersApi
            Path: /tenant/{proxy+}
            Method: any
            Auth: {Authorizer: TenantAuth}
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: auth.handler
Outputs:
  OrdersUrl:
    Value: !Sub "https://${OrdersApi}.execute-api.${AWS::Region}.amazonaws.com/dev/orders"
"""


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("rest")
    (tmp / "app" / "src").mkdir(parents=True)
    (tmp / "app" / "src" / "orders.py").write_text(textwrap.dedent(ORDERS))
    (tmp / "app" / "src" / "auth.py").write_text(textwrap.dedent(AUTH))
    (tmp / "app" / "template.yaml").write_text(TEMPLATE)
    yield from _serve(tmp, tmp / "app" / "template.yaml")


def _base(gw: Gateway) -> str:
    """``/<api-id>/dev``: where the gateway serves the stage."""
    return gw.routes[("OrdersApi", "GET /orders")].removesuffix("/orders")


def _json(body: bytes) -> dict:
    loaded: dict = json.loads(body)
    return loaded


def test_the_event_is_a_rest_apis_proxy_event(orders: Gateway) -> None:
    base = _base(orders)
    status, headers, body = orders.request("GET", base + "/orders/7?a=1&a=2&b=x", headers={
        "Authorization": "Bearer alice", "User-Agent": "tests", "X-Multi": "one"})
    assert status == 200, body
    assert headers["x-seen"] == ["a", "b"] and headers["access-control-allow-origin"] == ["https://shop.example"]
    event = _json(body)
    APIGatewayProxyEventModel.model_validate(event)
    assert "version" not in event
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/orders/{id}", "/orders/7", "GET")
    assert event["pathParameters"] == {"id": "7"} and event["stageVariables"] == {"table": "orders-dev"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["headers"]["X-Multi"] == "one" and event["multiValueHeaders"]["X-Multi"] == ["one"]
    context = event["requestContext"]
    api_id = base.split("/")[1]
    assert (context["stage"], context["path"], context["resourcePath"], context["apiId"]) == (
        "dev", "/dev/orders/7", "/orders/{id}", api_id)
    assert context["identity"]["userAgent"] == "tests" and context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["authorizer"]["principalId"] == "alice" and context["authorizer"]["kind"] == "TOKEN"
    assert context["authorizer"]["methodArn"].endswith(f":{api_id}/dev/GET/orders/7")
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_a_token_authorizer_guards_every_method_but_those_that_opt_out(orders: Gateway) -> None:
    base = _base(orders)
    assert orders.request("GET", base + "/orders")[0] == 401
    status, _, body = orders.request("GET", base + "/orders", headers={"Authorization": "Basic abc"})
    assert (status, _json(body)) == (401, {"message": "Unauthorized"})        # fails ValidationExpression
    status, _, body = orders.request("GET", base + "/orders", headers={"Authorization": "Bearer expired"})
    assert (status, _json(body)) == (401, {"message": "Unauthorized"})        # the authorizer said Unauthorized
    status, headers, body = orders.request("GET", base + "/orders", headers={"Authorization": "Bearer blocked"})
    assert (status, _json(body)) == (403, {"Message": "User is not authorized to access this resource with an "
                                                      "explicit deny"})
    status, _, body = orders.request("GET", base + "/health")
    assert status == 200 and "authorizer" not in _json(body)["requestContext"]


def test_a_request_authorizer_sees_the_request(orders: Gateway) -> None:
    base = _base(orders)
    assert orders.request("DELETE", base + "/tenant/a/b")[0] == 401         # no X-Tenant: not even called
    status, _, body = orders.request("DELETE", base + "/tenant/a/b", headers={"X-Tenant": "acme"})
    assert status == 200, body
    event = _json(body)
    assert event["pathParameters"] == {"proxy": "a/b"} and event["resource"] == "/tenant/{proxy+}"
    assert event["requestContext"]["authorizer"]["kind"] == "REQUEST"
    assert orders.request("DELETE", base + "/tenant/a/b", headers={"X-Tenant": "globex"})[0] == 403


def test_stages_unknown_paths_and_errors_answer_as_rest_apis_do(orders: Gateway) -> None:
    base = _base(orders)
    api = base.rsplit("/", 1)[0]
    for path in (api + "/orders", base + "/nowhere", api + "/Prod/orders"):
        status, headers, body = orders.request("GET", path, headers={"Authorization": "Bearer alice"})
        assert (status, _json(body)) == (403, {"message": "Missing Authentication Token"}), path
        assert headers["x-amzn-errortype"] == ["MissingAuthenticationTokenException"]
    status, _, body = orders.request("GET", base + "/orders/boom", headers={"Authorization": "Bearer alice"})
    assert (status, _json(body)) == (502, {"message": "Internal server error"})


def test_cors_preflight_is_answered_for_every_path(orders: Gateway) -> None:
    base = _base(orders)
    status, headers, body = orders.request("OPTIONS", base + "/orders", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    assert status == 200 and body == b""
    assert headers["access-control-allow-origin"] == ["https://shop.example"]
    assert headers["access-control-allow-methods"] == ["GET,OPTIONS,POST"]
    assert headers["access-control-allow-headers"] == ["Content-Type,Authorization"]
    assert headers["access-control-max-age"] == ["600"]
    assert orders.request("OPTIONS", base + "/nowhere")[0] == 403


def test_binary_media_types_decide_base64(orders: Gateway) -> None:
    base = _base(orders)
    png = bytes(range(256))
    auth = {"Authorization": "Bearer alice"}
    status, _, body = orders.request("POST", base + "/orders", png, {**auth, "Content-Type": "image/png"})
    event = _json(body)
    assert status == 200 and event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == png
    status, _, body = orders.request("POST", base + "/orders", b'{"sku": "pen"}',
                                     {**auth, "Content-Type": "application/json"})
    event = _json(body)
    assert (event["body"], event["isBase64Encoded"]) == ('{"sku": "pen"}', False)


def test_outputs_name_the_local_url(orders: Gateway) -> None:
    base = _base(orders)
    assert f"{base}/orders" in orders.server.output


MANGUM_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Web:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: main.handler
      Runtime: python3.11
      MemorySize: 256
      Timeout: 10
      Events:
        Root: {Type: Api, Properties: {Path: /, Method: any}}
        Everything: {Type: Api, Properties: {Path: "/{proxy+}", Method: any}}
"""


@pytest.fixture(scope="module")
def mangum_rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("mangum-rest")
    shutil.copytree(EXAMPLES / "fastapi-mangum" / "app", tmp / "web" / "app")
    (tmp / "web" / "template.yaml").write_text(MANGUM_TEMPLATE)
    yield from _serve(tmp, tmp / "web" / "template.yaml")


def test_fastapi_behind_mangum_on_a_rest_api(mangum_rest: Gateway) -> None:
    base = mangum_rest.routes[("ServerlessRestApi", "ANY /{proxy+}")].removesuffix("/{proxy+}")
    assert base.endswith("/Prod")
    status, _, body = mangum_rest.request("GET", base + "/hello?name=Ada")
    assert (status, _json(body)) == (200, {"message": "Hello, Ada!"})
    status, headers, body = mangum_rest.request("POST", base + "/items/5", b'{"name": "pen", "price": 1.5}',
                                                {"Content-Type": "application/json"})
    assert status == 200 and _json(body) == {"id": 5, "name": "pen", "price": 1.5}
    assert any(c.startswith("last_item=5") for c in headers.get("set-cookie", []))
    status, _, body = mangum_rest.request("GET", base + "/items/5", headers={"Cookie": "last_item=5"})
    assert _json(body) == {"id": 5, "item": {"name": "pen", "price": 1.5}, "last_item_cookie": "5"}
    status, headers, body = mangum_rest.request("GET", base + "/pixel.png")
    assert status == 200 and headers["content-type"] == ["image/png"] and body.startswith(b"\x89PNG")
    assert mangum_rest.request("GET", base + "/items/not-a-number")[0] == 422


RAW_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: A REST API written with plain AWS::ApiGateway resources, as serverless-patterns' samples do
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
          import json
          def handler(event, context):
              return {"statusCode": 200, "body": json.dumps(event)}
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: raw-orders}
  Orders:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: orders}
  Order:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !Ref Orders, PathPart: "{id}"}
  GetOrder:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Order
      HttpMethod: GET
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Tokens
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
  OrderOptions:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Order
      HttpMethod: OPTIONS
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        IntegrationResponses:
          - StatusCode: '200'
            ResponseParameters:
              method.response.header.Access-Control-Allow-Origin: "'*'"
              method.response.header.Access-Control-Allow-Methods: "'GET,OPTIONS'"
  Tokens:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Api
      Name: tokens
      Type: TOKEN
      IdentitySource: method.request.header.Authorization
      AuthorizerResultTtlInSeconds: 0
      AuthorizerUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Auth.Arn}/invocations"
  Auth:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
          def handler(event, context):
              effect = "Allow" if event["authorizationToken"] == "let-me-in" else "Deny"
              return {"principalId": "me", "policyDocument": {"Version": "2012-10-17", "Statement": [
                  {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: GetOrder
    Properties: {RestApiId: !Ref Api}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref Api, DeploymentId: !Ref Deployment, StageName: v1, Variables: {env: raw}}
  Permission:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Fn, Action: lambda:InvokeFunction, Principal: apigateway.amazonaws.com}
Outputs:
  OrderUrl:
    Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}/orders/7"
"""


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("raw-rest")
    (tmp / "app").mkdir()
    (tmp / "app" / "template.yaml").write_text(RAW_TEMPLATE)
    yield from _serve(tmp, tmp / "app" / "template.yaml")


def test_a_rest_api_of_plain_cloudformation_resources(raw: Gateway) -> None:
    path = raw.routes[("Api", "GET /orders/{id}")].replace("{id}", "7")
    assert path.endswith("/v1/orders/7") and path in raw.server.output       # the Output, made local
    status, _, body = raw.request("GET", path, headers={"Authorization": "let-me-in"})
    assert status == 200, body
    event = _json(body)
    assert (event["resource"], event["path"], event["pathParameters"]) == ("/orders/{id}", "/orders/7", {"id": "7"})
    assert event["stageVariables"] == {"env": "raw"} and event["requestContext"]["authorizer"]["principalId"] == "me"
    assert raw.request("GET", path, headers={"Authorization": "nope"})[0] == 403
    assert raw.request("GET", path)[0] == 401
    status, headers, _ = raw.request("OPTIONS", path)
    assert status == 200 and headers["access-control-allow-methods"] == ["GET,OPTIONS"]
