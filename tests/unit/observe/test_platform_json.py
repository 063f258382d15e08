"""LogFormat JSON's platform records, read back from the text lines the invoker writes."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from cumulo.observe.logs import end_line, init_start_line, platform_json, report_line, start_line

durations = st.floats(min_value=0.0, max_value=900_000.0, allow_nan=False)


@given(rid=st.uuids(), duration=durations, memory=st.integers(128, 10240), used=st.integers(1, 10240),
       init=st.none() | durations, status=st.sampled_from(["success", "error", "timeout", "failure"]))
def test_a_report_becomes_platform_report_with_its_metrics(rid: object, duration: float, memory: int, used: int,
                                                           init: float | None, status: str) -> None:
    doc = json.loads(platform_json(report_line(str(rid), duration, memory, used, init), 1_700_000_000_123,
                                   status) or "")
    assert doc["time"] == "2023-11-14T22:13:20.123Z" and doc["type"] == "platform.report"
    record = doc["record"]
    assert record["requestId"] == str(rid) and record["status"] == status
    metrics = record["metrics"]
    assert math.isclose(metrics["durationMs"], round(duration, 2), abs_tol=0.006)
    assert metrics["billedDurationMs"] == max(math.ceil(duration), 1)
    assert (metrics["memorySizeMB"], metrics["maxMemoryUsedMB"]) == (memory, used)
    assert ("initDurationMs" in metrics) == (init is not None)


def test_start_init_and_end() -> None:
    start = json.loads(platform_json(start_line("r-1", "$LATEST"), 0, "success") or "")
    assert start["type"] == "platform.start" and start["record"] == {"requestId": "r-1", "version": "$LATEST"}
    init = json.loads(platform_json(init_start_line("python3.11", "arn:v"), 0, "success") or "")
    assert init["type"] == "platform.initStart" and init["record"]["runtimeVersionArn"] == "arn:v"
    assert platform_json(end_line("r-1"), 0, "success") is None              # JSON logs have no END
    assert platform_json(start_line("r-1", "1"), 0, "success", "WARN") is None   # INFO records at WARN: none
    assert platform_json("Task timed out after 3.00 seconds", 0, "timeout") == "Task timed out after 3.00 seconds"
