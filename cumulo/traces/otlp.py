"""Traces exported to an OpenTelemetry collector over OTLP/HTTP with JSON bodies (docs/traces.md):
each segment kept (Lambda's, and those functions or callers sent) becomes a span, and its
subsegments spans under it, posted to ``<endpoint>/v1/traces`` once a second by a thread of its own,
so a slow or absent collector never holds up an invocation or a PutTraceSegments. ``to_otlp`` is
pure: X-Ray's ids map onto OpenTelemetry's (the trace id's 32 hex digits without the version and
dashes; segment ids are span ids), times become Unix nanoseconds, a fault or error is status ERROR."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import deque
from typing import Any, Callable

__all__ = ["to_otlp", "OtlpExporter", "QUEUE_MAX"]

QUEUE_MAX = 50_000          # segments waiting for the collector at most (beyond: the oldest are dropped)
_BATCH_MAX = 2_000
log = logging.getLogger("cumulo.traces")


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _nanos(seconds: Any) -> str:
    return str(int(round(float(seconds or 0) * 1e9)))


def _spans(doc: dict[str, Any], trace_id: str, parent: str | None, top: bool) -> list[dict[str, Any]]:
    """The span of a segment or subsegment, then its subsegments' (depth first)."""
    attributes = []
    if doc.get("origin"):
        attributes.append(_attribute("aws.xray.origin", doc["origin"]))
    if doc.get("namespace"):
        attributes.append(_attribute("aws.xray.namespace", doc["namespace"]))
    if isinstance(doc.get("resource_arn"), str):
        attributes.append(_attribute("cloud.resource_id", doc["resource_arn"]))
    aws: dict[str, Any] = doc["aws"] if isinstance(doc.get("aws"), dict) else {}
    if isinstance(aws.get("request_id"), str):
        attributes.append(_attribute("faas.invocation_id", aws["request_id"]))
    for key, value in (doc.get("annotations") or {}).items() if isinstance(doc.get("annotations"), dict) else ():
        attributes.append(_attribute(f"aws.xray.annotations.{key}", value))
    failed = doc.get("fault") is True or doc.get("error") is True
    kind = 2 if top else 3 if doc.get("namespace") in ("aws", "remote") else 1    # SERVER, CLIENT, INTERNAL
    span: dict[str, Any] = {
        "traceId": trace_id, "spanId": str(doc.get("id", "")), "name": str(doc.get("name", "")), "kind": kind,
        "startTimeUnixNano": _nanos(doc.get("start_time")),
        "endTimeUnixNano": _nanos(doc.get("end_time", doc.get("start_time"))),
        "attributes": attributes, "status": {"code": 2 if failed else 0},
    }
    if parent:
        span["parentSpanId"] = parent
    out = [span]
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict):
            out += _spans(sub, trace_id, span["spanId"], False)
    return out


def to_otlp(segments: list[dict[str, Any]]) -> dict[str, Any]:
    """An ExportTraceServiceRequest (OTLP's JSON encoding) of segment documents: one resource per
    service (a segment's name and origin), as ``service.name`` and ``cloud.platform``."""
    resources: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for doc in segments:
        trace_id = str(doc.get("trace_id", "")).replace("1-", "", 1).replace("-", "")
        service = (str(doc.get("name", "")), str(doc.get("origin") or ""))
        top = doc.get("type") != "subsegment"
        resources.setdefault(service, []).extend(_spans(doc, trace_id, doc.get("parent_id"), top))
    out = []
    for (name, origin), spans in resources.items():
        attributes = [_attribute("service.name", name), _attribute("cloud.provider", "aws")]
        if origin.startswith("AWS::Lambda"):
            attributes.append(_attribute("cloud.platform", "aws_lambda"))
        out.append({"resource": {"attributes": attributes},
                    "scopeSpans": [{"scope": {"name": "cumulo.traces"}, "spans": spans}]})
    return {"resourceSpans": out}


class OtlpExporter:
    """Posts what ``submit`` was given to ``<endpoint>/v1/traces`` each ``interval_s`` (and at
    ``stop``); a failed post is logged and its batch dropped, as an SDK's exporter drops it."""

    def __init__(self, endpoint: str, interval_s: float = 1.0, timeout_s: float = 5.0,
                 post: Callable[[str, bytes, float], None] | None = None) -> None:
        base = endpoint.rstrip("/")
        self.url = base if base.endswith("/v1/traces") else base + "/v1/traces"
        self._interval_s, self._timeout_s = interval_s, timeout_s
        self._post = post or _post
        self._queue: deque[dict[str, Any]] = deque(maxlen=QUEUE_MAX)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-otlp", daemon=True)
        self.failures = 0

    def submit(self, segments: list[dict[str, Any]]) -> None:
        self._queue.extend(segments)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.export()

    def export(self) -> int:
        """Post what is waiting, in batches; how many segments were sent."""
        sent = 0
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), _BATCH_MAX))]
            try:
                self._post(self.url, json.dumps(to_otlp(batch)).encode(), self._timeout_s)
                sent += len(batch)
            except (OSError, urllib.error.URLError, ValueError) as exc:
                self.failures += 1
                log.warning("OTLP export of %d segments to %s failed: %s", len(batch), self.url, exc)
                return sent
        return sent

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.export()


def _post(url: str, body: bytes, timeout_s: float) -> None:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout_s) as answer:     # noqa: S310 (a configured URL)
        answer.read()
