"""Our Lambda proxy events against AWS's own samples (API Gateway developer guide, Powertools' test events).

Each test rebuilds a sample from the request it describes and checks two things:
the *shape* — same keys at every level, same JSON types — against the sample as
AWS published it, and the *values* wherever they derive from the request. The
few places where a sample cannot be reproduced from a request are edited in the
expectation or left out of the value comparison, each with its reason next to it, and
never replaced by what we build; the sample files stay untouched.
Every built event must also pass Powertools' parser models, which real
functions use to read these events.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from tests.conformance.data import CONFORMANCE
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel, APIGatewayProxyEventV2Model

from cumulo.gateway.payload import HttpRequest, event_v1, event_v2
from cumulo.gateway.payload_rest import event_rest
from cumulo.gateway.routing import RouteMatch, RouteTable

EVENTS = CONFORMANCE / "events"

# Maps whose keys are data (header names, parameters ...): compared by value type, not by key.
MAPS = {"$.headers", "$.multiValueHeaders", "$.queryStringParameters", "$.multiValueQueryStringParameters",
        "$.pathParameters", "$.stageVariables", "$.requestContext.authorizer"}
# Present only for mutual-TLS custom domains; Cumulo's gateway speaks plain HTTP.
MTLS_ONLY = {"$.requestContext.authentication", "$.requestContext.identity.clientCert"}


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def shape_differences(ours: Any, theirs: Any, path: str = "$") -> list[str]:
    """Where ``ours`` differs from ``theirs`` in keys or JSON types (values aside)."""
    if path in MAPS and isinstance(theirs, dict) and isinstance(ours, dict):
        kinds = {type(v) for v in theirs.values()}
        return [f"{path}.{k}: {type(v).__name__}" for k, v in ours.items() if kinds and type(v) not in kinds]
    if type(ours) is not type(theirs):
        return [f"{path}: {type(ours).__name__} where AWS has {type(theirs).__name__}"]
    if isinstance(theirs, dict):
        expected = {k for k in theirs if f"{path}.{k}" not in MTLS_ONLY}
        problems = [f"{path}: missing {k}" for k in sorted(expected - ours.keys())]
        problems += [f"{path}: extra {k}" for k in sorted(ours.keys() - expected)]
        for key in sorted(expected & ours.keys()):
            problems += shape_differences(ours[key], theirs[key], f"{path}.{key}")
        return problems
    if isinstance(theirs, list):
        return [p for mine, aws in zip(ours, theirs) for p in shape_differences(mine, aws, f"{path}[]")]
    return []


def without(event: dict[str, Any], *paths: str) -> dict[str, Any]:
    """A copy of ``event`` without the dotted ``paths``."""
    copied = copy.deepcopy(event)
    for dotted in paths:
        *parents, last = dotted.split(".")
        node = copied
        for key in parents:
            node = node[key]
        node.pop(last, None)
    return copied


# -- payload format 2.0 -------------------------------------------------------------------------
def v2_request(aws: dict[str, Any]) -> HttpRequest:
    """The request an AWS 2.0 sample describes. Its headers are abbreviated: the user-agent header
    that ``http.userAgent`` is read from belongs there too."""
    context, http = aws["requestContext"], aws["requestContext"]["http"]
    headers = [(name, value) for name, joined in aws["headers"].items() for value in joined.split(",")]
    headers += [("Cookie", "; ".join(aws.get("cookies", []))), ("User-Agent", http["userAgent"])]
    return HttpRequest(
        method=http["method"], raw_path=aws["rawPath"], raw_query=aws["rawQueryString"], headers=headers,
        body=aws.get("body", "").encode(), source_ip=http["sourceIp"], request_id=context["requestId"],
        time_epoch_ms=context["timeEpoch"], api_id=context["apiId"], domain_name=context["domainName"],
        stage=context["stage"], account_id=context["accountId"])


def v2_rebuilt(aws: dict[str, Any]) -> dict[str, Any]:
    # The samples pair routeKey "$default" with path parameters, which no route table produces for
    # "$default"; the builder takes the match as given, so we hand it the sample's.
    match = RouteMatch(aws["routeKey"], aws.get("pathParameters") or {})
    return event_v2(v2_request(aws), match, aws.get("stageVariables"), aws["requestContext"].get("authorizer"))


def v2_expected(aws: dict[str, Any]) -> dict[str, Any]:
    """The sample with the request-independent edits, each explained."""
    expected = without(aws, "requestContext.authentication")                 # mutual TLS only
    # Real HTTP API traffic has lower-case header names (conformance README); plus the user-agent header.
    expected["headers"] = {k.lower(): v for k, v in aws["headers"].items()}
    expected["headers"]["user-agent"] = aws["requestContext"]["http"]["userAgent"]
    return expected


V2_SAMPLES = ["apigw_http_api_payload_v2_docs", "powertools_apiGatewayProxyV2Event",
              "powertools_apiGatewayProxyV2Event_GET"]


@pytest.mark.parametrize("name", V2_SAMPLES)
def test_v2_event_has_the_shape_of_aws_samples(name: str) -> None:
    """HTTP API payload format 2.0 ("Working with AWS Lambda proxy integrations for HTTP APIs"):
    the same keys at every level and the same JSON types; optional fields absent, not null."""
    aws = sample(name)
    assert shape_differences(v2_rebuilt(aws), aws) == []


@pytest.mark.parametrize("name", V2_SAMPLES)
def test_v2_event_values_derive_from_the_request_as_aws_shows(name: str) -> None:
    """Comma-joined repeated headers and query parameters, cookies split out of the Cookie header,
    rawPath/rawQueryString as received, http.* from the request, and the time derived from timeEpoch."""
    aws = sample(name)
    ours, expected = v2_rebuilt(aws), v2_expected(aws)
    # The docs' "time" says 12/Mar/2020 but its own timeEpoch, 1583348638390, is 04 Mar 2020 19:03:58 UTC:
    # the time of day agrees, the day is a typo in the samples. Ours is derived from timeEpoch.
    assert expected["requestContext"].pop("time").endswith("/Mar/2020:19:03:58 +0000")
    assert ours["requestContext"].pop("time") == "04/Mar/2020:19:03:58 +0000"
    assert ours == expected


def test_v2_default_route_request_rebuilt_through_the_route_table() -> None:
    """The same docs request routed for real: "$default" catches it, so there are no path parameters."""
    aws = sample("apigw_http_api_payload_v2_docs")
    request = v2_request(aws)
    match = RouteTable(["GET /other", "$default"]).match(request.method, request.raw_path)
    assert match == RouteMatch("$default", {})
    event = event_v2(request, match, aws["stageVariables"])
    assert "pathParameters" not in event
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "$default"


# -- payload format 1.0 -------------------------------------------------------------------------
def v1_request(aws: dict[str, Any]) -> HttpRequest:
    """The request an AWS 1.0 sample describes; as in 2.0, plus the user-agent header."""
    context = aws["requestContext"]
    headers = [(name, value) for name, values in aws["multiValueHeaders"].items() for value in values]
    headers.append(("User-Agent", context["identity"]["userAgent"]))
    query = "&".join(f"{k}={v}" for k, values in (aws["multiValueQueryStringParameters"] or {}).items()
                     for v in values)
    return HttpRequest(
        method=aws["httpMethod"], raw_path=aws["path"], raw_query=query, headers=headers,
        body=(aws["body"] or "").encode(), source_ip=context["identity"]["sourceIp"],
        request_id=context["requestId"], time_epoch_ms=context["requestTimeEpoch"], api_id=context["apiId"],
        domain_name=context["domainName"], stage=context["stage"], account_id=context["accountId"])


def v1_rebuilt(aws: dict[str, Any]) -> dict[str, Any]:
    match = RouteMatch(f"{aws['httpMethod']} {aws['resource']}", aws["pathParameters"] or {})
    return event_v1(v1_request(aws), match, aws["stageVariables"], aws["requestContext"].get("authorizer"))


V1_SAMPLES = ["apigw_http_api_payload_v1_docs", "powertools_apiGatewayProxyEvent"]


@pytest.mark.parametrize("name", V1_SAMPLES)
def test_v1_event_has_the_shape_of_aws_samples(name: str) -> None:
    """HTTP API payload format 1.0 (the REST proxy shape): every key present, nulls where AWS sends null,
    the caller identity's null fields included."""
    aws = sample(name)
    assert shape_differences(v1_rebuilt(aws), aws) == []


@pytest.mark.parametrize("name", V1_SAMPLES)
def test_v1_event_values_derive_from_the_request_as_aws_shows(name: str) -> None:
    """headers keep the last value and multiValueHeaders all; queryStringParameters keep the first value
    (as the guide's 1.0 sample shows) and multiValueQueryStringParameters all; requestTime derives from
    requestTimeEpoch; resource and resourcePath are the route's path."""
    aws = sample(name)
    ours = v1_rebuilt(aws)
    expected = without(aws, "requestContext.identity.clientCert")            # mutual TLS only
    user_agent = aws["requestContext"]["identity"]["userAgent"]
    expected["headers"]["User-Agent"] = user_agent
    expected["multiValueHeaders"]["User-Agent"] = [user_agent]
    # The samples' extendedRequestId is a placeholder ("request-id") that no request determines: its
    # value is left out of this comparison (its presence and type are the shape test's), and what it
    # holds is checked against AWS's documentation below.
    assert ours["requestContext"].pop("extendedRequestId") and expected["requestContext"].pop("extendedRequestId")
    assert ours == expected


@pytest.mark.parametrize("name", V1_SAMPLES)
def test_v1_extended_request_id_is_the_request_id(name: str) -> None:
    """AWS's "Customize HTTP API access logs" (docs.aws.amazon.com/apigateway/latest/developerguide/
    http-api-logging-variables.html): for HTTP APIs, $context.extendedRequestId is "Equivalent to
    $context.requestId"."""
    context = v1_rebuilt(sample(name))["requestContext"]
    assert context["extendedRequestId"] == context["requestId"] == sample(name)["requestContext"]["requestId"]


# -- Powertools' parser models --------------------------------------------------------------------
def _variants() -> list[tuple[str, HttpRequest, RouteMatch, dict[str, str] | None]]:
    base = v2_request(sample("powertools_apiGatewayProxyV2Event"))
    table = RouteTable(["GET /items/{id}", "ANY /files/{proxy+}", "$default"])
    binary = dataclasses.replace(base, method="PUT", raw_path="/files/a%20b/c.png", body=b"\x89PNG\x00",
                                 headers=[("content-type", "image/png")])
    named = dataclasses.replace(base, method="GET", raw_path="/items/7", stage="dev", body=b"", raw_query="",
                                headers=[], source_ip="127.0.0.1", domain_name="abc123.execute-api.localhost:8080")
    plain = dataclasses.replace(base, method="DELETE", raw_path="/", raw_query="a=1&a=2&b",
                                headers=[("cookie", "x=1"), ("X-Twice", "1"), ("x-twice", "2")])
    return [
        ("binary body, greedy route", binary, _match(table, binary), None),
        ("named stage, variable route, no headers", named, _match(table, named), {"v": "1"}),
        ("default route, repeated query and headers", plain, _match(table, plain), None),
    ]


def _match(table: RouteTable, request: HttpRequest) -> RouteMatch:
    match = table.match(request.method, request.raw_path)
    assert match is not None
    return match


@pytest.mark.parametrize(("label", "request_", "match", "variables"), _variants(), ids=lambda v: str(v)[:40])
def test_built_events_pass_powertools_models(label: str, request_: HttpRequest, match: RouteMatch,
                                             variables: dict[str, str] | None) -> None:
    """Functions parse these events with Powertools' models; every event we build must validate."""
    v2 = APIGatewayProxyEventV2Model.model_validate(event_v2(request_, match, variables))
    v1 = APIGatewayProxyEventModel.model_validate(event_v1(request_, match, variables))
    assert v2.routeKey == match.route_key
    assert v2.pathParameters == (match.path_parameters or None)
    assert v1.pathParameters == (match.path_parameters or None)
    assert v2.requestContext.timeEpoch == v1.requestContext.requestTimeEpoch


# The guide's samples have the placeholder "IP" for an address, which Powertools (rightly) rejects.
PLACEHOLDER_IP = "192.0.2.1"


@pytest.mark.parametrize("name", V2_SAMPLES)
def test_rebuilt_v2_samples_pass_powertools_model(name: str) -> None:
    """The 2.0 samples, rebuilt from their requests, validate."""
    aws = sample(name)
    http = aws["requestContext"]["http"]
    http["sourceIp"] = PLACEHOLDER_IP if http["sourceIp"] == "IP" else http["sourceIp"]
    APIGatewayProxyEventV2Model.model_validate(v2_rebuilt(aws))


@pytest.mark.parametrize("name", V1_SAMPLES)
def test_rebuilt_v1_samples_pass_powertools_model(name: str) -> None:
    """The 1.0 samples, rebuilt from their requests, validate."""
    aws = sample(name)
    identity = aws["requestContext"]["identity"]
    identity["sourceIp"] = PLACEHOLDER_IP if identity["sourceIp"] == "IP" else identity["sourceIp"]
    APIGatewayProxyEventModel.model_validate(v1_rebuilt(aws))


# -- REST APIs (API Gateway v1) -------------------------------------------------------------------
def rest_rebuilt(aws: dict[str, Any]) -> dict[str, Any]:
    match = RouteMatch(f"{aws['httpMethod']} {aws['resource']}", aws["pathParameters"] or {})
    return event_rest(v1_request(aws), match, aws["stageVariables"], aws["requestContext"].get("authorizer"))


# Where the REST proxy event differs from these 1.0 samples, with the REST guide's reason:
REST_DIFFERENCES = {
    # "Input format of a Lambda function for proxy integration" (REST): the event has no version key
    # (an HTTP API's 1.0 payload adds it).
    "$: missing version",
    # a REST resource has an id ("resourceId": "2gxmpl" in the Lambda guide's REST event) where an
    # HTTP API has none (null).
    "$.requestContext.resourceId: str where AWS has NoneType",
}


@pytest.mark.parametrize("name", V1_SAMPLES)
def test_rest_event_has_the_shape_of_aws_samples(name: str) -> None:
    aws = sample(name)
    assert set(shape_differences(rest_rebuilt(aws), aws)) == REST_DIFFERENCES


@pytest.mark.parametrize("name", V1_SAMPLES)
def test_rest_event_values_derive_from_the_request(name: str) -> None:
    """As the 1.0 sample, except: the *last* value of a repeated query parameter (AWS-recorded REST events),
    the stage in front of requestContext.path only, a UUID requestId."""
    aws = sample(name)
    ours = rest_rebuilt(aws)
    expected = without(aws, "requestContext.identity.clientCert")
    expected.pop("version")
    user_agent = aws["requestContext"]["identity"]["userAgent"]
    expected["headers"]["User-Agent"] = user_agent
    expected["multiValueHeaders"]["User-Agent"] = [user_agent]
    if expected["multiValueQueryStringParameters"]:
        expected["queryStringParameters"] = {k: v[-1] for k, v in
                                             expected["multiValueQueryStringParameters"].items()}
    context, theirs = ours["requestContext"], expected["requestContext"]
    assert context["path"] == f"/{aws['requestContext']['stage']}{aws['path']}"
    for key in ("path", "requestId", "extendedRequestId", "resourceId"):
        context.pop(key), theirs.pop(key)
    assert ours == expected
    identity = aws["requestContext"]["identity"]
    identity["sourceIp"] = PLACEHOLDER_IP if identity["sourceIp"] == "IP" else identity["sourceIp"]
    APIGatewayProxyEventModel.model_validate(rest_rebuilt(aws))
