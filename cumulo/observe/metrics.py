"""Metrics as AWS publishes them, aggregated in memory (docs/metrics.md).

``MetricRecorder`` is what the warm path touches: one lock, a few dictionary updates per
invocation, nothing else. Each minute (and before a query) ``drain`` hands the aggregates over —
one ``Aggregate`` per (namespace, metric, dimensions, minute): SampleCount, Sum, Minimum, Maximum
and a histogram of the values in fixed logarithmic buckets (``bucket``: 2^(1/16) apart, so a
percentile read from it is within ~2.2 % of the true value) — and the flusher writes them to the
store. Embedded Metric Format lines of functions' logs (``emf_points``) are only noted on the warm
path and parsed at drain time.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

__all__ = ["Aggregate", "MetricRecorder", "NO_METRICS", "bucket", "bucket_value", "percentile", "emf_points",
           "Dims", "LAMBDA", "GATEWAY", "ZERO_BUCKET"]

Dims = tuple[tuple[str, str], ...]          # sorted (name, value) pairs
LAMBDA = "AWS/Lambda"
GATEWAY = "AWS/ApiGateway"
ZERO_BUCKET = -(10 ** 6)                    # values <= 0
_PER_DOUBLING = 16


def bucket(value: float) -> int:
    """The histogram bucket of a value: 16 per doubling; all values <= 0 share ``ZERO_BUCKET``."""
    if value <= 0 or value != value:
        return ZERO_BUCKET
    return math.floor(math.log2(value) * _PER_DOUBLING)


def bucket_value(index: int) -> float:
    """A bucket's representative value (its geometric middle)."""
    if index == ZERO_BUCKET:
        return 0.0
    return float(2 ** ((index + 0.5) / _PER_DOUBLING))


@dataclass
class Aggregate:
    count: float = 0.0
    sum: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    hist: dict[int, float] = field(default_factory=dict)
    unit: str = "None"

    def add(self, value: float, count: float = 1.0) -> None:
        self.count += count
        self.sum += value * count
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        b = bucket(value)
        self.hist[b] = self.hist.get(b, 0.0) + count

    def merge(self, other: "Aggregate") -> None:
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        for k, n in other.hist.items():
            self.hist[k] = self.hist.get(k, 0.0) + n
        if other.unit != "None":
            self.unit = other.unit


def percentile(agg: Aggregate, p: float) -> float | None:
    """The p-th percentile (0..100) read from the histogram, clamped to [min, max]."""
    if agg.count <= 0 or not agg.hist:
        return None
    want = agg.count * p / 100.0
    seen = 0.0
    for index in sorted(agg.hist):
        seen += agg.hist[index]
        if seen >= want - 1e-9:
            return min(max(bucket_value(index), agg.min), agg.max)
    return agg.max


Key = tuple[str, str, Dims, int]            # (namespace, metric, dimensions, minute's start in seconds)
FOLD_AT = 4096      # invocations noted at most before the caller noting one more folds them (``cumulo up``
                    # folds them each second on a thread of its own, so callers seldom do)


class MetricRecorder:
    """In-memory aggregation of what the platform publishes; ``drain`` empties it."""

    def __init__(self, now: Callable[[], float] = time.time, enabled: bool = True) -> None:
        self._now = now
        self.enabled = enabled
        self._lock = threading.Lock()
        # per (function, resource or None, minute): [invocations, errors, duration Aggregate]
        self._invocations: dict[tuple[str, str | None, int], list[Any]] = {}
        self._points: dict[Key, Aggregate] = {}
        self._peaks: dict[int, int] = {}            # the account's invocations in flight, peak per minute
        self._unreserved: dict[int, int] = {}       # … of functions without a reservation, peak per minute
        self._emf: list[tuple[str, str, int]] = []  # (function, line, ms)
        self._noted: deque[tuple[Any, ...]] = deque()   # invocations not folded into the aggregates yet

    # -- the warm path --------------------------------------------------------
    def invocation(self, function: str, resource: str | None, duration_ms: float, error: bool,
                   concurrent: int = 1, total: int = 1, unreserved: int | None = None) -> None:
        """One invocation of ``function`` (``resource``: ``name:qualifier`` when invoked qualified);
        ``concurrent``/``total``/``unreserved``: the function's, the account's and the unreserved
        pool's invocations in flight with it. Only noted here (one append to a deque, safe without
        a lock); folded into the aggregates by ``drain`` or, past ``FOLD_AT`` noted, by the caller
        that notes the next, so what waits stays bounded."""
        if not self.enabled:
            return
        noted = self._noted
        noted.append((function, resource, self._now(), duration_ms, error, concurrent, total, unreserved))
        if len(noted) > FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """The invocations noted so far into the per-minute aggregates."""
        noted = self._noted
        with self._lock:
            invocations, peaks, unreserved_peaks = self._invocations, self._peaks, self._unreserved
            while True:
                try:
                    function, resource, now, duration_ms, error, concurrent, total, unreserved = noted.popleft()
                except IndexError:
                    break
                minute = int(now) // 60 * 60
                key = (function, resource, minute)
                entry = invocations.get(key)
                if entry is None:
                    entry = invocations[key] = [0, 0, Aggregate(unit="Milliseconds"), 0]
                entry[0] += 1
                if error:
                    entry[1] += 1
                entry[2].add(duration_ms)
                if concurrent > entry[3]:
                    entry[3] = concurrent
                if total > peaks.get(minute, 0):
                    peaks[minute] = total
                if unreserved is not None and unreserved > unreserved_peaks.get(minute, -1):
                    unreserved_peaks[minute] = unreserved

    def emf(self, function: str, lines: Iterable[tuple[int, str]]) -> None:
        """A function's log lines that may hold Embedded Metric Format documents (parsed at drain)."""
        if not self.enabled:
            return
        found = [(function, text, ts) for ts, text in lines if '"_aws"' in text]
        if found:
            with self._lock:
                self._emf.extend(found)

    # -- everything else ------------------------------------------------------
    def add(self, namespace: str, metric: str, dims: Dims, value: float, unit: str = "None",
            at: float | None = None) -> None:
        """One value of a metric (dims sorted), in the minute of ``at`` (now if None)."""
        if not self.enabled:
            return
        key = (namespace, metric, dims, int(self._now() if at is None else at) // 60 * 60)
        with self._lock:
            agg = self._points.get(key)
            if agg is None:
                agg = self._points[key] = Aggregate(unit=unit)
            agg.add(value)

    def add_many(self, namespace: str, dims: Dims, values: Iterable[tuple[str, float, str]]) -> None:
        """Several metrics of one namespace and dimension set, now, under one lock: (metric, value, unit)."""
        if not self.enabled:
            return
        minute = int(self._now()) // 60 * 60
        with self._lock:
            for metric, value, unit in values:
                key = (namespace, metric, dims, minute)
                agg = self._points.get(key)
                if agg is None:
                    agg = self._points[key] = Aggregate(unit=unit)
                agg.add(value)

    def provisioned(self, function: str, resource: str | None, in_use: int, target: int, used: bool) -> None:
        """One invocation of a version or alias with provisioned concurrency, as Lambda publishes
        it: ``ProvisionedConcurrencyInvocations`` when it ran on a provisioned environment, else
        ``ProvisionedConcurrencySpilloverInvocations`` (all of them were busy); the provisioned
        environments busy now (``ProvisionedConcurrentExecutions``) and their share of the target
        (``ProvisionedConcurrencyUtilization``), whose Maximum is the minute's peak. Recorded by
        ``Resource``; ``drain`` adds the function's and the account's, as for every Lambda point."""
        if not self.enabled:
            return
        dims: Dims = (("FunctionName", function),) if resource is None else \
            (("FunctionName", function), ("Resource", resource))
        count = "ProvisionedConcurrencyInvocations" if used else "ProvisionedConcurrencySpilloverInvocations"
        minute = int(self._now()) // 60 * 60
        with self._lock:
            for metric, value, unit in ((count, 1.0, "Count"), ("ProvisionedConcurrentExecutions", float(in_use), "Count"),
                                        ("ProvisionedConcurrencyUtilization", in_use / target, "None")):
                key = (LAMBDA, metric, dims, minute)
                agg = self._points.get(key)
                if agg is None:
                    agg = self._points[key] = Aggregate(unit=unit)
                agg.add(value)

    def gauge(self, namespace: str, metric: str, dims: Dims, value: float, unit: str = "Count") -> None:
        """A level seen now (ConcurrentExecutions): the minute keeps each value seen, so its
        Maximum is the peak."""
        self.add(namespace, metric, dims, value, unit)

    def drain(self) -> list[tuple[Key, Aggregate]]:
        """Everything aggregated so far, Lambda's invocations expanded into AWS's three dimension
        sets (account, FunctionName, FunctionName+Resource); EMF lines parsed."""
        self.fold()
        with self._lock:
            invocations, self._invocations = self._invocations, {}
            points, self._points = self._points, {}
            peaks, self._peaks = self._peaks, {}
            unreserved, self._unreserved = self._unreserved, {}
            emf, self._emf = self._emf, []
        out: dict[Key, Aggregate] = {}

        def put(key: Key, agg: Aggregate) -> None:
            have = out.get(key)
            if have is None:
                out[key] = copy(agg)
            else:
                have.merge(agg)

        concurrency: dict[tuple[str, int], int] = {}
        for (function, resource, minute), (count, errors, duration, peak) in invocations.items():
            concurrency[function, minute] = max(concurrency.get((function, minute), 0), peak)
            sets: list[Dims] = [(), (("FunctionName", function),)]
            if resource is not None:
                sets.append((("FunctionName", function), ("Resource", resource)))
            inv = Aggregate(count, float(count), 1.0, 1.0, {bucket(1.0): float(count)}, "Count")
            err = Aggregate(count, float(errors), 0.0 if errors < count else 1.0, 1.0 if errors else 0.0,
                            {k: float(v) for k, v in ((bucket(1.0), errors), (ZERO_BUCKET, count - errors)) if v},
                            "Count")
            for dims in sets:
                put((LAMBDA, "Invocations", dims, minute), inv)
                put((LAMBDA, "Errors", dims, minute), err)
                put((LAMBDA, "Duration", dims, minute), duration)
        for (function, minute), peak in concurrency.items():
            put((LAMBDA, "ConcurrentExecutions", (("FunctionName", function),), minute), _level(peak))
        for minute, peak in peaks.items():
            put((LAMBDA, "ConcurrentExecutions", (), minute), _level(peak))
        for minute, peak in unreserved.items():
            put((LAMBDA, "UnreservedConcurrentExecutions", (), minute), _level(peak))
        for key, agg in points.items():
            put(key, agg)
            ns, dims = key[0], key[2]
            if ns == LAMBDA and dims and dims[0][0] == "FunctionName":    # also per function, and account-wide
                if len(dims) > 1:
                    put((ns, key[1], dims[:1], key[3]), agg)
                put((ns, key[1], (), key[3]), agg)
            elif ns == GATEWAY and len(dims) == 2 and dims[0][0] == "ApiId":   # also per API, all stages
                put((ns, key[1], dims[:1], key[3]), agg)
        for function, text, ts in emf:
            for key, agg in emf_points(text, ts):
                put(key, agg)
        return list(out.items())


def _level(value: float) -> Aggregate:
    return Aggregate(1.0, float(value), float(value), float(value), {bucket(value): 1.0}, "Count")


def copy(agg: Aggregate) -> Aggregate:
    return Aggregate(agg.count, agg.sum, agg.min, agg.max, dict(agg.hist), agg.unit)


class _NoMetrics(MetricRecorder):
    def __init__(self) -> None:
        super().__init__(enabled=False)


NO_METRICS: MetricRecorder = _NoMetrics()

_EMF_MAX_DIMS = 30
_EMF_MAX_METRICS = 100


def emf_points(text: str, default_ms: int = 0) -> list[tuple[Key, Aggregate]]:
    """The metrics an Embedded Metric Format document (one log line) declares: for each
    ``CloudWatchMetrics`` directive, each dimension set × each metric, its value(s) read from the
    document's root. A line that is not a valid EMF document gives nothing (AWS leaves it a log)."""
    start = text.find("{")
    if start < 0:
        return []
    try:
        doc = json.loads(text[start:])
    except (ValueError, RecursionError):
        return []
    if not isinstance(doc, dict):
        return []
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        return []
    ts = meta.get("Timestamp", default_ms)
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        return []
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        return []
    out: list[tuple[Key, Aggregate]] = []
    minute = int(ts // 1000) // 60 * 60
    for directive in directives:
        if not isinstance(directive, dict):
            continue
        namespace = directive.get("Namespace")
        dim_sets = directive.get("Dimensions", [[]])
        metrics = directive.get("Metrics")
        if not isinstance(namespace, str) or not namespace or not isinstance(metrics, list) \
                or not isinstance(dim_sets, list):
            continue
        for dim_names in dim_sets[:_EMF_MAX_DIMS]:
            if not isinstance(dim_names, list) or len(dim_names) > _EMF_MAX_DIMS:
                continue
            values = [doc.get(n) for n in dim_names]
            if not all(isinstance(n, str) for n in dim_names) or not all(isinstance(v, str) for v in values):
                continue
            dims: Dims = tuple(sorted(zip(dim_names, values)))    # type: ignore[arg-type]
            for metric in metrics[:_EMF_MAX_METRICS]:
                if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
                    continue
                name = metric["Name"]
                raw = doc.get(name)
                samples = raw if isinstance(raw, list) else [raw]
                agg = Aggregate(unit=str(metric.get("Unit", "None")))
                for v in samples:
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                        agg.add(float(v))
                if agg.count:
                    out.append(((namespace, name, dims, minute), agg))
    return out
