"""Payload format 2.0 events: joining, cookies, query strings, bodies, stages, the request context."""

from __future__ import annotations

import base64
import json

import pytest

from cumulo.gateway.payload import event_v2
from cumulo.gateway.routing import RouteMatch

from .helpers import EPOCH_MS, make_request

DEFAULT = RouteMatch("$default", {})


def test_a_bare_get_leaves_optional_fields_out() -> None:
    event = event_v2(make_request(), DEFAULT, None)
    assert list(event) == ["version", "routeKey", "rawPath", "rawQueryString", "headers", "requestContext",
                           "isBase64Encoded"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == ""
    assert event["headers"] == {"user-agent": "agent"}
    assert event["isBase64Encoded"] is False
    json.dumps(event)      # plain JSON all the way down


# -- headers and cookies ----------------------------------------------------------------------
def test_header_names_are_lower_cased_and_repeats_comma_joined() -> None:
    headers = [("Header1", "value1"), ("Header2", "value1"), ("header2", "value2"), ("X-Multi", "a, b")]
    event = event_v2(make_request(headers=headers), DEFAULT, None)
    assert event["headers"] == {"header1": "value1", "header2": "value1,value2", "x-multi": "a, b"}


def test_cookies_move_out_of_headers_one_entry_per_cookie() -> None:
    headers = [("Cookie", "cookie1=a; cookie2=b"), ("accept", "*/*"), ("cookie", "cookie3=c")]
    event = event_v2(make_request(headers=headers), DEFAULT, None)
    assert event["cookies"] == ["cookie1=a", "cookie2=b", "cookie3=c"]
    assert event["headers"] == {"accept": "*/*"}


def test_cookie_values_keep_their_inner_characters_and_empty_pieces_vanish() -> None:
    headers = [("cookie", "a=1;b=x=y; ;  c=\"q r\" ;")]
    assert event_v2(make_request(headers=headers), DEFAULT, None)["cookies"] == ["a=1", "b=x=y", 'c="q r"']


def test_no_cookie_header_means_no_cookies_field() -> None:
    assert "cookies" not in event_v2(make_request(headers=[("cookie", " ")]), DEFAULT, None)


# -- query strings ----------------------------------------------------------------------------
def test_repeated_query_parameters_are_comma_joined_and_raw_query_kept() -> None:
    raw = "parameter1=value1&parameter1=value2&parameter2=value"
    event = event_v2(make_request(raw_query=raw), DEFAULT, None)
    assert event["rawQueryString"] == raw
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}


@pytest.mark.parametrize(("raw", "params"), [
    ("email=test%2Balias%40x.com", {"email": "test+alias@x.com"}),
    ("plus=test+alias", {"plus": "test alias"}),                # form decoding, as AWS records it
    ("flag", {"flag": ""}),
    ("a=&b=1", {"a": "", "b": "1"}),
    ("a=1&&b=2&", {"a": "1", "b": "2"}),
    ("k%C3%A9y=v%E2%82%AC", {"kéy": "v€"}),
    ("x=a%2Cb&x=c", {"x": "a,b,c"}),                            # joining cannot be undone: rawQueryString can
    ("bad=%zz", {"bad": "%zz"}),                                # lenient: the raw string is there too
])
def test_query_parameters_are_decoded(raw: str, params: dict[str, str]) -> None:
    assert event_v2(make_request(raw_query=raw), DEFAULT, None)["queryStringParameters"] == params


def test_an_empty_query_string_means_no_query_parameters() -> None:
    assert "queryStringParameters" not in event_v2(make_request(raw_query="&"), DEFAULT, None)


# -- path parameters, stage variables, stages -------------------------------------------------
def test_path_parameters_come_from_the_match() -> None:
    match = RouteMatch("GET /items/{id}", {"id": "a b"})
    event = event_v2(make_request(raw_path="/items/a%20b"), match, None)
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /items/{id}"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["rawPath"] == "/items/a%20b"


def test_stage_variables_are_included_only_when_there_are_some() -> None:
    assert event_v2(make_request(), DEFAULT, {"v": "1"})["stageVariables"] == {"v": "1"}
    assert "stageVariables" not in event_v2(make_request(), DEFAULT, {})
    assert "stageVariables" not in event_v2(make_request(), DEFAULT, None)


def test_a_named_stage_stays_in_the_path_and_default_adds_nothing() -> None:
    named = event_v2(make_request(stage="dev", raw_path="/pets/1"), DEFAULT, None)
    assert named["rawPath"] == named["requestContext"]["http"]["path"] == "/dev/pets/1"
    assert named["requestContext"]["stage"] == "dev"
    default = event_v2(make_request(raw_path="/pets/1"), DEFAULT, None)
    assert default["rawPath"] == default["requestContext"]["http"]["path"] == "/pets/1"
    assert default["requestContext"]["stage"] == "$default"


def test_a_trailing_slash_stays_in_the_raw_path() -> None:
    assert event_v2(make_request(raw_path="/items/"), RouteMatch("GET /items", {}), None)["rawPath"] == "/items/"


# -- bodies -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("content_type", "body", "text"), [
    ("application/json", b'{"a": "\xc3\xa9"}', '{"a": "é"}'),
    ("application/json; charset=utf-8", b"[1]", "[1]"),
    ("text/plain", b"hello", "hello"),
    ("TEXT/HTML", b"<p>", "<p>"),
    ("application/problem+json", b"{}", "{}"),
    ("application/atom+xml", b"<a/>", "<a/>"),
    ("application/xml", b"<a/>", "<a/>"),
    ("application/javascript", b"x()", "x()"),
    (None, b"no content type", "no content type"),
])
def test_textual_bodies_go_as_text(content_type: str | None, body: bytes, text: str) -> None:
    headers = [] if content_type is None else [("Content-Type", content_type)]
    event = event_v2(make_request(method="POST", headers=headers, body=body), DEFAULT, None)
    assert (event["body"], event["isBase64Encoded"]) == (text, False)


@pytest.mark.parametrize(("content_type", "body"), [
    ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
    ("application/octet-stream", b"plain ascii still binary"),
    ("application/x-www-form-urlencoded", b"a=1&b=2"),
    ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--"),
    ("text/plain", b"\xff\xfe not utf-8"),
    (None, b"\x00\x80\xff"),
])
def test_other_bodies_go_base64_encoded(content_type: str | None, body: bytes) -> None:
    headers = [] if content_type is None else [("content-type", content_type)]
    event = event_v2(make_request(method="POST", headers=headers, body=body), DEFAULT, None)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_the_last_content_type_header_decides() -> None:
    headers = [("content-type", "text/plain"), ("Content-Type", "image/png")]
    assert event_v2(make_request(headers=headers, body=b"x"), DEFAULT, None)["isBase64Encoded"] is True


# -- the request context ----------------------------------------------------------------------
def test_request_context_carries_the_request() -> None:
    req = make_request(method="PUT", source_ip="10.0.0.7", headers=[("User-Agent", "curl/8")],
                       account_id="123456789012")
    context = event_v2(req, RouteMatch("PUT /my/path", {}), None)["requestContext"]
    assert context == {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.localhost:8080",
        "domainPrefix": "abc123",
        "http": {"method": "PUT", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "10.0.0.7",
                 "userAgent": "curl/8"},
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "PUT /my/path",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": EPOCH_MS,
    }


def test_authorizer_context_is_passed_through_when_given() -> None:
    authorizer = {"lambda": {"user": "alice"}}
    assert event_v2(make_request(), DEFAULT, None, authorizer)["requestContext"]["authorizer"] == authorizer
    assert "authorizer" not in event_v2(make_request(), DEFAULT, None)["requestContext"]


def test_missing_user_agent_is_an_empty_string() -> None:
    assert event_v2(make_request(headers=[]), DEFAULT, None)["requestContext"]["http"]["userAgent"] == ""


def test_account_id_defaults_to_zeros() -> None:
    assert event_v2(make_request(), DEFAULT, None)["requestContext"]["accountId"] == "000000000000"


@pytest.mark.parametrize(("domain", "prefix"), [
    ("id.execute-api.us-east-1.amazonaws.com", "id"),
    ("abc123.execute-api.localhost:8080", "abc123"),
    ("localhost:8080", "localhost"),
    ("127.0.0.1:8080", "127.0.0.1"),
    ("[::1]:8080", "::1"),
    ("api.example.com", "api"),
])
def test_domain_prefix_is_the_first_label_of_the_host(domain: str, prefix: str) -> None:
    assert event_v2(make_request(domain_name=domain), DEFAULT, None)["requestContext"]["domainPrefix"] == prefix


@pytest.mark.parametrize(("epoch_ms", "text"), [
    (0, "01/Jan/1970:00:00:00 +0000"),
    (1583348638390, "04/Mar/2020:19:03:58 +0000"),
    (1709251199999, "29/Feb/2024:23:59:59 +0000"),
    (1735689600000, "01/Jan/2025:00:00:00 +0000"),
])
def test_time_is_clf_style_utc(epoch_ms: int, text: str) -> None:
    context = event_v2(make_request(time_epoch_ms=epoch_ms), DEFAULT, None)["requestContext"]
    assert (context["time"], context["timeEpoch"]) == (text, epoch_ms)
