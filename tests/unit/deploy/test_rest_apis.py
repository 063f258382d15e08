"""REST APIs in SAM templates: AWS::Serverless::Api, RestApiId, Cors, authorizers, MethodSettings,
OpenAPI definitions of Lambda proxy integrations."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.deploy.apis import api_id_for
from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.rest_apis import function_of_uri, read_rest_api
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


def test_a_serverless_api_with_its_events(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Orders:
        Type: AWS::Serverless::Api
        Properties:
          StageName: v1
          Variables: {table: orders}
          TracingEnabled: true
          Cors: "'*'"
          BinaryMediaTypes: ['image~1png', '*~1*']
          MethodSettings:
            - {ResourcePath: '/*', HttpMethod: '*', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10}
            - {ResourcePath: '/~1orders', HttpMethod: POST, ThrottlingBurstLimit: 1}
          Auth:
            DefaultAuthorizer: Tok
            ApiKeyRequired: true
            UsagePlan: {CreateUsagePlan: PER_API}
            Authorizers:
              Tok:
                FunctionArn: !GetAtt Fn.Arn
                Identity: {Header: X-Token, ValidationExpression: '^[a-z]+$'}
              Req:
                FunctionPayloadType: REQUEST
                FunctionArn: !GetAtt Fn.Arn
                Identity: {Headers: [X-A], QueryStrings: [q]}
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            List: {Type: Api, Properties: {RestApiId: !Ref Orders, Path: /orders, Method: get}}
            Open: {Type: Api, Properties: {RestApiId: !Ref Orders, Path: /open, Method: get,
                                           Auth: {Authorizer: NONE, ApiKeyRequired: false}}}
            Tenant: {Type: Api, Properties: {RestApiId: !Ref Orders, Path: '/t/{proxy+}', Method: any,
                                             Auth: {Authorizer: Req}}}
            Implicit: {Type: Api, Properties: {Path: /implicit, Method: get}}
    """)
    specs = {s.logical_id: s for s in template.apis}
    orders, implicit = specs["Orders"], specs["ServerlessRestApi"]
    assert orders.api_id == api_id_for("shop", "Orders") and orders.protocol == implicit.protocol == "REST"
    assert (orders.stage, orders.stage_variables, implicit.stage) == ("v1", {"table": "orders"}, "Prod")
    assert orders.rest_cors == {"Access-Control-Allow-Origin": "*"} and implicit.rest_cors is None
    assert orders.binary_media_types == ("image/png", "*/*")
    assert orders.default_throttle == Throttle(5, 10)
    assert orders.route_throttles == {"POST /orders": Throttle(10_000.0, 1)}
    routes = {r.route_key: r for r in orders.routes}
    tok, req = sorted(orders.authorizers, key=lambda a: a.name)[::-1]
    assert (tok.kind, tok.identity_sources, tok.validation, tok.ttl_seconds) == (
        "TOKEN", ("$request.header.X-Token",), "^[a-z]+$", 300)
    assert (req.kind, req.identity_sources) == ("REQUEST", ("$request.header.X-A", "$request.querystring.q"))
    assert tok.function == req.function == "shop-Fn"
    assert (routes["GET /orders"].authorizer_id, routes["GET /orders"].api_key_required) == (tok.authorizer_id, True)
    assert (routes["GET /open"].authorization_type, routes["GET /open"].api_key_required) == ("NONE", False)
    assert routes["ANY /t/{proxy+}"].authorizer_id == req.authorizer_id
    assert all(r.payload_version == "1.0" for r in orders.routes)
    notes = [w for kind, spec in template.all_resources() for w in kind.warnings(spec) if w.startswith("Orders:")]
    assert not any("TracingEnabled" in n for n in notes)
    assert orders.tracing is True                      # the stage's X-Ray segments (docs/traces.md)
    assert any("Auth.UsagePlan ignored" in n for n in notes)


def test_an_openapi_definition_of_lambda_proxy_integrations(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: prod
          DefinitionBody:
            openapi: '3.0.1'
            components:
              securitySchemes:
                api_key: {type: apiKey, name: x-api-key, in: header}
            paths:
              /items:
                get:
                  security: [{api_key: []}]
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    httpMethod: POST
                    uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
                options:
                  x-amazon-apigateway-integration:
                    type: mock
                    responses:
                      default:
                        statusCode: '200'
                        responseParameters:
                          method.response.header.Access-Control-Allow-Origin: "'*'"
                          method.response.header.Access-Control-Allow-Methods: "'GET,OPTIONS'"
              /{proxy+}:
                x-amazon-apigateway-any-method:
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    httpMethod: POST
                    uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}:live/invocations"
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Extra: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /extra, Method: post}}
    """)
    (spec,) = template.apis
    routes = {r.route_key: r for r in spec.routes}
    assert set(routes) == {"GET /items", "ANY /{proxy+}", "POST /extra"}
    assert routes["GET /items"].function == "shop-Fn" and routes["GET /items"].api_key_required
    assert routes["ANY /{proxy+}"].function == "shop-Fn:live" and not routes["ANY /{proxy+}"].api_key_required
    assert spec.rest_cors == {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET,OPTIONS"}


@pytest.mark.parametrize("properties,message", [
    ("{}", r"property StageName: required"),
    ("{StageName: p, Auth: {Authorizers: {C: {UserPoolArn: arn:aws:cognito-idp:x}}}}", r"Cognito user pool"),
    ("{StageName: p, Auth: {DefaultAuthorizer: AWS_IAM}}", r"IAM authorization"),
    ("{StageName: p, Auth: {DefaultAuthorizer: Nope}}", r"'Nope' is not one of Auth.Authorizers"),
    ("{StageName: p, Cors: {AllowOrigin: '*'}}", r"property Cors.AllowOrigin: must be a quoted string"),
    ("{StageName: p, DefinitionUri: s3://bucket/api.yaml}", r"DefinitionUri: OpenAPI definitions in files"),
    ("{StageName: p, Flavour: vanilla}", r"property Flavour: unknown"),
    ("""{StageName: p, DefinitionBody: {paths: {/q: {post: {x-amazon-apigateway-integration:
        {type: aws, uri: 'arn:aws:apigateway:us-east-1:s3:path/bucket/key'}}}}}}""",
     r"POST /q: AWS integrations with s3 are not served"),
    ("""{StageName: p, DefinitionBody: {paths: {/q: {post: {x-amazon-apigateway-integration:
        {type: aws, uri: 'arn:aws:apigateway:us-east-1:sqs:path/1/q',
         requestTemplates: {application/json: "#macro(m)x#end"}}}}}}}""",
     r"POST /q: the mapping template directive #macro is not supported"),
    ("""{StageName: p, DefinitionBody: {paths: {/q: {post: {x-amazon-apigateway-integration:
        {type: aws, uri: 'arn:aws:apigateway:us-east-1:sqs:path/1/q',
         requestParameters: {integration.request.header.Accept: "application/json"}}}}}}}""",
     r"must be a 'quoted' static value"),
])
def test_what_a_rest_api_cannot_be(tmp_path: Path, properties: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _load(tmp_path, f"""
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties: {textwrap.indent(properties, '            ').strip()}
        """)


def test_rest_api_id_must_name_a_rest_api(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="RestApiId must be a !Ref to an AWS::Serverless::Api"):
        _load(tmp_path, """
        Resources:
          Http:
            Type: AWS::Serverless::HttpApi
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Events:
                E: {Type: Api, Properties: {RestApiId: !Ref Http, Path: /a, Method: get}}
        """)


def test_function_of_an_integration_uri() -> None:
    uri = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:f/invocations"
    assert function_of_uri(uri) == "f"
    assert function_of_uri(uri.replace("function:f/", "function:f:prod/")) == "f:prod"
    assert function_of_uri("arn:aws:apigateway:eu-west-1:sqs:path/1/q") is None


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=6))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=10)
_KEYS = st.sampled_from(["StageName", "Variables", "Cors", "BinaryMediaTypes", "Auth", "MethodSettings",
                         "DefinitionBody", "Name", "TracingEnabled", "Unknown"])


@settings(max_examples=300, deadline=None)
@given(props=st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_any_properties_are_read_or_refused_with_a_template_error(props: dict[str, Any]) -> None:
    """Garbage in the properties of an AWS::Serverless::Api is an IntrinsicError naming a property, never a crash."""
    try:
        config = read_rest_api("Api", props, {})
    except IntrinsicError as exc:
        assert exc.message
    else:
        assert config.protocol == "REST" and config.stage == str(props["StageName"])


# -- plain AWS::ApiGateway::* resources ------------------------------------------------------------------
RAW = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: raw, BinaryMediaTypes: ['image~1png']}
  Things:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: things}
  Proxy:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !Ref Things, PathPart: '{proxy+}'}
  Any:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Proxy
      HttpMethod: ANY
      ApiKeyRequired: true
      AuthorizationType: %(auth)s
      Integration: {Type: %(type)s, Uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"}
  Validator:
    Type: AWS::ApiGateway::RequestValidator
    Properties: {RestApiId: !Ref Api, ValidateRequestBody: true}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties: {RestApiId: !Ref Api, %(stage)s}
"""


def test_plain_apigateway_resources_make_a_rest_api(tmp_path: Path) -> None:
    template = _load(tmp_path, RAW % {"auth": "NONE", "type": "AWS_PROXY", "stage": "StageName: beta"})
    (spec,) = template.apis
    assert (spec.logical_id, spec.protocol, spec.stage, spec.binary_media_types) == ("Api", "REST", "beta",
                                                                                      ("image/png",))
    (route,) = spec.routes
    assert (route.route_key, route.function, route.api_key_required) == ("ANY /things/{proxy+}", "shop-Fn", True)
    assert spec.notes == ("RequestValidator Validator ignored: requests are not validated",)


@pytest.mark.parametrize("values,message", [
    ({"auth": "NONE", "type": "HTTP_MOCK", "stage": "StageName: beta"}, r"ANY /things/\{proxy\+\}: integration type HTTP_MOCK is not supported"),
    ({"auth": "NONE", "type": "HTTP", "stage": "StageName: beta"}, r"Uri of an HTTP integration must be an http\(s\) URL"),
    ({"auth": "AWS_IAM", "type": "AWS_PROXY", "stage": "StageName: beta"}, "AuthorizationType AWS_IAM is not supported"),
    ({"auth": "NONE", "type": "AWS_PROXY", "stage": "Description: none"}, "no AWS::ApiGateway::Stage or Deployment"),
])
def test_what_plain_apigateway_resources_cannot_be(tmp_path: Path, values: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _load(tmp_path, RAW % values)


_RAW_TYPES = st.sampled_from(["AWS::ApiGateway::RestApi", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
                              "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::ApiGateway::Authorizer"])


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), _RAW_TYPES,
                                  st.dictionaries(st.sampled_from(["RestApiId", "ParentId", "PathPart", "ResourceId",
                                                                   "HttpMethod", "Integration", "StageName", "Type",
                                                                   "AuthorizerUri", "Variables", "Body",
                                                                   "BinaryMediaTypes", "StageDescription",
                                                                   "IdentitySource", "AuthorizationType"]),
                                                  _VALUES, max_size=4)), max_size=5))
def test_any_plain_resources_are_assembled_or_refused_with_a_template_error(
        entries: list[tuple[str, str, dict[str, Any]]]) -> None:
    from cumulo.deploy.rest_resources import raw_rest_apis

    try:
        configs = raw_rest_apis("shop", entries, api_id_for)
    except IntrinsicError as exc:
        assert exc.message
    else:
        assert all(c.protocol == "REST" and c.stage for c in configs.values())
