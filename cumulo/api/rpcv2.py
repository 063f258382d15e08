"""Smithy's RPC v2 CBOR protocol, what botocore speaks to CloudWatch today.

``POST /service/<targetPrefix>/operation/<Operation>`` with ``smithy-protocol: rpc-v2-cbor`` and a
CBOR body each way (``api/cbor.py``; timestamps are tag 1, epoch seconds). Errors carry
``__type`` (``<namespace>#<Name>``) and ``message``; a service that once spoke the query
protocol (CloudWatch) also answers ``x-amzn-query-error`` with the legacy code.
"""

from __future__ import annotations

from typing import Any, Callable

from cumulo.api import cbor, shapes
from cumulo.api.awsjson import Operation, Service, SerializationException, UnknownOperation
from cumulo.api.http import Reply, Request
from cumulo.errors import CumuloError, ValidationException

__all__ = ["services", "register", "find", "handle", "error_reply", "CONTENT_TYPE"]

CONTENT_TYPE = "application/cbor"
services: dict[str, Service] = {}
_replies: dict[str, Callable[[Any], Any]] = {}


def register(service: Service, reply: Callable[[Any], Any] = lambda doc: doc) -> None:
    """``reply``: an operation's answer as CBOR writes it (its timestamps as ``cbor.Timestamp``)."""
    services[service.prefix] = service
    _replies[service.prefix] = reply


def find(request: Request) -> tuple[Service, str] | None:
    if request.method != "POST" or not request.raw_path.startswith("/service/"):
        return None
    if request.header("smithy-protocol") != "rpc-v2-cbor":
        return None
    parts = request.path.split("/")
    if len(parts) != 5 or parts[3] != "operation":
        return None
    service = services.get(parts[2])
    return (service, parts[4]) if service is not None else None


def handle(cumulo: Any, request: Request, service: Service, operation: str,
           authorize: Callable[[dict[str, Any]], None] | None = None) -> Reply:
    op: Operation | None = service.operations.get(operation)
    if op is None:
        raise UnknownOperation(f"Operation {operation} is not supported by {service.prefix}.")
    try:
        doc = cbor.decode(request.body) if request.body else {}
    except cbor.CBORError as err:
        raise SerializationException(f"The request body is not valid CBOR: {err}") from None
    if not isinstance(doc, dict):
        raise SerializationException("The request body must be a CBOR map.")
    shapes.check(service.model, operation, doc).raise_for(
        SerializationException, lambda problems: ValidationException(problems.missing_message()))
    if authorize is not None:
        authorize(doc)
    result = op(cumulo, request, doc)
    return Reply(200, cbor.encode(_replies[service.prefix](result) if result is not None else {}),
                 [("content-type", CONTENT_TYPE), ("smithy-protocol", "rpc-v2-cbor")])


def error_reply(service: Service, err: CumuloError) -> Reply:
    body = {"__type": f"{service.namespace}#{err.type}", "message": err.message}
    headers = [("content-type", CONTENT_TYPE), ("smithy-protocol", "rpc-v2-cbor")]
    if service.query_compatible:
        code = getattr(err, "code", err.type)
        headers.append(("x-amzn-query-error", f"{code};{'Sender' if err.status < 500 else 'Receiver'}"))
    return Reply(err.status, cbor.encode(body), headers)
