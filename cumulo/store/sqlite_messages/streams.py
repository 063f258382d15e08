"""Stream records and consumers' checkpoints on SQLite (``ports.StreamRecords``)."""

from __future__ import annotations

import json
from typing import Any

from cumulo.store.ports import Wakeups, stream_topic
from cumulo.store.sqlite_messages.database import MessageDatabase

__all__ = ["SQLiteStreamRecords", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    stream TEXT NOT NULL,
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    arrival_ms INTEGER NOT NULL,
    PRIMARY KEY (stream, shard, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL,
    shard TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (consumer, shard)
);
"""


class SQLiteStreamRecords:
    def __init__(self, database: MessageDatabase, wakeups: Wakeups) -> None:
        self._lock, self._db, self._tx = database.lock, database.connection, database.tx
        self._wakeups = wakeups

    def create_stream(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM streams WHERE name = ?", (name,)).fetchone():
                return False
            db.execute("INSERT INTO streams (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))
            return True

    def get_stream(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM streams WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_streams(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM streams ORDER BY name")]

    def delete_stream(self, name: str) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM streams WHERE name = ?", (name,)).rowcount > 0
            db.execute("DELETE FROM records WHERE stream = ?", (name,))
            return gone

    def put_records(self, stream: str, records: list[tuple[int, str, bytes]], now_ms: int) -> list[int]:
        out = []
        with self._tx() as db:
            last: dict[int, int] = {}
            for shard, key, data in records:
                if shard not in last:
                    row = db.execute("SELECT MAX(seq) FROM records WHERE stream = ? AND shard = ?",
                                     (stream, shard)).fetchone()
                    last[shard] = row[0] or 0
                last[shard] += 1
                db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                           (stream, shard, last[shard], key, data, now_ms))
                out.append(last[shard])
        self._wakeups.notify(stream_topic(stream))
        return out

    def read_records(self, stream: str, shard: int, after_seq: int, limit: int) -> list[tuple[int, str, bytes, int]]:
        with self._lock:
            return [(r[0], r[1], bytes(r[2]), r[3]) for r in self._db.execute(
                "SELECT seq, partition_key, data, arrival_ms FROM records WHERE stream = ? AND shard = ? AND seq > ? "
                "ORDER BY seq LIMIT ?", (stream, shard, after_seq, limit))]

    def shard_bounds(self, stream: str, shard: int) -> tuple[int, int]:
        with self._lock:
            row = self._db.execute("SELECT MIN(seq), MAX(seq) FROM records WHERE stream = ? AND shard = ?",
                                   (stream, shard)).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def seq_at(self, stream: str, shard: int, timestamp_ms: int) -> int:
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM records WHERE stream = ? AND shard = ? AND arrival_ms >= ?",
                                   (stream, shard, timestamp_ms)).fetchone()
        if row[0] is None:
            return self.shard_bounds(stream, shard)[1]
        return int(row[0]) - 1

    def trim_records(self, stream: str, before_ms: int) -> int:
        with self._tx() as db:
            return db.execute(
                "DELETE FROM records WHERE stream = ? AND arrival_ms < ? AND seq < (SELECT MAX(r.seq) FROM records r "
                "WHERE r.stream = records.stream AND r.shard = records.shard)", (stream, before_ms)).rowcount

    def get_checkpoint(self, consumer: str, shard: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT seq FROM checkpoints WHERE consumer = ? AND shard = ?",
                                   (consumer, shard)).fetchone()
        return int(row[0]) if row else None

    def set_checkpoint(self, consumer: str, shard: str, seq: int) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (consumer, shard, seq))

    def delete_checkpoints(self, consumer: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM checkpoints WHERE consumer = ?", (consumer,))
