"""``cumulo logs --since``: relative durations and ISO-8601 instants to epoch milliseconds."""

from __future__ import annotations

from datetime import datetime, timezone

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.cli.main import parse_since

NOW = 1_700_000_000  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("text", "seconds_ago"),
    [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("0m", 0), (" 10m ", 600)],
)
def test_durations_count_back_from_now(text: str, seconds_ago: int) -> None:
    assert parse_since(text, now=NOW) == (NOW - seconds_ago) * 1000


@given(st.integers(0, 10**6), st.sampled_from([("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800)]))
def test_any_duration(n: int, unit: tuple[str, int]) -> None:
    assert parse_since(f"{n}{unit[0]}", now=NOW) == (NOW - n * unit[1]) * 1000


def test_fractional_now_keeps_milliseconds() -> None:
    assert parse_since("1s", now=1000.5) == 999_500


def test_default_now_is_the_current_time() -> None:
    before = int(datetime.now(timezone.utc).timestamp() * 1000)
    got = parse_since("1m")
    after = int(datetime.now(timezone.utc).timestamp() * 1000)
    assert before - 60_000 - 1 <= got <= after - 60_000 + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2024-01-02T03:04:05+00:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),   # naive means UTC
        ("2024-01-02T03:04:05.250Z", datetime(2024, 1, 2, 3, 4, 5, 250_000, tzinfo=timezone.utc)),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=timezone.utc)),
    ],
)
def test_iso_instants(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == int(expected.timestamp() * 1000)


def test_iso_instant_does_not_depend_on_now() -> None:
    assert parse_since("2024-01-02T03:04:05Z", now=0) == parse_since("2024-01-02T03:04:05Z", now=NOW)


@pytest.mark.parametrize("text", ["", "10", "10x", "m10", "-5m", "1.5h", "10 m", "10M", "yesterday", "2024-13-01"])
def test_invalid_input_is_a_usage_error(text: str) -> None:
    with pytest.raises(click.BadParameter) as info:
        parse_since(text, now=NOW)
    assert "use a duration like 10m, 2h, 1d or an ISO-8601 time" in info.value.message
    assert info.value.param_hint == "--since"
