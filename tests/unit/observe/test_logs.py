"""The platform's log lines, exactly as AWS Lambda writes them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.observe.logs import end_line, report_line, start_line

RID = "8f5c8d3a-5b7e-4c1e-9f2a-1d2e3f4a5b6c"


def fields(line: str) -> dict[str, str]:
    assert line.startswith("REPORT ")
    assert line.endswith("\t")
    parts = line[len("REPORT "):].rstrip("\t").split("\t")
    return dict(p.split(": ", 1) for p in parts)


def test_start_line() -> None:
    assert start_line(RID, "$LATEST") == f"START RequestId: {RID} Version: $LATEST"
    assert start_line(RID, "3") == f"START RequestId: {RID} Version: 3"


def test_end_line() -> None:
    assert end_line(RID) == f"END RequestId: {RID}"


def test_report_line_is_exactly_aws_format() -> None:
    assert report_line(RID, 12.345678, 128, 40) == (
        f"REPORT RequestId: {RID}\tDuration: 12.35 ms\tBilled Duration: 13 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 40 MB\t"
    )


def test_report_line_with_init_duration_after_max_memory() -> None:
    line = report_line(RID, 2.46, 256, 39, init_ms=118.7)
    assert line.startswith(f"REPORT RequestId: {RID}\tDuration: 2.46 ms\tBilled Duration: ")
    assert line.endswith("\tMemory Size: 256 MB\tMax Memory Used: 39 MB\tInit Duration: 118.70 ms\t")
    assert list(fields(line)) == ["RequestId", "Duration", "Billed Duration", "Memory Size",
                                  "Max Memory Used", "Init Duration"]


def test_no_init_duration_on_a_warm_start() -> None:
    assert "Init Duration" not in report_line(RID, 5.0, 128, 30)


def test_restore_duration_only_when_given() -> None:
    assert "Restore Duration" not in report_line(RID, 5.0, 128, 30, init_ms=1.0)
    assert fields(report_line(RID, 5.0, 128, 30, restore_ms=7.25))["Restore Duration"] == "7.25 ms"


@pytest.mark.parametrize(
    ("duration", "billed"),
    [(0.0, 1), (0.01, 1), (0.999, 1), (1.0, 1), (1.001, 2), (12.0, 12), (12.0001, 13), (899_999.5, 900_000)],
)
def test_billed_duration_is_rounded_up_to_the_millisecond_and_at_least_one(duration: float, billed: int) -> None:
    assert fields(report_line(RID, duration, 128, 30))["Billed Duration"] == f"{billed} ms"


@given(st.floats(min_value=0, max_value=900_000, allow_nan=False), st.integers(128, 10240), st.integers(1, 10240))
def test_report_fields_agree_with_inputs(duration: float, memory: int, used: int) -> None:
    f = fields(report_line(RID, duration, memory, used))
    billed = int(f["Billed Duration"].removesuffix(" ms"))
    assert billed == max(math.ceil(duration), 1)
    assert billed >= duration and billed >= 1
    assert f["Duration"] == f"{duration:.2f} ms"
    assert f["Memory Size"] == f"{memory} MB"
    assert f["Max Memory Used"] == f"{used} MB"
    assert f["RequestId"] == RID


def test_snapstart_report_has_restore_and_billed_restore_duration_as_aws() -> None:
    line = report_line(RID, 2.0, 128, 30, restore_ms=5.41, billed_restore_ms=1.2)
    assert line.endswith("\tMax Memory Used: 30 MB\tRestore Duration: 5.41 ms\tBilled Restore Duration: 2 ms\t")
    assert "Init Duration" not in line


def test_init_and_restore_records() -> None:
    from cumulo.observe.logs import init_report_line, restore_report_line, restore_start_line

    assert init_report_line(12.345) == "INIT_REPORT Init Duration: 12.35 ms"
    assert restore_start_line("python3.11", "arn:x") == "RESTORE_START Runtime Version: python:3.11.cumulo\tRuntime Version ARN: arn:x"
    assert restore_report_line(3.2) == "RESTORE_REPORT Restore Duration: 3.20 ms"
    assert restore_report_line(3.2, "RuntimeError").endswith("\tStatus: error\tError Type: RuntimeError")
