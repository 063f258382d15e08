"""Stream records and consumers' checkpoints on PostgreSQL (``ports.StreamRecords``).

A shard's sequence numbers are assigned under an advisory lock on the stream, so appends from
several nodes never take the same number."""

from __future__ import annotations

import json
from typing import Any

from cumulo.store.ports import Wakeups, stream_topic
from cumulo.store.postgres.database import Database

__all__ = ["PostgresStreamRecords", "SCHEMA", "append_records"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    stream TEXT NOT NULL,
    shard INTEGER NOT NULL,
    seq BIGINT NOT NULL,
    partition_key TEXT NOT NULL,
    data BYTEA NOT NULL,
    arrival_ms BIGINT NOT NULL,
    PRIMARY KEY (stream, shard, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL,
    shard TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (consumer, shard)
);
"""


def append_records(db: Any, stream: str, records: list[tuple[int, str, bytes]], now_ms: int) -> list[int]:
    """Append within the caller's transaction; each record's seq."""
    db.execute("SELECT pg_advisory_xact_lock(hashtext('stream:' || %s))", (stream,))
    out = []
    last: dict[int, int] = {}
    for shard, key, data in records:
        if shard not in last:
            row = db.execute("SELECT MAX(seq) FROM records WHERE stream = %s AND shard = %s", (stream, shard)).fetchone()
            last[shard] = int(row[0] or 0)
        last[shard] += 1
        db.execute("INSERT INTO records VALUES (%s, %s, %s, %s, %s, %s)", (stream, shard, last[shard], key, data, now_ms))
        out.append(last[shard])
    return out


class PostgresStreamRecords:
    def __init__(self, database: Database, wakeups: Wakeups) -> None:
        self._database, self._tx = database, database.tx
        self._wakeups = wakeups

    def create_stream(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            return db.execute("INSERT INTO streams (name, doc) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING "
                              "RETURNING name", (name, json.dumps(doc))).fetchone() is not None

    def get_stream(self, name: str) -> dict[str, Any] | None:
        row = self._database.one("SELECT doc FROM streams WHERE name = %s", (name,))
        return json.loads(row[0]) if row else None

    def list_streams(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._database.all("SELECT doc FROM streams ORDER BY name COLLATE \"C\"")]

    def delete_stream(self, name: str) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM streams WHERE name = %s", (name,)).rowcount > 0
            db.execute("DELETE FROM records WHERE stream = %s", (name,))
            return gone

    def put_records(self, stream: str, records: list[tuple[int, str, bytes]], now_ms: int) -> list[int]:
        with self._tx() as db:
            out = append_records(db, stream, records, now_ms)
        self._wakeups.notify(stream_topic(stream))
        return out

    def read_records(self, stream: str, shard: int, after_seq: int, limit: int) -> list[tuple[int, str, bytes, int]]:
        return [(int(r[0]), r[1], bytes(r[2]), int(r[3])) for r in self._database.all(
            "SELECT seq, partition_key, data, arrival_ms FROM records WHERE stream = %s AND shard = %s AND seq > %s "
            "ORDER BY seq LIMIT %s", (stream, shard, after_seq, limit))]

    def shard_bounds(self, stream: str, shard: int) -> tuple[int, int]:
        row = self._database.one("SELECT MIN(seq), MAX(seq) FROM records WHERE stream = %s AND shard = %s",
                                 (stream, shard))
        return int(row[0] or 0), int(row[1] or 0)

    def seq_at(self, stream: str, shard: int, timestamp_ms: int) -> int:
        row = self._database.one("SELECT MIN(seq) FROM records WHERE stream = %s AND shard = %s AND arrival_ms >= %s",
                                 (stream, shard, timestamp_ms))
        if row[0] is None:
            return self.shard_bounds(stream, shard)[1]
        return int(row[0]) - 1

    def trim_records(self, stream: str, before_ms: int) -> int:
        with self._tx() as db:
            return int(db.execute(
                "DELETE FROM records WHERE stream = %s AND arrival_ms < %s AND seq < (SELECT MAX(r.seq) FROM records r "
                "WHERE r.stream = records.stream AND r.shard = records.shard)", (stream, before_ms)).rowcount)

    def get_checkpoint(self, consumer: str, shard: str) -> int | None:
        row = self._database.one("SELECT seq FROM checkpoints WHERE consumer = %s AND shard = %s", (consumer, shard))
        return int(row[0]) if row else None

    def set_checkpoint(self, consumer: str, shard: str, seq: int) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO checkpoints VALUES (%s, %s, %s) ON CONFLICT (consumer, shard) "
                       "DO UPDATE SET seq = excluded.seq", (consumer, shard, seq))

    def delete_checkpoints(self, consumer: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM checkpoints WHERE consumer = %s", (consumer,))
