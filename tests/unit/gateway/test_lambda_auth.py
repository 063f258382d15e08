"""Lambda authorizers: the events they get, the verdicts they give, and the cache."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel, APIGatewayProxyEventV2Model,
)

from cumulo.gateway.identity import identity_values
from cumulo.gateway.lambda_auth import (
    MalformedAuthorizerResponse, VerdictCache, authorizer_event, integration_context, parse_verdict,
    policy_allows, route_arn,
)
from cumulo.gateway.routing import RouteTable

from .helpers import make_request

ARN = route_arn("us-east-1", "123456789012", "abc123", "$default", "GET", "/items/7")


def _match(route_key: str = "GET /items/{id}", path: str = "/items/7"):  # type: ignore[no-untyped-def]
    match = RouteTable([route_key]).match("GET", path)
    assert match is not None
    return match


def test_route_arns_name_api_stage_method_and_path() -> None:
    assert ARN == "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/items/7"


def test_v2_authorizer_event_is_the_request_event_without_body_plus_identity() -> None:
    req = make_request(raw_path="/items/7", body=b"secret", headers=[("authorization", "tok"), ("user-agent", "a")])
    event = authorizer_event("2.0", req, _match(), None, ["tok"], ARN)
    assert (event["version"], event["type"], event["routeArn"], event["identitySource"]) == ("2.0", "REQUEST", ARN,
                                                                                            ["tok"])
    assert "body" not in event and "isBase64Encoded" not in event
    assert event["pathParameters"] == {"id": "7"} and event["headers"]["authorization"] == "tok"
    APIGatewayProxyEventV2Model.model_validate({**event, "isBase64Encoded": False})


def test_v1_authorizer_event_joins_identity_values_like_rest_apis() -> None:
    req = make_request(raw_path="/items/7", raw_query="a=1", headers=[("Authorization", "tok"), ("X-Id", "7")])
    event = authorizer_event("1.0", req, _match(), {"env": "dev"}, ["tok", "7"], ARN)
    assert event["methodArn"] == ARN and event["identitySource"] == "tok,7" and event["authorizationToken"] == "tok,7"
    assert event["httpMethod"] == "GET" and event["queryStringParameters"] == {"a": "1"}
    assert "body" not in event and event["stageVariables"] == {"env": "dev"}
    APIGatewayProxyEventModel.model_validate({**event, "body": None, "isBase64Encoded": False})


def test_simple_responses() -> None:
    verdict = parse_verdict(b'{"isAuthorized": true, "context": {"user": "ada", "n": 1}}', simple=True)
    assert verdict.allows(ARN) and verdict.context == {"user": "ada", "n": 1}
    assert not parse_verdict(b'{"isAuthorized": false}', simple=True).allows(ARN)


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"isAuthorized": "yes"}', b'{"isAuthorized": true, "context": 5}'])
def test_malformed_simple_responses(payload: bytes) -> None:
    with pytest.raises(MalformedAuthorizerResponse):
        parse_verdict(payload, simple=True)


def _policy(effect: str, resource: str | list[str], action: str = "execute-api:Invoke") -> bytes:
    return json.dumps({"principalId": "user-9", "context": {"tier": "gold"},
                       "policyDocument": {"Version": "2012-10-17",
                                          "Statement": [{"Action": action, "Effect": effect, "Resource": resource}]}}
                      ).encode()


def test_iam_policies_allow_matching_routes_only() -> None:
    verdict = parse_verdict(_policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/items/*"), False)
    assert verdict.allows(ARN) and verdict.principal_id == "user-9"
    assert not verdict.allows(ARN.replace("/GET/", "/POST/"))
    assert not parse_verdict(_policy("Deny", "*"), False).allows(ARN)
    assert not parse_verdict(_policy("Allow", "*", action="s3:GetObject"), False).allows(ARN)
    assert parse_verdict(_policy("Allow", ["arn:other", ARN]), False).allows(ARN)


def test_an_explicit_deny_wins_over_allows() -> None:
    statements = ({"Action": "execute-api:*", "Effect": "Allow", "Resource": "*"},
                  {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ARN})
    assert not policy_allows(statements, ARN)
    assert policy_allows(statements, ARN + "x")


def test_a_policy_without_statements_is_malformed() -> None:
    with pytest.raises(MalformedAuthorizerResponse):
        parse_verdict(b'{"principalId": "x", "policyDocument": {}}', simple=False)


def test_integration_context_by_payload_format() -> None:
    verdict = parse_verdict(_policy("Allow", "*"), False)
    assert integration_context(verdict, "2.0", 5) == {"lambda": {"tier": "gold"}}
    assert integration_context(verdict, "1.0", 5) == {"tier": "gold", "principalId": "user-9", "integrationLatency": 5}


def test_verdicts_are_cached_for_their_ttl() -> None:
    now = [0.0]
    cache = VerdictCache(clock=lambda: now[0])
    verdict = parse_verdict(b'{"isAuthorized": true}', simple=True)
    cache.put("k", verdict, 0)
    assert cache.get("k") is None                    # TTL 0: caching off
    cache.put("k", verdict, 10)
    now[0] = 9.9
    assert cache.get("k") is verdict
    now[0] = 10.0
    assert cache.get("k") is None


def test_the_cache_stays_bounded() -> None:
    cache = VerdictCache(max_entries=3)
    verdict = parse_verdict(b'{"isAuthorized": true}', simple=True)
    for i in range(10):
        cache.put(i, verdict, 60)
    assert len(cache._entries) <= 3 and cache.get(9) is verdict


def test_identity_values_come_from_headers_query_stage_variables_and_context() -> None:
    req = make_request(headers=[("Authorization", "a"), ("X-Multi", "1"), ("x-multi", "2")], raw_query="tok=q&tok=r")
    sources = ("$request.header.authorization", "$request.header.X-Multi", "$request.querystring.tok",
               "$stageVariables.env", "$context.identity.sourceIp")
    values = identity_values(sources, req, {"env": "dev"}, {"identity": {"sourceIp": "10.0.0.1"}})
    assert values == ["a", "1,2", "q,r", "dev", "10.0.0.1"]
    assert identity_values(("$request.header.missing",), req, {}, {}) is None
    assert identity_values(("$request.header.Authorization",), make_request(headers=[("authorization", "")]), {},
                           {}) is None
    assert identity_values((), req, {}, {}) == []
