"""X-Ray's segment documents (pure): checked as PutTraceSegments checks them, assembled into traces
(subsegments sent on their own placed under their parents), summarized as GetTraceSummaries
answers, and drawn as GetServiceGraph's nodes and edges."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SegmentError", "check_segment", "assemble", "summary", "service_graph", "Checked"]

_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_ID = re.compile(r"[0-9a-f]{16}")
NAME_MAX = 200
DOCUMENT_MAX = 64 * 1024       # X-Ray's limit on one segment document


class SegmentError(ValueError):
    """Why a document is not a segment X-Ray would keep (its ``code`` is UnprocessedTraceSegments')."""

    def __init__(self, message: str, segment_id: str = "") -> None:
        super().__init__(message)
        self.segment_id = segment_id


@dataclass(frozen=True)
class Checked:
    trace_id: str
    id: str
    start: float
    end: float
    doc: dict[str, Any] = field(compare=False)


def _number(doc: dict[str, Any], key: str, sid: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SegmentError(f"{key} must be a number of epoch seconds", sid)
    return float(value)


def check_segment(text: str | bytes | dict[str, Any]) -> Checked:
    """A segment document (JSON text, or already parsed) as X-Ray requires it: ``name`` (1 to 200
    characters), ``id`` (16 hex digits), ``trace_id`` (``1-<8 hex>-<24 hex>``), ``start_time`` and
    either ``end_time`` (not before it) or ``in_progress: true``; a subsegment sent on its own
    (``type: subsegment``) also names its ``parent_id``."""
    if isinstance(text, dict):
        doc = text
    else:
        if len(text) > DOCUMENT_MAX:
            raise SegmentError(f"the document is larger than {DOCUMENT_MAX} bytes")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            raise SegmentError("the document is not JSON") from None
    if not isinstance(doc, dict):
        raise SegmentError("the document is not a JSON object")
    sid = doc.get("id")
    if not isinstance(sid, str) or not _ID.fullmatch(sid):
        raise SegmentError("id must be 16 hexadecimal digits", sid if isinstance(sid, str) else "")
    trace_id = doc.get("trace_id")
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        raise SegmentError("trace_id must be 1-<8 hexadecimal digits>-<24 hexadecimal digits>", sid)
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        raise SegmentError(f"name must be a string of 1 to {NAME_MAX} characters", sid)
    start = _number(doc, "start_time", sid)
    if doc.get("in_progress") is True and "end_time" not in doc:
        end = start
    else:
        end = _number(doc, "end_time", sid)
        if end < start:
            raise SegmentError("end_time is before start_time", sid)
    parent = doc.get("parent_id")
    if parent is not None and (not isinstance(parent, str) or not _ID.fullmatch(parent)):
        raise SegmentError("parent_id must be 16 hexadecimal digits", sid)
    if doc.get("type") == "subsegment" and parent is None:
        raise SegmentError("a subsegment sent on its own needs its parent_id", sid)
    return Checked(trace_id, sid, start, end, doc)


def _find(doc: dict[str, Any], sid: str) -> dict[str, Any] | None:
    if doc.get("id") == sid:
        return doc
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict) and (found := _find(sub, sid)) is not None:
            return found
    return None


def assemble(texts: list[str]) -> list[dict[str, Any]]:
    """A trace's segments, each subsegment sent on its own placed under its parent (its ``type``,
    ``trace_id`` and ``parent_id`` dropped, as X-Ray shows it); one whose parent is not kept stays
    a document of its own. Ordered by start."""
    docs = [json.loads(t) for t in texts]
    segments = [d for d in docs if d.get("type") != "subsegment"]
    loose = sorted((d for d in docs if d.get("type") == "subsegment"), key=lambda d: d.get("start_time", 0))
    for _ in range(len(loose) + 1):         # a subsegment's parent may itself be a loose subsegment
        placed = []
        for sub in loose:
            for seg in segments + [s for s in loose if s is not sub]:
                parent = _find(seg, sub["parent_id"])
                if parent is not None:
                    inner = {k: v for k, v in sub.items() if k not in ("type", "trace_id", "parent_id")}
                    kids = parent.setdefault("subsegments", [])
                    if not any(isinstance(k, dict) and k.get("id") == inner.get("id") for k in kids):
                        kids.append(inner)
                    placed.append(sub)
                    break
        if not placed:
            break
        loose = [s for s in loose if all(s is not p for p in placed)]
    return sorted(segments + loose, key=lambda d: (d.get("start_time", 0), d.get("id", "")))


def _root(segments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The trace's entry: the earliest segment whose parent is not in the trace."""
    ids = {s.get("id") for s in segments}
    for s in segments:
        for sub in s.get("subsegments") or ():
            if isinstance(sub, dict):
                ids |= _ids(sub)
    entries = [s for s in segments if s.get("parent_id") not in ids and s.get("type") != "subsegment"]
    return min(entries, key=lambda s: s.get("start_time", 0)) if entries else None


def _ids(doc: dict[str, Any]) -> set[Any]:
    out = {doc.get("id")}
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict):
            out |= _ids(sub)
    return out


def _flag(doc: dict[str, Any], key: str) -> bool:
    if doc.get(key) is True:
        return True
    return any(isinstance(s, dict) and _flag(s, key) for s in doc.get("subsegments") or ())


def _service(doc: dict[str, Any]) -> dict[str, Any]:
    name = str(doc.get("name", ""))
    out: dict[str, Any] = {"Name": name, "Names": [name], "Type": str(doc.get("origin") or "client")}
    account = (doc.get("aws") or {}).get("account_id") if isinstance(doc.get("aws"), dict) else None
    if isinstance(account, str):
        out["AccountId"] = account
    return out


def summary(trace_id: str, segments: list[dict[str, Any]]) -> dict[str, Any]:
    """GetTraceSummaries' ``TraceSummary`` of one assembled trace."""
    start = min(s.get("start_time", 0) for s in segments)
    end = max(s.get("end_time", s.get("start_time", 0)) for s in segments)
    root = _root(segments) or segments[0]
    services: dict[tuple[str, str], dict[str, Any]] = {}
    for s in segments:
        svc = _service(s)
        services.setdefault((svc["Name"], svc["Type"]), svc)
    http = _member(root, "http")
    request, response = _member(http, "request"), _member(http, "response")
    out: dict[str, Any] = {
        "Id": trace_id, "StartTime": start, "Duration": round(end - start, 3),
        "ResponseTime": round(root.get("end_time", start) - root.get("start_time", start), 3),
        "HasFault": any(_flag(s, "fault") for s in segments), "HasError": any(_flag(s, "error") for s in segments),
        "HasThrottle": any(_flag(s, "throttle") for s in segments), "IsPartial": False,
        "Annotations": {}, "Users": [],
        "ServiceIds": list(services.values()), "EntryPoint": _service(root),
        "ResourceARNs": [{"ARN": a} for a in sorted({s["resource_arn"] for s in segments
                                                     if isinstance(s.get("resource_arn"), str)})],
    }
    wire = {k: v for k, v in (("HttpURL", request.get("url")), ("HttpMethod", request.get("method")),
                              ("HttpStatus", response.get("status")), ("UserAgent", request.get("user_agent")),
                              ("ClientIp", request.get("client_ip"))) if v is not None}
    if wire:
        out["Http"] = wire
    annotations: dict[str, list[dict[str, Any]]] = {}
    for s in segments:
        for key, value in _annotations(s):
            kind = "BooleanValue" if isinstance(value, bool) else "NumberValue" if isinstance(value, (int, float)) \
                else "StringValue"
            entry = {"AnnotationValue": {kind: value}, "ServiceIds": [_service(s)]}
            if entry not in annotations.setdefault(key, []):
                annotations[key].append(entry)
    out["Annotations"] = annotations
    return out


def _member(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _annotations(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    found = [(k, v) for k, v in (doc.get("annotations") or {}).items()] \
        if isinstance(doc.get("annotations"), dict) else []
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict):
            found += _annotations(sub)
    return found


@dataclass
class _Stats:
    ok: int = 0
    error: int = 0
    throttle: int = 0
    fault: int = 0
    total_time: float = 0.0
    start: float = math.inf
    end: float = 0.0

    def add(self, doc: dict[str, Any]) -> None:
        begin = float(doc.get("start_time", 0))
        finish = float(doc.get("end_time", begin))
        self.start, self.end = min(self.start, begin), max(self.end, finish)
        self.total_time += finish - begin
        if doc.get("fault") is True:
            self.fault += 1
        elif doc.get("throttle") is True:
            self.throttle += 1
        elif doc.get("error") is True:
            self.error += 1
        else:
            self.ok += 1

    def to_aws(self) -> dict[str, Any]:
        total = self.ok + self.error + self.throttle + self.fault
        return {"OkCount": self.ok, "TotalCount": total, "TotalResponseTime": round(self.total_time, 3),
                "ErrorStatistics": {"ThrottleCount": self.throttle, "OtherCount": self.error,
                                    "TotalCount": self.throttle + self.error},
                "FaultStatistics": {"OtherCount": self.fault, "TotalCount": self.fault}}


def _downstream(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Subsegments that call out (namespace ``aws`` or ``remote``), anywhere under ``doc``."""
    out = []
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict):
            if sub.get("namespace") in ("aws", "remote") and isinstance(sub.get("name"), str):
                out.append(sub)
            out += _downstream(sub)
    return out


def service_graph(traces: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """GetServiceGraph's ``Services``: one node per (name, origin) of the traces' segments and per
    service their ``aws``/``remote`` subsegments call, with an edge from a segment's service to its
    parent's children (a segment whose parent is in another segment) and to what it calls.

    A call whose callee recorded a segment of its own under it (an API stage's ``Lambda``
    subsegment, the parent of the function's ``AWS::Lambda`` segment) is that segment's edge, not
    a node of its own; a call into a service that records none (``SQS``, ``EventBridge``, ``SNS``)
    is an inferred node, and what continues its trace downstream (a function a queue's mapping
    invoked) hangs under that node: caller → SQS → consumer."""
    nodes: dict[tuple[str, str], int] = {}
    node_stats: dict[int, _Stats] = {}
    edges: dict[tuple[int, int], _Stats] = {}
    roots: set[int] = set()

    def node(name: str, kind: str) -> int:
        ref = nodes.setdefault((name, kind), len(nodes))
        node_stats.setdefault(ref, _Stats())
        return ref

    for segments in traces:
        owner: dict[Any, int] = {}
        for s in segments:
            ref = node(str(s.get("name", "")), str(s.get("origin") or "client"))
            node_stats[ref].add(s)
            for sid in _ids(s):
                owner[sid] = ref
        callee = {(s.get("parent_id"), s.get("origin")) for s in segments}
        calls = []
        for s in segments:
            for sub in _downstream(s):
                aws = sub.get("namespace") == "aws"
                kind = f"AWS::{sub['name']}" if aws else "remote"
                if (sub.get("id"), kind) in callee:
                    continue            # the callee's own segment is the node
                target = node(sub["name"], kind)
                calls.append((owner[s.get("id")], target, sub))
                owner[sub.get("id")] = target
        root = _root(segments)
        if root is not None:
            roots.add(owner[root.get("id")])
        for s in segments:
            ref = owner[s.get("id")]
            parent = owner.get(s.get("parent_id"))
            if parent is not None and parent != ref:
                edges.setdefault((parent, ref), _Stats()).add(s)
        for source, target, sub in calls:
            node_stats[target].add(sub)
            if source != target:
                edges.setdefault((source, target), _Stats()).add(sub)
    out = []
    for (name, kind), ref in nodes.items():
        stats = node_stats[ref]
        out.append({
            "ReferenceId": ref, "Name": name, "Names": [name], "Type": kind, "State": "active",
            "Root": ref in roots, "StartTime": stats.start if stats.start != math.inf else 0.0,
            "EndTime": stats.end, "SummaryStatistics": stats.to_aws(),
            "Edges": [{"ReferenceId": target, "StartTime": e.start, "EndTime": e.end, "SummaryStatistics": e.to_aws(),
                       "Aliases": []}
                      for (source, target), e in sorted(edges.items()) if source == ref],
        })
    return out
