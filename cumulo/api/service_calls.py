"""State machines' calls to Cumulo's services, made as AWS SDK calls through this control plane.

A Task whose resource is ``arn:aws:states:::aws-sdk:<service>:<action>`` (or an optimized
integration served by an API, ``sns:publish``) calls the service's API as the state machine's role.
Here that call is what an SDK would send: botocore serializes the parameters with the service's
model (its protocol — JSON, query, REST-XML, REST-JSON — as boto3 would), the request runs through
``ControlPlane.dispatch`` with the role's session as the principal (so the same authorization, the
role's policies and the resource's own, decides it), and botocore parses the answer. Nothing goes
over the network and nothing is signed: the principal is set, as the console's requests are.

``ports.ServiceCalls.call`` routes here once the control plane exists (``through``); without a
server (the Python API alone) only DynamoDB's operations are served, by the table service itself.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import threading
from typing import Any, Callable, Protocol
from urllib.parse import urlencode

from cumulo.api.http import Reply, Request
from cumulo.api.sigv4 import Principal
from cumulo.app import Cumulo
from cumulo.errors import CumuloError

__all__ = ["through", "ServiceCallFailed"]

# The session name a state machine's calls carry (the principal ``assumed-role/<role>/states``).
SESSION = "states"


class ServiceCallFailed(CumuloError):
    """The service's own error, by its code (``QueueDoesNotExist``, ``NoSuchKey`` …)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status

    @property
    def type(self) -> str:
        return self.code


class _UnknownOperation(CumuloError):
    @property
    def type(self) -> str:
        return "UnknownOperationException"


_models_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _service_model(service: str) -> Any:
    import botocore.session   # the platform's own copy (a dependency); loaded at the first SDK task

    with _models_lock:
        return botocore.session.get_session().get_service_model(service)


@functools.lru_cache(maxsize=None)
def _error_names(service: str) -> dict[str, str]:
    """The model's error shapes by the code on the wire (SQS's ``AWS.SimpleQueueService.NonExistentQueue``
    is ``QueueDoesNotExist``): the SDKs' exception names, which Step Functions' error names use."""
    return {shape.error_code: shape.name for shape in _service_model(service).error_shapes if shape.error_code}


def _operation(service: str, action: str) -> Any:
    try:
        model = _service_model(service)
    except Exception:   # botocore.exceptions.UnknownServiceError
        raise _UnknownOperation(f"Cumulo does not serve the service {service} to state machines") from None
    if action not in model.operation_names:
        raise _UnknownOperation(f"The service {service} has no action {action}")
    return model.operation_model(action)


class ControlPlane(Protocol):
    """What this needs of ``api.server.ControlPlane``."""

    cumulo: Cumulo

    def dispatch(self, request: Request, authenticated: bool = True) -> Reply: ...


def through(control: ControlPlane) -> Callable[[str, str, dict[str, Any], str | None], Any]:
    """``ports.ServiceCalls.call`` through ``control``: the API action ``action`` (its API name,
    ``SendMessage``) of ``service`` (botocore's name, ``sqs``) with ``params`` as the SDK takes them,
    as ``role`` (None: the account's owner); the answer as the SDK returns it, made JSON."""
    cumulo = control.cumulo

    def call(service: str, action: str, params: dict[str, Any], role: str | None = None) -> Any:
        from botocore import parsers, serialize
        from botocore.exceptions import ParamValidationError

        operation = _operation(service, action)
        protocol = operation.metadata["protocol"]
        try:
            wire = serialize.create_serializer(protocol, include_validation=True).serialize_to_request(
                params, operation)
        except ParamValidationError as err:
            raise ServiceCallFailed("ValidationException", str(err), 400) from None
        account, region = cumulo.arns.account, cumulo.arns.region
        if role is None:
            principal = Principal("", region, service, arn=f"arn:aws:iam::{account}:root")
        else:
            name = role.rsplit("/", 1)[-1]
            principal = Principal("", region, service, arn=f"arn:aws:sts::{account}:assumed-role/{name}/{SESSION}",
                                  role_arn=role, session_name=SESSION)
        body = wire["body"]
        if isinstance(body, dict):
            body = urlencode(body, doseq=True)
        if isinstance(body, str):
            body = body.encode()
        query = wire["query_string"]
        if isinstance(query, dict):
            query = urlencode(query, doseq=True)
        host = cumulo.endpoint_url.split("//", 1)[-1] if cumulo.endpoint_url else "localhost"
        headers = [("host", host), *((k.lower(), str(v)) for k, v in wire["headers"].items())]
        if body and not any(k == "content-type" for k, _ in headers):
            headers.append(("content-type", "application/x-www-form-urlencoded; charset=utf-8"
                            if protocol in ("query", "ec2") else "application/octet-stream"))
        path = wire["url_path"] or "/"
        reply = control.dispatch(Request(wire["method"], path, query or "", headers, body or b"", "127.0.0.1",
                                         principal=principal))
        parsed = parsers.create_parser(protocol).parse(
            {"status_code": reply.status, "headers": _headers(reply.headers), "body": reply.body},
            operation.output_shape)
        if reply.status >= 300:
            error = parsed.get("Error") or {}
            code = str(error.get("Code") or "ServiceError")
            if protocol == "json":   # the error shape's own name (a query-compatible service's header has another)
                try:
                    code = str(json.loads(reply.body).get("__type") or code).rsplit("#", 1)[-1]
                except (ValueError, AttributeError):
                    pass
            raise ServiceCallFailed(_error_names(service).get(code, code), str(error.get("Message") or ""),
                                    reply.status)
        parsed.pop("ResponseMetadata", None)
        payload = operation.output_shape.serialization.get("payload") if operation.output_shape else None
        if payload and isinstance(parsed.get(payload), (bytes, bytearray)):   # a streamed body: its text
            try:
                parsed[payload] = bytes(parsed[payload]).decode()
            except UnicodeDecodeError:
                pass
        return _jsonable(parsed)

    return call


def _headers(pairs: list[tuple[str, str]]) -> Any:
    from botocore.awsrequest import HeadersDict   # case-insensitive, as the parsers expect

    out = HeadersDict()
    for key, value in pairs:
        out[key] = value
    return out


def _jsonable(value: Any) -> Any:
    """The SDK's answer as a state's JSON: timestamps in ISO 8601, binary values in base64 (as the
    JSON protocols carry them)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))
