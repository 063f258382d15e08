"""AWS X-Ray's API subset over the trace store (docs/traces.md): PutTraceSegments,
GetTraceSummaries, BatchGetTraces, GetServiceGraph; the segments Lambda's invocations produced
(``observe/traces.py``'s recorder) are written here in batches (``flush``), and traces older than
the retention (30 days, as X-Ray keeps them) are pruned on the injected clock."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from datetime import datetime
from typing import Any, Callable

from cumulo.errors import ServiceError
from cumulo.observe.traces import TraceRecorder
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.store.ports import TraceSegments
from cumulo.workers import Periodic
from cumulo.traces.segments import Checked, SegmentError, assemble, check_segment, service_graph, summary

__all__ = ["TraceService", "TraceFlusher", "RETENTION_DAYS", "invalid"]

RETENTION_DAYS = 30
PUT_MAX = 1000            # documents per PutTraceSegments (larger batches: InvalidRequestException)
BATCH_GET_MAX = 5         # trace ids per BatchGetTraces, as X-Ray
SUMMARIES_PAGE = 100
log = logging.getLogger("cumulo.traces")


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidRequestException", message)


def _time(value: Any, member: str) -> float:
    if isinstance(value, bool):
        raise invalid(f"{member} must be a timestamp")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise invalid(f"{member} must be a timestamp")


_SERVICE = re.compile(r'\s*service\(\s*"([^"]*)"\s*\)\s*')
_ANNOTATION = re.compile(r'\s*annotation\.([A-Za-z0-9_]+)\s*=\s*("([^"]*)"|[-0-9.]+|true|false)\s*')
_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")


def _filter(expression: Any) -> Any:
    """The FilterExpression subset Cumulo evaluates: ``service("name")`` and
    ``annotation.key = value``, alone or joined by ``AND``; anything else is refused."""
    if expression is None or expression == "":
        return lambda s: True
    if not isinstance(expression, str) or len(expression) > 2000:
        raise invalid("FilterExpression must be a string of at most 2000 characters")
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for part in re.split(r"\bAND\b|&&", expression):
        if (m := _SERVICE.fullmatch(part)) is not None:
            tests.append(_has_service(m.group(1)))
        elif (m := _ANNOTATION.fullmatch(part)) is not None:
            raw = m.group(2)
            want: Any = m.group(3) if m.group(3) is not None else {"true": True, "false": False}.get(raw)
            tests.append(_has_annotation(m.group(1), float(raw) if want is None else want))
        else:
            raise invalid(f"Unsupported filter expression: {expression!r} (Cumulo evaluates service(\"name\") "
                          "and annotation.key = value, joined by AND)")
    return lambda s: all(t(s) for t in tests)


def _has_service(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda summary: any(x["Name"] == name for x in summary["ServiceIds"])


def _has_annotation(key: str, want: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda summary: any(next(iter(a["AnnotationValue"].values())) == want
                               for a in summary["Annotations"].get(key, []))


class TraceService:
    def __init__(self, data: TraceSegments, recorder: TraceRecorder, clock: Clock = SYSTEM_CLOCK,
                 retention_days: int = RETENTION_DAYS,
                 export: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        """``export``: also hands every segment kept to it (the OTLP exporter's ``submit``)."""
        self._data, self._recorder, self._clock = data, recorder, clock
        self._export = export
        self._retention_s = retention_days * 86400
        self._lock = threading.Lock()

    # -- writing ------------------------------------------------------------------------------
    def flush(self) -> int:
        """What the recorder holds, into the store; how many segments."""
        with self._lock:
            docs = self._recorder.drain()
            if docs:
                self._write([check_segment(d) for d in docs])
        return len(docs)

    def _write(self, checked: list[Checked]) -> None:
        self._data.put((c.trace_id, c.id, c.start, c.end, json.dumps(c.doc, separators=(",", ":")))
                       for c in checked)
        if self._export is not None:
            self._export([c.doc for c in checked])

    def put_trace_segments(self, doc: dict[str, Any]) -> dict[str, Any]:
        texts = doc.get("TraceSegmentDocuments")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise invalid("TraceSegmentDocuments must be a list of strings")
        if len(texts) > PUT_MAX:
            raise invalid(f"TraceSegmentDocuments can have at most {PUT_MAX} documents")
        kept, unprocessed = self.receive(texts)
        return {"UnprocessedTraceSegments": unprocessed}

    def receive(self, texts: list[str]) -> tuple[int, list[dict[str, str]]]:
        """Documents sent by PutTraceSegments or to the daemon: the valid ones kept, the others
        answered as ``UnprocessedTraceSegments``."""
        good, bad = [], []
        for text in texts:
            try:
                good.append(check_segment(text))
            except SegmentError as err:
                bad.append({"Id": err.segment_id, "ErrorCode": "InvalidSegment", "Message": str(err)})
        if good:
            with self._lock:
                self._write(good)
        return len(good), bad

    # -- reading ------------------------------------------------------------------------------
    def get_trace_summaries(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.flush()
        start, end = _time(doc.get("StartTime"), "StartTime"), _time(doc.get("EndTime"), "EndTime")
        if end < start:
            raise invalid("EndTime must not be before StartTime")
        keep = _filter(doc.get("FilterExpression"))
        after = _token(doc.get("NextToken"))
        rows = self._data.traces(start, end, after, SUMMARIES_PAGE + 1)
        page, more = rows[:SUMMARIES_PAGE], len(rows) > SUMMARIES_PAGE
        texts = self._data.segments(r[0] for r in page)
        summaries = [s for trace_id, _, _ in page if trace_id in texts
                     for s in [summary(trace_id, assemble(texts[trace_id]))] if keep(s)]
        out: dict[str, Any] = {"TraceSummaries": summaries, "ApproximateTime": self._clock.now(),
                               "TracesProcessedCount": len(page)}
        if more:
            out["NextToken"] = base64.urlsafe_b64encode(page[-1][0].encode()).decode()
        return out

    def batch_get_traces(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.flush()
        ids = doc.get("TraceIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise invalid("TraceIds must be a list of trace ids")
        if len(ids) > BATCH_GET_MAX:
            raise invalid(f"TraceIds can have at most {BATCH_GET_MAX} trace ids")
        texts = self._data.segments(i for i in dict.fromkeys(ids) if _TRACE_ID.fullmatch(i))
        traces = []
        for trace_id in dict.fromkeys(ids):
            if trace_id not in texts:
                continue
            segments = assemble(texts[trace_id])
            start = min(s.get("start_time", 0) for s in segments)
            end = max(s.get("end_time", s.get("start_time", 0)) for s in segments)
            traces.append({"Id": trace_id, "Duration": round(end - start, 3), "LimitExceeded": False,
                           "Segments": [{"Id": s["id"], "Document": json.dumps(s)} for s in segments]})
        return {"Traces": traces, "UnprocessedTraceIds": [i for i in ids if i not in texts]}

    def get_service_graph(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.flush()
        start, end = _time(doc.get("StartTime"), "StartTime"), _time(doc.get("EndTime"), "EndTime")
        if end < start:
            raise invalid("EndTime must not be before StartTime")
        rows = self._data.traces(start, end, "", 10_000)
        texts = self._data.segments(r[0] for r in rows)
        return {"StartTime": start, "EndTime": end, "ContainsOldGroupVersions": False,
                "Services": service_graph([assemble(t) for t in texts.values()])}

    # -- retention ----------------------------------------------------------------------------
    def prune(self) -> int:
        """Traces that ended more than the retention ago go (a housekeeper's sweep)."""
        self.flush()
        return self._data.prune(self._clock.now() - self._retention_s)


def _token(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        trace_id = base64.urlsafe_b64decode(str(value).encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise invalid("NextToken is not valid") from None
    if not _TRACE_ID.fullmatch(trace_id):
        raise invalid("NextToken is not valid")
    return trace_id


class TraceFlusher(Periodic):
    """Each ``interval_s``, the recorder's segments into the store (and once more when stopped)."""

    def __init__(self, service: TraceService, interval_s: float = 1.0) -> None:
        super().__init__("cumulo-traces", interval_s, service.flush, logger=log)
