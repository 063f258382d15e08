"""CloudWatch metrics: what the platform records and what PutMetricData sends, kept as CloudWatch
rolls it up, and read back by GetMetricStatistics, GetMetricData (with metric math) and
ListMetrics (docs/metrics.md).

Storage: each point is merged into rows of 60, 300 and 3600 s (and 1 s for high-resolution
custom metrics), each period kept as long as CloudWatch keeps it (``RETENTION_S``); a read uses the
finest period still held for its start time that divides the requested period.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from typing import Any, Callable, Iterable

from cumulo.errors import CumuloError
from cumulo.metrics import expressions
from cumulo.observe.metrics import Aggregate, MetricRecorder, bucket as _bucket, percentile
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.store.health import log_failure
from cumulo.store.ports import MetricData, MetricPoint
from cumulo.workers import Periodic

__all__ = ["MetricsService", "MetricsFlusher", "CloudWatchError", "RETENTION_S", "dims_key", "STATISTICS"]

log = logging.getLogger("cumulo.metrics")

HOUR, DAY = 3600, 86400
RETENTION_S = {1: 3 * HOUR, 60: 15 * DAY, 300: 63 * DAY, 3600: 455 * DAY}
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,2})?|100)")
_HIGH_RES_PERIODS = (1, 5, 10, 20, 30)
MAX_DATAPOINTS = 1440          # GetMetricStatistics
MAX_DATAPOINTS_GMD = 100800    # GetMetricData, per request
MAX_QUERIES = 500
_UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
          "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
          "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
          "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}


class CloudWatchError(CumuloError):
    """CloudWatch's errors: ``type`` the modelled name, ``code`` the legacy query code boto3 shows."""

    status = 400

    def __init__(self, message: str, type_: str = "InvalidParameterValueException",
                 code: str = "InvalidParameterValue", status: int = 400) -> None:
        super().__init__(message)
        self._type, self.code, self.status = type_, code, status

    @property
    def type(self) -> str:
        return self._type


def invalid(message: str) -> CloudWatchError:
    return CloudWatchError(message)


def missing(name: str) -> CloudWatchError:
    return CloudWatchError(f"The parameter {name} is required.", "MissingRequiredParameterException",
                           "MissingParameter")


def combination(message: str) -> CloudWatchError:
    return CloudWatchError(message, "InvalidParameterCombinationException", "InvalidParameterCombination")


def dims_key(dims: Iterable[tuple[str, str]]) -> str:
    return json.dumps(sorted([n, v] for n, v in dims), separators=(",", ":"))


def _dims_of(raw: Any, where: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 30:
        raise invalid(f"The collection {where} must not have more than 30 members.")
    out, seen = [], set()
    for d in raw:
        if not isinstance(d, dict) or not isinstance(d.get("Name"), str) or not isinstance(d.get("Value"), str):
            raise missing(f"{where}.member.Name/Value")
        name, value = d["Name"], d["Value"]
        if not 1 <= len(name) <= 255 or not 1 <= len(value) <= 1024:
            raise invalid(f"The dimension {name[:64]!r} must have a name of 1-255 and a value of 1-1024 characters.")
        if name in seen:
            raise invalid(f"No metric may have duplicate dimensions: {name[:64]}.")
        seen.add(name)
        out.append((name, value))
    return out


def _name(value: Any, what: str, limit: int = 255) -> str:
    if value is None:
        raise missing(what)
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise invalid(f"The parameter {what} must be a string of 1 to {limit} characters.")
    return value


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > 2.0 ** 360 or (value != 0 and abs(value) < 2.0 ** -260):
        raise invalid(f"The value {value!r} for parameter {what} is invalid.")
    return float(value)


def _period(value: Any, what: str = "Period") -> int:
    if value is None:
        raise missing(what)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"The parameter {what} must be a positive integer.")
    if value < 60 and value not in _HIGH_RES_PERIODS:
        raise invalid(f"The parameter {what} must be 1, 5, 10, 20, 30, or any multiple of 60.")
    if value >= 60 and value % 60:
        raise invalid(f"The parameter {what} must be 1, 5, 10, 20, 30, or any multiple of 60.")
    return value


def _time(value: Any, what: str) -> float:
    if value is None:
        raise missing(what)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"The parameter {what} must be a timestamp.")
    return float(value)


def statistic_value(agg: Aggregate, stat: str) -> float | None:
    if agg.count <= 0:
        return None
    if stat == "SampleCount":
        return agg.count
    if stat == "Sum":
        return agg.sum
    if stat == "Average":
        return agg.sum / agg.count
    if stat == "Minimum":
        return agg.min
    if stat == "Maximum":
        return agg.max
    m = _PERCENTILE.fullmatch(stat)
    if m is not None:
        return percentile(agg, float(m.group(1)))
    return None


def valid_statistic(stat: Any) -> bool:
    return isinstance(stat, str) and (stat in STATISTICS or _PERCENTILE.fullmatch(stat) is not None)


class MetricsService:
    def __init__(self, data: MetricData, recorder: MetricRecorder, clock: Clock = SYSTEM_CLOCK,
                 samplers: Iterable[Callable[[MetricRecorder], None]] = ()) -> None:
        self._data, self.recorder, self._clock = data, recorder, clock
        self._samplers = list(samplers)     # gauges read each minute (queues' depths)
        self.listeners: list[Callable[[list[tuple[Any, Aggregate]]], None]] = []   # each flush's drained points
        self._flush_lock = threading.Lock()

    # -- writing ------------------------------------------------------------------------------
    def flush(self) -> int:
        """What the recorder holds, into the store (60/300/3600-s rows); how many points."""
        with self._flush_lock:
            drained = self.recorder.drain()
            for listener in self.listeners:
                listener(drained)
            points = [MetricPoint(ns, name, dims_key(dims), ts, agg.count, agg.sum, agg.min, agg.max, agg.hist,
                                  agg.unit) for (ns, name, dims, ts), agg in drained if agg.count > 0]
            if points:
                self._data.merge(points, (60, 300, 3600))
            return len(points)

    def sample(self) -> None:
        for sampler in self._samplers:
            try:
                sampler(self.recorder)
            except Exception:
                log_failure(log, "a metrics sampler failed")

    def put_metric_data(self, namespace: Any, data: Any) -> None:
        namespace = _name(namespace, "Namespace")
        if namespace.startswith("AWS/"):
            raise invalid("The value AWS/ for parameter Namespace is invalid.")
        if data is None:
            raise missing("MetricData")
        if not isinstance(data, list) or not 1 <= len(data) <= 1000:
            raise invalid("The collection MetricData must have 1 to 1000 members.")
        now = self._clock.now()
        by_res: dict[int, list[MetricPoint]] = {1: [], 60: []}
        for i, d in enumerate(data, 1):
            where = f"MetricData.member.{i}"
            if not isinstance(d, dict):
                raise missing(f"{where}.MetricName")
            metric = _name(d.get("MetricName"), f"{where}.MetricName")
            dims = _dims_of(d.get("Dimensions"), f"{where}.Dimensions")
            ts = now if d.get("Timestamp") is None else _time(d.get("Timestamp"), f"{where}.Timestamp")
            if ts < now - 14 * DAY or ts > now + 2 * HOUR:
                raise invalid(f"The parameter {where}.Timestamp must specify a time no more than two weeks in the "
                              "past and no more than two hours in the future.")
            unit = d.get("Unit", "None") or "None"
            if unit not in _UNITS:
                raise invalid(f"The value {str(unit)[:64]} for parameter {where}.Unit is invalid.")
            resolution = d.get("StorageResolution", 60)
            if resolution not in (1, 60) or isinstance(resolution, bool):
                raise invalid(f"The value {resolution} for parameter {where}.StorageResolution is invalid: "
                              "it must be 1 or 60.")
            agg = Aggregate(unit=unit)
            given = [k for k in ("Value", "Values", "StatisticValues") if d.get(k) is not None]
            if len(given) > 1:
                raise combination(f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive.")
            if d.get("Values") is not None:
                values, counts = d["Values"], d.get("Counts")
                if not isinstance(values, list) or len(values) > 150:
                    raise invalid(f"The collection {where}.Values must not have more than 150 members.")
                if counts is not None and (not isinstance(counts, list) or len(counts) != len(values)):
                    raise invalid(f"The parameters {where}.Values and {where}.Counts must be of the same size.")
                for j, v in enumerate(values):
                    n = 1.0 if counts is None else _finite(counts[j], f"{where}.Counts")
                    if n < 0:
                        raise invalid(f"The parameter {where}.Counts must not be negative.")
                    if n:
                        agg.add(_finite(v, f"{where}.Values"), n)
            elif d.get("StatisticValues") is not None:
                s = d["StatisticValues"]
                if not isinstance(s, dict) or any(s.get(k) is None for k in ("SampleCount", "Sum", "Minimum", "Maximum")):
                    raise missing(f"{where}.StatisticValues.SampleCount/Sum/Minimum/Maximum")
                count, total = _finite(s["SampleCount"], "SampleCount"), _finite(s["Sum"], "Sum")
                low, high = _finite(s["Minimum"], "Minimum"), _finite(s["Maximum"], "Maximum")
                if count <= 0 or low > high:
                    raise invalid(f"The parameter {where}.StatisticValues is inconsistent (SampleCount > 0, "
                                  "Minimum <= Maximum).")
                agg = Aggregate(count, total, low, high, {}, unit)
                if low == high:      # every value is the same: the histogram is exact
                    agg.hist = {_bucket(low): count}
            else:
                agg.add(_finite(d.get("Value", 0.0) if d.get("Value") is not None else 0.0, f"{where}.Value"))
            by_res[resolution].append(MetricPoint(namespace, metric, dims_key(dims), int(ts), agg.count, agg.sum,
                                                  agg.min, agg.max, agg.hist, unit))
        if by_res[1]:
            self._data.merge(by_res[1], (1, 60, 300, 3600))
        if by_res[60]:
            self._data.merge(by_res[60], (60, 300, 3600))

    # -- reading ------------------------------------------------------------------------------
    def series(self, namespace: str, metric: str, dims: list[tuple[str, str]], period: int, start: float,
               end: float) -> dict[int, Aggregate]:
        """One metric's aggregates per ``period`` over [start, end), from the coarsest stored period
        that is still kept for ``start`` and divides ``period`` (every stored period holds every point,
        merged: the coarsest gives the same aggregates from the fewest rows)."""
        key = dims_key(dims)
        return self._series(namespace, [metric], [key], period, start, end,
                            lambda stored, lo, hi: self._data.read(namespace, metric, key, stored, lo, hi)
                            ).get((metric, key), {})

    def series_many(self, namespace: str, metrics: list[str], dims: list[list[tuple[str, str]]], period: int,
                    start: float, end: float) -> dict[tuple[str, str], dict[int, Aggregate]]:
        """``series`` of every metric for every dimension set, read in one query of the metric store
        (``MetricData.read_many``; a page's sparklines for all its functions): (metric, dims_key(dims))
        -> aggregates per period; a series without data is absent."""
        keys = [dims_key(d) for d in dims]
        return self._series(namespace, metrics, keys, period, start, end,
                            lambda stored, lo, hi: self._data.read_many(namespace, metrics, keys, stored, lo, hi))

    def _series(self, namespace: str, metrics: list[str], keys: list[str], period: int, start: float, end: float,
                read: Callable[[int, int, int], list[MetricPoint]]) -> dict[tuple[str, str], dict[int, Aggregate]]:
        self.flush()      # what the recorder holds is readable at once
        now = self._clock.now()
        start_i, end_i = int(start) // period * period, int(math.ceil(end))
        rows: list[MetricPoint] = []
        # the coarsest period kept for ``start`` that divides ``period``; 1-s rows only for periods under
        # a minute (every point is in the 60-s rows, high-resolution or not)
        choices = (1, 60) if period < 60 else (3600, 300, 60)
        for stored in choices:
            if period % stored and stored > 1 or now - start > RETENTION_S[stored] + period:
                continue
            rows = read(stored, start_i // stored * stored, end_i)
            if rows or stored >= 60:
                break
        out: dict[tuple[str, str], dict[int, Aggregate]] = {}
        for p in rows:
            series = out.setdefault((p.metric, p.dims), {})
            t = p.ts // period * period
            agg = series.get(t)
            # a row's histogram was made for this read alone (parsed from the store): the aggregate
            # may own it, and merge into it, without a copy
            if agg is None:
                series[t] = Aggregate(p.count, p.sum, p.min, p.max, p.hist, p.unit)
            else:
                agg.merge(Aggregate(p.count, p.sum, p.min, p.max, p.hist, p.unit))
        return out

    def total(self, namespace: str, metric: str, dims: list[tuple[str, str]], start: float, end: float) -> Aggregate:
        """One metric over [start, end) as one aggregate (percentiles over the whole span)."""
        period = 60 if self._clock.now() - start <= RETENTION_S[60] else 300 if \
            self._clock.now() - start <= RETENTION_S[300] else 3600
        out = Aggregate()
        for t, agg in self.series(namespace, metric, dims, period, start, end).items():
            if start // period * period <= t < end:
                out.merge(agg)
        return out

    def get_metric_statistics(self, d: dict[str, Any]) -> dict[str, Any]:
        namespace = _name(d.get("Namespace"), "Namespace")
        metric = _name(d.get("MetricName"), "MetricName")
        dims = _dims_of(d.get("Dimensions"), "Dimensions")
        start, end = _time(d.get("StartTime"), "StartTime"), _time(d.get("EndTime"), "EndTime")
        period = _period(d.get("Period"))
        stats, extended = d.get("Statistics") or [], d.get("ExtendedStatistics") or []
        if not stats and not extended:
            raise missing("Statistics or ExtendedStatistics")
        if not isinstance(stats, list) or not 0 <= len(stats) <= 5 or not all(s in STATISTICS for s in stats):
            raise invalid("The parameter Statistics must hold 1 to 5 of SampleCount, Average, Sum, Minimum, Maximum.")
        if not isinstance(extended, list) or len(extended) > 10 or \
                not all(isinstance(s, str) and _PERCENTILE.fullmatch(s) for s in extended):
            raise invalid("The parameter ExtendedStatistics must hold up to 10 percentiles (p0.0 to p100).")
        if end <= start:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        if (end - start) / period > MAX_DATAPOINTS:
            raise invalid(f"You have requested up to {int((end - start) / period)} datapoints, which exceeds the "
                          f"limit of {MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
                          "or decreasing the time range.")
        unit_filter = d.get("Unit")
        points = []
        for t, agg in sorted(self.series(namespace, metric, dims, period, start, end).items()):
            if t < int(start) // period * period or t >= end:
                continue
            if unit_filter and agg.unit != unit_filter:
                continue
            point: dict[str, Any] = {"Timestamp": float(t), "Unit": agg.unit}
            for s in stats:
                point[s] = statistic_value(agg, s)
            if extended:
                point["ExtendedStatistics"] = {s: statistic_value(agg, s) for s in extended}
            points.append(point)
        return {"Label": metric, "Datapoints": points}

    def list_metrics(self, d: dict[str, Any]) -> dict[str, Any]:
        namespace, metric = d.get("Namespace"), d.get("MetricName")
        namespace = None if namespace is None else _name(namespace, "Namespace")
        metric = None if metric is None else _name(metric, "MetricName")
        wanted = _dims_of_filter(d.get("Dimensions"))
        self.flush()
        recent = d.get("RecentlyActive")
        if recent not in (None, "PT3H"):
            raise invalid("The value for parameter RecentlyActive must be PT3H.")
        since = self._clock.now() - (3 * HOUR if recent else 14 * DAY)
        out = []
        for ns, name, dims, _last in self._data.catalog(namespace, metric, int(since)):
            pairs = dict(json.loads(dims))
            if all(n in pairs and (v is None or pairs[n] == v) for n, v in wanted):
                out.append({"Namespace": ns, "MetricName": name,
                            "Dimensions": [{"Name": n, "Value": v} for n, v in pairs.items()]})
        start = int(d.get("NextToken") or 0) if str(d.get("NextToken") or "0").isdigit() else -1
        if start < 0:
            raise CloudWatchError("The NextToken is not valid.", "InvalidNextToken", "InvalidNextToken")
        page = out[start:start + 500]
        result: dict[str, Any] = {"Metrics": page}
        if start + 500 < len(out):
            result["NextToken"] = str(start + 500)
        return result

    def get_metric_data(self, d: dict[str, Any]) -> dict[str, Any]:
        queries = d.get("MetricDataQueries")
        if queries is None:
            raise missing("MetricDataQueries")
        if not isinstance(queries, list) or not 1 <= len(queries) <= MAX_QUERIES:
            raise invalid(f"The collection MetricDataQueries must have 1 to {MAX_QUERIES} members.")
        start, end = _time(d.get("StartTime"), "StartTime"), _time(d.get("EndTime"), "EndTime")
        if end <= start:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        scan = d.get("ScanBy", "TimestampDescending")
        if scan not in ("TimestampDescending", "TimestampAscending"):
            raise invalid("The value for parameter ScanBy must be TimestampDescending or TimestampAscending.")
        ids: dict[str, dict[str, Any]] = {}
        for i, q in enumerate(queries, 1):
            if not isinstance(q, dict):
                raise missing(f"MetricDataQueries.member.{i}.Id")
            qid = q.get("Id")
            if not isinstance(qid, str) or re.fullmatch(r"[a-z][A-Za-z0-9_]{0,254}", qid) is None:
                raise invalid(f"The value {str(qid)[:64]} for parameter MetricDataQueries.member.{i}.Id is invalid: "
                              "it must start with a lowercase letter and hold only letters, numbers and underscores.")
            if qid in ids:
                raise invalid(f"The values for parameter id in MetricDataQueries are not unique: {qid}.")
            if (q.get("MetricStat") is None) == (q.get("Expression") is None):
                raise combination(f"Exactly one of MetricStat and Expression must be given in "
                                  f"MetricDataQueries.member.{i}.")
            ids[qid] = q
        series: dict[str, expressions.Series] = {}
        total_points = 0
        for qid, q in ids.items():
            stat = q.get("MetricStat")
            if stat is None:
                continue
            if not isinstance(stat, dict) or not isinstance(stat.get("Metric"), dict):
                raise missing(f"MetricDataQueries.{qid}.MetricStat.Metric")
            m = stat["Metric"]
            period = _period(stat.get("Period"), f"MetricDataQueries.{qid}.MetricStat.Period")
            name = str(stat.get("Stat"))
            if not valid_statistic(stat.get("Stat")):
                raise invalid(f"The value {str(name)[:64]} for parameter MetricDataQueries.{qid}.MetricStat.Stat "
                              "is invalid.")
            total_points += int((end - start) / period)
            if total_points > MAX_DATAPOINTS_GMD:
                raise invalid(f"The request asks for more than {MAX_DATAPOINTS_GMD} datapoints.")
            aggs = self.series(_name(m.get("Namespace"), "Namespace"), _name(m.get("MetricName"), "MetricName"),
                               _dims_of(m.get("Dimensions"), "Dimensions"), period, start, end)
            points = {t: v for t, a in aggs.items() if start // period * period <= t < end
                      and (stat.get("Unit") is None or a.unit == stat["Unit"])
                      and (v := statistic_value(a, name)) is not None}
            series[qid] = expressions.Series(q.get("Label") or f"{m.get('MetricName')}", points, period)
        results: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        computed: set[str] = set()
        for qid, q in ids.items():
            if q.get("Expression") is not None:
                try:
                    node = expressions.parse(q["Expression"])
                    period = _period(q["Period"]) if q.get("Period") is not None else \
                        min((s.period for s in series.values()), default=60)
                    grid = list(range(int(start) // period * period, int(math.ceil(end)), period))
                    if len(grid) > MAX_DATAPOINTS_GMD:
                        raise invalid("The request asks for too many datapoints.")
                    value = expressions.evaluate(node, series, grid, frozenset(computed))
                except expressions.MathError as err:
                    raise CloudWatchError(f"Error in expression {qid}: {err}", "ValidationError",
                                          "ValidationError") from None
                if isinstance(value, float):
                    raise CloudWatchError(f"Error in expression {qid}: the expression must return a time series "
                                          "or an array of time series.", "ValidationError", "ValidationError")
                found = value if isinstance(value, list) else [value]
                if not isinstance(value, list):
                    value.label = q.get("Label") or qid
                series[qid] = found[0] if len(found) == 1 else expressions.Series(qid, {}, 60)
                computed.add(qid)
                outputs = found
            else:
                outputs = [series[qid]]
            if q.get("ReturnData", True) is False:
                continue
            for s in outputs:
                times = sorted(s.points, reverse=scan == "TimestampDescending")
                results.append({"Id": qid, "Label": s.label, "Timestamps": [float(t) for t in times],
                                "Values": [s.points[t] for t in times], "StatusCode": "Complete"})
        return {"MetricDataResults": results, "Messages": messages}

    # -- retention ------------------------------------------------------------------------------
    def prune(self) -> int:
        """Rows past their period's retention (``RETENTION_S``) go; a housekeeper's sweep."""
        now = self._clock.now()
        return sum(self._data.prune(period, int(now - keep)) for period, keep in RETENTION_S.items())


def _dims_of_filter(raw: Any) -> list[tuple[str, str | None]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 30:
        raise invalid("The collection Dimensions must not have more than 30 members.")
    out: list[tuple[str, str | None]] = []
    for f in raw:
        if not isinstance(f, dict) or not isinstance(f.get("Name"), str):
            raise missing("Dimensions.member.Name")
        value = f.get("Value")
        out.append((f["Name"], value if isinstance(value, str) else None))
    return out


class MetricsFlusher(Periodic):
    """Each ``interval_s``: the samplers read (gauges), then the recorder flushed to the store,
    then what runs after each flush (the alarms' evaluation); when stopped, one last flush."""

    def __init__(self, service: MetricsService, interval_s: float = 60.0,
                 after: Iterable[Callable[[], Any]] = ()) -> None:
        self._service, self._after = service, list(after)
        super().__init__("cumulo-metrics", interval_s, self._run_once, last=service.flush, logger=log)

    def _run_once(self) -> None:
        self._service.sample()
        self._service.flush()
        for job in self._after:
            job()
