"""Segment documents: PutTraceSegments' checks, assembling a trace, summaries and the service graph."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.traces.segments import SegmentError, assemble, check_segment, service_graph, summary

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
BASE = {"trace_id": ROOT, "id": "0000000000000001", "name": "api", "start_time": 10.0, "end_time": 12.0}


@pytest.mark.parametrize("change, why", [
    ({"id": "1"}, "id"), ({"trace_id": "1-abc"}, "trace_id"), ({"name": ""}, "name"), ({"name": "x" * 201}, "name"),
    ({"start_time": "10"}, "start_time"), ({"end_time": 9.0}, "before"), ({"end_time": None}, "end_time"),
    ({"parent_id": "zz"}, "parent_id"), ({"type": "subsegment"}, "parent_id"),
])
def test_documents_x_ray_would_refuse_are_refused(change: dict[str, Any], why: str) -> None:
    with pytest.raises(SegmentError, match=why):
        check_segment(json.dumps({**BASE, **change}))


def test_an_in_progress_segment_needs_no_end() -> None:
    doc = {**BASE, "in_progress": True}
    del doc["end_time"]
    assert check_segment(json.dumps(doc)).end == 10.0


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20))
def test_any_json_is_checked_without_crashing(value: Any) -> None:
    try:
        check_segment(json.dumps(value))
    except SegmentError:
        pass


def test_loose_subsegments_are_placed_under_their_parents() -> None:
    sub = {"trace_id": ROOT, "id": "00000000000000a1", "parent_id": "0000000000000001", "type": "subsegment",
           "name": "work", "start_time": 10.5, "end_time": 11.0}
    inner = {**sub, "id": "00000000000000a2", "parent_id": "00000000000000a1", "name": "inner"}
    orphan = {**sub, "id": "00000000000000a3", "parent_id": "00000000000000ff", "name": "orphan"}
    docs = assemble([json.dumps(d) for d in (inner, BASE, orphan, sub)])
    assert [d["name"] for d in docs] == ["api", "orphan"]
    assert docs[0]["subsegments"][0]["name"] == "work"
    assert docs[0]["subsegments"][0]["subsegments"][0] == {"id": "00000000000000a2", "name": "inner",
                                                           "start_time": 10.5, "end_time": 11.0}


def test_a_summary_and_the_graph_of_a_call_from_one_service_to_another() -> None:
    api = {**BASE, "origin": "AWS::ApiGateway::Stage", "http": {"response": {"status": 502}},
           "subsegments": [{"id": "00000000000000b1", "name": "SQS", "namespace": "aws", "start_time": 10.1,
                            "end_time": 10.2, "annotations": {"order": "o-1"}}]}
    fn = {**BASE, "id": "0000000000000002", "parent_id": "0000000000000001", "name": "f", "origin": "AWS::Lambda",
          "start_time": 10.2, "end_time": 11.5, "fault": True}
    docs = assemble([json.dumps(api), json.dumps(fn)])
    s = summary(ROOT, docs)
    assert (s["Duration"], s["ResponseTime"], s["HasFault"], s["HasError"]) == (2.0, 2.0, True, False)
    assert s["EntryPoint"]["Name"] == "api" and s["Http"] == {"HttpStatus": 502}
    assert s["Annotations"]["order"][0]["AnnotationValue"] == {"StringValue": "o-1"}
    graph = {n["Name"]: n for n in service_graph([docs])}
    assert graph["api"]["Root"] is True and graph["f"]["Root"] is False
    assert {e["ReferenceId"] for e in graph["api"]["Edges"]} == {graph["f"]["ReferenceId"], graph["SQS"]["ReferenceId"]}
    to_f = next(e for e in graph["api"]["Edges"] if e["ReferenceId"] == graph["f"]["ReferenceId"])
    assert to_f["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1


def _seg(sid: str, name: str, origin: str, parent: str | None = None, subs: list[Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"trace_id": "1-5f000000-000000000000000000000001", "id": sid, "name": name,
                           "origin": origin, "start_time": 1.0, "end_time": 2.0, "subsegments": subs or []}
    if parent:
        doc["parent_id"] = parent
    return doc


def _call(sid: str, name: str) -> dict[str, Any]:
    return {"id": sid, "name": name, "namespace": "aws", "start_time": 1.0, "end_time": 1.5}


def _edges(graph: list[dict[str, Any]]) -> set[tuple[tuple[str, str], tuple[str, str]]]:
    names = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in graph}
    return {(names[s["ReferenceId"]], names[e["ReferenceId"]]) for s in graph for e in s["Edges"]}


def test_a_call_into_a_service_with_its_own_segment_is_an_edge_and_one_without_is_a_node_between() -> None:
    stage = _seg("a" * 16, "shop/prod", "AWS::ApiGateway::Stage", subs=[_call("b" * 16, "Lambda")])
    front = _seg("c" * 16, "front", "AWS::Lambda", "b" * 16)
    front_fn = _seg("d" * 16, "front", "AWS::Lambda::Function", "c" * 16, [_call("e" * 16, "SQS")])
    worker = _seg("f" * 16, "worker", "AWS::Lambda", "e" * 16)
    graph = service_graph([[stage, front, front_fn, worker]])
    assert _edges(graph) == {
        (("shop/prod", "AWS::ApiGateway::Stage"), ("front", "AWS::Lambda")),       # no inferred "Lambda" node
        (("front", "AWS::Lambda"), ("front", "AWS::Lambda::Function")),
        (("front", "AWS::Lambda::Function"), ("SQS", "AWS::SQS")),
        (("SQS", "AWS::SQS"), ("worker", "AWS::Lambda")),                        # the queue's consumer after it
    }
    assert {(s["Name"], s["Type"]) for s in graph if s["Root"]} == {("shop/prod", "AWS::ApiGateway::Stage")}
