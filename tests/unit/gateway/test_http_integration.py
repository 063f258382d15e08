"""REST APIs' ``HTTP`` (non-proxy) integrations (``gateway/integrations.py``): the backend request made from the
request parameters and mapping templates, and the backend's answer mapped by the integration responses."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, strategies as st

from cumulo.gateway.integrations import HttpCall, RestCall, Sources, rest_aws_response, rest_http_call
from cumulo.gateway.model import BadRequestException, Route

_XML = ('<order id="$input.params(\'id\')"><item>$util.escapeJavaScript($input.path(\'$.item\'))</item>'
        '<qty>$input.path(\'$.qty\')</qty></order>')
MAPPING = {"request_templates": {"application/json": _XML}, "passthrough": "NEVER",
           "responses": [
               {"pattern": "4\\d{2}", "status": "400", "templates": {"application/json": '{"error": $input.json(\'$.why\')}'},
                "headers": {}},
               {"pattern": "", "status": "200",
                "templates": {"application/json": '{"legacy": $input.json(\'$.path\'), "rid": "$context.requestId"}'},
                "headers": {"method.response.header.X-Legacy": "integration.response.header.x-legacy",
                            "method.response.header.X-Path": "integration.response.body.path",
                            "method.response.header.X-Static": "'yes'",
                            "method.response.header.X-Nothing": "integration.response.header.absent"}}]}
PARAMETERS = {"integration.request.path.orderId": "method.request.path.id",
              "integration.request.querystring.tenant": "method.request.header.x-tenant",
              "integration.request.querystring.fixed": "'a b&c'",
              "integration.request.header.Content-Type": "'application/xml'",
              "integration.request.header.X-Api-Version": "'2'"}


def _sources(body: bytes = b'{"item": "pen", "qty": 3}', path: dict[str, str] | None = None,
             headers: list[tuple[str, str]] | None = None) -> Sources:
    return Sources(body, headers if headers is not None else [("X-Tenant", "acme"), ("Cookie", "secret")],
                   "client=1", path if path is not None else {"id": "o/7"}, {"requestId": "r-1"}, {})


def test_the_backend_request_is_made_from_the_mappings() -> None:
    call = rest_http_call("http://legacy:8080/orders/{orderId}/xml?v=1", PARAMETERS, MAPPING, "application/json",
                          _sources())
    assert isinstance(call, HttpCall)
    # the path parameter percent-encoded (its slash too), the mapped query string appended; not the client's
    assert call.url == "http://legacy:8080/orders/o%2F7/xml?v=1&tenant=acme&fixed=a%20b%26c"
    assert dict(call.headers) == {"content-type": "application/xml", "x-api-version": "2"}   # no client headers
    assert call.body == b'<order id="o/7"><item>pen</item><qty>3</qty></order>'


def test_passthrough_and_the_content_type_sent() -> None:
    mapping = {**MAPPING, "passthrough": "WHEN_NO_MATCH"}
    call = rest_http_call("https://b/x", {}, mapping, "text/plain; charset=utf-8", _sources(b"raw"))
    assert isinstance(call, HttpCall) and call.body == b"raw" and dict(call.headers) == {"content-type": "text/plain"}
    refused = rest_http_call("https://b/x", {}, MAPPING, "text/plain", _sources(b"raw"))     # NEVER: 415
    assert not isinstance(refused, HttpCall) and refused.status == 415
    # an unmapped {name} in the uri takes the method's own path parameter; a greedy one keeps its slashes
    call = rest_http_call("http://b/files/{proxy}", {}, mapping, "", _sources(path={"proxy": "a/../b"}))
    assert isinstance(call, HttpCall) and call.url == "http://b/files/a/%2E%2E/b"


def test_the_backend_answer_goes_through_the_integration_responses() -> None:
    backend = [("Content-Type", "application/json"), ("X-Legacy", "v1"), ("x-legacy", "v2")]
    body = json.dumps({"path": "/orders/7", "why": "no such order"}).encode()
    ok = rest_aws_response(RestCall("http", "", {}, True), MAPPING, 201, body, "r-1", _sources(), backend)
    headers = dict(ok.headers)
    assert ok.status == 200 and json.loads(ok.body) == {"legacy": "/orders/7", "rid": "r-1"}
    assert headers["X-Legacy"] == "v1,v2" and headers["X-Path"] == "/orders/7" and headers["X-Static"] == "yes"
    assert "X-Nothing" not in headers and headers["content-type"] == "application/json"
    missing = rest_aws_response(RestCall("http", "", {}, True), MAPPING, 404, body, "r-1", _sources(), backend)
    assert missing.status == 400 and json.loads(missing.body) == {"error": "no such order"}


def test_response_templates_are_chosen_by_accept() -> None:
    mapping = {"responses": [{"pattern": "", "status": "200", "headers": {},
                              "templates": {"application/json": '{"a": 1}', "application/xml": "<a>1</a>"}}]}
    as_xml = rest_aws_response(RestCall("http", "", {}, True), mapping, 200, b"{}", "r",
                               _sources(headers=[("Accept", "application/xml")]), [])
    assert as_xml.body == b"<a>1</a>" and dict(as_xml.headers)["content-type"] == "application/xml"
    default = rest_aws_response(RestCall("http", "", {}, True), mapping, 200, b"{}", "r", _sources(headers=[]), [])
    assert default.body == b'{"a": 1}'


@pytest.mark.parametrize(("fields", "message"), [
    ({"integration_uri": "ftp://x"}, "http(s) URL"),
    ({"integration_method": "BREW"}, "not an HTTP method"),
    ({"request_parameters": {"integration.request.header.X": "$request.header.y"}}, "must be a 'quoted'"),
    ({"request_parameters": {"method.request.header.X": "'a'"}}, "integration.request"),
    ({"mapping": {"passthrough": "SOMETIMES"}}, "PassthroughBehavior"),
    ({"mapping": {"request_templates": {"application/json": "#macro(x)#end"}}}, "#macro"),
    ({"mapping": {"responses": [{"pattern": "(", "status": "400"}]}}, "SelectionPattern"),
])
def test_http_integrations_refuse_what_api_gateway_refuses(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"integration_type": "HTTP", "integration_uri": "http://b/x", "integration_method": "GET"}
    with pytest.raises(BadRequestException, match=re.escape(message)):
        Route("GET /x", "", "1.0", **{**base, **fields})  # type: ignore[arg-type]


@given(st.dictionaries(st.sampled_from(["id", "proxy", "x"]), st.text(max_size=30), max_size=3),
       st.binary(max_size=200), st.text(max_size=40))
def test_any_request_makes_a_url_under_the_integrations_own(path: dict[str, str], body: bytes, header: str) -> None:
    mapping = {**MAPPING, "passthrough": "WHEN_NO_MATCH"}
    parameters = {**PARAMETERS, "integration.request.path.orderId": "method.request.path.x"}
    call = rest_http_call("http://legacy:8080/base/{orderId}/{proxy}", parameters, mapping, "application/json",
                          _sources(body, path, [("X-Tenant", header)]))
    if isinstance(call, HttpCall):
        assert call.url.startswith("http://legacy:8080/base/")
        rest = call.url[len("http://legacy:8080/base/"):].split("?", 1)[0]
        assert ".." not in rest.split("/") and "." not in rest.split("/")
        assert all("\r" not in v and "\n" not in v for _, v in call.headers)
    else:
        assert call.status == 500          # a template that cannot render: API Gateway's 500
