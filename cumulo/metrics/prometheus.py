"""Cumulo's metrics in Prometheus' exposition format (``cumulo up --metrics-port``; docs/metrics.md).

A ``prometheus_client`` collector: each flush of the recorder (``MetricsService.listeners``) adds
to running totals per (namespace, metric, dimensions) since the server started; a scrape flushes
first, then answers every CloudWatch metric as ``cumulo_<namespace>_<metric>`` — a summary
(``_count`` and ``_sum``) with one label per dimension (``FunctionName`` → ``function_name``), or a
gauge holding the newest minute's maximum for levels (``ConcurrentExecutions``, queues' depths) —
plus ``cumulo_lambda_estimated_cost_usd`` per function (``metrics/cost.py``).
"""

from __future__ import annotations

import re
import threading
from typing import Any, Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from cumulo.metrics.cost import estimate
from cumulo.metrics.service import MetricsService
from cumulo.observe.metrics import LAMBDA, Aggregate, Dims

__all__ = ["PrometheusCollector", "GAUGES", "metric_name", "label_name"]

GAUGES = {"ConcurrentExecutions", "UnreservedConcurrentExecutions", "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
          "ApproximateAgeOfOldestMessage",
          "ApproximateNumberOfMessagesDelayed"}


def _snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^a-zA-Z0-9_]", "_", text).lower()


def metric_name(namespace: str, metric: str) -> str:
    return f"cumulo_{_snake(namespace)}_{_snake(metric)}"


def label_name(dimension: str) -> str:
    name = _snake(dimension)
    return name if re.match(r"[a-zA-Z_]", name) and not name.startswith("__") else f"d_{name}"


class PrometheusCollector(Collector):
    def __init__(self, service: MetricsService, functions: Callable[[], dict[str, tuple[int, str]]],
                 region: str) -> None:
        self._service, self._functions, self._region = service, functions, region
        self._lock = threading.Lock()
        # (namespace, metric, dims) -> [count, sum, newest minute, its maximum]
        self._totals: dict[tuple[str, str, Dims], list[float]] = {}
        service.listeners.append(self._add)

    def _add(self, drained: list[tuple[tuple[str, str, Dims, int], Aggregate]]) -> None:
        with self._lock:
            for (namespace, metric, dims, minute), agg in drained:
                total = self._totals.setdefault((namespace, metric, dims), [0.0, 0.0, -1.0, 0.0])
                total[0] += agg.count
                total[1] += agg.sum
                if minute >= total[2]:
                    total[2], total[3] = minute, agg.max if minute > total[2] else max(total[3], agg.max)

    def collect(self) -> Iterator[Metric]:
        self._service.flush()
        with self._lock:
            totals = dict(self._totals)
        by_name: dict[str, list[tuple[Dims, list[float]]]] = {}
        kinds: dict[str, str] = {}
        for (namespace, metric, dims), total in sorted(totals.items()):
            name = metric_name(namespace, metric)
            by_name.setdefault(name, []).append((dims, total))
            kinds[name] = metric
        for name, rows in by_name.items():
            labels = sorted({label_name(d) for dims, _ in rows for d, _ in dims})
            gauge = kinds[name] in GAUGES
            family: Any = (GaugeMetricFamily if gauge else SummaryMetricFamily)(
                name, f"CloudWatch's {kinds[name]} as Cumulo publishes it", labels=labels)
            for dims, (count, total_sum, _, newest) in rows:
                values = dict((label_name(d), v) for d, v in dims)
                label_values = [values.get(label, "") for label in labels]
                if gauge:
                    family.add_metric(label_values, newest)
                else:
                    family.add_metric(label_values, count, total_sum)
            yield family
        cost = GaugeMetricFamily("cumulo_lambda_estimated_cost_usd",
                                 "What the invocations since the server started would cost on AWS Lambda, on demand",
                                 labels=["function_name"])
        configs = self._functions()
        for (namespace, metric, dims), (count, total_sum, _, _) in sorted(totals.items()):
            if namespace != LAMBDA or metric != "Duration" or len(dims) != 1 or dims[0][0] != "FunctionName":
                continue
            memory, architecture = configs.get(dims[0][1], (128, "x86_64"))
            cost.add_metric([dims[0][1]], estimate(self._region, count, total_sum, memory, architecture).usd)
        yield cost
