"""The trace service over the SQLite trace store: what Lambda's recorder holds reaches the reads,
paging, the X-Ray API's refusals, and a month of simulated traffic stays bounded by the retention."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo.errors import ServiceError
from cumulo.observe.traces import Sampler, TraceRecorder
from cumulo.store.sqlite_messages.traces import SQLiteTraceSegments
from cumulo.traces import service as svc
from cumulo.traces.service import TraceService
from tests.unit.fakes import FakeClock

DAY = 86400.0


def make(tmp_path: Path) -> tuple[TraceService, TraceRecorder, FakeClock, SQLiteTraceSegments]:
    clock = FakeClock()
    recorder = TraceRecorder(clock.now, Sampler(clock.now))
    data = SQLiteTraceSegments(tmp_path / "traces.db")
    return TraceService(data, recorder, clock), recorder, clock, data


def invoke(recorder: TraceRecorder, clock: FakeClock, name: str = "f") -> str:
    trace = recorder.begin(True, f"Root=1-{int(clock.now()):08x}-{'a' * 24};Sampled=1")
    recorder.invocation(trace, name=name, arn=f"arn:aws:lambda:us-east-1:1:function:{name}", account="1",
                        request_id="r", duration_ms=10, init_ms=None)
    return trace.root


def test_recorded_invocations_are_read_back_after_a_flush(tmp_path: Path) -> None:
    traces, recorder, clock, _ = make(tmp_path)
    root = invoke(recorder, clock)
    got = traces.batch_get_traces({"TraceIds": [root, "1-00000000-" + "0" * 24]})
    assert [t["Id"] for t in got["Traces"]] == [root]
    assert got["UnprocessedTraceIds"] == ["1-00000000-" + "0" * 24]
    origins = sorted(json.loads(s["Document"])["origin"] for s in got["Traces"][0]["Segments"])
    assert origins == ["AWS::Lambda", "AWS::Lambda::Function"]


def test_summaries_page_by_next_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    traces, recorder, clock, _ = make(tmp_path)
    monkeypatch.setattr(svc, "SUMMARIES_PAGE", 2)
    roots = []
    for i in range(5):
        clock.wall += 1
        recorder_trace = recorder.begin(True, f"Root=1-{int(clock.now()):08x}-{i:024x};Sampled=1")
        recorder.invocation(recorder_trace, name="f", arn="arn", account="1", request_id="r", duration_ms=10,
                            init_ms=None)
        roots.append(recorder_trace.root)
    seen, token = [], None
    while True:
        page = traces.get_trace_summaries({"StartTime": clock.now() - 60, "EndTime": clock.now() + 1,
                                           **({"NextToken": token} if token else {})})
        seen += [s["Id"] for s in page["TraceSummaries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == roots


@pytest.mark.parametrize("call, doc", [
    ("get_trace_summaries", {"StartTime": 10, "EndTime": 5}),
    ("get_trace_summaries", {"StartTime": 0, "EndTime": 5, "NextToken": "bm90IGEgdHJhY2U="}),
    ("batch_get_traces", {"TraceIds": ["1-00000000-" + "0" * 24] * 6}),
    ("put_trace_segments", {"TraceSegmentDocuments": [{}]}),
    ("get_service_graph", {"StartTime": "yesterday", "EndTime": 5}),
])
def test_bad_requests_are_invalid_request_exceptions(tmp_path: Path, call: str, doc: dict) -> None:
    traces, _, _, _ = make(tmp_path)
    with pytest.raises(ServiceError) as caught:
        getattr(traces, call)(doc)
    assert caught.value.type == "InvalidRequestException"


def test_a_month_of_traffic_keeps_thirty_days(tmp_path: Path) -> None:
    traces, recorder, clock, data = make(tmp_path)
    first = invoke(recorder, clock)
    for _ in range(45):             # a day at a time, traces every hour, the housekeeper each day
        for _ in range(24):
            clock.wall += 3600
            invoke(recorder, clock)
        traces.prune()
    kept = data.traces(0, clock.now() + 1, "", 10_000)
    assert len(kept) <= 30 * 24 + 1
    assert min(start for _, start, _ in kept) >= clock.now() - 30 * DAY - 1
    assert traces.batch_get_traces({"TraceIds": [first]})["Traces"] == []
