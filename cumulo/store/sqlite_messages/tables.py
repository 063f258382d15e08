"""Tables' items on SQLite (``ports.TableItems``), in the message database beside stream records.

One row per item, keyed by (table, pk, sk) — the key attributes as sortable bytes (the service
encodes them, ``tables/values.key_bytes``), so a Query is a range of the primary key and never a
scan. A secondary index is rows (table, index, index pk, index sk, pk, sk) pointing at the item.
Items live in the same file as stream records, so an item's change and its stream record are one
transaction (nothing is lost, or recorded twice, across ``kill -9``).
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from cumulo.store.ports import Wakeups, stream_topic
from cumulo.store.sqlite_messages.database import MessageDatabase

__all__ = ["SQLiteTableItems", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS ddb_tables (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ddb_items (
    tbl TEXT NOT NULL,
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    seg INTEGER NOT NULL,
    expires INTEGER,
    item TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ddb_items_expiry ON ddb_items (tbl, expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS ddb_index (
    tbl TEXT NOT NULL,
    idx TEXT NOT NULL,
    ipk BLOB NOT NULL,
    isk BLOB NOT NULL,
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    PRIMARY KEY (tbl, idx, ipk, isk, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ddb_index_item ON ddb_index (tbl, pk, sk);
"""

Position = tuple[bytes, ...]


def _segment(pk: bytes) -> int:
    return zlib.crc32(pk) & 0xFFFF


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.topics: set[str] = set()

    def get(self, table: str, pk: bytes, sk: bytes) -> str | None:
        row = self.db.execute("SELECT item FROM ddb_items WHERE tbl = ? AND pk = ? AND sk = ?",
                              (table, pk, sk)).fetchone()
        return row[0] if row else None

    def put(self, table: str, pk: bytes, sk: bytes, item: str, expires: int | None = None,
            index_keys: Iterable[tuple[str, bytes, bytes]] | None = ()) -> None:
        self.db.execute("INSERT OR REPLACE INTO ddb_items (tbl, pk, sk, seg, expires, item) VALUES (?, ?, ?, ?, ?, ?)",
                        (table, pk, sk, _segment(pk), expires, item))
        if index_keys is None:
            return
        self.db.execute("DELETE FROM ddb_index WHERE tbl = ? AND pk = ? AND sk = ?", (table, pk, sk))
        self.db.executemany("INSERT OR IGNORE INTO ddb_index VALUES (?, ?, ?, ?, ?, ?)",
                            [(table, idx, ipk, isk, pk, sk) for idx, ipk, isk in index_keys])

    def delete(self, table: str, pk: bytes, sk: bytes) -> bool:
        gone = self.db.execute("DELETE FROM ddb_items WHERE tbl = ? AND pk = ? AND sk = ?", (table, pk, sk)).rowcount
        self.db.execute("DELETE FROM ddb_index WHERE tbl = ? AND pk = ? AND sk = ?", (table, pk, sk))
        return gone > 0

    def append_record(self, stream: str, partition_key: str, data: bytes, now_ms: int) -> int:
        row = self.db.execute("SELECT MAX(seq) FROM records WHERE stream = ? AND shard = 0", (stream,)).fetchone()
        seq = int(row[0] or 0) + 1
        self.db.execute("INSERT INTO records VALUES (?, 0, ?, ?, ?, ?)", (stream, seq, partition_key, data, now_ms))
        self.topics.add(stream_topic(stream))
        return seq


class SQLiteTableItems:
    def __init__(self, database: MessageDatabase, wakeups: Wakeups) -> None:
        self._lock, self._db, self._tx = database.lock, database.connection, database.tx
        self._wakeups = wakeups

    # -- tables ----------------------------------------------------------------------------------
    def create_table(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM ddb_tables WHERE name = ?", (name,)).fetchone():
                return False
            db.execute("INSERT INTO ddb_tables VALUES (?, ?)", (name, json.dumps(doc)))
            return True

    def get_table(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM ddb_tables WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_table(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE ddb_tables SET doc = ? WHERE name = ?", (json.dumps(doc), name)).rowcount > 0

    def list_tables(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM ddb_tables ORDER BY name")]

    def delete_table(self, name: str) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM ddb_tables WHERE name = ?", (name,)).rowcount > 0
            db.execute("DELETE FROM ddb_items WHERE tbl = ?", (name,))
            db.execute("DELETE FROM ddb_index WHERE tbl = ?", (name,))
            return gone

    def delete_index(self, table: str, index: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM ddb_index WHERE tbl = ? AND idx = ?", (table, index))

    # -- items -----------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self._tx() as db:
            tx = _Transaction(db)
            yield tx
        if tx.topics:
            self._wakeups.notify(*tx.topics)

    def get(self, table: str, pk: bytes, sk: bytes) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT item FROM ddb_items WHERE tbl = ? AND pk = ? AND sk = ?",
                                   (table, pk, sk)).fetchone()
        return row[0] if row else None

    def query(self, table: str, index: str, pk: bytes, low: tuple[bytes, bool] | None,
              high: tuple[bytes, bool] | None, forward: bool, after: Position | None,
              limit: int) -> list[tuple[Position, str]]:
        order = "ASC" if forward else "DESC"
        if not index:
            sql = "SELECT sk, item FROM ddb_items WHERE tbl = ? AND pk = ?"
            args: list[Any] = [table, pk]
            col = "sk"
        else:
            sql = ("SELECT i.isk, i.pk, i.sk, t.item FROM ddb_index i JOIN ddb_items t "
                   "ON t.tbl = i.tbl AND t.pk = i.pk AND t.sk = i.sk WHERE i.tbl = ? AND i.idx = ? AND i.ipk = ?")
            args = [table, index, pk]
            col = "i.isk"
        if low is not None:
            sql += f" AND {col} {'>=' if low[1] else '>'} ?"
            args.append(low[0])
        if high is not None:
            sql += f" AND {col} {'<=' if high[1] else '<'} ?"
            args.append(high[0])
        if after is not None:
            cmp = ">" if forward else "<"
            if not index:
                sql += f" AND sk {cmp} ?"
                args.append(after[0])
            else:
                sql += f" AND (i.isk, i.pk, i.sk) {cmp} (?, ?, ?)"
                args.extend(after[:3])
        sql += (f" ORDER BY sk {order}" if not index else f" ORDER BY i.isk {order}, i.pk {order}, i.sk {order}")
        sql += " LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        if not index:
            return [((r[0],), r[1]) for r in rows]          # BLOB columns come back as bytes
        return [((r[0], r[1], r[2]), r[3]) for r in rows]

    def scan(self, table: str, index: str, after: Position | None, limit: int, segment: int = 0,
             segments: int = 1) -> list[tuple[Position, str]]:
        args: list[Any]
        if not index:
            sql = "SELECT pk, sk, item FROM ddb_items WHERE tbl = ?"
            args = [table]
            if after is not None:
                sql += " AND (pk, sk) > (?, ?)"
                args.extend(after[:2])
            if segments > 1:
                sql += " AND (seg * ?) >> 16 = ?"
                args.extend([segments, segment])
            sql += " ORDER BY pk, sk LIMIT ?"
        else:
            sql = ("SELECT i.ipk, i.isk, i.pk, i.sk, t.item FROM ddb_index i JOIN ddb_items t "
                   "ON t.tbl = i.tbl AND t.pk = i.pk AND t.sk = i.sk WHERE i.tbl = ? AND i.idx = ?")
            args = [table, index]
            if after is not None:
                sql += " AND (i.ipk, i.isk, i.pk, i.sk) > (?, ?, ?, ?)"
                args.extend(after[:4])
            if segments > 1:
                sql += " AND (t.seg * ?) >> 16 = ?"
                args.extend([segments, segment])
            sql += " ORDER BY i.ipk, i.isk, i.pk, i.sk LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [(tuple(bytes(c) for c in r[:-1]), r[-1]) for r in rows]

    def stats(self, table: str) -> tuple[int, int]:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(item)), 0) FROM ddb_items WHERE tbl = ?",
                                   (table,)).fetchone()
        return int(row[0]), int(row[1])

    def expired(self, table: str, now_s: int, limit: int) -> list[tuple[bytes, bytes, str]]:
        with self._lock:
            return [(bytes(r[0]), bytes(r[1]), r[2]) for r in self._db.execute(
                "SELECT pk, sk, item FROM ddb_items WHERE tbl = ? AND expires IS NOT NULL AND expires <= ? "
                "ORDER BY expires LIMIT ?", (table, now_s, limit))]
