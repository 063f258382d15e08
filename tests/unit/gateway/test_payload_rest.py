"""REST APIs' Lambda proxy events: the path within the stage, the stage in requestContext.path, the last
value of repeated parameters, resource ids, binary media types."""

from __future__ import annotations

import base64
import json

from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.gateway.lambda_auth import rest_authorizer_event
from cumulo.gateway.payload_rest import event_rest, is_binary, resource_id, rest_body
from cumulo.gateway.routing import RouteMatch

from .helpers import make_request

MATCH = RouteMatch("GET /orders/{id}", {"id": "7"})
KEYS = {"resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body",
        "isBase64Encoded"}


def test_the_stage_is_in_the_context_path_not_in_the_path() -> None:
    event = event_rest(make_request(raw_path="/orders/7", stage="Prod"), MATCH, {"table": "t"})
    assert set(event) == KEYS and "version" not in event
    assert (event["path"], event["requestContext"]["path"]) == ("/orders/7", "/Prod/orders/7")
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/orders/{id}"
    assert event["requestContext"]["stage"] == "Prod" and event["stageVariables"] == {"table": "t"}
    assert "authorizer" not in event["requestContext"]
    APIGatewayProxyEventModel.model_validate(event)


def test_repeated_query_parameters_and_headers_keep_the_last_value() -> None:
    req = make_request(raw_query="a=1&a=2&b=x+y", headers=[("X-A", "1"), ("x-a", "2")], stage="dev")
    event = event_rest(req, MATCH, None)
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["headers"] == {"X-A": "2"} and event["multiValueHeaders"] == {"X-A": ["1", "2"]}


def test_resource_ids_are_stable_per_api_and_resource() -> None:
    assert resource_id("api1", "/orders") == resource_id("api1", "/orders")
    assert resource_id("api1", "/orders") != resource_id("api1", "/orders/{id}")
    assert len(resource_id("api1", "/")) == 6
    context = event_rest(make_request(stage="dev"), MATCH, None)["requestContext"]
    assert context["resourceId"] == resource_id("abc123", "/orders/{id}")


def test_binary_media_types_pick_base64() -> None:
    assert is_binary("image/png", ("image/png",)) and is_binary("image/png; q=1", ("image/*",))
    assert is_binary("application/pdf", ("*/*",)) and not is_binary("text/plain", ("image/png",))
    assert not is_binary(None, ("*/*",)) and not is_binary("image/png", ())
    assert rest_body(b"\x89PNG", "image/png", ("image/png",)) == (base64.b64encode(b"\x89PNG").decode(), True)
    assert rest_body(b"hello", "image/png", ()) == ("hello", False)          # no binary types: text
    assert rest_body(b"\xff\xfe", "text/plain", ()) == ("//4=", True)        # not UTF-8: base64 all the same
    assert rest_body(b"", "image/png", ("image/png",)) == (None, False)


def test_authorizer_events() -> None:
    req = make_request(raw_path="/orders/7", stage="dev", headers=[("Authorization", "Bearer x")])
    token = rest_authorizer_event("TOKEN", req, MATCH, None, ["Bearer x"], "arn:m")
    assert token == {"type": "TOKEN", "authorizationToken": "Bearer x", "methodArn": "arn:m"}
    request = rest_authorizer_event("REQUEST", req, MATCH, {"v": "1"}, ["Bearer x"], "arn:m")
    assert (request["type"], request["methodArn"], request["path"]) == ("REQUEST", "arn:m", "/orders/7")
    assert "body" not in request and request["headers"] == {"Authorization": "Bearer x"}


_TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABC-_0123456789", min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
       query=st.lists(st.tuples(_TOKEN, st.text(max_size=8)), max_size=5),
       headers=st.lists(st.tuples(_TOKEN, st.text("abc xyz;=,", max_size=10)), max_size=5),
       body=st.binary(max_size=64), content_type=st.sampled_from([None, "text/plain", "image/png", "application/json"]),
       binary=st.lists(st.sampled_from(["image/png", "*/*", "image/*", "application/json"]), max_size=2),
       stage=st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True))
def test_any_request_gives_an_event_powertools_reads_and_whose_maps_agree(
        method: str, query: list[tuple[str, str]], headers: list[tuple[str, str]], body: bytes,
        content_type: str | None, binary: list[str], stage: str) -> None:
    from urllib.parse import quote

    raw_query = "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    sent = headers + ([("Content-Type", content_type)] if content_type else [])
    event = event_rest(make_request(method=method, raw_query=raw_query, headers=sent, body=body, stage=stage),
                       MATCH, None, None, tuple(binary))
    APIGatewayProxyEventModel.model_validate(event)
    json.dumps(event)
    for single, multi in (("queryStringParameters", "multiValueQueryStringParameters"),
                          ("headers", "multiValueHeaders")):
        assert (not event[single]) == (not event[multi])
        if event[multi]:
            assert event[single] == {k: v[-1] for k, v in event[multi].items()}
    if event["multiValueQueryStringParameters"]:
        assert sum(map(len, event["multiValueQueryStringParameters"].values())) == len(query)
    decoded = (base64.b64decode(event["body"]) if event["isBase64Encoded"]
               else (event["body"] or "").encode())
    assert decoded == body
    assert event["requestContext"]["path"] == f"/{stage}{event['path']}"
