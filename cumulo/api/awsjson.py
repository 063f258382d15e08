"""AWS's JSON protocols (``X-Amz-Target`` + ``application/x-amz-json-1.x``).

SQS, EventBridge and Step Functions all speak it: ``POST /`` with the operation
in ``X-Amz-Target: <Prefix>.<Operation>`` and a JSON document each way. Errors
carry ``__type`` (``<namespace>#<Name>``) and a ``message``; for SQS, which once
spoke the query protocol, also ``x-amzn-query-error`` with the legacy code that
boto3 reports as ``Error.Code``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable

from cumulo.api.http import Reply, Request
from cumulo.errors import CumuloError

__all__ = ["Service", "json_error", "page", "services", "register"]

Operation = Callable[[Any, Request, dict[str, Any]], Any]


@dataclass
class Service:
    prefix: str                         # X-Amz-Target's part before the dot, e.g. "AmazonSQS"
    namespace: str                      # __type's part before '#'
    content_type: str
    operations: dict[str, Operation]
    query_compatible: bool = False


services: dict[str, Service] = {}


def register(service: Service) -> None:
    services[service.prefix] = service


def find(request: Request) -> tuple[Service, str] | None:
    target = request.header("x-amz-target")
    if not target or request.method != "POST":
        return None
    prefix, _, operation = target.partition(".")
    service = services.get(prefix)
    return (service, operation) if service is not None else None


class UnknownOperation(CumuloError):
    status = 400

    @property
    def type(self) -> str:
        return "UnknownOperationException"


class SerializationException(CumuloError):
    status = 400


def handle(cumulo: Any, request: Request, service: Service, operation: str) -> Reply:
    """Run one operation; a ``CumuloError`` it raises becomes ``json_error`` in the caller."""
    op = service.operations.get(operation)
    if op is None:
        raise UnknownOperation(f"Operation {operation} is not supported by {service.prefix}.")
    try:
        doc = json.loads(request.body or b"{}")
    except ValueError:
        raise SerializationException("The request body is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise SerializationException("The request body must be a JSON object.")
    result = op(cumulo, request, doc)
    return Reply(200, json.dumps(result if result is not None else {}, default=_blob).encode(),
                 [("content-type", service.content_type)])


def page(items: list[Any], key: str, d: dict[str, Any], token: str = "NextToken",
         limit: str = "Limit") -> dict[str, Any]:
    """``items[start:start + limit]`` under ``key``, with the next page's token if there is one;
    ``token`` and ``limit`` name the request's members (EventBridge's by default)."""
    start = int(d.get(token) or 0)
    size = d.get(limit) or 100
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out[token] = str(start + size)
    return out


def _blob(value: Any) -> Any:
    """Blobs travel as base64 in AWS's JSON protocols."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_error(service: Service, err: CumuloError) -> Reply:
    body = {"__type": f"{service.namespace}#{err.type}", "message": err.message}
    headers = [("content-type", service.content_type)]
    if service.query_compatible:
        code = getattr(err, "code", err.type)
        headers.append(("x-amzn-query-error", f"{code};{'Sender' if err.status < 500 else 'Receiver'}"))
    return Reply(err.status, json.dumps(body).encode(), headers)
