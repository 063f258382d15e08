"""X-Ray's segments on SQLite (``ports.TraceSegments``), in a file of their own (``traces.db``).

One row per segment (subsegments sent on their own too) and one per trace with its first start and
last end, which the time-range reads and the retention use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from cumulo.store.sqlite_messages.database import MessageDatabase

__all__ = ["SQLiteTraceSegments", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS trace (
    trace_id TEXT PRIMARY KEY,
    first_start REAL NOT NULL,
    last_end REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_start ON trace (first_start, trace_id);
CREATE INDEX IF NOT EXISTS trace_end ON trace (last_end);
CREATE TABLE IF NOT EXISTS segment (
    trace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (trace_id, id)
) WITHOUT ROWID;
"""


class SQLiteTraceSegments:
    def __init__(self, path: Path, durability: str = "normal") -> None:
        self.database = MessageDatabase(path, SCHEMA, durability)
        self.path = path

    def put(self, segments: Iterable[tuple[str, str, float, float, str]]) -> None:
        with self.database.tx() as db:
            for trace_id, segment_id, start, end, doc in segments:
                db.execute("INSERT OR REPLACE INTO segment VALUES (?, ?, ?)", (trace_id, segment_id, doc))
                db.execute("INSERT INTO trace VALUES (?, ?, ?) ON CONFLICT (trace_id) DO UPDATE SET "
                           "first_start = min(first_start, excluded.first_start), "
                           "last_end = max(last_end, excluded.last_end)", (trace_id, start, end))

    def traces(self, start: float, end: float, after: str, limit: int) -> list[tuple[str, float, float]]:
        with self.database.lock:
            if after:
                row = self.database.connection.execute(
                    "SELECT first_start FROM trace WHERE trace_id = ?", (after,)).fetchone()
                if row is not None:
                    return [tuple(r) for r in self.database.connection.execute(  # type: ignore[misc]
                        "SELECT trace_id, first_start, last_end FROM trace WHERE first_start < ? AND "
                        "(first_start, trace_id) > (?, ?) ORDER BY first_start, trace_id LIMIT ?",
                        (end, row[0], after, limit))]
            return [tuple(r) for r in self.database.connection.execute(  # type: ignore[misc]
                "SELECT trace_id, first_start, last_end FROM trace WHERE first_start >= ? AND first_start < ? "
                "ORDER BY first_start, trace_id LIMIT ?", (start, end, limit))]

    def segments(self, trace_ids: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        with self.database.lock:
            for trace_id in trace_ids:
                rows = self.database.connection.execute(
                    "SELECT doc FROM segment WHERE trace_id = ? ORDER BY id", (trace_id,)).fetchall()
                if rows:
                    out[trace_id] = [r[0] for r in rows]
        return out

    def prune(self, before: float) -> int:
        with self.database.tx() as db:
            old = [r[0] for r in db.execute("SELECT trace_id FROM trace WHERE last_end < ?", (before,))]
            for trace_id in old:
                db.execute("DELETE FROM segment WHERE trace_id = ?", (trace_id,))
                db.execute("DELETE FROM trace WHERE trace_id = ?", (trace_id,))
            return len(old)

    def quick_check(self, budget_s: float) -> bool:
        return self.database.quick_check(budget_s)

    def close(self) -> None:
        self.database.close()
