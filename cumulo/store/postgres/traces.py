"""X-Ray's segments on PostgreSQL (``ports.TraceSegments``): what SQLite keeps in ``traces.db``, in
the cluster's database, so a trace recorded on one node is read on any (docs/scale-out.md).

The same tables and columns as ``store/sqlite_messages/traces.py``. Two nodes putting segments of
one trace at once meet on its ``trace`` row, widened in place (``LEAST``/``GREATEST``).
"""

from __future__ import annotations

from typing import Iterable

from cumulo.store.postgres.database import Database

__all__ = ["PostgresTraceSegments", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS trace (
    trace_id TEXT COLLATE "C" PRIMARY KEY,
    first_start DOUBLE PRECISION NOT NULL,
    last_end DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS trace_start ON trace (first_start, trace_id);
CREATE INDEX IF NOT EXISTS trace_end ON trace (last_end);
CREATE TABLE IF NOT EXISTS segment (
    trace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (trace_id, id)
);
"""


class PostgresTraceSegments:
    def __init__(self, database: Database) -> None:
        self._database = database

    def put(self, segments: Iterable[tuple[str, str, float, float, str]]) -> None:
        rows = sorted(segments, key=lambda s: (s[0], s[1]))      # rows locked in one order by every node
        with self._database.tx() as db:
            for trace_id, segment_id, start, end, doc in rows:
                db.execute("INSERT INTO segment VALUES (%s, %s, %s) ON CONFLICT (trace_id, id) DO UPDATE SET "
                           "doc = excluded.doc", (trace_id, segment_id, doc))
                db.execute("INSERT INTO trace VALUES (%s, %s, %s) ON CONFLICT (trace_id) DO UPDATE SET "
                           "first_start = LEAST(trace.first_start, excluded.first_start), "
                           "last_end = GREATEST(trace.last_end, excluded.last_end)", (trace_id, start, end))

    def traces(self, start: float, end: float, after: str, limit: int) -> list[tuple[str, float, float]]:
        if after:
            row = self._database.one("SELECT first_start FROM trace WHERE trace_id = %s", (after,))
            if row is not None:
                return [(r[0], r[1], r[2]) for r in self._database.all(
                    "SELECT trace_id, first_start, last_end FROM trace WHERE first_start < %s AND "
                    "(first_start, trace_id) > (%s, %s) ORDER BY first_start, trace_id LIMIT %s",
                    (end, row[0], after, limit))]
        return [(r[0], r[1], r[2]) for r in self._database.all(
            "SELECT trace_id, first_start, last_end FROM trace WHERE first_start >= %s AND first_start < %s "
            "ORDER BY first_start, trace_id LIMIT %s", (start, end, limit))]

    def segments(self, trace_ids: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for trace_id in trace_ids:
            rows = self._database.all("SELECT doc FROM segment WHERE trace_id = %s ORDER BY id", (trace_id,))
            if rows:
                out[trace_id] = [r[0] for r in rows]
        return out

    def prune(self, before: float) -> int:
        with self._database.tx() as db:
            old = [r[0] for r in db.execute("DELETE FROM trace WHERE last_end < %s RETURNING trace_id", (before,))]
            if old:
                db.execute("DELETE FROM segment WHERE trace_id = ANY(%s)", (old,))
            return len(old)

    def quick_check(self, budget_s: float) -> bool:
        return True

    def close(self) -> None:
        pass        # the pool is the store's
