"""Metric data on PostgreSQL (``ports.MetricData``): what SQLite keeps in ``metrics.db``, in the
cluster's database, so a metric recorded on one node is read on any (docs/scale-out.md).

The same tables and columns as ``store/sqlite_messages/metrics.py`` (``cumulo store migrate``
copies them as they are). Nodes flush at once into the same rows: a merge locks each row it adds
into (``FOR UPDATE``, taken in key order so two flushes never wait on each other in a cycle).
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

from cumulo.store.ports import MetricPoint
from cumulo.store.postgres.database import Database
from cumulo.store.sqlite_messages.metrics import catalog_query, read_many_query

__all__ = ["PostgresMetricData", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_data (
    namespace TEXT COLLATE "C" NOT NULL,
    metric TEXT COLLATE "C" NOT NULL,
    dims TEXT COLLATE "C" NOT NULL,
    period INTEGER NOT NULL,
    ts BIGINT NOT NULL,
    count DOUBLE PRECISION NOT NULL,
    sum DOUBLE PRECISION NOT NULL,
    min DOUBLE PRECISION NOT NULL,
    max DOUBLE PRECISION NOT NULL,
    hist TEXT NOT NULL,
    unit TEXT NOT NULL,
    PRIMARY KEY (namespace, metric, dims, period, ts)
);
CREATE INDEX IF NOT EXISTS metric_data_age ON metric_data (period, ts);
CREATE TABLE IF NOT EXISTS metric_catalog (
    namespace TEXT COLLATE "C" NOT NULL,
    metric TEXT COLLATE "C" NOT NULL,
    dims TEXT COLLATE "C" NOT NULL,
    last_s BIGINT NOT NULL,
    PRIMARY KEY (namespace, metric, dims)
);
"""

_LONGEST = 3600     # the coarsest period: pruning it prunes the catalog too


class PostgresMetricData:
    def __init__(self, database: Database) -> None:
        self._database = database

    def merge(self, points: Iterable[MetricPoint], periods: Iterable[int]) -> None:
        periods = tuple(periods)
        rows: dict[tuple[str, str, str, int, int], MetricPoint] = {}
        seen: dict[tuple[str, str, str], int] = {}      # the catalog's last times
        for p in points:
            seen[(p.namespace, p.metric, p.dims)] = max(seen.get((p.namespace, p.metric, p.dims), p.ts), p.ts)
            for period in periods:
                key = (p.namespace, p.metric, p.dims, period, p.ts // period * period)
                rows[key] = _added(rows[key], p) if key in rows else p
        with self._database.tx() as db:
            for key in sorted(rows):
                p = rows[key]
                old = db.execute("SELECT count, sum, min, max, hist, unit FROM metric_data WHERE namespace = %s "
                                 "AND metric = %s AND dims = %s AND period = %s AND ts = %s FOR UPDATE", key).fetchone()
                if old is not None:
                    p = _added(MetricPoint(p.namespace, p.metric, p.dims, p.ts, old[0], old[1], old[2], old[3],
                                           {int(k): n for k, n in json.loads(old[4]).items()}, old[5]), p)
                db.execute("INSERT INTO metric_data VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                           "ON CONFLICT (namespace, metric, dims, period, ts) DO UPDATE SET count = excluded.count, "
                           "sum = excluded.sum, min = excluded.min, max = excluded.max, hist = excluded.hist, "
                           "unit = excluded.unit", (*key, p.count, p.sum, p.min, p.max, json.dumps(p.hist), p.unit))
            for (namespace, metric, dims), last in sorted(seen.items()):
                db.execute("INSERT INTO metric_catalog VALUES (%s, %s, %s, %s) ON CONFLICT (namespace, metric, dims) "
                           "DO UPDATE SET last_s = GREATEST(metric_catalog.last_s, excluded.last_s)",
                           (namespace, metric, dims, last))

    def read(self, namespace: str, metric: str, dims: str, period: int, start_s: int,
             end_s: int) -> list[MetricPoint]:
        rows = self._database.all(
            "SELECT ts, count, sum, min, max, hist, unit FROM metric_data WHERE namespace = %s AND metric = %s "
            "AND dims = %s AND period = %s AND ts >= %s AND ts < %s ORDER BY ts",
            (namespace, metric, dims, period, start_s, end_s))
        return [MetricPoint(namespace, metric, dims, int(ts), count, total, low, high,
                            {int(k): n for k, n in json.loads(hist).items()}, unit)
                for ts, count, total, low, high, hist, unit in rows]

    def read_many(self, namespace: str, metrics: Sequence[str], dims: Sequence[str], period: int, start_s: int,
                  end_s: int) -> list[MetricPoint]:
        sql, args = read_many_query(namespace, metrics, dims, period, start_s, end_s, "%s")
        if not args:
            return []
        return [MetricPoint(namespace, metric, key, int(ts), count, total, low, high,
                            {int(k): n for k, n in json.loads(hist).items()}, unit)
                for metric, key, ts, count, total, low, high, hist, unit in self._database.all(sql, args)]

    def catalog(self, namespace: str | None, metric: str | None, since_s: int) -> list[tuple[str, str, str, int]]:
        sql, args = catalog_query(namespace, metric, since_s, "%s")
        return [(r[0], r[1], r[2], int(r[3])) for r in self._database.all(sql, args)]

    def prune(self, period: int, before_s: int) -> int:
        with self._database.tx() as db:
            n = db.execute("DELETE FROM metric_data WHERE period = %s AND ts < %s", (period, before_s)).rowcount
            if period == _LONGEST:
                db.execute("DELETE FROM metric_catalog WHERE last_s < %s", (before_s,))
            return int(n)

    def quick_check(self, budget_s: float) -> bool:
        return True

    def close(self) -> None:
        pass        # the pool is the store's


def _added(a: MetricPoint, b: MetricPoint) -> MetricPoint:
    """``a``'s statistics with ``b``'s added (``a``'s time); a unit given wins over "None"."""
    hist = dict(a.hist)
    for k, n in b.hist.items():
        hist[k] = hist.get(k, 0.0) + n
    return MetricPoint(a.namespace, a.metric, a.dims, a.ts, a.count + b.count, a.sum + b.sum, min(a.min, b.min),
                       max(a.max, b.max), hist, b.unit if b.unit != "None" else a.unit)
