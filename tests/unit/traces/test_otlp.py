"""OTLP's JSON encoding of segments, and the exporter's batches."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cumulo.traces.otlp import OtlpExporter, to_otlp

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def segment(**changes: Any) -> dict[str, Any]:
    return {"trace_id": ROOT, "id": "0000000000000001", "name": "f", "origin": "AWS::Lambda", "start_time": 1.5,
            "end_time": 2.25, **changes}


def test_ids_times_status_and_nesting() -> None:
    body = to_otlp([segment(parent_id="00000000000000aa", fault=True, subsegments=[
        {"id": "00000000000000b1", "name": "DynamoDB", "namespace": "aws", "start_time": 1.6, "end_time": 1.7}])])
    [resource] = body["resourceSpans"]
    span, sub = resource["scopeSpans"][0]["spans"]
    assert span["traceId"] == "5759e988bd862e3fe1be46a994272793" and span["parentSpanId"] == "00000000000000aa"
    assert (span["startTimeUnixNano"], span["endTimeUnixNano"]) == ("1500000000", "2250000000")
    assert span["status"] == {"code": 2} and span["kind"] == 2
    assert sub["parentSpanId"] == span["spanId"] and sub["kind"] == 3 and sub["status"] == {"code": 0}


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=30))
def test_every_segment_is_one_span_under_its_services_resource(names: list[str]) -> None:
    body = to_otlp([segment(name=n, id=f"{i:016x}") for i, n in enumerate(names)])
    per = {r["resource"]["attributes"][0]["value"]["stringValue"]: len(r["scopeSpans"][0]["spans"])
           for r in body["resourceSpans"]}
    assert per == {n: names.count(n) for n in set(names)}


def test_the_exporter_posts_batches_and_survives_a_collector_that_fails() -> None:
    posted: list[tuple[str, bytes]] = []
    failing = [True]

    def post(url: str, body: bytes, timeout: float) -> None:
        if failing[0]:
            failing[0] = False
            raise OSError("connection refused")
        posted.append((url, body))

    exporter = OtlpExporter("http://collector:4318/", post=post)
    exporter.submit([segment()])
    assert exporter.export() == 0 and exporter.failures == 1      # dropped, as an SDK's exporter drops it
    exporter.submit([segment(), segment(id="0000000000000002")])
    assert exporter.export() == 2
    assert posted[0][0] == "http://collector:4318/v1/traces"
