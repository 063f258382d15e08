"""The Lambda proxy event in payload format 2.0 (HTTP APIs' default).

Shape and rules from "Working with AWS Lambda proxy integrations for HTTP APIs":
no multi-value maps — repeated headers and query parameters are joined with
commas; header names are lower-case (as real HTTP API traffic has them); the
Cookie header moves into ``cookies``, one entry per cookie; optional maps
(``cookies``, ``queryStringParameters``, ``pathParameters``,
``stageVariables``) and ``body`` are left out when empty, as AWS leaves them out.
"""

from __future__ import annotations

from typing import Any

from cumulo.gateway._request import (
    HttpRequest, domain_prefix, encode_body, query_pairs, request_time, stage_path,
)
from cumulo.gateway.routing import RouteMatch

__all__ = ["event_v2"]


def event_v2(req: HttpRequest, match: RouteMatch, stage_variables: dict[str, str] | None,
             authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event AWS sends a function behind an HTTP API route with payload format 2.0."""
    headers, cookies = _headers_and_cookies(req.lowered)
    path = stage_path(req)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": path,
        "rawQueryString": req.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _joined(query_pairs(req.raw_query))
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = _context(req, match, path, authorizer)
    body, encoded = encode_body(req.body, req.header("content-type"))
    if body is not None:
        event["body"] = body
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def _headers_and_cookies(lowered: dict[str, list[str]]) -> tuple[dict[str, str], list[str]]:
    """Lower-cased headers with repeats comma-joined, minus Cookie; and the cookies, one per entry.

    AWS's note says cookie headers are "combined with commas and added to the
    cookies field"; its sample (and real traffic) shows one array entry per
    cookie, which is what splitting each Cookie header on ``;`` gives.
    """
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for key, values in lowered.items():
        if key == "cookie":
            cookies.extend(c.strip() for v in values for c in v.split(";") if c.strip())
        else:
            headers[key] = ",".join(values)
    return headers, cookies


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in grouped.items()}


def _context(req: HttpRequest, match: RouteMatch, path: str, authorizer: dict[str, Any] | None) -> dict[str, Any]:
    context: dict[str, Any] = {"accountId": req.account_id, "apiId": req.api_id}
    if authorizer is not None:
        context["authorizer"] = authorizer
    user_agent = req.header("user-agent")
    context.update({
        "domainName": req.domain_name,
        "domainPrefix": domain_prefix(req.domain_name),
        "http": {
            "method": req.method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": req.source_ip,
            "userAgent": user_agent if user_agent is not None else "",
        },
        "requestId": req.request_id,
        "routeKey": match.route_key,
        "stage": req.stage,
        "time": request_time(req.time_epoch_ms),
        "timeEpoch": req.time_epoch_ms,
    })
    return context
