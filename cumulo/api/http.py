"""The HTTP edge's own types: a parsed request, a reply, and the error translation.

Every wire protocol (Lambda REST-JSON now; SQS, EventBridge, Step Functions
JSON later) turns a ``Request`` into a ``Reply``. ``CumuloError`` becomes AWS's
error answer in exactly one place, ``error_reply``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
import re
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qsl, unquote

from cumulo.api.sigv4 import Principal
from cumulo.errors import CumuloError, InvalidRequestContentException

__all__ = ["Request", "Reply", "error_reply", "json_reply", "route_table", "match_route", "BadRequestException",
           "RequestTimeoutException", "RequestEntityTooLargeException", "ServiceUnavailableException"]

H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: str                       # percent-encoded, as on the wire
    query_string: str
    headers: list[tuple[str, str]]      # names lower-cased
    body: bytes
    client: str = ""
    admitted: Any = None                # what the edge's gate checked of the head (``sigv4.Admitted``)
    principal: Principal | None = None  # who signed it (set once the signature verified; the owner
                                        # under --no-auth, see ``ControlPlane.handle``)

    @property
    def path(self) -> str:
        return unquote(self.raw_path)

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def query(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            out.setdefault(key, []).append(value)
        return out

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            doc = json.loads(self.body)
        except ValueError as exc:
            raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from None
        if not isinstance(doc, dict):
            raise InvalidRequestContentException("Could not parse request body into json: expected an object")
        return doc


class BadRequestException(CumuloError):
    """A request the HTTP layer could not accept (malformed, or a head over the limits)."""

    status = 400


class RequestTimeoutException(CumuloError):
    """A request whose head or body arrived too slowly: the connection is closed."""

    status = 408


class RequestEntityTooLargeException(CumuloError):
    """A body over its operation's limit, refused before it is read (AWS's name on the wire,
    e.g. "Request must be smaller than 6291456 bytes for the InvokeFunction operation")."""

    status = 413


class ServiceUnavailableException(CumuloError):
    """The server is at one of its limits (open connections, bodies arriving): try again."""

    status = 503
    retryable = True


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    length: int | None = None           # a HEAD answer's Content-Length (the body it stands for)


def json_reply(doc: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, json.dumps(doc).encode(), [("content-type", "application/json"), *(headers or [])])


def error_reply(err: CumuloError) -> Reply:
    """AWS REST-JSON error: status, ``x-amzn-ErrorType``, and a body boto3 parses."""
    body = {"Type": "User" if err.status < 500 else "Service", "message": err.message, "Message": err.message}
    body.update({k: v for k, v in err.to_aws().items() if k not in ("Type", "message")})
    return json_reply(body, err.status, [("x-amzn-errortype", err.type)])


def route_table(entries: list[tuple[str, str, H]]) -> list[tuple[str, re.Pattern[str], H]]:
    """``(method, path regex, handler)`` rows, each regex anchored and allowing a trailing slash."""
    return [(method, re.compile(f"^{pattern}/?$"), handler) for method, pattern, handler in entries]


def match_route(table: list[tuple[str, re.Pattern[str], H]], request: Request) -> tuple[H, dict[str, str]] | None:
    """The handler for a request's method and path, with the path's named groups."""
    path = request.path
    for method, pattern, handler in table:
        m = pattern.match(path)
        if m and method == request.method:
            return handler, m.groupdict()
    return None
