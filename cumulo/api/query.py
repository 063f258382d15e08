"""AWS's query protocol (``awsquery``), as STS and IAM speak it: form parameters in, XML out.

A request is ``POST /`` with ``Content-Type: application/x-www-form-urlencoded`` and a body of
``Action=<Operation>&Version=<api version>&Name=value…`` (or the same as a GET's query string).
Lists and maps are flattened (``Tags.member.1.Key=…``). Which service: the signature's scope
(``…/sts/aws4_request``), else ``Version``, else the operation's name. The answer::

    <OperationResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
      <OperationResult>…</OperationResult>
      <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
    </OperationResponse>

and an error, with its HTTP status::

    <ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
      <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>

A result is a dict: a dict value is a structure, a list one is ``<member>`` elements, booleans
are ``true``/``false``. Request ids are made here so the body and the ``x-amzn-RequestId``
header agree.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import unquote_to_bytes
from xml.sax.saxutils import escape

from cumulo.api.http import Reply, Request
from cumulo.errors import CumuloError

__all__ = ["Service", "register", "find", "looks_like_query", "parse_params", "members", "handle", "error_reply",
           "head_error", "xml_result", "InvalidAction", "MalformedQueryString", "MissingAction", "Entries", "nested", "listed"]

FORM = "application/x-www-form-urlencoded"
Operation = Callable[[Any, Request, dict[str, str]], "dict[str, Any] | None"]

# the query protocol's names for errors raised everywhere else under another name
_CODES = {
    "UnrecognizedClientException": "InvalidClientTokenId",
    "ExpiredTokenException": "ExpiredToken",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "ValidationException": "ValidationError",
    "ServiceException": "ServiceFailure",
    "RequestEntityTooLargeException": "RequestEntityTooLarge",
    "AccessDeniedException": "AccessDenied",
}
_MAX_PARAMS = 1000
_MAX_BODY = 1 << 20


@dataclass
class Service:
    name: str                           # the signing name: "sts", "iam"
    version: str                        # the API version its clients send
    namespace: str                      # the XML namespace of its answers
    operations: dict[str, Operation]


services: dict[str, Service] = {}


def register(service: Service) -> None:
    services[service.name] = service


class InvalidAction(CumuloError):
    status = 400


class MissingAction(CumuloError):
    status = 400


class MalformedQueryString(CumuloError):
    status = 400


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def looks_like_query(method: str, raw_path: str, query_string: str, headers: list[tuple[str, str]]) -> bool:
    """Whether a request's head is the query protocol's: a form POST to ``/`` without
    ``X-Amz-Target``, or a GET of ``/`` with an ``Action``."""
    if raw_path not in ("/", "") or _header(headers, "x-amz-target") is not None:
        return False
    if method == "POST":
        return (_header(headers, "content-type") or "").split(";")[0].strip().lower() == FORM
    return method == "GET" and re.search(r"(^|&)Action=", query_string) is not None


def parse_params(text: bytes | str) -> dict[str, str]:
    """Form parameters (``a=1&b=x+y``) to a dict, the first of repeated names winning; anything
    that is not UTF-8 form data is ``MalformedQueryString``."""
    if isinstance(text, bytes):
        if len(text) > _MAX_BODY:
            raise MalformedQueryString("The request body is larger than this service accepts.")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedQueryString("The request body is not UTF-8 form data.") from None
    out: dict[str, str] = {}
    if not text:
        return out
    pairs = text.split("&")
    if len(pairs) > _MAX_PARAMS:
        raise MalformedQueryString(f"More than {_MAX_PARAMS} parameters.")
    for pair in pairs:
        if not pair:
            continue
        name, _, value = pair.partition("=")
        try:
            key = unquote_to_bytes(name.replace("+", " ")).decode("utf-8")
            val = unquote_to_bytes(value.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedQueryString(f"Parameter {name[:64]!r} is not UTF-8 once decoded.") from None
        out.setdefault(key, val)
    return out


def members(params: dict[str, str], name: str) -> list[dict[str, str] | str]:
    """A flattened list: ``Name.member.N`` (strings) or ``Name.member.N.Field`` (structures), by N."""
    prefix = f"{name}.member."
    found: dict[int, Any] = {}
    for key, value in params.items():
        if not key.startswith(prefix):
            continue
        index, _, field = key[len(prefix):].partition(".")
        if not index.isdigit() or not 1 <= len(index) <= 4:
            continue
        if field:
            entry = found.setdefault(int(index), {})
            if isinstance(entry, dict):
                entry[field] = value
        else:
            found[int(index)] = value
    return [found[i] for i in sorted(found)]


def _scope_service(headers: list[tuple[str, str]], query_string: str) -> str | None:
    authorization = _header(headers, "authorization") or ""
    m = re.search(r"Credential=[^/,\s]*/\d{8}/[^/]*/([^/]+)/aws4_request", authorization)
    if m is None:
        m = re.search(r"X-Amz-Credential=[^&]*?(?:%2F|/)[^&]*?(?:%2F|/)[^&]*?(?:%2F|/)([a-z0-9-]+)(?:%2F|/)aws4_request",
                      query_string)
    return m.group(1) if m else None


def _service_for(request: Request, params: dict[str, str]) -> Service | None:
    signed = request.principal.service if request.principal is not None and request.principal.service else \
        _scope_service(request.headers, request.query_string)
    if signed in services:
        return services[signed]
    version = params.get("Version")
    by_version = next((s for s in services.values() if s.version == version), None)
    if by_version is not None:
        return by_version
    action = params.get("Action", "")
    return next((s for s in services.values() if action in s.operations), None)


def find(request: Request) -> bool:
    return looks_like_query(request.method, request.raw_path, request.query_string, request.headers)


def handle(cumulo: Any, request: Request,
           check: Callable[[tuple[str, str], dict[str, str], dict[str, Any]], None] | None = None) -> Reply:
    """Run one query-protocol operation; every failure is answered in the protocol's XML shape.
    ``check`` (authorisation) is given ((service, operation), {}, the parameters) before it runs."""
    request_id = str(uuid.uuid4())
    service = next(iter(services.values()))
    try:
        params = parse_params(request.body if request.method == "POST" else request.query_string)
        found = _service_for(request, params)
        service = found or service
        action = params.get("Action")
        if not action:
            raise MissingAction("The request must contain the parameter Action.")
        op = found.operations.get(action) if found is not None else None
        if op is None or found is None:
            raise InvalidAction(f"Could not find operation {action[:128]} for version {params.get('Version', 'NO_VERSION_SPECIFIED')[:32]}")
        if check is not None:
            check((found.name, action), {}, params)
        result = op(cumulo, request, params)
        return xml_result(service, action, result, request_id)
    except CumuloError as err:
        return error_reply(service, err, request_id)


class Entries(dict):  # type: ignore[type-arg]
    """A map answered as ``<entry><key>…</key><value>…</value></entry>`` elements (SNS's attributes)."""


def _element(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Entries):
        inner = "".join(f"<entry><key>{escape(str(k))}</key><value>{escape(str(v))}</value></entry>"
                        for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, dict):
        return f"<{name}>{''.join(_element(k, v) for k, v in value.items())}</{name}>"
    if isinstance(value, (list, tuple)):
        return f"<{name}>{''.join(_element('member', v) for v in value)}</{name}>"
    if isinstance(value, bool):
        return f"<{name}>{'true' if value else 'false'}</{name}>"
    return f"<{name}>{escape(str(value))}</{name}>"


def xml_result(service: Service, action: str, result: dict[str, Any] | None, request_id: str) -> Reply:
    inner = _element(f"{action}Result", result) if result is not None else ""
    body = (f'<{action}Response xmlns="{service.namespace}">{inner}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>")
    return Reply(200, body.encode(), [("content-type", "text/xml"), ("x-amzn-requestid", request_id)])


def code_of(err: CumuloError) -> str:
    return _CODES.get(err.type, err.type)


def error_reply(service: Service, err: CumuloError, request_id: str | None = None) -> Reply:
    request_id = request_id or str(uuid.uuid4())
    kind = "Sender" if err.status < 500 else "Receiver"
    body = (f'<ErrorResponse xmlns="{service.namespace}"><Error><Type>{kind}</Type><Code>{escape(code_of(err))}</Code>'
            f"<Message>{escape(err.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Reply(err.status, body.encode(), [("content-type", "text/xml"), ("x-amzn-requestid", request_id)])


def head_error(err: CumuloError, method: str, raw_path: str, query_string: str,
               headers: list[tuple[str, str]]) -> Reply | None:
    """The XML error for a query-protocol request refused from its head alone (the gate), else None."""
    if not services or not looks_like_query(method, raw_path, query_string, headers):
        return None
    service = services.get(_scope_service(headers, query_string) or "") or next(iter(services.values()))
    return error_reply(service, err)


def nested(params: dict[str, str]) -> dict[str, Any]:
    """Flattened parameters as a tree: ``A.entry.1.Name=x`` -> ``{"A": {"entry": {"1": {"Name": "x"}}}}``
    (``listed`` turns such numbered maps into lists)."""
    tree: dict[str, Any] = {}
    for key, value in params.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = value
    return tree


def listed(node: Any, item: str = "member") -> list[Any]:
    """``{"member": {"1": a, "2": b}}`` -> ``[a, b]`` (by number; anything else: [])."""
    if not isinstance(node, dict) or not isinstance(node.get(item), dict):
        return []
    numbered = node[item]
    return [numbered[k] for k in sorted((k for k in numbered if k.isdigit() and len(k) <= 4), key=int)]
