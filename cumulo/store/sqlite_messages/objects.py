"""S3 buckets, objects' metadata and multipart uploads on SQLite (``ports.ObjectIndex``).

Keys are TEXT compared with SQLite's BINARY collation: the order of their UTF-8 bytes, which is
S3's listing order. A write's outbox messages go into the ``messages`` table (``queues.py``) in
the write's own transaction, and their queues are notified after it commits.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cumulo.store.object_versions import COLUMNS as _COLUMNS
from cumulo.store.object_versions import Versions, prefix_bound
from cumulo.store.object_versions import row_of as _row
from cumulo.store.ports import NewMessage, ObjectRow, PartRow, Wakeups
from cumulo.store.sqlite_messages.database import RECHECK_S, MessageDatabase

__all__ = ["SQLiteObjectIndex", "SCHEMA", "upgrade"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    meta TEXT NOT NULL,
    version_id TEXT NOT NULL DEFAULT 'null',
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS object_versions (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    meta TEXT NOT NULL,
    marker INTEGER NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (bucket, key, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS object_versions_by_id ON object_versions (bucket, key, version_id);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    meta TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_bucket ON uploads (bucket, key);
CREATE TABLE IF NOT EXISTS parts (
    upload TEXT NOT NULL,
    number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    PRIMARY KEY (upload, number)
) WITHOUT ROWID;
"""



def upgrade(db: Any, found: int) -> None:
    """Bring a file of messages schema ``found`` (older) to this one's: version 2 added S3
    versioning (``objects.version_id``, ``object_versions``, which ``SCHEMA`` creates)."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(objects)")}
    if 0 < found < 2 and columns and "version_id" not in columns:
        db.execute("ALTER TABLE objects ADD COLUMN version_id TEXT NOT NULL DEFAULT 'null'")


_CACHED_BUCKETS = 16_384    # more than an account's 10,000 buckets

class SQLiteObjectIndex:
    def __init__(self, database: MessageDatabase, wakeups: Wakeups) -> None:
        self._lock, self._db, self._tx = database.lock, database.connection, database.tx
        self._wakeups = wakeups
        self._bucket_cache: dict[str, tuple[str, float]] = {}
        self._versions = Versions("?", self._write)

    # -- buckets ----------------------------------------------------------------------------------
    def create_bucket(self, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            with self._tx() as db:
                row = db.execute("SELECT doc FROM buckets WHERE name = ?", (name,)).fetchone()
                if not row:
                    db.execute("INSERT INTO buckets (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))
            self._bucket_cache.pop(name, None)
        return json.loads(row[0]) if row else None

    def get_bucket(self, name: str) -> dict[str, Any] | None:
        """Cached: this store's writes show at once, another process's within ``RECHECK_S``."""
        now = time.monotonic()
        cached = self._bucket_cache.get(name)
        if cached is None or now - cached[1] >= RECHECK_S:
            with self._lock:
                row = self._db.execute("SELECT doc FROM buckets WHERE name = ?", (name,)).fetchone()
                if len(self._bucket_cache) >= _CACHED_BUCKETS:   # names of no bucket (an unsigned client's) too: bounded
                    self._bucket_cache.clear()
                cached = self._bucket_cache[name] = (row[0] if row else "", now)
        return json.loads(cached[0]) if cached[0] else None

    def put_bucket(self, name: str, doc: dict[str, Any], outbox: list[tuple[str, NewMessage]] | None = None,
                   now_ms: int = 0) -> bool:
        with self._lock:
            with self._tx() as db:
                changed = db.execute("UPDATE buckets SET doc = ? WHERE name = ?", (json.dumps(doc), name)).rowcount > 0
                if changed:
                    self._outbox(db, outbox, now_ms)
            self._bucket_cache.pop(name, None)
        if changed:
            self._notify(outbox)
        return changed

    def list_buckets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM buckets ORDER BY name")]

    def delete_bucket(self, name: str) -> str:
        with self._lock:
            with self._tx() as db:
                if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
                    return "gone"
                if db.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone() or \
                        db.execute("SELECT 1 FROM object_versions WHERE bucket = ? LIMIT 1", (name,)).fetchone() or \
                        db.execute("SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                    return "not-empty"
                db.execute("DELETE FROM buckets WHERE name = ?", (name,))
            self._bucket_cache.pop(name, None)
        return "ok"

    # -- objects ----------------------------------------------------------------------------------
    @staticmethod
    def _outbox(db: Any, outbox: list[tuple[str, NewMessage]] | None, now_ms: int) -> None:
        if outbox:
            db.executemany(
                "INSERT INTO messages (queue, id, body, attrs, sys, group_id, sent_ms, visible_ms, lease_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(queue, m.id, m.body, json.dumps(m.attrs) if m.attrs else None, json.dumps(m.sys) if m.sys else None,
                  m.group_id, now_ms, now_ms + m.delay_ms, m.lease_ms) for queue, m in outbox])

    def _notify(self, outbox: list[tuple[str, NewMessage]] | None) -> None:
        if outbox:
            self._wakeups.notify(*{queue for queue, _ in outbox})

    @staticmethod
    def _write(db: Any, bucket: str, row: ObjectRow) -> None:
        db.execute(f"INSERT OR REPLACE INTO objects (bucket, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (bucket, row.key, row.blob, row.size, row.etag, row.modified_ms, json.dumps(row.meta),
                    row.version_id))

    def put_object(self, bucket: str, row: ObjectRow, now_ms: int, outbox: list[tuple[str, NewMessage]] | None = None,
                   if_match: str | None = None, if_none_match: bool = False,
                   versioning: str = "") -> tuple[str, ObjectRow | None]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
                return "no-bucket", None
            found = db.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key = ?",
                               (bucket, row.key)).fetchone()
            old = _row(found) if found else None
            if if_none_match and old is not None:
                return "exists", old
            if if_match is not None:
                if old is None:
                    return "missing", None
                if if_match not in ("*", old.etag, old.etag.strip('"')):
                    return "mismatch", old
            if versioning:
                old = self._versions.make_latest(db, bucket, row, old, versioning, now_ms)
            else:
                self._write(db, bucket, row)
            self._outbox(db, outbox, now_ms)
        self._notify(outbox)
        return "ok", old

    def get_object(self, bucket: str, key: str) -> ObjectRow | None:
        with self._lock:
            found = self._db.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key = ?",
                                     (bucket, key)).fetchone()
        return _row(found) if found else None

    def delete_object(self, bucket: str, key: str, now_ms: int,
                      outbox: list[tuple[str, NewMessage]] | None = None,
                      if_blob: str | None = None) -> ObjectRow | None:
        with self._tx() as db:
            found = db.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
            if found is None or (if_blob is not None and _row(found).blob != if_blob):
                return None
            db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            self._outbox(db, outbox, now_ms)
        self._notify(outbox)
        return _row(found)

    def get_version(self, bucket: str, key: str, version_id: str | None) -> ObjectRow | None:
        with self._lock:
            return self._versions.get(self._db, bucket, key, version_id)

    def delete_version(self, bucket: str, key: str, version_id: str, now_ms: int,
                       outbox: list[tuple[str, NewMessage]] | None = None) -> ObjectRow | None:
        with self._tx() as db:
            gone = self._versions.remove(db, bucket, key, version_id)
            if gone is not None:
                self._outbox(db, outbox, now_ms)
        if gone is not None:
            self._notify(outbox)
        return gone

    def update_meta(self, bucket: str, key: str, version_id: str | None, meta: dict[str, Any]) -> bool:
        with self._tx() as db:
            return self._versions.update_meta(db, bucket, key, version_id, meta)

    def list_versions(self, bucket: str, prefix: str, after: str, limit: int,
                      key: str | None = None) -> list[ObjectRow]:
        with self._lock:
            return self._versions.listing(self._db, bucket, prefix, after, limit, key)

    def noncurrent_since(self, bucket: str, key: str, version_id: str) -> int | None:
        with self._lock:
            return self._versions.since(self._db, bucket, key, version_id)

    def list_objects(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRow]:
        args: list[Any]
        if prefix > after:
            sql, args = f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key >= ?", [bucket, prefix]
        else:
            sql, args = f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key > ?", [bucket, after]
        if prefix:
            sql += " AND substr(key, 1, ?) = ?"     # characters, as Python's startswith
            args += [len(prefix), prefix]
            bound = prefix_bound(prefix)
            if bound is not None:                   # the index stops at the prefix's last key
                sql += " AND key < ?"
                args.append(bound)
        sql += " ORDER BY key LIMIT ?"
        args.append(limit)
        with self._lock:
            return [_row(r) for r in self._db.execute(sql, args)]

    # -- multipart uploads ------------------------------------------------------------------------
    def create_upload(self, upload_id: str, bucket: str, key: str, meta: dict[str, Any], now_ms: int) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
                return False
            db.execute("INSERT INTO uploads (id, bucket, key, meta, initiated_ms) VALUES (?, ?, ?, ?, ?)",
                       (upload_id, bucket, key, json.dumps(meta), now_ms))
        return True

    def get_upload(self, upload_id: str) -> tuple[str, str, dict[str, Any], int] | None:
        with self._lock:
            r = self._db.execute("SELECT bucket, key, meta, initiated_ms FROM uploads WHERE id = ?",
                                 (upload_id,)).fetchone()
        return (r[0], r[1], json.loads(r[2]), r[3]) if r else None

    def list_uploads(self, bucket: str) -> list[tuple[str, str, int]]:
        with self._lock:
            return [(r[0], r[1], r[2]) for r in self._db.execute(
                "SELECT key, id, initiated_ms FROM uploads WHERE bucket = ? ORDER BY key, initiated_ms", (bucket,))]

    def put_part(self, upload_id: str, part: PartRow) -> tuple[bool, PartRow | None]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM uploads WHERE id = ?", (upload_id,)).fetchone() is None:
                return False, None
            r = db.execute("SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = ? AND number = ?",
                           (upload_id, part.number)).fetchone()
            db.execute("INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?)",
                       (upload_id, part.number, part.blob, part.size, part.etag, part.modified_ms))
        return True, PartRow(*r) if r else None

    def list_parts(self, upload_id: str) -> list[PartRow]:
        with self._lock:
            return [PartRow(*r) for r in self._db.execute(
                "SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = ? ORDER BY number",
                (upload_id,))]

    def complete_upload(self, upload_id: str, bucket: str, row: ObjectRow, now_ms: int,
                        outbox: list[tuple[str, NewMessage]] | None = None,
                        versioning: str = "") -> tuple[bool, ObjectRow | None, list[PartRow]]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM uploads WHERE id = ?", (upload_id,)).fetchone() is None:
                return False, None, []
            parts = [PartRow(*r) for r in db.execute(
                "SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = ?", (upload_id,))]
            found = db.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key = ?",
                               (bucket, row.key)).fetchone()
            db.execute("DELETE FROM parts WHERE upload = ?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            old = _row(found) if found else None
            if versioning:
                old = self._versions.make_latest(db, bucket, row, old, versioning, now_ms)
            else:
                self._write(db, bucket, row)
            self._outbox(db, outbox, now_ms)
        self._notify(outbox)
        return True, old, parts

    def abort_upload(self, upload_id: str) -> list[PartRow] | None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM uploads WHERE id = ?", (upload_id,)).fetchone() is None:
                return None
            parts = [PartRow(*r) for r in db.execute(
                "SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = ?", (upload_id,))]
            db.execute("DELETE FROM parts WHERE upload = ?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        return parts

    def blobs(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT blob FROM objects UNION SELECT blob FROM parts "
                                                             "UNION SELECT blob FROM object_versions WHERE marker = 0")}
