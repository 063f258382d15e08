"""AWS X-Ray on the control plane's endpoint (REST-JSON, ``cumulo/traces/``): PutTraceSegments,
GetTraceSummaries, BatchGetTraces, GetServiceGraph (docs/traces.md). Timestamps arrive and leave as
epoch seconds; errors are X-Ray's ``InvalidRequestException``."""

from __future__ import annotations

from typing import Any, Callable

from cumulo.api import shapes
from cumulo.api.http import Reply, Request, json_reply, match_route, route_table
from cumulo.app import Cumulo
from cumulo.traces.service import invalid

__all__ = ["route"]

Handler = Callable[[Cumulo, Request, dict[str, str]], Reply]
ERRORS = shapes.Errors(body=invalid, type=invalid, missing=lambda problems: invalid(problems.missing_message()))


def _op(operation: str, method: Callable[[Any, dict[str, Any]], dict[str, Any]]) -> Handler:
    def handler(c: Cumulo, request: Request, params: dict[str, str]) -> Reply:
        return json_reply(method(c.traces, request.doc))     # type: ignore[attr-defined]

    handler.__name__ = operation
    return shapes.guarded("xray", operation, handler, ERRORS)


_ROUTES = route_table([
    ("POST", "/TraceSegments", _op("PutTraceSegments", lambda t, d: t.put_trace_segments(d))),
    ("POST", "/TraceSummaries", _op("GetTraceSummaries", lambda t, d: t.get_trace_summaries(d))),
    ("POST", "/Traces", _op("BatchGetTraces", lambda t, d: t.batch_get_traces(d))),
    ("POST", "/ServiceGraph", _op("GetServiceGraph", lambda t, d: t.get_service_graph(d))),
])


def route(request: Request) -> tuple[Handler, dict[str, str]] | None:
    return match_route(_ROUTES, request)
