"""HTTP APIs' service integrations and HTTP proxies (``gateway/integrations.py``): request parameters'
selection expressions, the service calls they make, the answers relayed, the proxied URL."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from cumulo.gateway.integrations import Sources, map_parameters, proxy_url, rest_mock_response, \
    selection_expressions, service_call, service_response
from cumulo.gateway.model import BadRequestException, Route


def _sources(body: bytes = b'{"Detail": {"message": "hi"}, "order": {"id": 7, "tags": ["a", "b"]}, "name": "x"}',
             **kw: object) -> Sources:
    return Sources(body, kw.get("headers", [("X-Tenant", "acme"), ("x-multi", "1"), ("X-Multi", "2")]),  # type: ignore[arg-type]
                   str(kw.get("query", "max=5&tag=a&tag=b")), {"detailType": "OrderPlaced", "proxy": "a/b"},
                   {"requestId": "r-1", "identity": {"sourceIp": "10.0.0.1"}, "authorizer": {"claims": {"sub": "u"}}},
                   {"table": "orders-dev"})


def test_selection_expressions_read_the_request() -> None:
    values = map_parameters({
        "whole": "$request.body", "detail": "$request.body.Detail", "id": "$request.body.order.id",
        "tag": "$request.body.order.tags[1]", "quoted": "$request.body['name']", "missing": "$request.body.nope.x",
        "header": "$request.header.x-tenant", "multi": "$request.header.X-MULTI", "query": "$request.querystring.tag",
        "path": "com.mycompany.$request.path.detailType", "context": "$context.identity.sourceIp",
        "claims": "$context.authorizer.claims.sub", "stage": "$stageVariables.table",
        "braced": '{"Tenant": {"StringValue": "${request.header.x-tenant}"}}', "static": "MyDetailType",
    }, _sources())
    assert json.loads(values["whole"])["name"] == "x"
    assert values["detail"] == '{"message":"hi"}' and values["id"] == "7" and values["tag"] == "b"
    assert values["quoted"] == "x" and values["missing"] == ""
    assert values["header"] == "acme" and values["multi"] == "1,2" and values["query"] == "a,b"
    assert values["path"] == "com.mycompany.OrderPlaced" and values["context"] == "10.0.0.1"
    assert values["claims"] == "u" and values["stage"] == "orders-dev"
    assert json.loads(values["braced"]) == {"Tenant": {"StringValue": "acme"}} and values["static"] == "MyDetailType"


def test_a_body_that_is_not_json_maps_to_nothing() -> None:
    values = map_parameters({"a": "$request.body.a", "b": "$request.body"}, _sources(b"\xff not json"))
    assert values["a"] == "" and values["b"].endswith("not json")


@given(st.text(max_size=200), st.binary(max_size=200), st.text(max_size=60))
def test_mapping_never_fails_and_keeps_static_text(template: str, body: bytes, query: str) -> None:
    values = map_parameters({"p": template}, _sources(body, query=query))
    assert isinstance(values["p"], str)
    if "$" not in template:
        assert values["p"] == template


@given(st.lists(st.sampled_from(["a", "b", ".", "[", "]", "0", "'", '"', "-", "$"]), max_size=30).map("".join))
def test_body_paths_never_fail(path: str) -> None:
    values = map_parameters({"p": "$request.body." + path}, _sources())
    assert isinstance(values["p"], str)
    assert selection_expressions("$request.body.order") == ["request.body.order"]


def test_each_subtype_makes_its_operation() -> None:
    target, doc = service_call("SQS-SendMessage", {"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": "5",
                                                   "MessageAttributes": '{"A": {"DataType": "String", "StringValue": "v"}}',
                                                   "Region": "us-east-1"})
    assert target == "AmazonSQS.SendMessage"
    assert doc == {"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": 5,
                   "MessageAttributes": {"A": {"DataType": "String", "StringValue": "v"}}}
    assert service_call("SQS-ReceiveMessage", {"QueueUrl": "q", "MaxNumberOfMessages": "3",
                                               "MessageAttributeNames": "All, Tenant"})[1] == \
        {"QueueUrl": "q", "MaxNumberOfMessages": 3, "MessageAttributeNames": ["All", "Tenant"]}
    target, doc = service_call("EventBridge-PutEvents", {"Source": "WebApp", "DetailType": "T", "Detail": "{}",
                                                          "EventBusName": "bus", "Resources": '["r1"]'})
    assert target == "AWSEvents.PutEvents" and doc == {"Entries": [
        {"Source": "WebApp", "DetailType": "T", "Detail": "{}", "EventBusName": "bus", "Resources": ["r1"]}]}
    assert service_call("StepFunctions-StartExecution", {"StateMachineArn": "arn"}) == \
        ("AWSStepFunctions.StartExecution", {"stateMachineArn": "arn", "input": "{}"})
    assert service_call("StepFunctions-StopExecution", {"ExecutionArn": "e", "Cause": "c"}) == \
        ("AWSStepFunctions.StopExecution", {"executionArn": "e", "cause": "c"})


def test_sqs_answers_are_relayed_in_the_json_form_of_its_query_answers() -> None:
    sent = service_response("SQS-SendMessage", 200, b'{"MessageId": "m-1", "MD5OfMessageBody": "abc"}', "req")
    assert sent.status == 200 and json.loads(sent.body) == {"SendMessageResponse": {
        "ResponseMetadata": {"RequestId": "req"},
        "SendMessageResult": {"MD5OfMessageAttributes": None, "MD5OfMessageBody": "abc",
                              "MD5OfMessageSystemAttributes": None, "MessageId": "m-1", "SequenceNumber": None}}}
    empty = service_response("SQS-ReceiveMessage", 200, b"{}", "req")
    assert json.loads(empty.body)["ReceiveMessageResponse"]["ReceiveMessageResult"] == {"messages": None}
    deleted = service_response("SQS-DeleteMessage", 200, b"", "req")
    assert json.loads(deleted.body) == {"DeleteMessageResponse": {"ResponseMetadata": {"RequestId": "req"}}}
    refused = service_response("SQS-SendMessage", 400, b'{"__type": "com.amazonaws.sqs#InvalidParameterValue", '
                                                       b'"message": "bad"}', "req")
    assert refused.status == 400 and json.loads(refused.body) == {
        "Error": {"Code": "InvalidParameterValue", "Message": "bad", "Type": "Sender"}, "RequestId": "req"}


@pytest.mark.parametrize("status,body", [(403, b'{"__type": "AccessDeniedException"}'), (400, b'{"__type": '
                                         b'"AccessDeniedException"}'), (500, b"{}"), (200, b"not json")])
def test_denials_and_failures_are_api_gateways_500(status: int, body: bytes) -> None:
    answer = service_response("EventBridge-PutEvents", status, body, "req")
    if status == 200:
        return          # a 200 whose body is not JSON is relayed as it came
    assert (answer.status, json.loads(answer.body)) == (500, {"message": "Internal Server Error"})


def test_proxy_urls_fill_path_parameters_and_keep_the_query() -> None:
    assert proxy_url("http://legacy:8080/{proxy}", {"proxy": "a/b c"}, "x=1&y=2") == \
        "http://legacy:8080/a/b%20c?x=1&y=2"
    assert proxy_url("https://h/pets/{id}?fixed=1", {"id": "../x"}, "q=2") == "https://h/pets/..%2Fx?fixed=1&q=2"
    assert proxy_url("http://h/base", {}, "") == "http://h/base"
    assert proxy_url("http://h/public/{proxy}", {"proxy": "../admin/./x/.."}, "") == \
        "http://h/public/%2E%2E/admin/%2E/x/%2E%2E"


@pytest.mark.parametrize("fields,message", [
    ({"integration_subtype": "SQS-SendMessage", "request_parameters": {"MessageBody": "m"}}, "must include QueueUrl"),
    ({"integration_subtype": "SQS-Nope"}, "not valid"),
    ({"integration_type": "HTTP_PROXY", "integration_uri": "file:///etc/passwd"}, "http\\(s\\) URL"),
    ({"integration_type": "HTTP_PROXY", "integration_uri": "http://h", "integration_method": "BREW"}, "not an HTTP"),
    ({"integration_type": "HTTP_MOCK"}, "not supported"),
    ({"integration_type": "HTTP"}, "http\\(s\\) URL"),
])
def test_routes_refuse_what_create_integration_refuses(fields: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequestException, match=message):
        Route("POST /a", "", **fields)  # type: ignore[arg-type]


def test_routes_round_trip_with_their_integration() -> None:
    from cumulo.gateway.model import HttpApi

    route = Route("POST /a", "", "1.0", integration_subtype="SQS-SendMessage", credentials="arn:aws:iam::1:role/r",
                  request_parameters={"QueueUrl": "q", "MessageBody": "$request.body"})
    api = HttpApi("abc", "n", (route,))
    assert HttpApi.from_dict(json.loads(json.dumps(api.to_dict()))) == api


def test_uris_as_templates_write_them() -> None:
    from cumulo.deploy.rest_apis import function_of_uri
    from cumulo.gateway.model import AWS_INTEGRATION_URI

    m = AWS_INTEGRATION_URI.match("arn:aws:apigateway:${AWS::Region}:states:action/StartSyncExecution")
    assert m and (m["service"], m["kind"], m["rest"]) == ("states", "action", "StartSyncExecution")
    assert function_of_uri("arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/arn:aws:lambda:us-east-1:"
                           "1:function:story/response-streaming-invocations") == "story"


def _mock(templates: dict[str, str], responses: list[dict[str, object]], **kw: object) -> tuple[int, str]:
    answer = rest_mock_response({"request_templates": templates, "passthrough": "WHEN_NO_MATCH",
                                 "responses": responses}, "", "req-1", _sources(b"", **kw))
    return answer.status, answer.body.decode()


@pytest.mark.parametrize(("templates", "expected"), [
    ({}, (200, '{"up": true}')),                                         # no template: the default response
    ({"application/json": '{"statusCode": 404}'}, (404, '{"missing": true}')),
    ({"application/json": '{"statusCode": 418}'}, (200, '{"up": true}')),     # no pattern matches: the default
    ({"application/json": "statusCode: 200"}, (500, '{"message": "Internal server error"}')),     # not JSON
    ({"application/json": '{"statusCode": "two hundred"}'}, (500, '{"message": "Internal server error"}')),
])
def test_a_mock_integrations_status_code_selects_its_response(templates: dict[str, str],
                                                               expected: tuple[int, str]) -> None:
    responses = [{"pattern": "", "status": "200", "templates": {"application/json": '{"up": true}'}},
                 {"pattern": "404", "status": "404", "templates": {"application/json": '{"missing": true}'}}]
    status, body = _mock(templates, responses)
    assert (status, json.loads(body)) == (expected[0], json.loads(expected[1]))


def test_mock_routes_are_checked_as_api_gateway_checks_them() -> None:
    Route("GET /health", "", integration_type="MOCK", mapping={"responses": [{"pattern": "", "status": 200}]})
    with pytest.raises(BadRequestException, match="PassthroughBehavior must be one of"):
        Route("GET /health", "", integration_type="MOCK", mapping={"passthrough": "ALWAYS"})
