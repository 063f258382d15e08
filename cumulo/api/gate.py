"""The control plane's gate: what a request's head decides, before any of its body is read.

The HTTP edge (``edge/server.py``) calls ``ControlGate`` once a request's headers are complete.
In order, each answered at once with AWS's error shape (the connection then closes, and what
the client still sends is discarded, never buffered):

1. the body's limit for this operation, against ``Content-Length``: Invoke 6 MB
   (``sync_payload_max``), 256 KB with ``X-Amz-Invocation-Type: Event``
   (``async_payload_max``), InvokeWithResponseStream 6 MB, anything else 72 MB (a 50 MB zip in
   base64 inside JSON) — 413 ``RequestEntityTooLargeException`` with AWS's messages; a chunked
   body is held to the same limit as it arrives (the edge asks ``refusal`` for the answer);
2. the signature's head (``sigv4.admit``): its form, every ``x-amz-*`` header signed, the
   clock (15 minutes of skew), the key (403 ``UnrecognizedClientException``,
   ``InvalidSignatureException``, ``MissingAuthenticationTokenException``; 400
   ``IncompleteSignatureException``).

One unsigned kind of request passes (``anonymous``): an S3 request (path or virtual-host style,
no signature of any form, no other service's route) naming a bucket whose policy allows everyone
something and whose ``RestrictPublicBuckets`` does not close it (``ObjectService.anonymous_may``).
It goes on marked ``s3.ANONYMOUS`` and is decided by that policy alone (``api/authorize.py``); to
any other existing bucket it is S3's ``AccessDenied`` at once, its body unread; naming no bucket,
it is refused as any unsigned request is.

So a client without a valid key never gets the server to buffer a body, except for a bucket whose
owner granted everyone access. What passed is left
on the request (``note``) and the signature over the body is checked with it later
(``sigv4.check``), so the head is not parsed twice. Requests with ``X-Amz-Target`` (SQS,
EventBridge, Kinesis, Step Functions) get their JSON protocol's error shape.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

from typing import Callable

from cumulo.api import apigateway, apigatewayv2, awsjson, lambda_api, query, s3, sigv2, sigv4, sns, xray
from cumulo.api.http import (
    BadRequestException, Request, RequestEntityTooLargeException, RequestTimeoutException,
    ServiceUnavailableException, error_reply,
)
from cumulo.config import Settings
from cumulo.edge import server as edge
from cumulo.errors import CumuloError, ServiceException

__all__ = ["ControlGate", "HEALTH_PATH"]

_STREAM_PATH = re.compile(r"^/2021-11-15/functions/(?P<name>[^/]+)/response-streaming-invocations/?$")


# Answered without a signature, from the event loop itself: it serves requests (load balancers'
# and Kubernetes' probes; a node draining after SIGTERM no longer accepts connections at all).
# No bucket can be named "_cumulo", so no S3 path is this one.
HEALTH_PATH = "/_cumulo/health"


class ControlGate:
    """``edge.Gate`` and ``edge.Refusal`` of the control plane (``auth`` False: limits only)."""

    def __init__(self, settings: Settings, keys: sigv4.Keys, auth: bool, max_body_bytes: int,
                 anonymous: Callable[[str], bool | None] | None = None) -> None:
        self.settings = settings
        self.keys = keys
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self.anonymous = anonymous      # a bucket's name -> may its policy serve unsigned requests (None: no bucket)

    def __call__(self, head: edge.Request) -> edge.Response | int:
        if head.raw_path == HEALTH_PATH and head.method in ("GET", "HEAD"):
            return edge.Response(200, [("content-type", "application/json")], b'{"status":"ok"}')
        limit, _ = self._limit(head)
        declared = _content_length(head.headers)
        if declared is not None and declared > limit:
            return self.refusal(413, "", head)
        if not self.auth:
            return limit
        if _header(head.headers, "authorization") is not None:   # signed: none of the unsigned kinds below
            return self._admit(head, limit)
        if not sigv2.is_presigned(head.query_string) \
                and sns.public(head.method, head.raw_path, head.query_string, head.headers) is None \
                and not s3.is_preflight(head.method, head.headers):
            # (S3's SigV2 URLs: checked with the request; SNS's SubscribeURL and signing certificate,
            # S3's CORS preflights: unsigned, as on AWS, and served only as that — ``api/sns.py``
            # ``public``, ``api/s3.py`` ``preflight``)
            bucket = s3.anonymous_bucket(head.method, head.raw_path, head.query_string, head.headers) \
                if self.anonymous is not None else None
            if bucket is not None and not _another_route(head):
                may = self.anonymous(bucket)   # type: ignore[misc]
                if may is not None:
                    if not may:
                        reply = s3.error_reply(s3.S3Error("AccessDenied", "Access Denied", 403), head.method)
                        return edge.Response(reply.status, reply.headers, reply.body)
                    head.note = s3.ANONYMOUS
                    return limit
            return self._admit(head, limit)
        return limit

    def _admit(self, head: edge.Request, limit: int) -> edge.Response | int:
        """The signature's head (``sigv4.admit``), left on the request; or AWS's refusal."""
        try:
            head.note = sigv4.admit(sigv4.IncomingRequest(head.method, head.raw_path, head.query_string,
                                                          head.headers, b""),
                                    self.keys, datetime.now(timezone.utc))
        except CumuloError as err:
            return _answer(err, head)
        return limit

    def refusal(self, status: int, detail: str, head: edge.Request | None) -> edge.Response:
        """The answer to a request the edge refuses before any operation, in AWS's shape."""
        err: CumuloError
        if status == 413:
            err = self._too_large(head)
        elif status == 408:
            err = RequestTimeoutException(detail or "The request did not arrive in time")
        elif status == 503:
            err = ServiceUnavailableException(detail or "The server is busy; try again later")
        elif status >= 500:
            err = ServiceException(detail or "An internal error occurred; see the server's log.")
        else:   # 400 malformed, 431 a head over the limits
            err = BadRequestException(detail or "Malformed HTTP request")
            err.status = status
        return _answer(err, head)

    def _limit(self, head: edge.Request) -> tuple[int, str | None]:
        """The most this request's body may hold, and the operation whose limit that is."""
        if head.method == "POST" and head.raw_path.rstrip("/").endswith("invocations"):
            path = unquote(head.raw_path)
            if lambda_api.INVOKE_PATH.match(path):
                if _header(head.headers, "x-amz-invocation-type") == "Event":
                    return self.settings.async_payload_max, "Event"
                return self.settings.sync_payload_max, "InvokeFunction"
            if _STREAM_PATH.match(path):
                return self.settings.sync_payload_max, "InvokeWithResponseStream"
        return self.max_body_bytes, None

    def _too_large(self, head: edge.Request | None) -> RequestEntityTooLargeException:
        limit, operation = self._limit(head) if head is not None else (self.max_body_bytes, None)
        if operation == "Event":
            declared = _content_length(head.headers) if head is not None else None
            size = f"{declared} byte payload" if declared is not None and declared > limit else "The payload"
            return RequestEntityTooLargeException(f"{size} is too large for the Event invocation type "
                                                  f"(limit {limit} bytes)")
        suffix = f" for the {operation} operation" if operation else ""
        return RequestEntityTooLargeException(f"Request must be smaller than {limit} bytes{suffix}")


def _answer(err: CumuloError, head: edge.Request | None) -> edge.Response:
    """AWS's error answer: REST-JSON, or the JSON protocol's shape for an ``X-Amz-Target``."""
    target = None
    xml = None if head is None else (query.head_error(err, head.method, head.raw_path, head.query_string, head.headers)
                                     or s3.head_error(err, head.method, head.raw_path, head.query_string, head.headers))
    if xml is not None:
        return edge.Response(xml.status, xml.headers, xml.body)
    if head is not None:
        target = awsjson.find(Request(head.method, head.raw_path, head.query_string,
                                      [(k.lower(), v) for k, v in head.headers], b""))
    reply = awsjson.json_error(target[0], err) if target else error_reply(err)
    return edge.Response(reply.status, [*reply.headers, ("x-amzn-requestid", str(uuid.uuid4()))], reply.body)


def _another_route(head: edge.Request) -> bool:
    """Whether an unsigned request's path is another REST service's (Lambda, API Gateway, X-Ray):
    never taken for S3's, even where a bucket has that name."""
    request = Request(head.method, head.raw_path, head.query_string, [(k.lower(), v) for k, v in head.headers], b"")
    for route in (lambda_api.route, apigatewayv2.route, apigateway.route, xray.route):
        try:
            if route(request) is not None:
                return True
        except CumuloError:
            return True
    return False


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    value = _header(headers, "content-length")
    return int(value) if value is not None and value.strip().isdigit() else None
