"""``cumulo store migrate --to postgresql://…``: a SQLite store (a home's ``cumulo.db``,
``queues.db`` and code packages) copied into an empty PostgreSQL database.

Both backends have the same tables with the same columns (``store/sqlite.py`` and
``store/postgres/documents.py``; ``store/sqlite_messages/`` and ``store/postgres/``), so every
row is copied as it is, in one transaction: the database has all of it or nothing. Text that
PostgreSQL keeps as bytes (log lines) is encoded; the serial counters continue after the copied
rows; code packages (``<home>/code``, ``<home>/layers``) go into the ``code`` table, where every
node finds them, objects' body files (``<home>/objects``) into ``blobs`` under the same names, and
metric data and traces (``metrics.db``, ``traces.db``, when there are) into their tables.
Sealed values stay sealed with the same master key: give the nodes that key. The STS key is not
copied: sessions issued before the move are refused afterwards (clients ask for new ones).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from cumulo.model.function import Arns
from cumulo.store.postgres import Database, PostgresMessageStore, PostgresStore
from cumulo.store.postgres.bodies import CHUNK, insert

__all__ = ["migrate", "NotEmpty"]

_SERIALS = (("messages", "seq"), ("logs", "id"))
_BATCH = 1000


class NotEmpty(RuntimeError):
    pass


def migrate(home: Path, url: str) -> dict[str, int]:
    """Copy ``home``'s SQLite store into the database ``url``; rows copied per table."""
    files = [home / "cumulo.db", home / "queues.db"]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"no SQLite store to migrate: {', '.join(missing)} missing")
    database = Database(url)
    try:
        PostgresStore(url, Arns("us-east-1", "000000000000"), database=database).close()    # the tables
        PostgresMessageStore(url, database=database).close()
        copied: dict[str, int] = {}
        with database.tx() as db:
            busy = [t for t in ("functions", "queues", "documents", "messages", "executions", "ddb_tables", "buckets")
                    if db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]
            if busy:
                raise NotEmpty(f"{database.path} already holds a store ({', '.join(busy)}): migrate into an empty one")
            bytea = {(r[0], r[1]) for r in db.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type = 'bytea'")}
            tables = {r[0] for r in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
            for path in files + [p for p in (home / "metrics.db", home / "traces.db") if p.exists()]:
                source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    for (table,) in source.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                   "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall():
                        if table not in tables:
                            raise RuntimeError(f"{path}: table {table} has no counterpart in PostgreSQL")
                        copied[table] = _copy(source, db, table, bytea)
                finally:
                    source.close()
            for table, column in _SERIALS:
                db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                           f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)")
            packages = 0
            for folder in ("code", "layers"):
                for package in sorted((home / folder).glob("*.zip")):
                    db.execute("INSERT INTO code (hex, zip) VALUES (%s, %s) ON CONFLICT (hex) DO NOTHING",
                               (f"{folder}/{package.stem}", package.read_bytes()))
                    packages += 1
            copied["code packages"] = packages
            copied["object bodies"] = _copy_bodies(db, home / "objects")
            db.execute("UPDATE generation SET value = value + 1 WHERE one = 1")
        return copied
    finally:
        database.close()


def _copy_bodies(db: Any, root: Path) -> int:
    """Every body file under ``root`` (``objects/files.py``'s layout), a chunk at a time."""
    n = 0
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name == ".tmp" or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            with open(path, "rb") as f:
                insert(db, path.name, iter(lambda: f.read(CHUNK), b""))
            n += 1
    return n


def _copy(source: sqlite3.Connection, db: Any, table: str, bytea: set[tuple[str, str]]) -> int:
    columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
    encode = [(table, c) in bytea for c in columns]
    insert = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})")
    cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
    n = 0
    while rows := cursor.fetchmany(_BATCH):
        rows = [tuple(v.encode() if e and isinstance(v, str) else v for v, e in zip(row, encode)) for row in rows]
        with db.cursor() as cur:
            cur.executemany(insert, rows)
        n += len(rows)
    return n
