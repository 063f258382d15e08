"""The Lambda proxy event in payload format 1.0 (HTTP APIs' 1.0, the REST API proxy shape).

Shape from the HTTP API guide's 1.0 sample and "Set up Lambda proxy
integrations in API Gateway": every key is always present, ``null`` when there
is nothing (``queryStringParameters``, ``pathParameters``, ``stageVariables``,
``body``); the ``multiValue*`` maps hold every value, the single-value maps one.
Header names keep the client's spelling, as AWS's recorded 1.0 events show.
Unlike REST APIs, an HTTP API keeps a named stage's segment in ``path`` as well
as in ``requestContext.path`` (users report it; ``$default`` adds no segment).

Which one: the HTTP API guide's 1.0 sample gives a repeated header its *last*
value (``Header2: value2``) but a repeated query parameter its *first*
(``parameter1: value1``). We follow that sample, since this is an HTTP API —
knowing that REST APIs (LocalStack's AWS-recorded events) keep the last query
value instead. Functions that care read the ``multiValue*`` maps, as AWS advises.
"""

from __future__ import annotations

from typing import Any

from cumulo.gateway._request import (
    HttpRequest, domain_prefix, encode_body, query_pairs, request_time, stage_path,
)
from cumulo.gateway.routing import DEFAULT_ROUTE, RouteMatch, parse_route_key

__all__ = ["event_v1"]

# The caller-identity fields AWS sends as null unless IAM or Cognito authorised the call.
_IDENTITY_NULLS = ("accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
                   "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId")


def event_v1(req: HttpRequest, match: RouteMatch, stage_variables: dict[str, str] | None,
             authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event AWS sends a function behind an HTTP API route with payload format 1.0."""
    resource = _resource(match.route_key)
    headers = req.groups
    query: dict[str, list[str]] = {}
    for name, value in query_pairs(req.raw_query):
        query.setdefault(name, []).append(value)
    body, encoded = encode_body(req.body, req.header("content-type"))
    path = stage_path(req)
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": req.method,
        "headers": {name: values[-1] for name, values in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {name: values[0] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "requestContext": _context(req, resource, path, authorizer),
        "pathParameters": dict(match.path_parameters) or None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "body": body,
        "isBase64Encoded": encoded,
    }


def _resource(route_key: str) -> str:
    """``/items/{id}`` for ``GET /items/{id}``; ``$default`` for the default route, as AWS sends it."""
    return DEFAULT_ROUTE if route_key == DEFAULT_ROUTE else parse_route_key(route_key)[1]


def _context(req: HttpRequest, resource: str, path: str, authorizer: dict[str, Any] | None) -> dict[str, Any]:
    identity: dict[str, Any] = dict.fromkeys(_IDENTITY_NULLS)
    identity.update({"sourceIp": req.source_ip, "user": None,
                     "userAgent": req.header("user-agent"), "userArn": None})
    context: dict[str, Any] = {"accountId": req.account_id, "apiId": req.api_id}
    if authorizer is not None:
        context["authorizer"] = authorizer
    context.update({
        "domainName": req.domain_name,
        "domainPrefix": domain_prefix(req.domain_name),
        # HTTP APIs' 1.0 events carry the request ID in both fields (AWS-recorded samples).
        "extendedRequestId": req.request_id,
        "httpMethod": req.method,
        "identity": identity,
        "path": path,
        "protocol": "HTTP/1.1",
        "requestId": req.request_id,
        "requestTime": request_time(req.time_epoch_ms),
        "requestTimeEpoch": req.time_epoch_ms,
        # HTTP APIs have no REST resources: AWS sends "$default" for the default route and null otherwise.
        "resourceId": DEFAULT_ROUTE if resource == DEFAULT_ROUTE else None,
        "resourcePath": resource,
        "stage": req.stage,
    })
    return context
