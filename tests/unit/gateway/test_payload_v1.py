"""Payload format 1.0 events: nulls, single- and multi-value maps, resources, stages, identity."""

from __future__ import annotations

import base64
import json

from cumulo.gateway.payload import event_v1
from cumulo.gateway.routing import RouteMatch

from .helpers import make_request

DEFAULT = RouteMatch("$default", {})
KEYS = ["version", "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "requestContext", "pathParameters", "stageVariables", "body",
        "isBase64Encoded"]


def test_every_key_is_present_and_null_when_empty() -> None:
    event = event_v1(make_request(), DEFAULT, None)
    assert list(event) == KEYS
    assert event["version"] == "1.0"
    for key in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables",
                "body"):
        assert event[key] is None, key
    assert event["isBase64Encoded"] is False
    json.dumps(event)


def test_headers_keep_their_spelling_last_value_wins_and_all_values_are_listed() -> None:
    headers = [("Header1", "value1"), ("Header2", "value1"), ("header2", "value2"), ("Cookie", "a=1; b=2")]
    event = event_v1(make_request(headers=headers), DEFAULT, None)
    assert event["headers"] == {"Header1": "value1", "Header2": "value2", "Cookie": "a=1; b=2"}
    assert event["multiValueHeaders"] == {"Header1": ["value1"], "Header2": ["value1", "value2"],
                                          "Cookie": ["a=1; b=2"]}
    assert "cookies" not in event


def test_query_parameters_first_value_wins_and_all_values_are_listed() -> None:
    """As the HTTP API guide's 1.0 sample shows (REST APIs would keep the last value)."""
    event = event_v1(make_request(raw_query="a=1&a=2&b=x+y&c"), DEFAULT, None)
    assert event["queryStringParameters"] == {"a": "1", "b": "x y", "c": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "c": [""]}


def test_route_resource_path_and_parameters() -> None:
    match = RouteMatch("GET /pets/{proxy+}", {"proxy": "cat/1"})
    event = event_v1(make_request(raw_path="/pets/cat/1"), match, {"env": "test"})
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/pets/{proxy+}"
    assert event["requestContext"]["resourceId"] is None
    assert event["path"] == event["requestContext"]["path"] == "/pets/cat/1"
    assert event["pathParameters"] == {"proxy": "cat/1"}
    assert event["stageVariables"] == {"env": "test"}


def test_the_default_route_is_its_own_resource() -> None:
    context = event_v1(make_request(), DEFAULT, None)["requestContext"]
    assert (context["resourceId"], context["resourcePath"]) == ("$default", "$default")
    assert event_v1(make_request(), DEFAULT, None)["resource"] == "$default"


def test_a_named_stage_stays_in_both_paths() -> None:
    event = event_v1(make_request(stage="prod", raw_path="/pets"), RouteMatch("GET /pets", {}), None)
    assert event["path"] == event["requestContext"]["path"] == "/prod/pets"
    assert event["resource"] == "/pets"
    assert event["requestContext"]["stage"] == "prod"


def test_request_context_and_identity() -> None:
    req = make_request(method="POST", headers=[("User-Agent", "curl/8")], source_ip="10.1.2.3")
    context = event_v1(req, DEFAULT, None)["requestContext"]
    assert context["httpMethod"] == "POST"
    assert context["protocol"] == "HTTP/1.1"
    assert context["requestId"] == context["extendedRequestId"] == "JKJaXmPLvHcESHA="
    assert context["requestTime"] == "04/Mar/2020:19:03:58 +0000"
    assert context["requestTimeEpoch"] == 1583348638390
    assert (context["domainName"], context["domainPrefix"]) == ("abc123.execute-api.localhost:8080", "abc123")
    assert context["identity"] == {
        "accessKey": None, "accountId": None, "caller": None, "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
        "principalOrgId": None, "sourceIp": "10.1.2.3", "user": None, "userAgent": "curl/8", "userArn": None,
    }
    assert "authorizer" not in context


def test_missing_user_agent_is_null() -> None:
    assert event_v1(make_request(headers=[]), DEFAULT, None)["requestContext"]["identity"]["userAgent"] is None


def test_authorizer_context_is_passed_through_when_given() -> None:
    authorizer = {"claims": {"sub": "1"}, "scopes": None}
    assert event_v1(make_request(), DEFAULT, None, authorizer)["requestContext"]["authorizer"] == authorizer


def test_bodies_follow_the_same_text_or_base64_rule_as_v2() -> None:
    text = event_v1(make_request(headers=[("Content-Type", "application/json")], body=b"{}"), DEFAULT, None)
    assert (text["body"], text["isBase64Encoded"]) == ("{}", False)
    binary = event_v1(make_request(headers=[("Content-Type", "image/gif")], body=b"GIF89a"), DEFAULT, None)
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"GIF89a"
