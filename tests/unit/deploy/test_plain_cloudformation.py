"""Plain CloudFormation read by the SAM kinds: ``AWS::Lambda::*`` written as SAM's properties
(deploy/lambda_resources.py), raw ``AWS::ApiGatewayV2::*`` HTTP APIs (deploy/http_resources.py),
``AWS::Include`` snippets (deploy/include.py), and every refusal naming the resource and its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.deploy import lambda_resources as lr
from cumulo.deploy.include import expand_includes
from cumulo.deploy.intrinsics import IntrinsicError, Node, parse
from cumulo.deploy.template import TemplateError, load_template, resolve_outputs

ROLE = """\
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
"""
FUNCTION = """\
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Code: {ZipFile: "def handler(event, context):\\n    return event\\n"}
      Handler: index.handler
      Runtime: python3.11
      Role: !GetAtt Role.Arn
"""


def _load(tmp_path: Path, resources: str, extra: str = "", files: dict[str, str] | None = None) -> object:
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "template.yaml").write_text(f"AWSTemplateFormatVersion: '2010-09-09'\n{extra}Resources:\n{resources}")
    return load_template(tmp_path / "template.yaml", stack_name="shop")


def _refused(tmp_path: Path, resources: str, match: str, **kwargs: object) -> TemplateError:
    with pytest.raises(TemplateError, match=match) as info:
        _load(tmp_path, resources, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_a_plain_function_reads_as_sams(tmp_path: Path) -> None:
    template = _load(tmp_path, ROLE + FUNCTION + """\
      Tags: [{Key: team, Value: web}]
      TracingConfig: {Mode: Active}
      FileSystemConfigs: [{Arn: arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1, LocalMountPath: /mnt/x}]
      DeadLetterConfig: {TargetArn: !GetAtt Dlq.Arn}
  Dlq:
    Type: AWS::SQS::Queue
""")
    (fn,) = template.functions  # type: ignore[attr-defined]
    assert fn.function_name == "shop-Fn" and fn.handler == "index.handler" and not fn.implicit_role
    assert fn.tags == {"team": "web"} and fn.dead_letter_arn.startswith("arn:aws:sqs:")
    assert fn.role.startswith("arn:aws:iam::000000000000:role/shop-Role-")
    assert any("FileSystemConfigs ignored" in n for n in fn.notes)
    assert isinstance(fn.code_uri, bytes)          # ZipFile, packed as InlineCode is


def test_a_version_and_its_alias_are_the_functions_auto_publish_alias(tmp_path: Path) -> None:
    template = _load(tmp_path, ROLE + FUNCTION + """\
  FnVersion1A2B:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn, Description: first}
  FnAlias:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !GetAtt Fn.Arn, FunctionVersion: !GetAtt FnVersion1A2B.Version, Name: live}
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {FunctionName: !Ref FnAlias, EventSourceArn: !GetAtt Jobs.Arn}
  Jobs:
    Type: AWS::SQS::Queue
Outputs:
  Alias: {Value: !Ref FnAlias}
  AliasArn: {Value: !GetAtt FnAlias.AliasArn}
""")
    (fn,) = template.functions  # type: ignore[attr-defined]
    assert (fn.auto_publish_alias, fn.version_description) == ("live", "first")
    alias = "arn:aws:lambda:us-east-1:000000000000:function:shop-Fn:live"
    assert resolve_outputs(template) == {"Alias": alias, "AliasArn": alias}  # type: ignore[arg-type]
    (mapping,) = template.of("event source mapping")  # type: ignore[attr-defined]
    assert (mapping.function_name, mapping.alias, mapping.mapping.batch_size) == ("shop-Fn", "live", 10)


@pytest.mark.parametrize(("resources", "match"), [
    (FUNCTION.replace("      Role: !GetAtt Role.Arn\n", ""), r"Resource Fn \(line 8\): property Role is required"),
    (FUNCTION.replace("Code: {ZipFile", "CodeUri: {ZipFile"), r"Resource Fn \(line 8\): property CodeUri \(line 11\): is a property of "
                                                              r"AWS::Serverless::Function"),
    (FUNCTION.replace("{ZipFile: ", "{ImageUri: "), r"container images \(ImageUri\) are not supported"),
    (FUNCTION.replace("{ZipFile: ", "{S3Bucket: b, S3Key: "), r"code in S3 \(S3Bucket/S3Key\) is read from"),
    (FUNCTION + "      Tags: {team: web}\n", r"Resource Fn \(line 8\): property Tags \(line 15\): must be a list of Key and Value"),
    (FUNCTION + "  Alias:\n    Type: AWS::Lambda::Alias\n    Properties: {FunctionName: !Ref Fn, FunctionVersion: '3',"
                " Name: live}\n", r"Resource Alias \(line 15\): property FunctionVersion: .* a version number or"),
    (FUNCTION + "  V:\n    Type: AWS::Lambda::Version\n    Properties: {FunctionName: elsewhere}\n",
     r"Resource V \(line 15\): property FunctionName: 'elsewhere' is not a function of this template"),
    (FUNCTION + "  M:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties: {FunctionName: !Ref Fn, "
                "EventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1'}\n",
     r"Resource M \(line 15\): property EventSourceArn \(line 17\): .* is not an SQS queue, Kinesis stream or DynamoDB"),
    ("  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: a.b, Runtime: python3.11}\n",
     r"Resource Fn \(line 8\): type AWS::Serverless::Function needs Transform: AWS::Serverless-2016-10-31"),
])
def test_plain_resources_refused_as_cloudformation_refuses_them(tmp_path: Path, resources: str, match: str) -> None:
    _refused(tmp_path, ROLE + resources, match)


def test_globals_need_the_sam_transform(tmp_path: Path) -> None:
    _refused(tmp_path, ROLE + FUNCTION, r"the Globals section needs Transform: AWS::Serverless-2016-10-31",
             extra="Globals:\n  Function: {Timeout: 3}\n")


HTTP_API = """\
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: shop, ProtocolType: HTTP}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn, PayloadFormatVersion: '1.0'}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: 'POST /orders', Target: !Sub 'integrations/${Integration}'}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: live, StageVariables: {color: blue}}
Outputs:
  Url: {Value: !Sub 'https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}/orders'}
  Endpoint: {Value: !GetAtt Api.ApiEndpoint}
"""


def test_a_raw_http_api_is_an_api_with_its_routes_and_stage(tmp_path: Path) -> None:
    template = _load(tmp_path, ROLE + FUNCTION + HTTP_API)
    (api,) = template.of("api")  # type: ignore[attr-defined]
    assert (api.name, api.stage, api.stage_variables, api.protocol) == ("shop", "live", {"color": "blue"}, "HTTP")
    ((route_key, function, version),) = [(r.route_key, r.function, r.payload_version) for r in api.routes]
    assert (route_key, function, version) == ("POST /orders", "shop-Fn", "1.0")
    outputs = resolve_outputs(template)  # type: ignore[arg-type]
    assert outputs["Url"] == f"https://{api.api_id}.execute-api.us-east-1.amazonaws.com/live/orders"
    assert outputs["Endpoint"] == f"https://{api.api_id}.execute-api.us-east-1.amazonaws.com"


@pytest.mark.parametrize(("change", "match"), [
    (("ProtocolType: HTTP", "ProtocolType: GRPC"), r"ProtocolType GRPC is not supported"),
    (("ProtocolType: HTTP", "ProtocolType: WEBSOCKET"), r"Invalid RouteSelectionExpression ''"),
    (("IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn",
      "IntegrationType: AWS_PROXY, IntegrationSubtype: SQS-SendMessage"),
     r"Resource Integration: route POST /orders: RequestParameters of SQS-SendMessage must include QueueUrl"),
    (("IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn", "IntegrationType: MOCK"),
     r"Resource Integration: route POST /orders: integration type MOCK is not supported"),
    (("RouteKey: 'POST /orders',", "RouteKey: 'POST /orders', AuthorizationType: AWS_IAM,"),
     r"Resource Route: AuthorizationType AWS_IAM is not supported"),
    (("Target: !Sub 'integrations/${Integration}'", "Target: integrations/abc"),
     r"Resource Route: POST /orders: Target must be integrations/"),
])
def test_raw_http_apis_refused_naming_the_resource(tmp_path: Path, change: tuple[str, str], match: str) -> None:
    _refused(tmp_path, ROLE + FUNCTION + HTTP_API.replace(*change), match)


WS_API = """\
  Socket:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: chat, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  WsInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Socket, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn}
  Auth:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties: {ApiId: !Ref Socket, Name: a, AuthorizerType: REQUEST, IdentitySource: [route.request.querystring.token],
                 AuthorizerUri: !GetAtt Fn.Arn}
  Connect:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Socket, RouteKey: $connect, Target: !Sub 'integrations/${WsInteg}',
                 AuthorizationType: CUSTOM, AuthorizerId: !Ref Auth}
  Send:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Socket, RouteKey: sendmessage, Target: !Sub 'integrations/${WsInteg}'}
  Echo:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Socket, RouteKey: echo, Target: !Sub 'integrations/${WsInteg}'}
  EchoResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Socket, RouteId: !Ref Echo, RouteResponseKey: $default}
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    Properties: {ApiId: !Ref Socket}
  WsStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Socket, StageName: prod, DeploymentId: !Ref Deployment}
Outputs:
  Uri: {Value: !Sub 'wss://${Socket}.execute-api.${AWS::Region}.amazonaws.com/${WsStage}'}
"""


def test_a_raw_websocket_api_is_an_api_with_its_routes_and_stage(tmp_path: Path) -> None:
    template = _load(tmp_path, ROLE + FUNCTION + HTTP_API.split("Outputs:")[0] + WS_API)
    socket, http = sorted(template.of("api"), key=lambda a: a.protocol, reverse=True)  # type: ignore[attr-defined]
    assert (socket.protocol, socket.route_selection, socket.stage) == ("WEBSOCKET", "$request.body.action", "prod")
    routes = {r.route_key: r for r in socket.routes}
    assert set(routes) == {"$connect", "sendmessage", "echo"}
    assert [k for k, r in routes.items() if r.route_response] == ["echo"]
    assert routes["$connect"].authorization_type == "CUSTOM" and routes["sendmessage"].payload_version == "1.0"
    assert socket.authorizers[0].identity_sources == ("route.request.querystring.token",)
    assert any("Deployment" in note for note in socket.notes)
    assert not any("Deployment" in note for note in http.notes)       # a note names its own API's resources
    outputs = resolve_outputs(template)  # type: ignore[arg-type]
    assert outputs["Uri"] == f"wss://{socket.api_id}.execute-api.us-east-1.amazonaws.com/prod"


@pytest.mark.parametrize(("change", "match"), [
    (("RouteSelectionExpression: $request.body.action", "RouteSelectionExpression: $request.method"),
     r"Invalid RouteSelectionExpression"),
    (("RouteKey: sendmessage, Target", "RouteKey: sendmessage, AuthorizationType: CUSTOM, AuthorizerId: !Ref Auth, "
                                       "Target"), r"Resource Send: sendmessage: a WebSocket API authorizes on \$connect only"),
    (("RouteResponseKey: $default", "RouteResponseKey: ok"), r"Resource EchoResponse: RouteResponseKey must be \$default"),
    (("RouteKey: echo", "RouteKey: 'two words'"), r"Invalid WebSocket route key"),
])
def test_raw_websocket_apis_refused_naming_the_resource(tmp_path: Path, change: tuple[str, str], match: str) -> None:
    _refused(tmp_path, ROLE + FUNCTION + WS_API.replace(*change), match)


def test_a_websocket_api_without_a_stage_is_refused(tmp_path: Path) -> None:
    without_stage = WS_API.split("  WsStage:")[0] + "Outputs:\n  Id: {Value: !Ref Socket}\n"
    _refused(tmp_path, ROLE + FUNCTION + without_stage, r"Resource Socket: a WebSocket API needs an AWS::ApiGatewayV2::Stage")


def test_an_include_puts_its_snippet_in_place(tmp_path: Path) -> None:
    template = _load(tmp_path, ROLE + FUNCTION + """\
  Fn::Transform:
    Name: AWS::Include
    Parameters: {Location: more/queue.yaml}
Outputs:
  Queue:
    Value:
      Fn::Transform: {Name: AWS::Include, Parameters: {Location: more/value.yaml}}
""", files={"more/queue.yaml": "Jobs:\n  Type: AWS::SQS::Queue\n  Properties: {QueueName: !Sub '${AWS::StackName}-jobs'}\n",
            "more/value.yaml": "!GetAtt Jobs.QueueName\n"})
    assert [q.name for q in template.queues] == ["shop-jobs"]  # type: ignore[attr-defined]
    assert resolve_outputs(template) == {"Queue": "shop-jobs"}  # type: ignore[arg-type]


@pytest.mark.parametrize(("snippet", "match"), [
    ({"Location": "missing.yaml"}, r"Location missing.yaml cannot be read"),
    ({"Location": "s3://bucket/api.yaml"}, r"Location s3://bucket/api.yaml is in S3"),
    ({"Location": {"Ref": "X"}}, r"Parameters.Location must be a string"),
    ({"Location": "loop.yaml"}, r"snippets include each other more than 10 deep"),
])
def test_includes_refused_naming_the_location(tmp_path: Path, snippet: dict[str, object], match: str) -> None:
    (tmp_path / "loop.yaml").write_text("Fn::Transform: {Name: AWS::Include, Parameters: {Location: loop.yaml}}\n")
    with pytest.raises(IntrinsicError, match=match):
        expand_includes(Node({"Fn::Transform": {"Name": "AWS::Include", "Parameters": snippet}}), tmp_path)


@given(st.recursive(st.none() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=12))
@settings(max_examples=200)
def test_a_template_without_includes_is_left_as_it_is(doc: object) -> None:
    assert json.dumps(expand_includes(doc, Path("/nonexistent")), sort_keys=True) == json.dumps(doc, sort_keys=True)


_NAME = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
_QUALIFIER = st.one_of(st.none(), st.from_regex(r"[0-9]{1,4}|[a-z][a-z0-9_-]{0,20}", fullmatch=True))


@given(_NAME, _QUALIFIER, st.sampled_from(["name", "partial", "arn"]))
def test_every_form_of_a_function_name_gives_the_name_and_qualifier(name: str, qualifier: str | None, form: str) -> None:
    base = {"name": name, "partial": f"123456789012:function:{name}",
            "arn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}"}[form]
    assert lr.qualified_name(base + (f":{qualifier}" if qualifier else "")) == (name, qualifier)
    assert lr.qualified_name(base + ":$LATEST") == (name, None)


@given(st.dictionaries(st.from_regex(r"[a-z]{1,10}", fullmatch=True),
                       st.text(st.characters(min_codepoint=32, max_codepoint=0xD7FF), max_size=20), max_size=5))
def test_tags_as_a_list_read_as_sams_map(tags: dict[str, str]) -> None:
    properties = parse(json.dumps({"Role": "r", "Code": "src/", "Tags": [{"Key": k, "Value": v}
                                                                          for k, v in tags.items()]}))
    translated, _ = lr.function_properties(properties)
    assert dict(translated["Tags"]) == tags and translated["CodeUri"] == "src/"


@given(st.text(max_size=30))
def test_a_mapping_source_is_an_sqs_kinesis_or_dynamodb_arn_or_refused(arn: str) -> None:
    try:
        event = lr.mapping_event({"EventSourceArn": arn, "BatchSize": 3})
    except IntrinsicError as exc:
        assert "EventSourceArn" in exc.message
    else:
        assert event["Type"] in ("SQS", "Kinesis", "DynamoDB") and event["Properties"]["BatchSize"] == 3
