"""The console's metric pages: CloudWatch's Lambda metrics (cumulo/metrics) as charts, and alarms.

What is read goes through ``MetricReads`` (the metrics service's ``series``) and ``AlarmReads``
(``describe_alarms``): the same data `GetMetricData` and `DescribeAlarms` answer with. A range is
one of CloudWatch console's usual three, each at a period that gives 60 to 168 points.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Protocol, Sequence

from cumulo.console.charts import Series, chart, sparkline
from cumulo.console.html import Safe, join, render, url
from cumulo.metrics.service import dims_key, statistic_value
from cumulo.observe.metrics import LAMBDA, Aggregate

__all__ = ["RANGES", "MetricReads", "AlarmReads", "Window", "window", "function_charts", "metrics_page",
           "function_sparklines"]

# name: (span in seconds, period in seconds); a sparkline's hour in 5-minute points (12 rows a metric)
RANGES = {"1h": (3_600, 60), "24h": (86_400, 900), "7d": (7 * 86_400, 3_600)}
SPARK_RANGE = "1h"
SPARK_PERIOD = 300


class MetricReads(Protocol):
    def series(self, namespace: str, metric: str, dims: list[tuple[str, str]], period: int, start: float,
               end: float) -> dict[int, Aggregate]: ...
    def series_many(self, namespace: str, metrics: list[str], dims: list[list[tuple[str, str]]], period: int,
                    start: float, end: float) -> dict[tuple[str, str], dict[int, Aggregate]]: ...


class AlarmReads(Protocol):
    def describe_alarms(self, d: dict[str, Any]) -> dict[str, Any]: ...


class Window:
    """``count`` periods of ``period`` seconds, the last one holding ``now``."""

    def __init__(self, name: str, now: float, period: int | None = None) -> None:
        span, self.period = RANGES[name]
        self.period = period or self.period
        self.name = name
        self.count = span // self.period
        self.start = (int(now) // self.period - self.count + 1) * self.period

    @property
    def end(self) -> int:
        return self.start + self.count * self.period


def window(name: str, now: float | None = None, period: int | None = None) -> Window:
    """The range called ``name`` (an hour if there is none such) ending with the period holding now."""
    return Window(name if name in RANGES else SPARK_RANGE, time.time() if now is None else now, period)


def _values(reads: MetricReads, metric: str, stats: Sequence[str], dims: list[tuple[str, str]], w: Window,
            zero: bool) -> list[list[float | None]]:
    """For each statistic, one value per period of ``w`` (one read of the metric for them all); a
    period without data is 0 for a count (``zero``), else a gap."""
    return _points(reads.series(LAMBDA, metric, dims, w.period, w.start, w.end), stats, w, zero)


def _points(found: dict[int, Aggregate], stats: Sequence[str], w: Window, zero: bool) -> list[list[float | None]]:
    out: list[list[float | None]] = []
    for stat in stats:
        values: list[float | None] = []
        for i in range(w.count):
            agg = found.get(w.start + i * w.period)
            value = statistic_value(agg, stat) if agg is not None else None
            values.append(0.0 if value is None and zero else value)
        out.append(values)
    return out


def _dims(function: str) -> list[tuple[str, str]]:
    return [("FunctionName", function)] if function else []


def function_charts(reads: MetricReads, function: str, w: Window) -> Safe:
    """Invocations, errors and throttles, duration (p50, p99, maximum) and concurrency; for one
    function, or the account's (``function`` empty)."""
    dims = _dims(function)

    def counts(metric: str) -> Series:
        return Series(metric, _values(reads, metric, ["Sum"], dims, w, zero=True)[0])

    labels = ("p50", "p99", "Maximum")
    duration = [Series(label, values, summed=False)
                for label, values in zip(labels, _values(reads, "Duration", labels, dims, w, zero=False))]
    concurrency = Series("Maximum", _values(reads, "ConcurrentExecutions", ["Maximum"], dims, w, zero=False)[0],
                         summed=False)
    per = f"per {w.period // 60} min" if w.period < 3_600 else "per hour"
    return render('<div class="charts">{a}{b}{c}{d}</div>',
                  a=chart(f"Invocations ({per})", [counts("Invocations")], w.start, w.period),
                  b=chart(f"Errors and throttles ({per})", [counts("Errors"), counts("Throttles")], w.start, w.period),
                  c=chart("Duration", duration, w.start, w.period, "ms"),
                  d=chart("Concurrent executions", [concurrency], w.start, w.period))


def function_sparklines(reads: MetricReads, functions: Sequence[str], w: Window) -> dict[str, tuple[Safe, Safe]]:
    """Each functions-list row's two small lines, error rate (%) and p99 duration over ``w``, for all
    the page's functions from one read of the metric store (``series_many``)."""
    found = reads.series_many(LAMBDA, ["Invocations", "Errors", "Duration"], [_dims(f) for f in functions],
                              w.period, w.start, w.end)
    out: dict[str, tuple[Safe, Safe]] = {}
    for function in functions:
        key = dims_key(_dims(function))
        [invocations] = _points(found.get(("Invocations", key), {}), ["Sum"], w, zero=False)
        [errors] = _points(found.get(("Errors", key), {}), ["Sum"], w, zero=True)
        rate = [None if n is None or n <= 0 else 100.0 * (e or 0.0) / n for n, e in zip(invocations, errors)]
        [p99] = _points(found.get(("Duration", key), {}), ["p99"], w, zero=False)
        out[function] = (sparkline(rate, f"Error rate, last {w.name}", "%"),
                         sparkline(p99, f"p99 duration, last {w.name}", "ms"))
    return out


def _range_links(function: str, current: str) -> Safe:
    return join(render('<a href="{h}"{cur}>{n}</a> ', h=url("metrics", function=function, range=name), n=name,
                       cur=Safe(' aria-current="true" class="pill"') if name == current else Safe("")) for name in RANGES)


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value or "—")


def alarms_table(alarms: AlarmReads) -> Safe:
    """Every metric alarm with its state, as DescribeAlarms reports it (paged through)."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        ask: dict[str, Any] = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100}
        page = alarms.describe_alarms({**ask, "NextToken": token} if token else ask)
        found.extend(page.get("MetricAlarms", []) + page.get("CompositeAlarms", []))
        token = page.get("NextToken")
        if not token or len(found) >= 1_000:
            break
    rows = [render('<tr><td>{name}</td><td>{metric}</td><td class="{cls}">{state}</td><td>{reason}</td>'
                   '<td>{when}</td></tr>',
                   name=a.get("AlarmName", ""), metric=f"rule: {a['AlarmRule']}" if "AlarmRule" in a else
                   f"{a.get('Namespace', '')} {a.get('MetricName', '')}".strip(),
                   cls={"ALARM": "bad", "OK": "good"}.get(a.get("StateValue", ""), "muted"),
                   state=a.get("StateValue", ""), reason=a.get("StateReason", ""),
                   when=_when(a.get("StateUpdatedTimestamp"))) for a in found]
    return render('<table><caption class="muted">Alarms (metric and composite) and their state</caption><thead><tr>'
                  '<th scope="col">Alarm</th><th scope="col">Metric or rule</th><th scope="col">State</th>'
                  '<th scope="col">Reason</th><th scope="col">Since</th></tr></thead><tbody>{rows}</tbody></table>',
                  rows=join(rows) or Safe('<tr><td colspan="5">No alarms.</td></tr>'))


def metrics_page(reads: MetricReads, alarms: AlarmReads, functions: Sequence[str], function: str,
                 range_name: str, now: float | None = None) -> Safe:
    """The account's Lambda metrics, or one function's, over a range; then the alarms."""
    w = window(range_name, now)
    options = join(render('<option value="{v}"{sel}>{t}</option>', v=name, t=name or "All functions (account)",
                          sel=Safe(" selected") if name == function else Safe(""))
                   for name in ["", *functions])
    return render('<form method="get" action="/metrics" class="inline"><label for="function">Function</label>'
                  '<select id="function" name="function">{options}</select>'
                  '<input type="hidden" name="range" value="{r}"> <button class="plain">Show</button></form>'
                  '<p>Range: {ranges}</p>{charts}<h2>Alarms</h2>{alarms}',
                  options=options, r=w.name, ranges=_range_links(function, w.name),
                  charts=function_charts(reads, function, w), alarms=alarms_table(alarms))
