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
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from cumulo.api import shapes
from cumulo.api.http import Reply, Request
from cumulo.errors import CumuloError, ValidationException

__all__ = ["Service", "json_error", "page", "services", "register", "SerializationException", "InvalidToken"]

Operation = Callable[[Any, Request, dict[str, Any]], Any]


@dataclass
class Service:
    prefix: str                         # X-Amz-Target's part before the dot, e.g. "AmazonSQS"
    namespace: str                      # __type's part before '#'
    content_type: str
    operations: dict[str, Operation]
    query_compatible: bool = False
    model: str = ""                     # botocore's name of the service, whose shapes check bodies (api/shapes.py)
    # required members left out: AWS's ValidationException unless the service says otherwise (SQS)
    missing: Callable[[shapes.Problems], CumuloError] = field(
        default=lambda problems: ValidationException(problems.missing_message()))
    # what the authorization mapping needs that only the service knows of the resource a request names
    # (``authz.Call.params``; CodeDeploy: a deployment's group)
    resources: Callable[[Any, dict[str, Any]], dict[str, str]] | None = None


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
    """A body that cannot be read as the operation's input: not JSON, beyond ``json_limits``,
    or a member of the wrong type (AWS's framework error of every JSON protocol)."""

    status = 400


BODY_ERRORS = shapes.Errors(body=SerializationException, type=SerializationException,
                            missing=lambda problems: ValidationException(problems.missing_message()))


def handle(cumulo: Any, request: Request, service: Service, operation: str,
           authorize: Callable[[dict[str, Any]], None] | None = None) -> Reply:
    """Run one operation; a ``CumuloError`` it raises becomes ``json_error`` in the caller.
    ``authorize`` is given the body once it is read and checked, before the operation runs."""
    op = service.operations.get(operation)
    if op is None:
        raise UnknownOperation(f"Operation {operation} is not supported by {service.prefix}.")
    doc = shapes.parse_body(request.body, BODY_ERRORS)
    shapes.check(service.model, operation, doc).raise_for(SerializationException, service.missing)
    if authorize is not None:
        authorize(doc)
    result = op(cumulo, request, doc)
    return Reply(200, json.dumps(result if result is not None else {}, default=_blob).encode(),
                 [("content-type", service.content_type)])


class InvalidToken(CumuloError):
    """Step Functions' name for a pagination token it did not give."""

    status = 400


_TOKEN = re.compile(r"[0-9]{1,18}")


def page(items: list[Any], key: str, d: dict[str, Any], token: str = "NextToken",
         limit: str = "Limit", max_limit: int = 100, default: int = 100,
         bad_token: Callable[[str], CumuloError] = ValidationException) -> dict[str, Any]:
    """``items[start:start + limit]`` under ``key``, with the next page's token if there is one;
    ``token`` and ``limit`` name the request's members (EventBridge's by default). A token this
    function did not make is ``bad_token``; a limit outside ``0..max_limit`` a ValidationException
    (0 or none: ``default``)."""
    raw = d.get(token)
    if raw and (not isinstance(raw, str) or _TOKEN.fullmatch(raw) is None):
        raise bad_token(f"Invalid {token}: {str(raw)[:64]!r} is not a token this service gave.")
    start = int(raw or 0)
    size = d.get(limit)
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= max_limit):
        raise ValidationException(f"1 validation error detected: Value '{str(size)[:64]}' at '{limit}' failed to "
                                  f"satisfy constraint: Member must have value between 0 and {max_limit}")
    size = size or default
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
    body = {"__type": f"{service.namespace}#{err.type}", "message": err.message,
            **(getattr(err, "extra", None) or {})}     # DynamoDB's Item, CancellationReasons …
    headers = [("content-type", service.content_type)]
    if service.query_compatible:
        code = getattr(err, "code", err.type)
        headers.append(("x-amzn-query-error", f"{code};{'Sender' if err.status < 500 else 'Receiver'}"))
    return Reply(err.status, json.dumps(body).encode(), headers)
