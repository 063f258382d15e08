"""The trace header, X-Ray's default sampling rule, and the segments Lambda reports for an invocation."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from cumulo.observe.traces import FIXED_RATE, Sampler, TraceHeader, TraceRecorder, parse_header
from cumulo.traces.segments import check_segment

HEX = "0123456789abcdef"
roots = st.builds(lambda e, r: f"1-{e}-{r}", st.text(HEX, min_size=8, max_size=8), st.text(HEX, min_size=24, max_size=24))
ids = st.text(HEX, min_size=16, max_size=16)
HEADER = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]")


@given(root=roots, parent=st.none() | ids, sampled=st.none() | st.booleans())
def test_a_header_reads_back_what_it_says(root: str, parent: str | None, sampled: bool | None) -> None:
    header = TraceHeader(root, parent, sampled)
    assert parse_header(header.format()) == header
    assert parse_header(" ; ".join(header.format().split(";")) + ";Lineage=a:1") == header


@given(st.text(max_size=200))
def test_any_text_is_a_header_or_none(text: str) -> None:
    got = parse_header(text)
    assert got is None or re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", got.root)


def test_headers_without_a_valid_root_are_none() -> None:
    assert parse_header("Root=1-5759e988-bd862e3fe1be46a9942727") is None     # 24 hex digits wanted
    assert parse_header("Root=1-5759E988-BD862E3FE1BE46A994272793") is None   # lower case, as X-Ray writes them
    assert parse_header("Parent=53995c3f42cd8ad8;Sampled=1") is None
    assert parse_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz;Sampled=?") == \
        TraceHeader("1-5759e988-bd862e3fe1be46a994272793", None, None)


def test_the_default_rule_takes_the_first_request_each_second_then_five_percent() -> None:
    now, draws = [100.2], iter([0.04, 0.06, 0.5, FIXED_RATE])
    sampler = Sampler(lambda: now[0], lambda: next(draws))
    assert sampler.sample() is True               # the reservoir's one
    assert [sampler.sample() for _ in range(4)] == [True, False, False, False]   # then draws below 5 %
    now[0] = 101.0
    assert sampler.sample() is True               # a new second, a new reservoir


def test_active_continues_the_callers_trace_and_its_decision() -> None:
    recorder = TraceRecorder(lambda: 1_700_000_000.0, Sampler(lambda: 0.0, lambda: 0.99))
    caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    trace = recorder.begin(True, caller)
    assert HEADER.fullmatch(trace.header) and trace.root == "1-5759e988-bd862e3fe1be46a994272793"
    assert (trace.sampled, trace.caller) == (False, "53995c3f42cd8ad8")
    assert trace.header.endswith(f"Parent={trace.function_id};Sampled=0")
    fresh = recorder.begin(True, None)
    assert fresh.root.startswith("1-6553f100-") and fresh.sampled is True      # the reservoir
    assert recorder.begin(True, None).sampled is False                         # then 0.99 >= 5 %


def test_pass_through_passes_the_callers_header_and_records_nothing() -> None:
    recorder = TraceRecorder()
    caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    trace = recorder.begin(False, caller)
    assert trace.header == caller and not trace.active
    recorder.invocation(trace, name="f", arn="arn", account="1", request_id="r", duration_ms=5, init_ms=None)
    assert recorder.drain() == []
    assert HEADER.fullmatch(recorder.begin(False, None).header).group(0).endswith("Sampled=0")   # type: ignore[union-attr]


def test_an_invocation_is_two_valid_segments_with_lambdas_subsegments() -> None:
    recorder = TraceRecorder(lambda: 1_700_000_000.5, Sampler(lambda: 0.0))
    trace = recorder.begin(True, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    recorder.invocation(trace, name="f", arn="arn:aws:lambda:us-east-1:1:function:f", account="1", request_id="r",
                        duration_ms=200, init_ms=300, overhead_ms=2, error="Unhandled", error_type="KeyError")
    service, function = [check_segment(d) for d in recorder.drain()]
    assert service.doc["parent_id"] == "53995c3f42cd8ad8" and function.doc["parent_id"] == service.id
    init, invocation, overhead = function.doc["subsegments"]
    assert init["name"] == "Initialization" and init["end_time"] == invocation["start_time"]
    assert round(invocation["end_time"] - invocation["start_time"], 3) == 0.2
    assert round(init["end_time"] - init["start_time"], 3) == 0.3
    assert overhead["start_time"] == invocation["end_time"] and overhead["end_time"] == 1_700_000_000.5
    assert round(overhead["end_time"] - overhead["start_time"], 3) == 0.002
    assert invocation["fault"] is True and invocation["cause"]["exceptions"][0]["type"] == "KeyError"
    assert service.doc["error"] is True


def test_a_hop_follows_the_callers_decision_and_else_the_services_own_setting() -> None:
    from cumulo.observe.traces import TraceRecorder

    recorder = TraceRecorder(lambda: 1_700_000_000.0)
    root = "1-6553f100-0123456789abcdef01234567"
    hop = recorder.hop(False, f"Root={root};Parent=00000000000000aa;Sampled=1")
    assert hop is not None and (hop.root, hop.parent) == (root, "00000000000000aa")
    assert hop.header("00000000000000bb") == f"Root={root};Parent=00000000000000bb;Sampled=1"
    assert recorder.hop(True, f"Root={root};Sampled=0") is None          # the caller said no
    assert recorder.hop(False, None) is None                             # not traced, no caller
    first = recorder.hop(True, None)                                     # traced: X-Ray's rule (reservoir)
    assert first is not None and first.parent is None and first.root.startswith("1-6553f100-")


def test_a_sampled_callers_call_is_its_subsegment_and_the_header_goes_on_under_it() -> None:
    from cumulo.observe.traces import TraceRecorder, parse_header

    recorder = TraceRecorder(lambda: 1_700_000_000.0)
    root = "1-6553f100-0123456789abcdef01234567"
    assert recorder.call(f"Root={root};Parent=00000000000000aa;Sampled=0", "SQS", "SendMessage", 1.0) == \
        f"Root={root};Parent=00000000000000aa;Sampled=0"                  # unsampled: as it came, nothing kept
    assert recorder.call(None, "SQS", "SendMessage", 1.0) is None and recorder.drain() == []
    out = recorder.call(f"Root={root};Parent=00000000000000aa;Sampled=1", "SQS", "SendMessage", 1.0,
                        {"queue_url": "http://q"})
    (doc,) = recorder.drain()
    header = parse_header(out)
    assert header is not None and (header.root, header.parent, header.sampled) == (root, doc["id"], True)
    assert (doc["type"], doc["parent_id"], doc["name"], doc["namespace"], doc["aws"]) == (
        "subsegment", "00000000000000aa", "SQS", "aws", {"operation": "SendMessage", "queue_url": "http://q"})
