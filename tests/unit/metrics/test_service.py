"""CloudWatch's metrics service on a real metric store and a clock that moves when told:
PutMetricData's limits, statistics read back at each period, retention as CloudWatch rolls data up,
and GetMetricData's queries (metrics/service.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cumulo.metrics.service import DAY, HOUR, CloudWatchError, MetricsService
from cumulo.observe.metrics import MetricRecorder
from cumulo.store.sqlite_messages.metrics import SQLiteMetricData
from tests.unit.fakes import FakeClock

T0 = 1_700_000_000.0 - 1_700_000_000.0 % 3600      # on the hour


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock) -> Iterator[MetricsService]:
    data = SQLiteMetricData(tmp_path / "metrics.db")
    yield MetricsService(data, MetricRecorder(clock.now), clock)
    data.close()


def stats(s: MetricsService, start: float, end: float, period: int, **extra: Any) -> list[dict[str, Any]]:
    return s.get_metric_statistics({"Namespace": "App", "MetricName": "Latency", "StartTime": start,
                                    "EndTime": end, "Period": period,
                                    "Statistics": ["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
                                    **extra})["Datapoints"]


def test_statistics_read_back_at_each_period(service: MetricsService) -> None:
    service.put_metric_data("App", [{"MetricName": "Latency", "Value": 10.0, "Timestamp": T0 + 5},
                                    {"MetricName": "Latency", "Values": [1.0, 100.0], "Counts": [3.0, 1.0],
                                     "Timestamp": T0 + 65, "StorageResolution": 1},
                                    {"MetricName": "Latency", "StatisticValues": {"SampleCount": 2, "Sum": 8,
                                                                                  "Minimum": 4, "Maximum": 4},
                                     "Timestamp": T0 + 400}])
    minutes = stats(service, T0, T0 + 600, 60)
    assert [(p["Timestamp"], p["SampleCount"], p["Sum"]) for p in minutes] == [
        (T0, 1, 10.0), (T0 + 60, 4, 103.0), (T0 + 360, 2, 8.0)]
    assert [(p["Minimum"], p["Maximum"]) for p in minutes] == [(10.0, 10.0), (1.0, 100.0), (4.0, 4.0)]
    five = stats(service, T0, T0 + 600, 300)
    assert [(p["Timestamp"], p["SampleCount"], p["Average"]) for p in five] == [(T0, 5, 113 / 5), (T0 + 300, 2, 4.0)]
    seconds = stats(service, T0 + 60, T0 + 120, 1)          # high resolution: the second it was sent
    assert [(p["Timestamp"], p["Sum"]) for p in seconds] == [(T0 + 65, 103.0)]
    p = service.get_metric_statistics({"Namespace": "App", "MetricName": "Latency", "StartTime": T0,
                                       "EndTime": T0 + 120, "Period": 120, "ExtendedStatistics": ["p50", "p99"]})
    (point,) = p["Datapoints"]
    assert point["ExtendedStatistics"]["p99"] == 100.0 and point["ExtendedStatistics"]["p50"] == pytest.approx(1, 0.03)


def test_data_is_pruned_as_cloudwatch_rolls_it_up(tmp_path: Path, clock: FakeClock) -> None:
    data = SQLiteMetricData(tmp_path / "m.db")
    service = MetricsService(data, MetricRecorder(clock.now), clock)
    service.put_metric_data("App", [{"MetricName": "Latency", "Value": 7.0, "StorageResolution": 1}])

    def held() -> dict[int, int]:
        return {p: len(data.read("App", "Latency", "[]", p, 0, int(T0) + 10 ** 8)) for p in (1, 60, 300, 3600)}

    assert held() == {1: 1, 60: 1, 300: 1, 3600: 1}
    assert [p["Sum"] for p in stats(service, T0, T0 + 60, 1)] == [7.0]
    before = held()
    for age, kept in [(3 * HOUR, {1: 0, 60: 1, 300: 1, 3600: 1}), (15 * DAY, {1: 0, 60: 0, 300: 1, 3600: 1}),
                      (63 * DAY, {1: 0, 60: 0, 300: 0, 3600: 1}), (455 * DAY, {1: 0, 60: 0, 300: 0, 3600: 0})]:
        clock.advance(T0 + age - 1 - clock.now())
        service.prune()
        assert held() == before                 # nothing goes early
        clock.advance(2 + 60 * 60)
        service.prune()
        assert held() == kept
        before = kept
    assert service.list_metrics({})["Metrics"] == []
    data.close()


def test_older_data_is_read_at_the_periods_that_still_hold_it(service: MetricsService, clock: FakeClock) -> None:
    service.put_metric_data("App", [{"MetricName": "Latency", "Value": 7.0}])
    clock.advance(20 * DAY)
    service.prune()
    assert stats(service, T0, T0 + 3600, 60) == []                # the minutes are gone after 15 days
    assert [p["Sum"] for p in stats(service, T0, T0 + 3600, 300)] == [7.0]
    assert [p["Sum"] for p in stats(service, T0, T0 + 3600, 3600)] == [7.0]


@pytest.mark.parametrize("namespace, data, code", [
    ("AWS/Lambda", [{"MetricName": "m", "Value": 1}], "InvalidParameterValue"),
    ("App", [], "InvalidParameterValue"),
    ("App", [{"Value": 1}], "MissingParameter"),
    ("App", [{"MetricName": "m", "Value": 1, "Values": [1]}], "InvalidParameterCombination"),
    ("App", [{"MetricName": "m", "Value": float("inf")}], "InvalidParameterValue"),
    ("App", [{"MetricName": "m", "Value": 1, "StorageResolution": 5}], "InvalidParameterValue"),
    ("App", [{"MetricName": "m", "Value": 1, "Timestamp": T0 - 15 * DAY}], "InvalidParameterValue"),
    ("App", [{"MetricName": "m", "Values": [1, 2], "Counts": [1]}], "InvalidParameterValue"),
    ("App", [{"MetricName": "m", "Value": 1, "Unit": "Furlongs"}], "InvalidParameterValue"),
    ("App", [{"MetricName": "m", "Value": 1}] * 1001, "InvalidParameterValue"),
    ("App", [{"MetricName": "m", "Value": 1, "Dimensions": [{"Name": "a", "Value": "1"}] * 2}],
     "InvalidParameterValue"),
])
def test_put_metric_data_refuses_what_cloudwatch_refuses(service: MetricsService, namespace: str,
                                                         data: list[Any], code: str) -> None:
    with pytest.raises(CloudWatchError) as caught:
        service.put_metric_data(namespace, data)
    assert caught.value.code == code and caught.value.status == 400


json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=6),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(
                               ["MetricName", "Value", "Values", "Counts", "Timestamp", "Unit", "Dimensions", "Name",
                                "StorageResolution", "StatisticValues", "SampleCount", "Sum", "Minimum", "Maximum",
                                "Period", "Stat", "Metric", "Namespace", "Id", "Expression", "MetricStat",
                                "StartTime", "EndTime", "MetricDataQueries", "Statistics"]), c, max_size=5),
                           max_leaves=25)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=8), json_values, json_values)
def test_any_input_is_served_or_refused_with_cloudwatch_errors(service: MetricsService, namespace: str,
                                                               data: Any, query: Any) -> None:
    for call in (lambda: service.put_metric_data(namespace, data),
                 lambda: service.get_metric_data(query if isinstance(query, dict) else {"MetricDataQueries": query}),
                 lambda: service.get_metric_statistics(query if isinstance(query, dict) else {}),
                 lambda: service.list_metrics(query if isinstance(query, dict) else {})):
        try:
            call()
        except CloudWatchError as err:
            assert err.status == 400 and err.message


def test_get_metric_data_with_math(service: MetricsService) -> None:
    for minute, (ok, failed) in enumerate([(10, 1), (20, 5), (0, 0)]):
        service.put_metric_data("App", [{"MetricName": "Requests", "Value": ok + failed, "Timestamp": T0 + 60 * minute},
                                        {"MetricName": "Failures", "Value": failed, "Timestamp": T0 + 60 * minute}])
    def stat(name: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": "App", "MetricName": name}, "Period": 60, "Stat": "Sum"}
    result = service.get_metric_data({"StartTime": T0, "EndTime": T0 + 240, "ScanBy": "TimestampAscending",
                                      "MetricDataQueries": [
                                          {"Id": "r", "MetricStat": stat("Requests"), "ReturnData": False},
                                          {"Id": "f", "MetricStat": stat("Failures"), "ReturnData": False},
                                          {"Id": "pct", "Expression": "100 * f / r", "Label": "failure %"},
                                          {"Id": "all", "Expression": "FILL(SUM(METRICS()), 0)"}]})
    by_id = {r["Id"]: r for r in result["MetricDataResults"]}
    assert set(by_id) == {"pct", "all"}
    assert by_id["pct"]["Label"] == "failure %" and by_id["pct"]["Values"] == pytest.approx([100 / 11, 20.0])
    assert by_id["all"]["Timestamps"] == [T0, T0 + 60, T0 + 120, T0 + 180]
    assert by_id["all"]["Values"] == [12.0, 30.0, 0.0, 0.0]
    with pytest.raises(CloudWatchError, match="Unrecognized metric id"):
        service.get_metric_data({"StartTime": T0, "EndTime": T0 + 60, "MetricDataQueries": [
            {"Id": "e", "Expression": "zz * 2"}]})


def test_series_many_gives_each_series_what_series_gives(service: MetricsService, clock: FakeClock) -> None:
    for i, fn in enumerate(("a", "b", "c")):
        for minute in range(0, 40, 7):
            service.put_metric_data("App", [
                {"MetricName": "Invocations", "Value": 1 + i + minute, "Timestamp": T0 + 60 * minute,
                 "Dimensions": [{"Name": "FunctionName", "Value": fn}]},
                {"MetricName": "Duration", "Values": [i + 1.0, 50.0 + minute], "Counts": [3.0, 1.0],
                 "Timestamp": T0 + 60 * minute + 5, "Dimensions": [{"Name": "FunctionName", "Value": fn}]}])
    clock.advance(3600)
    dims = [[("FunctionName", fn)] for fn in ("a", "c", "missing")]
    for period in (60, 300, 900):
        many = service.series_many("App", ["Invocations", "Duration", "Errors"], dims, period, T0, T0 + 3600)
        for metric in ("Invocations", "Duration", "Errors"):
            for d in dims:
                one = service.series("App", metric, d, period, T0, T0 + 3600)
                key = (metric, f'[["FunctionName","{d[0][1]}"]]')
                assert {t: vars(a) for t, a in many.get(key, {}).items()} == {t: vars(a) for t, a in one.items()}
                assert one or metric == "Errors" or d[0][1] == "missing"
        assert ("Invocations", '[["FunctionName","b"]]') not in many and ("Errors", '[["FunctionName","a"]]') \
            not in many
