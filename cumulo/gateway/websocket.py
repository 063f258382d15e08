"""WebSocket APIs (API Gateway v2, ``protocolType: WEBSOCKET``): the pure part — which route a message
takes, the events Lambda receives, the $connect authorizer's event, what a route response sends back.

From "Working with WebSocket APIs" and its Lambda proxy integration pages:

- a message's route is the value its ``RouteSelectionExpression`` (``$request.body.action``) finds in
  the message's JSON body, when a route has that key; otherwise ``$default``; without ``$default``
  the client gets ``{"message": "Forbidden", "connectionId", "requestId"}`` and nothing is invoked;
- the event (payload 1.0 only): ``requestContext`` with ``routeKey``, ``eventType`` (``CONNECT``,
  ``MESSAGE``, ``DISCONNECT``), ``connectionId``, ``domainName``, ``stage``, ``apiId``,
  ``messageId`` (messages), ``connectedAt``, ``requestTimeEpoch``, ``requestTime``, ``requestId``,
  ``extendedRequestId``, ``messageDirection: IN``, ``identity``, ``authorizer`` (the $connect
  authorizer's context, on every later event too) and, on ``$disconnect``, ``disconnectStatusCode``
  and ``disconnectReason``; ``$connect`` carries the handshake's ``headers``, ``multiValueHeaders``
  and query parameters; messages carry ``body`` (base64 with ``isBase64Encoded`` for binary ones);
- a Lambda REQUEST authorizer on ``$connect`` gets ``{"type": "REQUEST", "methodArn", "headers",
  "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters",
  "stageVariables", "requestContext"}`` and answers with an IAM policy; its identity sources are
  ``route.request.header.<name>`` and ``route.request.querystring.<name>``;
- a route with a route response sends the integration's ``body`` back to the client.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from cumulo.gateway._request import header_groups, query_pairs, request_time
from cumulo.gateway.model import ROUTE_SELECTION_RE

__all__ = ["Connection", "select_route", "ws_event", "connect_authorizer_event", "route_response_body",
           "error_message", "identity_source_as_http"]


@dataclass
class Connection:
    """What the gateway knows of one open WebSocket connection (``@connections`` reads it)."""

    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    user_agent: str
    connected_at_ms: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw_query: str = ""
    authorizer: dict[str, Any] | None = None
    last_active_ms: int = 0

    def identity(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"sourceIp": self.source_ip}
        if self.user_agent:
            doc["userAgent"] = self.user_agent
        return doc


def select_route(expression: str, body: bytes, keys: set[str]) -> str | None:
    """The route key a message takes: the selected value if a route has it, else ``$default`` if the API
    has it, else None (the client is told ``Forbidden``)."""
    m = ROUTE_SELECTION_RE.match(expression or "")
    if m is not None:
        value: Any
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            value = None
        for part in (m.group(2) or m.group(3)).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            key = value if isinstance(value, str) else json.dumps(value)
            if key in keys and not key.startswith("$"):
                return key
    return "$default" if "$default" in keys else None


def _context(conn: Connection, route_key: str, event_type: str, request_id: str, now_ms: int) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": route_key, "eventType": event_type, "extendedRequestId": request_id,
        "requestTime": request_time(now_ms), "messageDirection": "IN", "stage": conn.stage,
        "connectedAt": conn.connected_at_ms, "requestTimeEpoch": now_ms, "identity": conn.identity(),
        "requestId": request_id, "domainName": conn.domain_name, "connectionId": conn.connection_id,
        "apiId": conn.api_id,
    }
    if conn.authorizer is not None:
        context["authorizer"] = conn.authorizer
    return context


def _request_parts(conn: Connection) -> dict[str, Any]:
    groups = header_groups(conn.headers)
    doc: dict[str, Any] = {"headers": {k: v[-1] for k, v in groups.items()}, "multiValueHeaders": groups}
    pairs = query_pairs(conn.raw_query)
    if pairs:
        multi: dict[str, list[str]] = {}
        for k, v in pairs:
            multi.setdefault(k, []).append(v)
        doc["queryStringParameters"] = {k: v[-1] for k, v in multi.items()}
        doc["multiValueQueryStringParameters"] = multi
    return doc


def ws_event(conn: Connection, event_type: str, route_key: str, request_id: str, now_ms: int,
             body: bytes | None = None, binary: bool = False, message_id: str = "",
             disconnect: tuple[int, str] | None = None) -> dict[str, Any]:
    """The event a route's function receives (CONNECT, MESSAGE or DISCONNECT)."""
    context = _context(conn, route_key, event_type, request_id, now_ms)
    event: dict[str, Any] = {}
    if event_type == "CONNECT":
        event.update(_request_parts(conn))
    elif event_type == "MESSAGE":
        context["messageId"] = message_id
    else:
        code, reason = disconnect or (1005, "")
        context["disconnectStatusCode"] = code
        context["disconnectReason"] = reason
        groups = header_groups([(k, v) for k, v in conn.headers if k.lower() in ("host", "x-forwarded-for")])
        event.update({"headers": {k: v[-1] for k, v in groups.items()}, "multiValueHeaders": groups})
    event["requestContext"] = context
    if event_type == "MESSAGE" and body is not None:
        event["body"] = base64.b64encode(body).decode() if binary else body.decode("utf-8")
    event["isBase64Encoded"] = bool(binary and event_type == "MESSAGE")
    return event


def connect_authorizer_event(conn: Connection, method_arn: str, stage_variables: dict[str, str], request_id: str,
                             now_ms: int) -> dict[str, Any]:
    """A Lambda REQUEST authorizer's event on ``$connect``."""
    parts = _request_parts(conn)
    return {"type": "REQUEST", "methodArn": method_arn, "headers": parts["headers"],
            "multiValueHeaders": parts["multiValueHeaders"],
            "queryStringParameters": parts.get("queryStringParameters", {}),
            "multiValueQueryStringParameters": parts.get("multiValueQueryStringParameters", {}),
            "stageVariables": dict(stage_variables),
            "requestContext": _context(conn, "$connect", "CONNECT", request_id, now_ms)}


def route_response_body(payload: bytes) -> tuple[bytes, bool] | None:
    """What a route response sends the client for a function's result: (data, is text), or None for
    nothing (a proxy result without a body)."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return payload, _is_text(payload)
    if not isinstance(doc, dict):
        return payload, _is_text(payload)
    body = doc.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        body = json.dumps(body)
    if doc.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            return None
        return data, _is_text(data)
    return body.encode("utf-8", "surrogatepass"), True


def connect_status(payload: bytes) -> int:
    """The status a $connect function's result answers the handshake with (200 when it gives none)."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return 200
    if isinstance(doc, dict) and "statusCode" in doc:
        code = doc["statusCode"]
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            return code
        return 502
    return 200


def error_message(message: str, connection_id: str, request_id: str) -> bytes:
    """What API Gateway sends a client when a message cannot be routed or its integration fails."""
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id}).encode()


def identity_source_as_http(source: str) -> str:
    """``route.request.header.Auth`` as the HTTP APIs' ``$request.header.Auth`` (``identity_values`` reads those)."""
    if source.startswith("route.request."):
        return "$" + source[len("route."):]
    if source.startswith(("context.", "stageVariables.")):
        return "$" + source
    return source


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
