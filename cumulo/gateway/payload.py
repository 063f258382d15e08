"""Lambda proxy payloads for HTTP APIs: the request event (formats 1.0 and 2.0) and the response mapping.

The one import for the gateway's edge. Everything here is pure: a received
``HttpRequest`` and a ``RouteMatch`` in, an event ``dict`` out; a function's raw
JSON result in, a ``GatewayResponse`` out. Formats live in ``payload_v2``,
``payload_v1`` and ``responses``; what they share in ``_request``.
"""

from __future__ import annotations

from cumulo.gateway._request import HttpRequest
from cumulo.gateway.payload_v1 import event_v1
from cumulo.gateway.payload_v2 import event_v2
from cumulo.gateway.responses import INTERNAL_ERROR, MALFORMED_V1, GatewayResponse, response_v1, response_v2

__all__ = [
    "HttpRequest", "event_v1", "event_v2",
    "GatewayResponse", "INTERNAL_ERROR", "MALFORMED_V1", "response_v1", "response_v2",
]
