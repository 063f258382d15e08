"""Tables' items on PostgreSQL (``ports.TableItems``), beside stream records (as on SQLite: ``store/sqlite_messages/tables.py``).

One row per item, keyed by (table, pk, sk) — the key attributes as sortable bytes (the service
encodes them, ``tables/values.key_bytes``), so a Query is a range of the primary key and never a
scan. A secondary index is rows (table, index, index pk, index sk, pk, sk) pointing at the item.
Items live in the same file as stream records, so an item's change and its stream record are one
transaction (nothing is lost, or recorded twice, across ``kill -9``).
"""

from __future__ import annotations

import json
import zlib
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from cumulo.store.ports import Wakeups, stream_topic
from cumulo.store.postgres.database import Database
from cumulo.store.postgres.streams import append_records

__all__ = ["PostgresTableItems", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS ddb_tables (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ddb_items (
    tbl TEXT NOT NULL,
    pk BYTEA NOT NULL,
    sk BYTEA NOT NULL,
    seg INTEGER NOT NULL,
    expires BIGINT,
    item TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
);
CREATE INDEX IF NOT EXISTS ddb_items_expiry ON ddb_items (tbl, expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS ddb_index (
    tbl TEXT NOT NULL,
    idx TEXT NOT NULL,
    ipk BYTEA NOT NULL,
    isk BYTEA NOT NULL,
    pk BYTEA NOT NULL,
    sk BYTEA NOT NULL,
    PRIMARY KEY (tbl, idx, ipk, isk, pk, sk)
);
CREATE INDEX IF NOT EXISTS ddb_index_item ON ddb_index (tbl, pk, sk);
"""

Position = tuple[bytes, ...]


def _segment(pk: bytes) -> int:
    return zlib.crc32(pk) & 0xFFFF


class _Transaction:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.topics: set[str] = set()

    def get(self, table: str, pk: bytes, sk: bytes) -> str | None:
        row = self.db.execute("SELECT item FROM ddb_items WHERE tbl = %s AND pk = %s AND sk = %s",
                              (table, pk, sk)).fetchone()
        return row[0] if row else None

    def put(self, table: str, pk: bytes, sk: bytes, item: str, expires: int | None = None,
            index_keys: Iterable[tuple[str, bytes, bytes]] | None = ()) -> None:
        self.db.execute("INSERT INTO ddb_items (tbl, pk, sk, seg, expires, item) VALUES (%s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (tbl, pk, sk) DO UPDATE SET seg = excluded.seg, expires = excluded.expires, "
                        "item = excluded.item",
                        (table, pk, sk, _segment(pk), expires, item))
        if index_keys is None:
            return
        self.db.execute("DELETE FROM ddb_index WHERE tbl = %s AND pk = %s AND sk = %s", (table, pk, sk))
        rows = [(table, idx, ipk, isk, pk, sk) for idx, ipk, isk in index_keys]
        if rows:
            with self.db.cursor() as cur:
                cur.executemany("INSERT INTO ddb_index VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)

    def delete(self, table: str, pk: bytes, sk: bytes) -> bool:
        gone = self.db.execute("DELETE FROM ddb_items WHERE tbl = %s AND pk = %s AND sk = %s", (table, pk, sk)).rowcount
        self.db.execute("DELETE FROM ddb_index WHERE tbl = %s AND pk = %s AND sk = %s", (table, pk, sk))
        return gone > 0

    def append_record(self, stream: str, partition_key: str, data: bytes, now_ms: int) -> int:
        seq = append_records(self.db, stream, [(0, partition_key, data)], now_ms)[0]
        self.topics.add(stream_topic(stream))
        return seq


class PostgresTableItems:
    def __init__(self, database: Database, wakeups: Wakeups) -> None:
        self._database, self._tx = database, database.tx
        self._wakeups = wakeups

    # -- tables ----------------------------------------------------------------------------------
    def create_table(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            return db.execute("INSERT INTO ddb_tables VALUES (%s, %s) ON CONFLICT (name) DO NOTHING RETURNING name",
                              (name, json.dumps(doc))).fetchone() is not None

    def get_table(self, name: str) -> dict[str, Any] | None:
        with self._database.connection() as db:
            row = db.execute("SELECT doc FROM ddb_tables WHERE name = %s", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_table(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE ddb_tables SET doc = %s WHERE name = %s", (json.dumps(doc), name)).rowcount > 0

    def list_tables(self) -> list[str]:
        return [r[0] for r in self._database.all('SELECT name FROM ddb_tables ORDER BY name COLLATE "C"')]

    def delete_table(self, name: str) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM ddb_tables WHERE name = %s", (name,)).rowcount > 0
            db.execute("DELETE FROM ddb_items WHERE tbl = %s", (name,))
            db.execute("DELETE FROM ddb_index WHERE tbl = %s", (name,))
            return gone

    def delete_index(self, table: str, index: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM ddb_index WHERE tbl = %s AND idx = %s", (table, index))

    # -- items -----------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self._tx() as db:
            tx = _Transaction(db)
            yield tx
        if tx.topics:
            self._wakeups.notify(*tx.topics)

    def get(self, table: str, pk: bytes, sk: bytes) -> str | None:
        with self._database.connection() as db:
            row = db.execute("SELECT item FROM ddb_items WHERE tbl = %s AND pk = %s AND sk = %s",
                                   (table, pk, sk)).fetchone()
        return row[0] if row else None

    def query(self, table: str, index: str, pk: bytes, low: tuple[bytes, bool] | None,
              high: tuple[bytes, bool] | None, forward: bool, after: Position | None,
              limit: int) -> list[tuple[Position, str]]:
        order = "ASC" if forward else "DESC"
        if not index:
            sql = "SELECT sk, item FROM ddb_items WHERE tbl = %s AND pk = %s"
            args: list[Any] = [table, pk]
            col = "sk"
        else:
            sql = ("SELECT i.isk, i.pk, i.sk, t.item FROM ddb_index i JOIN ddb_items t "
                   "ON t.tbl = i.tbl AND t.pk = i.pk AND t.sk = i.sk WHERE i.tbl = %s AND i.idx = %s AND i.ipk = %s")
            args = [table, index, pk]
            col = "i.isk"
        if low is not None:
            sql += f" AND {col} {'>=' if low[1] else '>'} %s"
            args.append(low[0])
        if high is not None:
            sql += f" AND {col} {'<=' if high[1] else '<'} %s"
            args.append(high[0])
        if after is not None:
            cmp = ">" if forward else "<"
            if not index:
                sql += f" AND sk {cmp} %s"
                args.append(after[0])
            else:
                sql += f" AND (i.isk, i.pk, i.sk) {cmp} (%s, %s, %s)"
                args.extend(after[:3])
        sql += (f" ORDER BY sk {order}" if not index else f" ORDER BY i.isk {order}, i.pk {order}, i.sk {order}")
        sql += " LIMIT %s"
        args.append(limit)
        rows = self._database.all(sql, args)
        if not index:
            return [((bytes(r[0]),), r[1]) for r in rows]          # BYTEA columns come back as bytes
        return [((bytes(r[0]), bytes(r[1]), bytes(r[2])), r[3]) for r in rows]

    def scan(self, table: str, index: str, after: Position | None, limit: int, segment: int = 0,
             segments: int = 1) -> list[tuple[Position, str]]:
        args: list[Any]
        if not index:
            sql = "SELECT pk, sk, item FROM ddb_items WHERE tbl = %s"
            args = [table]
            if after is not None:
                sql += " AND (pk, sk) > (%s, %s)"
                args.extend(after[:2])
            if segments > 1:
                sql += " AND (seg * %s) >> 16 = %s"
                args.extend([segments, segment])
            sql += " ORDER BY pk, sk LIMIT %s"
        else:
            sql = ("SELECT i.ipk, i.isk, i.pk, i.sk, t.item FROM ddb_index i JOIN ddb_items t "
                   "ON t.tbl = i.tbl AND t.pk = i.pk AND t.sk = i.sk WHERE i.tbl = %s AND i.idx = %s")
            args = [table, index]
            if after is not None:
                sql += " AND (i.ipk, i.isk, i.pk, i.sk) > (%s, %s, %s, %s)"
                args.extend(after[:4])
            if segments > 1:
                sql += " AND (t.seg * %s) >> 16 = %s"
                args.extend([segments, segment])
            sql += " ORDER BY i.ipk, i.isk, i.pk, i.sk LIMIT %s"
        args.append(limit)
        rows = self._database.all(sql, args)
        return [(tuple(bytes(c) for c in r[:-1]), r[-1]) for r in rows]

    def stats(self, table: str) -> tuple[int, int]:
        with self._database.connection() as db:
            row = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(item)), 0) FROM ddb_items WHERE tbl = %s",
                                   (table,)).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def expired(self, table: str, now_s: int, limit: int) -> list[tuple[bytes, bytes, str]]:
        return [(bytes(r[0]), bytes(r[1]), r[2]) for r in self._database.all(
                "SELECT pk, sk, item FROM ddb_items WHERE tbl = %s AND expires IS NOT NULL AND expires <= %s "
                "ORDER BY expires LIMIT %s", (table, now_s, limit))]
