"""HTTP APIs in templates: AWS::Serverless::HttpApi, Globals.HttpApi, and the routes events add."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cumulo.deploy.apis import api_id_for
from cumulo.deploy.template import Template, TemplateError, load_template
from cumulo.gateway.model import Throttle

HEADER = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
"""


def _load(tmp_path: Path, body: str, header: str = HEADER) -> Template:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "template.yaml").write_text(header + textwrap.dedent(body))
    return load_template(tmp_path / "template.yaml", stack_name="shop")


def test_implicit_http_api_takes_globals(tmp_path: Path) -> None:
    globals_ = HEADER + "  HttpApi:\n    CorsConfiguration: true\n" \
        "    DefaultRouteSettings: {ThrottlingBurstLimit: 20, ThrottlingRateLimit: 10}\n"
    template = _load(tmp_path, """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Get: {Type: HttpApi, Properties: {Path: /items, Method: GET}}
            Any: {Type: HttpApi}
    """, header=globals_)
    (spec,) = template.apis
    assert spec.logical_id == "ServerlessHttpApi" and spec.api_id == api_id_for("shop", "ServerlessHttpApi")
    assert [r.route_key for r in spec.routes] == ["GET /items", "$default"]
    assert spec.cors == {"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]}
    assert spec.default_throttle == Throttle(10, 20) and spec.stage == "$default"


def test_declared_http_api_with_authorizers_scopes_and_route_settings(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          StageName: v1
          StageVariables: {color: blue}
          RouteSettings:
            "GET /admin": {ThrottlingBurstLimit: 1}
          Auth:
            DefaultAuthorizer: Jwt
            Authorizers:
              Jwt:
                JwtConfiguration: {issuer: "https://idp.example.com", audience: [app]}
                IdentitySource: $request.header.Authorization
              Lam:
                FunctionArn: !GetAtt Auth.Arn
                AuthorizerPayloadFormatVersion: "2.0"
                EnableSimpleResponses: true
                Identity: {Headers: [x-token], QueryStrings: [t]}
      Auth:
        Type: AWS::Serverless::Function
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Admin:
              Type: HttpApi
              Properties: {ApiId: !Ref Api, Path: /admin, Method: GET, Auth: {AuthorizationScopes: [admin]}}
            Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /open, Method: GET, Auth: {Authorizer: NONE}}}
            Custom:
              Type: HttpApi
              Properties:
                ApiId: !Ref Api
                Path: /custom
                Method: POST
                Auth: {Authorizer: Lam}
                RouteSettings: {ThrottlingBurstLimit: 5, ThrottlingRateLimit: 1}
    """)
    (spec,) = template.apis
    assert spec.stage == "v1" and spec.stage_variables == {"color": "blue"}
    routes = {r.route_key: r for r in spec.routes}
    jwt = next(a for a in spec.authorizers if a.kind == "JWT")
    lam = next(a for a in spec.authorizers if a.kind == "REQUEST")
    assert routes["GET /admin"].authorizer_id == jwt.authorizer_id
    assert routes["GET /admin"].authorization_scopes == ("admin",)
    assert routes["GET /open"].authorization_type == "NONE"
    assert routes["POST /custom"].authorization_type == "CUSTOM" and routes["POST /custom"].authorizer_id == lam.authorizer_id
    assert lam.function == "arn:aws:lambda:us-east-1:000000000000:function:shop-Auth"
    assert lam.identity_sources == ("$request.header.x-token", "$request.querystring.t") and lam.ttl_seconds == 300
    assert spec.route_throttles == {"GET /admin": Throttle(10_000.0, 1), "POST /custom": Throttle(1, 5)}


def test_route_ids_are_stable_across_loads(tmp_path: Path) -> None:
    body = """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Get: {Type: HttpApi, Properties: {Path: /a, Method: GET}}
    """
    assert _load(tmp_path, body).apis == _load(tmp_path, body).apis


def test_api_key_required_on_rest_api_events(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Keyed: {Type: Api, Properties: {Path: /k, Method: get, Auth: {ApiKeyRequired: true}}}
    """)
    (spec,) = template.apis
    assert spec.logical_id == "ServerlessRestApi" and spec.stage == "Prod"
    assert spec.routes[0].api_key_required and spec.routes[0].payload_version == "1.0"


@pytest.mark.parametrize("body,message", [
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionBody:
            paths: {/a: {get: {x-amazon-apigateway-integration: {type: mock}}}}
    """, "DefinitionBody: GET /a: route GET /a: integration type MOCK is not supported"),
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionBody:
            paths:
              /a:
                post:
                  x-amazon-apigateway-integration:
                    {type: aws_proxy, integrationSubtype: SQS-SendMessage, requestParameters: {MessageBody: x}}
    """, "RequestParameters of SQS-SendMessage must include QueueUrl"),
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionBody:
            paths:
              /a:
                post:
                  x-amazon-apigateway-integration:
                    {type: aws_proxy, integrationSubtype: SQS-SendMessage,
                     requestParameters: {MessageBody: x, QueueUrl: q, Color: blue}}
    """, "has no parameter 'Color'"),
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionBody:
            paths:
              /a:
                post:
                  x-amazon-apigateway-integration: {type: aws_proxy, integrationSubtype: Kinesis-PutRecord,
                                                    requestParameters: {StreamName: s, Data: d, PartitionKey: k}}
    """, "Kinesis-PutRecord is not served"),
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionBody:
            paths: {/a: {get: {x-amazon-apigateway-integration: {type: http_proxy, uri: "ftp://x/{proxy}"}}}}
    """, "must be an http\\(s\\) URL"),
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          Auth: {DefaultAuthorizer: Missing}
    """, "DefaultAuthorizer"),
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          CorsConfiguration: {AllowOrigins: ["*"], AllowCredentials: true}
    """, "AllowCredentials"),
    ("""
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          Auth:
            Authorizers:
              Jwt: {JwtConfiguration: {issuer: "https://x"}}
    """, "Audience"),
    ("""
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            A: {Type: HttpApi, Properties: {Path: /a, Method: GET, Auth: {Authorizer: Nope}}}
    """, "Nope"),
    ("""
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            A: {Type: HttpApi, Properties: {Path: /a, Method: GET}}
            B: {Type: HttpApi, Properties: {Path: /a, Method: GET}}
    """, "more than one event"),
    ("""
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            A: {Type: HttpApi, Properties: {ApiId: somewhere, Path: /a, Method: GET}}
    """, "ApiId"),
])
def test_faults_name_what_is_wrong(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _load(tmp_path, body)


def test_outputs_may_name_a_declared_http_api(tmp_path: Path) -> None:
    from cumulo.deploy.template import resolve_outputs
    template = _load(tmp_path, """
    Resources:
      Orders:
        Type: AWS::Serverless::HttpApi
        Properties:
          FailOnWarnings: true
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Get: {Type: HttpApi, Properties: {ApiId: !Ref Orders, Path: /items, Method: GET}}
    Outputs:
      Id: {Value: !Ref Orders}
      Endpoint: {Value: !GetAtt Orders.ApiEndpoint}
      Url: {Value: !Sub "https://${Orders}.execute-api.${AWS::Region}.amazonaws.com/items"}
    """)
    api_id = api_id_for("shop", "Orders")
    assert resolve_outputs(template) == {"Id": api_id, "Endpoint": f"https://{api_id}.execute-api.us-east-1.amazonaws.com",
                                         "Url": f"https://{api_id}.execute-api.us-east-1.amazonaws.com/items"}


def test_http_api_notes_are_shown_as_warnings(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Orders:
        Type: AWS::Serverless::HttpApi
        Properties:
          FailOnWarnings: true
    """)
    warnings = [w for kind, spec in template.all_resources() for w in kind.warnings(spec)]
    assert [w for w in warnings if w.startswith("Orders:")] == [
        "Orders: FailOnWarnings ignored: there are no OpenAPI warnings to fail on"]


def test_the_implicit_rest_api_takes_globals_api(tmp_path: Path) -> None:
    header = HEADER + "  Api:\n    Variables: {table: orders}\n    Name: shop-api\n    BinaryMediaTypes: ['image~1png']\n"
    template = _load(tmp_path, """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Get: {Type: Api, Properties: {Path: /items, Method: GET}}
    """, header=header)
    (spec,) = template.apis
    assert (spec.logical_id, spec.stage, spec.stage_variables, spec.name, spec.protocol) == (
        "ServerlessRestApi", "Prod", {"table": "orders"}, "shop-api", "REST")
    assert spec.binary_media_types == ("image/png",)      # SAM's ~1 is a slash


def test_service_integrations_of_an_openapi_body_and_of_raw_resources_on_a_sam_api(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Queue: {Type: AWS::SQS::Queue}
      Role:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument:
            Statement: [{Effect: Allow, Principal: {Service: apigateway.amazonaws.com}, Action: sts:AssumeRole}]
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionBody:
            openapi: "3.0.1"
            paths:
              /events:
                post:
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    integrationSubtype: EventBridge-PutEvents
                    credentials: !GetAtt Role.Arn
                    payloadFormatVersion: "1.0"
                    requestParameters: {Detail: $request.body.Detail, DetailType: T, Source: WebApp}
              /legacy/{proxy+}:
                x-amazon-apigateway-any-method:
                  x-amazon-apigateway-integration: {type: http_proxy, httpMethod: ANY, uri: "http://legacy:8080/{proxy}"}
            x-amazon-apigateway-cors: {allowOrigins: ["*"], allowMethods: ["*"]}
      SqsIntegration:
        Type: AWS::ApiGatewayV2::Integration
        Properties:
          ApiId: !Ref Api
          IntegrationType: AWS_PROXY
          IntegrationSubtype: SQS-SendMessage
          CredentialsArn: !GetAtt Role.Arn
          RequestParameters: {QueueUrl: !Ref Queue, MessageBody: $request.body.MessageBody}
          PayloadFormatVersion: '1.0'
      SqsRoute:
        Type: AWS::ApiGatewayV2::Route
        Properties: {ApiId: !Ref Api, RouteKey: 'ANY /sqs', Target: !Join [/, [integrations, !Ref SqsIntegration]]}
    """)
    (spec,) = template.apis
    routes = {r.route_key: r for r in spec.routes}
    events, legacy, sqs = routes["POST /events"], routes["ANY /legacy/{proxy+}"], routes["ANY /sqs"]
    assert events.integration_subtype == "EventBridge-PutEvents" and events.function == ""
    assert events.credentials.endswith(":role/shop-Role-" + events.credentials.rsplit("-", 1)[1])
    assert events.request_parameters == {"Detail": "$request.body.Detail", "DetailType": "T", "Source": "WebApp"}
    assert (legacy.integration_type, legacy.integration_uri) == ("HTTP_PROXY", "http://legacy:8080/{proxy}")
    assert sqs.integration_subtype == "SQS-SendMessage" and sqs.request_parameters["QueueUrl"].endswith("Queue-" +
        sqs.request_parameters["QueueUrl"].rsplit("-", 1)[1])
    assert spec.cors == {"AllowOrigins": ["*"], "AllowMethods": ["*"]}
