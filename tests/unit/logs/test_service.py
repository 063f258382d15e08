"""CloudWatch Logs' service over a real log store (SQLite) and an injected clock: groups as they
come to exist, reading in (timestamp, id) order with tokens, FilterLogEvents' scan budget, and
retention keeping the store bounded under a week of simulated load."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from cumulo import Cumulo
from cumulo.config import Settings
from cumulo.logs.service import LogsError, LogsService
from cumulo.store.base import LogRecord
from tests.unit.fakes import FakeClock

HOUR_MS = 3_600_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def c(tmp_path: Path, clock: FakeClock) -> Iterator[Cumulo]:
    with Cumulo(Settings(home=tmp_path / "home", log_retention_days=3), clock=clock) as cumulo:
        yield cumulo


def _lines(function: str, clock: FakeClock, n: int, stream: str = "2024/01/01/[$LATEST]abc") -> list[LogRecord]:
    return [LogRecord(function, "$LATEST", stream, None, clock.ms() + i, f"line {i} {'ERROR' if i % 10 == 0 else 'ok'}")
            for i in range(n)]


def test_a_function_group_exists_once_it_holds_events_and_is_kept_the_default(c: Cumulo, clock: FakeClock) -> None:
    logs: LogsService = c.log_groups
    assert logs.describe_groups() == []
    c.store.append_logs(_lines("fn", clock, 3))
    [group] = logs.describe_groups()
    assert (group["logGroupName"], group["retentionInDays"]) == ("/aws/lambda/fn", 3)
    with pytest.raises(LogsError) as caught:
        logs.create_group("/aws/lambda/fn")
    assert caught.value.type == "ResourceAlreadyExistsException"
    with pytest.raises(LogsError) as caught:
        logs.filter_events("fn")          # a group named "fn" is not /aws/lambda/fn
    assert caught.value.type == "ResourceNotFoundException"


def test_filter_events_answers_within_its_scan_budget_with_a_token(c: Cumulo, clock: FakeClock,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import cumulo.logs.service as service
    monkeypatch.setattr(service, "SCAN_BUDGET", 100)
    monkeypatch.setattr(service, "_CHUNK", 50)
    c.store.append_logs(_lines("fn", clock, 1000))
    found, token, calls = [], None, 0
    while True:
        answer = c.log_groups.filter_events("/aws/lambda/fn", "-ok", token=token)   # every 10th line
        calls += 1
        found += [e["message"] for e in answer["events"]]
        token = answer.get("nextToken")
        if token is None:
            break
    assert found == [f"line {i} ERROR" for i in range(0, 1000, 10)]
    assert calls > 1


def test_a_week_of_load_leaves_the_store_bounded_by_retention(c: Cumulo, clock: FakeClock) -> None:
    """Every simulated hour: 200 lines of a function (default retention, 3 days here), 200 of one whose
    group keeps 1 day, 100 shipped with PutLogEvents to a group that keeps 1 day; the housekeeper's
    sweep runs each hour on the injected clock."""
    logs = c.log_groups
    c.store.append_logs(_lines("short", clock, 1))
    logs.put_retention("/aws/lambda/short", 1)
    logs.create_group("/shipped/app")
    logs.put_retention("/shipped/app", 1)
    logs.create_stream("/shipped/app", "web")
    housekeeper = c.housekeeper()
    peak = 0
    for hour in range(7 * 24):
        c.store.append_logs(_lines("fn", clock, 200) + _lines("short", clock, 200))
        logs.put_events("/shipped/app", "web", [{"timestamp": clock.ms() + i, "message": f"shipped {i}"}
                                                 for i in range(100)])
        clock.advance(3600)
        housekeeper.sweep()
        peak = max(peak, c.store.count_logs())
    per_day = 24 * (200 + 200 + 100)
    assert c.store.count_logs("fn") <= 3 * 24 * 200 + 200
    assert c.store.count_logs("short") <= 24 * 200 + 200
    assert c.store.count_logs("/shipped/app") <= 24 * 100 + 100
    assert peak <= 3 * 24 * 200 + 2 * 24 * 300 + 500 < 7 * per_day
    # what is left is the newest: nothing older than each group's retention
    oldest = c.store.scan_logs("short", 0, 2**62, limit=1)[0].timestamp_ms
    assert oldest >= clock.ms() - 24 * HOUR_MS
