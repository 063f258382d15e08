"""AWS schedule expressions: validation and next fire times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from cumulo.errors import ValidationException
from cumulo.model.cron import Cron, parse, zone

UTC = timezone.utc
T0 = datetime(2026, 12, 1, 8, 47, 30, tzinfo=UTC)      # a Tuesday


@pytest.mark.parametrize("expression, expected", [
    ("rate(5 minutes)", datetime(2026, 12, 1, 8, 52, 30, tzinfo=UTC)),
    ("rate(1 hour)", datetime(2026, 12, 1, 9, 47, 30, tzinfo=UTC)),
    ("rate(2 days)", datetime(2026, 12, 3, 8, 47, 30, tzinfo=UTC)),
    ("cron(0 10 * * ? *)", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
    ("cron(0/15 * * * ? *)", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
    ("cron(15 12 ? * MON-FRI *)", datetime(2026, 12, 1, 12, 15, tzinfo=UTC)),
    ("cron(0 8 ? * SAT,SUN *)", datetime(2026, 12, 5, 8, 0, tzinfo=UTC)),
    ("cron(0 18 L * ? *)", datetime(2026, 12, 31, 18, 0, tzinfo=UTC)),
    ("cron(0 18 L-1 * ? *)", datetime(2026, 12, 30, 18, 0, tzinfo=UTC)),
    ("cron(0 9 ? * 6#3 *)", datetime(2026, 12, 18, 9, 0, tzinfo=UTC)),     # third Friday
    ("cron(0 9 ? * 2L *)", datetime(2026, 12, 28, 9, 0, tzinfo=UTC)),      # last Monday
    ("cron(0 9 5W * ? *)", datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),       # Dec 5 is a Saturday: Friday the 4th
    ("cron(0 9 LW * ? *)", datetime(2026, 12, 31, 9, 0, tzinfo=UTC)),
    ("cron(0 0 1 JAN ? *)", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ("cron(0 0 29 2 ? *)", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
    ("cron(0 9 ? * FRI-MON *)", datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),  # a wrapping range
    ("at(2026-12-24T18:00:00)", datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
    ("at(2026-01-01T00:00:00)", None),                                      # in the past: never
    ("cron(0 0 1 1 ? 2025)", None),
])
def test_next_fire(expression: str, expected: datetime | None) -> None:
    assert parse(expression).next_after(T0) == expected


def test_time_zones_and_daylight_saving() -> None:
    ny = zone("America/New_York")
    nine = parse("cron(0 9 * * ? *)")
    assert nine.next_after(T0, ny) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    # 02:30 does not exist on 2027-03-14 in New York: that day is skipped
    gap = parse("cron(30 2 * * ? *)")
    before = datetime(2027, 3, 13, 5, 0, tzinfo=UTC)      # midnight in New York
    first = gap.next_after(before, ny)
    assert first is not None and first.astimezone(ny).day == 13
    second = gap.next_after(first, ny)
    assert second is not None and second.astimezone(ny).day == 15
    # 01:30 happens twice on 2027-11-07: it fires once
    twice = parse("cron(30 1 * * ? *)")
    start = datetime(2027, 11, 7, 4, 0, tzinfo=UTC)
    a = twice.next_after(start, ny)
    b = twice.next_after(a, ny) if a else None
    assert a is not None and b is not None and (b - a) > timedelta(hours=23)


@pytest.mark.parametrize("expression", [
    "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(5 weeks)", "rate(five minutes)",
    "cron(0 10 * * * *)", "cron(0 10 ? * ? *)", "cron(0 10 * *)", "cron(60 * * * ? *)", "cron(0 24 * * ? *)",
    "cron(0 0 32 * ? *)", "cron(0 0 ? 13 * *)", "cron(0 0 ? * 8 *)", "cron(0 9 ? * 6#6 *)", "cron(0 0 ? * FOO *)",
    "cron(0/0 * * * ? *)", "cron(0 0 1 1 ? 2200)", "cron(,0 * * * ? *)", "at(2026-13-01T00:00:00)",
    "at(2026-12-01 00:00:00)", "", "every day", "cron(0 0 L-31 * ? *)",
])
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValidationException):
        parse(expression)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationException):
        zone("Mars/Olympus")


@settings(max_examples=200, deadline=None)
@given(minute=st.integers(0, 59), hour=st.integers(0, 23), step=st.integers(1, 30),
       start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2150, 1, 1)))
def test_cron_next_is_after_and_matches(minute: int, hour: int, step: int, start: datetime) -> None:
    t = start.replace(tzinfo=UTC)
    cron = parse(f"cron({minute}/{step} {hour} ? * MON-FRI *)")
    assert isinstance(cron, Cron)
    nxt = cron.next_after(t)
    assert nxt is not None and nxt > t
    assert nxt.minute in range(minute, 60, step) and nxt.hour == hour and nxt.isoweekday() <= 5
    # nothing in between matches: the minute before (if after t) is not a fire time
    probe = nxt - timedelta(minutes=1)
    while probe > t and probe > nxt - timedelta(days=4):
        assert not (probe.minute in range(minute, 60, step) and probe.hour == hour and probe.isoweekday() <= 5)
        probe -= timedelta(minutes=7)
