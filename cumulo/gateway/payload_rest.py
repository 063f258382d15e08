"""The Lambda proxy event of a REST API (API Gateway v1: ``AWS::Serverless::Api``, SAM's ``Api`` events).

Shape from the REST guide's "Input format of a Lambda function for proxy
integration" and the event the Lambda guide shows a function behind a REST API
receiving. It is payload 1.0's shape with a REST API's values:

- no ``version`` key (an HTTP API's 1.0 event has one);
- ``path`` is the path *within* the stage (``/items/7``), while
  ``requestContext.path`` keeps the stage in front (``/Prod/items/7``);
- ``resource`` and ``requestContext.resourcePath`` are the matched resource
  (``/items/{id}``), ``requestContext.resourceId`` that resource's id (stable per
  API and resource here), ``requestContext.requestId`` a UUID and
  ``extendedRequestId`` a short base64 id of its own;
- repeated headers and query parameters: the single-value maps hold the *last*
  value (AWS-recorded REST events), the ``multiValue*`` maps all of them;
- ``requestContext.authorizer`` only when an authorizer ran;
- the body: base64-encoded (``isBase64Encoded: true``) when its ``Content-Type``
  matches one of the API's binary media types (``*/*`` and ``image/*`` patterns
  included), otherwise the text as sent. Bytes that are not UTF-8 go base64 too
  (AWS would pass them mangled; nothing a function could read).

Pure: the received request and its route in, the event out.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from cumulo.gateway._request import (
    HttpRequest, domain_prefix, query_pairs, request_time,
)
from cumulo.gateway.routing import DEFAULT_ROUTE, RouteMatch, parse_route_key

__all__ = ["event_rest", "rest_body", "resource_id", "is_binary"]

_IDENTITY_NULLS = ("cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "principalOrgId", "accessKey",
                   "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def event_rest(req: HttpRequest, match: RouteMatch, stage_variables: dict[str, str] | None,
               authorizer: dict[str, Any] | None = None, binary_media_types: tuple[str, ...] = ()) -> dict[str, Any]:
    """The event a function behind a REST API's Lambda proxy integration receives."""
    resource = resource_path(match.route_key)
    headers = req.groups
    query: dict[str, list[str]] = {}
    for name, value in query_pairs(req.raw_query):
        query.setdefault(name, []).append(value)
    body, encoded = rest_body(req.body, req.header("content-type"), binary_media_types)
    return {
        "resource": resource,
        "path": req.raw_path,
        "httpMethod": req.method,
        "headers": {name: values[-1] for name, values in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": dict(match.path_parameters) or None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": rest_context(req, resource, authorizer),
        "body": body,
        "isBase64Encoded": encoded,
    }


def resource_path(route_key: str) -> str:
    """``/items/{id}`` for the route ``GET /items/{id}``."""
    return "/" if route_key == DEFAULT_ROUTE else parse_route_key(route_key)[1]


def resource_id(api_id: str, resource: str) -> str:
    """A REST resource's id: six characters, the same for an API's resource on every request and deploy."""
    digest = hashlib.sha256(f"{api_id} {resource}".encode()).digest()
    return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:6])


def rest_context(req: HttpRequest, resource: str, authorizer: dict[str, Any] | None) -> dict[str, Any]:
    identity: dict[str, Any] = dict.fromkeys(_IDENTITY_NULLS)
    identity.update({"sourceIp": req.source_ip, "userAgent": req.header("user-agent"), "user": None})
    context: dict[str, Any] = {
        "resourceId": resource_id(req.api_id, resource),
        "resourcePath": resource,
        "httpMethod": req.method,
        "extendedRequestId": req.request_id,
        "requestTime": request_time(req.time_epoch_ms),
        "path": f"/{req.stage}{req.raw_path}",
        "accountId": req.account_id,
        "protocol": "HTTP/1.1",
        "stage": req.stage,
        "domainPrefix": domain_prefix(req.domain_name),
        "requestTimeEpoch": req.time_epoch_ms,
        "requestId": str(uuid.UUID(bytes=hashlib.md5(req.request_id.encode()).digest(), version=4)),
        "identity": identity,
        "domainName": req.domain_name,
        "apiId": req.api_id,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return context


def is_binary(content_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Whether ``content_type`` matches one of the API's binary media types (``*/*``, ``image/*``, exact)."""
    if not content_type or not binary_media_types:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    kind = media.split("/", 1)[0]
    for pattern in binary_media_types:
        wanted = pattern.strip().lower()
        if wanted in ("*/*", media) or wanted == f"{kind}/*":
            return True
    return False


def rest_body(body: bytes, content_type: str | None, binary_media_types: tuple[str, ...]) -> tuple[str | None, bool]:
    """``(body, isBase64Encoded)`` as a REST API hands it over (see the module's docstring)."""
    if not body:
        return None, False
    if not is_binary(content_type, binary_media_types):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True
