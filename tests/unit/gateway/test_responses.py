"""Mapping a function's result to the HTTP response, for payload formats 2.0 and 1.0."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conformance.data import CONFORMANCE
from cumulo.gateway.payload import INTERNAL_ERROR, MALFORMED_V1, GatewayResponse, response_v1, response_v2

DOCS = json.loads((CONFORMANCE / "events" / "lambda_proxy_response_format_docs.json").read_text())
JSON_TYPE = ("content-type", "application/json")


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


# -- 2.0: inferred responses --------------------------------------------------------------------
@pytest.mark.parametrize("example", DOCS["format_2_0_inference_examples"], ids=["string", "object"])
def test_v2_infers_documented_examples(example: dict[str, Any]) -> None:
    """The guide's table: a result without statusCode becomes 200, JSON, the result as body."""
    expected = example["api_gateway_interpretation"]
    payload = dumps(example["lambda_output"])
    response = response_v2(payload)
    assert response.status == expected["statusCode"]
    assert [(k.lower(), v) for k, v in response.headers] == [(k.lower(), v) for k, v in expected["headers"].items()]
    if isinstance(example["lambda_output"], str):
        assert response.body == expected["body"].encode()           # the string itself, unquoted
    else:
        assert json.loads(response.body) == json.loads(expected["body"])
        assert response.body == payload                              # exactly as the function returned it


@pytest.mark.parametrize("payload", [b"[1, 2]", b"42", b"true", b"null", b'{"message": "no status"}',
                                     b'{"body": "x", "headers": {"a": "b"}}', b' {"a" : 1} '])
def test_v2_any_other_json_without_status_code_is_the_body_verbatim(payload: bytes) -> None:
    assert response_v2(payload) == GatewayResponse(200, [JSON_TYPE], payload)


def test_v2_a_json_string_result_is_unquoted_and_unescaped() -> None:
    assert response_v2(dumps("caf\u00e9 \"quoted\"\n")).body == "café \"quoted\"\n".encode()


@pytest.mark.parametrize("payload", [b"", b"not json", b"{", b"\xff\xfe\x00", b"{'single': 'quotes'}"])
def test_v2_a_result_that_is_not_json_is_an_internal_error(payload: bytes) -> None:
    assert response_v2(payload) == INTERNAL_ERROR


# -- 2.0: custom responses ----------------------------------------------------------------------
def test_v2_documented_custom_response_shape() -> None:
    """The guide's custom format: each cookie becomes a set-cookie header."""
    response = response_v2(dumps(DOCS["format_2_0_custom_response_shape"]))
    assert response == GatewayResponse(
        200, [("headerName", "headerValue"), ("set-cookie", "cookie1"), ("set-cookie", "cookie2")],
        b"Hello from Lambda!")


def test_v2_status_code_alone_is_an_empty_response() -> None:
    assert response_v2(dumps({"statusCode": 204})) == GatewayResponse(204, [], b"")


def test_v2_base64_bodies_are_decoded() -> None:
    data = bytes(range(256))
    result = {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
              "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    assert response_v2(dumps(result)) == GatewayResponse(200, [("content-type", "application/octet-stream")], data)


def test_v2_text_bodies_are_utf8() -> None:
    assert response_v2(dumps({"statusCode": 200, "body": "é€"})).body == "é€".encode()


def test_v2_scalar_header_values_become_their_json_text() -> None:
    result = {"statusCode": 200, "headers": {"x-n": 5, "x-f": 1.5, "x-b": True, "x-s": "s"}}
    assert response_v2(dumps(result)).headers == [("x-n", "5"), ("x-f", "1.5"), ("x-b", "true"), ("x-s", "s")]


def test_v2_ignores_multi_value_headers_which_it_does_not_define() -> None:
    result = {"statusCode": 200, "multiValueHeaders": {"x": ["1", "2"]}}
    assert response_v2(dumps(result)).headers == []


def test_v2_null_optional_fields_are_absent_fields() -> None:
    result = {"statusCode": 200, "headers": None, "cookies": None, "body": None, "isBase64Encoded": None}
    assert response_v2(dumps(result)) == GatewayResponse(200, [], b"")


@pytest.mark.parametrize("result", [
    {"statusCode": "200"},                                 # 2.0 wants a number
    {"statusCode": 200.5},
    {"statusCode": True},
    {"statusCode": None},
    {"statusCode": 99},
    {"statusCode": 600},
    {"statusCode": 200, "body": {"not": "a string"}},
    {"statusCode": 200, "body": 5},
    {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    {"statusCode": 200, "body": "abc", "isBase64Encoded": True},      # bad padding
    {"statusCode": 200, "isBase64Encoded": "true"},
    {"statusCode": 200, "headers": ["a", "b"]},
    {"statusCode": 200, "headers": {"a": None}},
    {"statusCode": 200, "headers": {"a": ["1"]}},
    {"statusCode": 200, "headers": {"a": {"b": 1}}},
    {"statusCode": 200, "headers": {"bad name": "1"}},
    {"statusCode": 200, "headers": {"": "1"}},
    {"statusCode": 200, "headers": {"x": "a\r\nset-cookie: evil=1"}},
    {"statusCode": 200, "headers": {"x": "nul\x00"}},
    {"statusCode": 200, "headers": {"x": "€ not latin-1"}},
    {"statusCode": 200, "cookies": "a=1"},
    {"statusCode": 200, "cookies": [1]},
    {"statusCode": 200, "cookies": ["a=1\nb=2"]},
])
def test_v2_malformed_custom_responses_are_internal_errors(result: dict[str, Any]) -> None:
    assert response_v2(dumps(result)) == INTERNAL_ERROR


def test_internal_error_is_aws_body() -> None:
    assert INTERNAL_ERROR == GatewayResponse(500, [JSON_TYPE], b'{"message":"Internal Server Error"}')


# -- 1.0 ----------------------------------------------------------------------------------------
def test_v1_documented_response_shape_merges_headers() -> None:
    """The guide's 1.0 format: for a name in both maps only multiValueHeaders counts."""
    response = response_v1(dumps(DOCS["format_1_0_response_shape"]))
    assert response == GatewayResponse(200, [("headerName", "headerValue"), ("headerName", "headerValue2")], b"...")


def test_v1_single_and_multi_value_headers_are_merged() -> None:
    result = {"statusCode": 201, "headers": {"X-One": "1", "Content-Type": "text/plain", "x-both": "single"},
              "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Both": ["m1", "m2"]}, "body": "ok"}
    assert response_v1(dumps(result)) == GatewayResponse(201, [
        ("X-One", "1"), ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Both", "m1"), ("X-Both", "m2")], b"ok")


def test_v1_base64_bodies_are_decoded() -> None:
    result = {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    assert response_v1(dumps(result)).body == b"\x00\x01"


def test_v1_accepts_a_decimal_string_status_code_like_rest_apis() -> None:
    assert response_v1(dumps({"statusCode": "404", "body": "nope"})) == GatewayResponse(404, [], b"nope")


def test_v1_ignores_cookies_which_it_does_not_define() -> None:
    assert response_v1(dumps({"statusCode": 200, "cookies": ["a=1"]})).headers == []


@pytest.mark.parametrize("payload", [
    b"not json", b"", b'"Hello from Lambda!"', b"[1]", b"null", b'{"message": "no status"}',
    dumps({"statusCode": "abc"}), dumps({"statusCode": None}), dumps({"statusCode": 200, "body": {"a": 1}}),
    dumps({"statusCode": 200, "multiValueHeaders": {"a": "not a list"}}),
    dumps({"statusCode": 200, "multiValueHeaders": ["a"]}),
    dumps({"statusCode": 200, "headers": {"a": ["1"]}}),
    dumps({"statusCode": 200, "headers": {"x": "a\nb"}}),
    dumps({"statusCode": 200, "body": "!", "isBase64Encoded": True}),
])
def test_v1_anything_else_is_a_502_as_rest_apis_answer(payload: bytes) -> None:
    """REST guide: "If the function output is of a different format, API Gateway returns a 502"."""
    assert response_v1(payload) == MALFORMED_V1
    assert MALFORMED_V1.status == 502
    assert json.loads(MALFORMED_V1.body) == {"message": "Internal server error"}
