"""S3 buckets, objects' metadata and multipart uploads on PostgreSQL (``ports.ObjectIndex``), as on
SQLite (``store/sqlite_messages/objects.py``); keys are compared with the "C" collation (bytes).
Objects' bodies are rows of their own (``bodies.py``), which every node reads.

Keys are TEXT compared with SQLite's BINARY collation: the order of their UTF-8 bytes, which is
S3's listing order. A write's outbox messages go into the ``messages`` table (``queues.py``) in
the write's own transaction, and their queues are notified after it commits.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from cumulo.store.object_versions import COLUMNS as _COLUMNS
from cumulo.store.object_versions import Versions, prefix_bound
from cumulo.store.object_versions import row_of as _row
from cumulo.store.ports import NewMessage, ObjectRow, PartRow, Wakeups
from cumulo.store.postgres.database import Database
from cumulo.store.postgres.queues import RECHECK_S

__all__ = ["PostgresObjectIndex", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    blob TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    meta TEXT NOT NULL,
    version_id TEXT NOT NULL DEFAULT 'null',
    PRIMARY KEY (bucket, key)
);
ALTER TABLE objects ADD COLUMN IF NOT EXISTS version_id TEXT NOT NULL DEFAULT 'null';
CREATE TABLE IF NOT EXISTS object_versions (
    bucket TEXT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    version_id TEXT NOT NULL,
    blob TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    meta TEXT NOT NULL,
    marker INTEGER NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (bucket, key, seq)
);
CREATE INDEX IF NOT EXISTS object_versions_by_id ON object_versions (bucket, key, version_id);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    meta TEXT NOT NULL,
    initiated_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_bucket ON uploads (bucket, key);
CREATE TABLE IF NOT EXISTS parts (
    upload TEXT NOT NULL,
    number BIGINT NOT NULL,
    blob TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    PRIMARY KEY (upload, number)
);
"""



_CACHED_BUCKETS = 16_384    # more than an account's 10,000 buckets

class PostgresObjectIndex:
    def __init__(self, database: Database, wakeups: Wakeups) -> None:
        self._database, self._tx = database, database.tx
        self._lock = threading.Lock()
        self._wakeups = wakeups
        self._bucket_cache: dict[str, tuple[str, float]] = {}
        self._versions = Versions("%s", self._write)

    # -- buckets ----------------------------------------------------------------------------------
    def create_bucket(self, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            with self._tx() as db:
                inserted = db.execute("INSERT INTO buckets (name, doc) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING "
                                      "RETURNING name", (name, json.dumps(doc))).fetchone()
                row = None if inserted else db.execute("SELECT doc FROM buckets WHERE name = %s", (name,)).fetchone()
            self._bucket_cache.pop(name, None)
        return json.loads(row[0]) if row else None

    def get_bucket(self, name: str) -> dict[str, Any] | None:
        """Cached: this store's writes show at once, another process's within ``RECHECK_S``."""
        now = time.monotonic()
        cached = self._bucket_cache.get(name)
        if cached is None or now - cached[1] >= RECHECK_S:
            row = self._database.one("SELECT doc FROM buckets WHERE name = %s", (name,))
            with self._lock:
                if len(self._bucket_cache) >= _CACHED_BUCKETS:   # names of no bucket (an unsigned client's) too: bounded
                    self._bucket_cache.clear()
                cached = self._bucket_cache[name] = (row[0] if row else "", now)
        return json.loads(cached[0]) if cached[0] else None

    def put_bucket(self, name: str, doc: dict[str, Any], outbox: list[tuple[str, NewMessage]] | None = None,
                   now_ms: int = 0) -> bool:
        with self._lock:
            with self._tx() as db:
                changed = db.execute("UPDATE buckets SET doc = %s WHERE name = %s", (json.dumps(doc), name)).rowcount > 0
                if changed:
                    self._outbox(db, outbox, now_ms)
            self._bucket_cache.pop(name, None)
        if changed:
            self._notify(outbox)
        return changed

    def list_buckets(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._database.all('SELECT doc FROM buckets ORDER BY name COLLATE "C"')]

    def delete_bucket(self, name: str) -> str:
        with self._lock:
            with self._tx() as db:
                if db.execute("SELECT 1 FROM buckets WHERE name = %s FOR UPDATE", (name,)).fetchone() is None:
                    return "gone"
                if db.execute("SELECT 1 FROM objects WHERE bucket = %s LIMIT 1", (name,)).fetchone() or \
                        db.execute("SELECT 1 FROM object_versions WHERE bucket = %s LIMIT 1", (name,)).fetchone() or \
                        db.execute("SELECT 1 FROM uploads WHERE bucket = %s LIMIT 1", (name,)).fetchone():
                    return "not-empty"
                db.execute("DELETE FROM buckets WHERE name = %s", (name,))
            self._bucket_cache.pop(name, None)
        return "ok"

    # -- objects ----------------------------------------------------------------------------------
    @staticmethod
    def _outbox(db: Any, outbox: list[tuple[str, NewMessage]] | None, now_ms: int) -> None:
        if outbox:
            db.cursor().executemany(
                "INSERT INTO messages (queue, id, body, attrs, sys, group_id, sent_ms, visible_ms, lease_ms) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(queue, m.id, m.body, json.dumps(m.attrs) if m.attrs else None, json.dumps(m.sys) if m.sys else None,
                  m.group_id, now_ms, now_ms + m.delay_ms, m.lease_ms) for queue, m in outbox])

    def _notify(self, outbox: list[tuple[str, NewMessage]] | None) -> None:
        if outbox:
            self._wakeups.notify(*{queue for queue, _ in outbox})

    @staticmethod
    def _write(db: Any, bucket: str, row: ObjectRow) -> None:
        db.execute(f"INSERT INTO objects (bucket, {_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                   "ON CONFLICT (bucket, key) DO UPDATE SET blob = excluded.blob, size = excluded.size, "
                   "etag = excluded.etag, modified_ms = excluded.modified_ms, meta = excluded.meta, "
                   "version_id = excluded.version_id",
                   (bucket, row.key, row.blob, row.size, row.etag, row.modified_ms, json.dumps(row.meta),
                    row.version_id))

    @staticmethod
    def _key_lock(db: Any, bucket: str, key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (bucket + "/" + key,))

    def put_object(self, bucket: str, row: ObjectRow, now_ms: int, outbox: list[tuple[str, NewMessage]] | None = None,
                   if_match: str | None = None, if_none_match: bool = False,
                   versioning: str = "") -> tuple[str, ObjectRow | None]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = %s FOR SHARE", (bucket,)).fetchone() is None:
                return "no-bucket", None
            self._key_lock(db, bucket, row.key)
            found = db.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket = %s AND key = %s",
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
        found = self._database.one(f"SELECT {_COLUMNS} FROM objects WHERE bucket = %s AND key = %s", (bucket, key))
        return _row(found) if found else None

    def delete_object(self, bucket: str, key: str, now_ms: int,
                      outbox: list[tuple[str, NewMessage]] | None = None,
                      if_blob: str | None = None) -> ObjectRow | None:
        with self._tx() as db:
            found = db.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket = %s AND key = %s FOR UPDATE",
                               (bucket, key)).fetchone()
            if found is None or (if_blob is not None and _row(found).blob != if_blob):
                return None
            db.execute("DELETE FROM objects WHERE bucket = %s AND key = %s", (bucket, key))
            self._outbox(db, outbox, now_ms)
        self._notify(outbox)
        return _row(found)

    def get_version(self, bucket: str, key: str, version_id: str | None) -> ObjectRow | None:
        with self._database.connection() as db:
            return self._versions.get(db, bucket, key, version_id)

    def delete_version(self, bucket: str, key: str, version_id: str, now_ms: int,
                       outbox: list[tuple[str, NewMessage]] | None = None) -> ObjectRow | None:
        with self._tx() as db:
            self._key_lock(db, bucket, key)
            gone = self._versions.remove(db, bucket, key, version_id)
            if gone is not None:
                self._outbox(db, outbox, now_ms)
        if gone is not None:
            self._notify(outbox)
        return gone

    def update_meta(self, bucket: str, key: str, version_id: str | None, meta: dict[str, Any]) -> bool:
        with self._tx() as db:
            self._key_lock(db, bucket, key)
            return self._versions.update_meta(db, bucket, key, version_id, meta)

    def list_versions(self, bucket: str, prefix: str, after: str, limit: int,
                      key: str | None = None) -> list[ObjectRow]:
        with self._database.connection() as db:
            return self._versions.listing(db, bucket, prefix, after, limit, key)

    def noncurrent_since(self, bucket: str, key: str, version_id: str) -> int | None:
        with self._database.connection() as db:
            return self._versions.since(db, bucket, key, version_id)

    def list_objects(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRow]:
        args: list[Any]
        if prefix > after:
            sql, args = f"SELECT {_COLUMNS} FROM objects WHERE bucket = %s AND key >= %s", [bucket, prefix]
        else:
            sql, args = f"SELECT {_COLUMNS} FROM objects WHERE bucket = %s AND key > %s", [bucket, after]
        if prefix:
            sql += " AND left(key, %s) = %s"     # characters, as Python's startswith
            args += [len(prefix), prefix]
            bound = prefix_bound(prefix)
            if bound is not None:                   # the index stops at the prefix's last key
                sql += " AND key < %s"
                args.append(bound)
        sql += " ORDER BY key LIMIT %s"
        args.append(limit)
        return [_row(r) for r in self._database.all(sql, args)]

    # -- multipart uploads ------------------------------------------------------------------------
    def create_upload(self, upload_id: str, bucket: str, key: str, meta: dict[str, Any], now_ms: int) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = %s FOR SHARE", (bucket,)).fetchone() is None:
                return False
            db.execute("INSERT INTO uploads (id, bucket, key, meta, initiated_ms) VALUES (%s, %s, %s, %s, %s)",
                       (upload_id, bucket, key, json.dumps(meta), now_ms))
        return True

    def get_upload(self, upload_id: str) -> tuple[str, str, dict[str, Any], int] | None:
        r = self._database.one("SELECT bucket, key, meta, initiated_ms FROM uploads WHERE id = %s", (upload_id,))
        return (r[0], r[1], json.loads(r[2]), r[3]) if r else None

    def list_uploads(self, bucket: str) -> list[tuple[str, str, int]]:
        return [(r[0], r[1], r[2]) for r in self._database.all(
            'SELECT key, id, initiated_ms FROM uploads WHERE bucket = %s ORDER BY key COLLATE "C", initiated_ms',
            (bucket,))]

    def put_part(self, upload_id: str, part: PartRow) -> tuple[bool, PartRow | None]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM uploads WHERE id = %s FOR UPDATE", (upload_id,)).fetchone() is None:
                return False, None
            r = db.execute("SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = %s AND number = %s",
                           (upload_id, part.number)).fetchone()
            db.execute("INSERT INTO parts VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (upload, number) DO UPDATE SET "
                       "blob = excluded.blob, size = excluded.size, etag = excluded.etag, "
                       "modified_ms = excluded.modified_ms",
                       (upload_id, part.number, part.blob, part.size, part.etag, part.modified_ms))
        return True, PartRow(*r) if r else None

    def list_parts(self, upload_id: str) -> list[PartRow]:
        return [PartRow(*r) for r in self._database.all(
                "SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = %s ORDER BY number",
                (upload_id,))]

    def complete_upload(self, upload_id: str, bucket: str, row: ObjectRow, now_ms: int,
                        outbox: list[tuple[str, NewMessage]] | None = None,
                        versioning: str = "") -> tuple[bool, ObjectRow | None, list[PartRow]]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM uploads WHERE id = %s FOR UPDATE", (upload_id,)).fetchone() is None:
                return False, None, []
            parts = [PartRow(*r) for r in db.execute(
                "SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = %s", (upload_id,))]
            self._key_lock(db, bucket, row.key)
            found = db.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket = %s AND key = %s",
                               (bucket, row.key)).fetchone()
            db.execute("DELETE FROM parts WHERE upload = %s", (upload_id,))
            db.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))
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
            if db.execute("SELECT 1 FROM uploads WHERE id = %s FOR UPDATE", (upload_id,)).fetchone() is None:
                return None
            parts = [PartRow(*r) for r in db.execute(
                "SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = %s", (upload_id,))]
            db.execute("DELETE FROM parts WHERE upload = %s", (upload_id,))
            db.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))
        return parts

    def blobs(self) -> set[str]:
        return {r[0] for r in self._database.all("SELECT blob FROM objects UNION SELECT blob FROM parts "
                                                                "UNION SELECT blob FROM object_versions WHERE marker = 0")}
