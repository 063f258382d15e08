"""From a function's result to the HTTP response, for payload formats 2.0 and 1.0.

Format 2.0 ("Lambda function response for format 2.0"): a JSON object with a
``statusCode`` is a custom response (``statusCode``, ``headers``, ``cookies`` —
each one a ``set-cookie`` header —, ``body``, ``isBase64Encoded``). Any other
valid JSON is inferred as status 200, ``content-type: application/json``, and
the function's response as body: a JSON string is the body itself (the guide's
``"Hello from Lambda!"`` example), anything else is the JSON text exactly as the
function returned it (no re-serialisation, so no whitespace changes). A result
that is not JSON, or a custom response of the wrong shape, is a 500
``Internal Server Error``.

Format 1.0 ("Output format of a Lambda function for proxy integration"):
``statusCode`` is required; ``headers`` and ``multiValueHeaders`` are merged and
for a name present in both only ``multiValueHeaders`` counts. Any other shape is
what the REST guide documents: ``502`` with ``{"message": "Internal server error"}``.

Our strictness where AWS is silent: header values may be JSON strings, numbers
or booleans (sent as their JSON text); ``null``, objects and arrays, header
names that are not HTTP tokens, values with CR/LF/NUL or outside Latin-1 are
malformed — a response-splitting header never reaches the client. 2.0 ignores
``multiValueHeaders`` (not part of its documented shape); 1.0 also accepts
``statusCode`` as a decimal string, as REST APIs do.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

import orjson
from dataclasses import dataclass
from typing import Any

__all__ = ["GatewayResponse", "INTERNAL_ERROR", "MALFORMED_V1", "message", "response_v1", "response_v2"]

_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE_RE = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]   # may repeat (Set-Cookie)
    body: bytes


def message(status: int, text: str, headers: list[tuple[str, str]] | None = None) -> GatewayResponse:
    """The gateway's own answers: ``{"message": text}``, as API Gateway words them."""
    return GatewayResponse(status, [("content-type", "application/json"), *(headers or [])],
                           json.dumps({"message": text}, separators=(",", ":")).encode())


INTERNAL_ERROR = message(500, "Internal Server Error")
MALFORMED_V1 = GatewayResponse(502, [("content-type", "application/json")], b'{"message": "Internal server error"}')


def _loads(payload: bytes) -> Any:
    """orjson first (several times faster); Python's json for what only it reads (NaN, Infinity),
    within the interpreter's recursion (orjson refuses nesting past 1,024 levels, json recurses)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            return json.loads(payload)
        except RecursionError:
            raise ValueError("the function's result is nested too deeply") from None


class _Malformed(Exception):
    """The result breaks the documented response shape; mapped to the format's error response."""


def response_v2(payload: bytes) -> GatewayResponse:
    """The HTTP response for a function's raw JSON result under payload format 2.0."""
    try:
        result = _loads(payload)
    except ValueError:          # includes UnicodeDecodeError
        return INTERNAL_ERROR
    if not isinstance(result, dict) or "statusCode" not in result:
        body = result.encode("utf-8", "replace") if isinstance(result, str) else payload
        return GatewayResponse(200, [("content-type", "application/json")], body)
    try:
        headers = _single_headers(result.get("headers"))
        headers += [("set-cookie", cookie) for cookie in _cookies(result.get("cookies"))]
        return _framed(_status(result["statusCode"], strings=False), headers, _body(result))
    except _Malformed:
        return INTERNAL_ERROR


def response_v1(payload: bytes) -> GatewayResponse:
    """The HTTP response for a function's raw JSON result under payload format 1.0."""
    try:
        result = _loads(payload)
    except ValueError:
        return MALFORMED_V1
    if not isinstance(result, dict) or "statusCode" not in result:
        return MALFORMED_V1
    try:
        multi = _multi_headers(result.get("multiValueHeaders"))
        overridden = {name.lower() for name, _ in multi}
        single = [(n, v) for n, v in _single_headers(result.get("headers")) if n.lower() not in overridden]
        return _framed(_status(result["statusCode"], strings=True), single + multi, _body(result))
    except _Malformed:
        return MALFORMED_V1


def _status(value: Any, strings: bool) -> int:
    """A final status: 1xx are interim answers in HTTP/1.1 (a client would wait for the real one)."""
    if strings and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise _Malformed("statusCode")
    return value


def _framed(status: int, headers: list[tuple[str, str]], body: bytes) -> GatewayResponse:
    """The response as HTTP can carry it: the function's framing headers dropped (the edge frames
    it; a Content-Length or Transfer-Encoding of the function's would desynchronise the client's
    connection), and no body after a status that has none (204, 205, 304)."""
    headers = [(name, value) for name, value in headers if name.lower() not in _FRAMING]
    return GatewayResponse(status, headers, b"" if status in (204, 205, 304) else body)


def _body(result: dict[str, Any]) -> bytes:
    body = result.get("body")
    encoded = result.get("isBase64Encoded", False)
    if encoded is None:
        encoded = False
    if not isinstance(encoded, bool):
        raise _Malformed("isBase64Encoded")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise _Malformed("body")
    if not encoded:
        return body.encode("utf-8", "replace")     # a lone surrogate ("\ud800" in the JSON) becomes '?'
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Malformed("body") from exc


def _single_headers(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise _Malformed("headers")
    return [(_name(name), _value(value)) for name, value in headers.items()]


def _multi_headers(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise _Malformed("multiValueHeaders")
    pairs = []
    for name, values in headers.items():
        if not isinstance(values, list):
            raise _Malformed("multiValueHeaders")
        pairs += [(_name(name), _value(value)) for value in values]
    return pairs


def _cookies(cookies: Any) -> list[str]:
    if cookies is None:
        return []
    if not isinstance(cookies, list):
        raise _Malformed("cookies")
    if not all(isinstance(cookie, str) for cookie in cookies):
        raise _Malformed("cookies")
    return [_value(cookie) for cookie in cookies]


_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
                      "trailer", "proxy-connection"})


def _name(name: str) -> str:
    if not _TOKEN_RE.match(name):
        raise _Malformed("header name")
    return name


def _value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)):
        text = json.dumps(value)
    else:
        raise _Malformed("header value")
    if _BAD_VALUE_RE.search(text) or not _latin1(text):
        raise _Malformed("header value")
    return text


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
