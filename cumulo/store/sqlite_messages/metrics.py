"""Metric data on SQLite (``ports.MetricData``), in a file of its own (``metrics.db``).

One row per (namespace, metric, dimensions, period, period's start); a merge reads the row, adds
the new statistics and writes it back, in one transaction per flush.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

from cumulo.store.ports import MetricPoint
from cumulo.store.sqlite_messages.database import MessageDatabase

__all__ = ["SQLiteMetricData", "SCHEMA", "catalog_query", "read_many_query", "MAX_READ_MANY"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_data (
    namespace TEXT NOT NULL,
    metric TEXT NOT NULL,
    dims TEXT NOT NULL,
    period INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    count REAL NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    hist TEXT NOT NULL,
    unit TEXT NOT NULL,
    PRIMARY KEY (namespace, metric, dims, period, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS metric_data_age ON metric_data (period, ts);
CREATE TABLE IF NOT EXISTS metric_catalog (
    namespace TEXT NOT NULL,
    metric TEXT NOT NULL,
    dims TEXT NOT NULL,
    last_s INTEGER NOT NULL,
    PRIMARY KEY (namespace, metric, dims)
) WITHOUT ROWID;
"""


class SQLiteMetricData:
    def __init__(self, path: Path, durability: str = "normal") -> None:
        self.database = MessageDatabase(path, SCHEMA, durability)
        self.path = path

    def merge(self, points: Iterable[MetricPoint], periods: Iterable[int]) -> None:
        periods = tuple(periods)
        with self.database.tx() as db:
            for p in points:
                for period in periods:
                    ts = p.ts // period * period
                    row = db.execute("SELECT count, sum, min, max, hist, unit FROM metric_data WHERE namespace = ? "
                                     "AND metric = ? AND dims = ? AND period = ? AND ts = ?",
                                     (p.namespace, p.metric, p.dims, period, ts)).fetchone()
                    count, total, low, high, hist, unit = p.count, p.sum, p.min, p.max, dict(p.hist), p.unit
                    if row is not None:
                        count, total = count + row[0], total + row[1]
                        low, high = min(low, row[2]), max(high, row[3])
                        for k, n in json.loads(row[4]).items():
                            hist[int(k)] = hist.get(int(k), 0.0) + n
                        unit = unit if unit != "None" else row[5]
                    db.execute("INSERT OR REPLACE INTO metric_data VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (p.namespace, p.metric, p.dims, period, ts, count, total, low, high,
                                json.dumps(hist), unit))
                db.execute("INSERT INTO metric_catalog VALUES (?, ?, ?, ?) ON CONFLICT (namespace, metric, dims) "
                           "DO UPDATE SET last_s = max(last_s, excluded.last_s)",
                           (p.namespace, p.metric, p.dims, p.ts))

    def read(self, namespace: str, metric: str, dims: str, period: int, start_s: int,
             end_s: int) -> list[MetricPoint]:
        with self.database.lock:
            rows = self.database.connection.execute(
                "SELECT ts, count, sum, min, max, hist, unit FROM metric_data WHERE namespace = ? AND metric = ? "
                "AND dims = ? AND period = ? AND ts >= ? AND ts < ? ORDER BY ts",
                (namespace, metric, dims, period, start_s, end_s)).fetchall()
        return [MetricPoint(namespace, metric, dims, ts, count, total, low, high,
                            {int(k): n for k, n in json.loads(hist).items()}, unit)
                for ts, count, total, low, high, hist, unit in rows]

    def read_many(self, namespace: str, metrics: Sequence[str], dims: Sequence[str], period: int, start_s: int,
                  end_s: int) -> list[MetricPoint]:
        sql, args = read_many_query(namespace, metrics, dims, period, start_s, end_s, "?")
        if not args:
            return []
        with self.database.lock:
            rows = self.database.connection.execute(sql, args).fetchall()
        return [MetricPoint(namespace, metric, key, ts, count, total, low, high,
                            {int(k): n for k, n in json.loads(hist).items()}, unit)
                for metric, key, ts, count, total, low, high, hist, unit in rows]

    def catalog(self, namespace: str | None, metric: str | None, since_s: int) -> list[tuple[str, str, str, int]]:
        sql, args = catalog_query(namespace, metric, since_s, "?")
        with self.database.lock:
            return [tuple(r) for r in self.database.connection.execute(sql, args)]  # type: ignore[misc]

    def prune(self, period: int, before_s: int) -> int:
        with self.database.tx() as db:
            n = db.execute("DELETE FROM metric_data WHERE period = ? AND ts < ?", (period, before_s)).rowcount
            if period == max(_PERIODS):
                db.execute("DELETE FROM metric_catalog WHERE last_s < ?", (before_s,))
            return n

    def quick_check(self, budget_s: float) -> bool:
        return self.database.quick_check(budget_s)

    def close(self) -> None:
        self.database.close()


_PERIODS = (1, 60, 300, 3600)


MAX_READ_MANY = 500     # (metric, dims) pairs in one read_many: well under both drivers' parameter limits


def read_many_query(namespace: str, metrics: Sequence[str], dims: Sequence[str], period: int, start_s: int,
                    end_s: int, mark: str) -> tuple[str, list[object]]:
    """``read_many``'s query and its arguments (none: nothing to read), for both backends: IN lists
    on the primary key's leading columns, so each pair is an index seek."""
    metrics, dims = list(dict.fromkeys(metrics)), list(dict.fromkeys(dims))
    if not metrics or not dims:
        return "", []
    if len(metrics) * len(dims) > MAX_READ_MANY:
        raise ValueError(f"read_many reads at most {MAX_READ_MANY} series at once")
    sql = (f"SELECT metric, dims, ts, count, sum, min, max, hist, unit FROM metric_data WHERE namespace = {mark} "
           f"AND metric IN ({', '.join([mark] * len(metrics))}) AND dims IN ({', '.join([mark] * len(dims))}) "
           f"AND period = {mark} AND ts >= {mark} AND ts < {mark} ORDER BY metric, dims, ts")
    return sql, [namespace, *metrics, *dims, period, start_s, end_s]


def catalog_query(namespace: str | None, metric: str | None, since_s: int, mark: str) -> tuple[str, list[object]]:
    """``catalog``'s query and its arguments (``mark``: the driver's placeholder), for both backends."""
    sql = f"SELECT namespace, metric, dims, last_s FROM metric_catalog WHERE last_s >= {mark}"
    args: list[object] = [since_s]
    if namespace is not None:
        sql += f" AND namespace = {mark}"
        args.append(namespace)
    if metric is not None:
        sql += f" AND metric = {mark}"
        args.append(metric)
    return sql + " ORDER BY 1, 2, 3", args
