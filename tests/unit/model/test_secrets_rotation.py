"""Rotation's pure rules (``model/secrets.py``): RotationRules as AWS checks them, and the next window."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.model import secrets as sm

DAY, HOUR = 86_400, 3_600
TIMES = st.floats(1_500_000_000, 2_500_000_000, allow_nan=False)


@given(st.integers(1, 1000), TIMES)
def test_automatically_after_days_opens_a_whole_utc_day_n_days_after_the_last_rotation(days: int, last: float) -> None:
    start, end = sm.rotation_window(sm.check_rotation_rules({"AutomaticallyAfterDays": days}), last, last)
    assert start % DAY == 0 and end == start + DAY
    assert int(start // DAY) - int(last // DAY) == days


@given(st.integers(4, 200), st.one_of(st.none(), st.integers(1, 24)), TIMES)
def test_a_rate_in_hours_opens_n_hours_after_the_last_rotation_and_never_crosses_the_utc_day(
        hours: int, duration: int | None, last: float) -> None:
    rules = {"ScheduleExpression": f"rate({hours} hours)", **({"Duration": f"{duration}h"} if duration else {})}
    start, end = sm.rotation_window(sm.check_rotation_rules(rules), last, last)
    assert start == pytest.approx(last + hours * HOUR)
    assert start < end <= (start // DAY + 1) * DAY
    assert end - start <= (duration or 1) * HOUR


@settings(deadline=None)
@given(st.integers(0, 23), st.integers(0, 59), TIMES)
def test_a_cron_opens_at_its_next_time_after_now(hour: int, minute: int, now: float) -> None:
    start, end = sm.rotation_window(sm.check_rotation_rules({"ScheduleExpression": f"cron({minute} {hour} * * ? *)"}),
                                    0, now)
    when = datetime.fromtimestamp(start, timezone.utc)
    assert (when.hour, when.minute, when.second) == (hour, minute, 0)
    assert 0 < start - now <= DAY
    assert end == (start // DAY + 1) * DAY


@given(st.one_of(
    st.fixed_dictionaries({"AutomaticallyAfterDays": st.integers().filter(lambda n: not 1 <= n <= 1000)}),
    st.fixed_dictionaries({"ScheduleExpression": st.sampled_from(
        ["rate(1 hour)", "rate(3 hours)", "rate(30 minutes)", "rate(240 minutes)", "rate(1001 days)", "at(2030-01-01T00:00:00)",
         "cron(0 8 * *)", "every day", ""])}),
    st.fixed_dictionaries({"AutomaticallyAfterDays": st.integers(1, 1000),
                           "ScheduleExpression": st.just("rate(2 days)")}),
    st.fixed_dictionaries({"AutomaticallyAfterDays": st.just(1),
                           "Duration": st.text(max_size=4).filter(lambda d: d not in {f"{n}h" for n in range(1, 25)})}),
    st.just({}), st.just({"Duration": "2h"}), st.text(max_size=3)))
def test_bad_rules_are_invalid_parameters(rules: object) -> None:
    with pytest.raises(sm.SecretsError) as caught:
        sm.check_rotation_rules(rules)
    assert caught.value.type == "InvalidParameterException"
