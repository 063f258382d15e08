"""S3 versioning's rows, for both backends (``sqlite_messages/objects.py``, ``postgres/objects.py``):
the same SQL, written once, with the backend's placeholder (``?`` or ``%s``).

Where a key's versions live: its latest version, unless that is a delete marker, is the row of
``objects`` (so reading, listing and unversioned writes touch that table alone, as before
versioning existed); every other version — the noncurrent ones and every delete marker — is a row
of ``object_versions``, ordered within its key by ``seq`` (larger: newer; a row moved there is
always the newest of them). ``since_ms`` is when a version stopped being current (lifecycle's
``NoncurrentDays``). A key has at most one version whose id is ``null``: the one written while
the bucket was unversioned or suspended.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from cumulo.store.ports import ObjectRow

__all__ = ["COLUMNS", "row_of", "Versions"]

COLUMNS = "key, blob, size, etag, modified_ms, meta, version_id"
NULL = "null"

Write = Callable[[Any, str, ObjectRow], None]     # the backend's upsert of a key's current row


def row_of(r: tuple[Any, ...], latest: bool = True) -> ObjectRow:
    return ObjectRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], False, latest)


def _version_row(r: tuple[Any, ...], latest: bool) -> ObjectRow:
    return ObjectRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], bool(r[7]), latest)


def prefix_bound(prefix: str) -> str | None:
    """The least string after every string that starts with ``prefix`` (None: there is none)."""
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return None
    nxt = last + 1 if last + 1 != 0xD800 else 0xE000
    return prefix[:-1] + chr(nxt)


class Versions:
    """The versioned operations, inside a backend's transaction (``db``: its connection)."""

    def __init__(self, placeholder: str, write: Write, lock: str = "") -> None:
        self._p, self._write, self._lock = placeholder, write, lock

    def _q(self, sql: str) -> str:
        return sql if self._p == "?" else sql.replace("?", self._p)

    def current(self, db: Any, bucket: str, key: str) -> ObjectRow | None:
        r = db.execute(self._q(f"SELECT {COLUMNS} FROM objects WHERE bucket = ? AND key = ?{self._lock}"),
                       (bucket, key)).fetchone()
        return row_of(r) if r else None

    def _push(self, db: Any, bucket: str, row: ObjectRow, since_ms: int) -> None:
        """``row`` becomes the newest of the key's other versions."""
        db.execute(self._q(
            "INSERT INTO object_versions (bucket, key, seq, version_id, blob, size, etag, modified_ms, meta, marker, "
            "since_ms) VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM object_versions WHERE bucket = ? AND "
            "key = ?), ?, ?, ?, ?, ?, ?, ?, ?)"),
            (bucket, row.key, bucket, row.key, row.version_id, row.blob, row.size, row.etag, row.modified_ms,
             json.dumps(row.meta), 1 if row.marker else 0, since_ms))

    def make_latest(self, db: Any, bucket: str, row: ObjectRow, found: ObjectRow | None, mode: str,
                    now_ms: int) -> ObjectRow | None:
        """``row`` (an object or a delete marker) becomes the key's latest version in a bucket whose
        versioning is ``mode`` ("Enabled" or "Suspended"); the version it replaced for good, if any
        (suspended: the key's ``null`` version), whose file may go."""
        freed: ObjectRow | None = None
        if found is not None:
            if mode == "Suspended" and found.version_id == NULL:
                freed = found
            else:
                self._push(db, bucket, found, now_ms)
        if mode == "Suspended":
            old = db.execute(self._q("SELECT key, blob, size, etag, modified_ms, meta, version_id, marker "
                                     "FROM object_versions WHERE bucket = ? AND key = ? AND version_id = ?"),
                             (bucket, row.key, NULL)).fetchone()
            if old is not None:
                db.execute(self._q("DELETE FROM object_versions WHERE bucket = ? AND key = ? AND version_id = ?"),
                           (bucket, row.key, NULL))
                freed = _version_row(old, False)
        if row.marker:
            if found is not None:
                db.execute(self._q("DELETE FROM objects WHERE bucket = ? AND key = ?"), (bucket, row.key))
            self._push(db, bucket, row, now_ms)
        else:
            self._write(db, bucket, row)
        return freed

    def get(self, db: Any, bucket: str, key: str, version_id: str | None) -> ObjectRow | None:
        """The version ``version_id`` of ``key`` (None: the latest, a delete marker too), with
        ``latest`` set; None when there is none."""
        current = self.current(db, bucket, key)
        if current is not None and (version_id is None or current.version_id == version_id):
            return current
        if version_id is None:
            r = db.execute(self._q("SELECT key, blob, size, etag, modified_ms, meta, version_id, marker FROM "
                                   "object_versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1"),
                           (bucket, key)).fetchone()
            return _version_row(r, True) if r else None
        r = db.execute(self._q("SELECT key, blob, size, etag, modified_ms, meta, version_id, marker, seq FROM "
                               "object_versions WHERE bucket = ? AND key = ? AND version_id = ?"),
                       (bucket, key, version_id)).fetchone()
        if r is None:
            return None
        newer = None if current is not None else db.execute(self._q(
            "SELECT 1 FROM object_versions WHERE bucket = ? AND key = ? AND seq > ? LIMIT 1"),
            (bucket, key, r[8])).fetchone()
        return _version_row(r, current is None and newer is None)

    def remove(self, db: Any, bucket: str, key: str, version_id: str) -> ObjectRow | None:
        """Delete the version for good (the one before it becomes the latest when it was); the
        row removed, or None when there was no such version."""
        gone = self.get(db, bucket, key, version_id)
        if gone is None:
            return None
        if not gone.marker and gone.latest:
            db.execute(self._q("DELETE FROM objects WHERE bucket = ? AND key = ?"), (bucket, key))
        else:
            db.execute(self._q("DELETE FROM object_versions WHERE bucket = ? AND key = ? AND version_id = ?"),
                       (bucket, key, version_id))
        if gone.latest:             # the newest remaining version, if an object, is current again
            r = db.execute(self._q("SELECT key, blob, size, etag, modified_ms, meta, version_id, marker, seq FROM "
                                   "object_versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1"),
                           (bucket, key)).fetchone()
            if r is not None and not r[7]:
                db.execute(self._q("DELETE FROM object_versions WHERE bucket = ? AND key = ? AND seq = ?"),
                           (bucket, key, r[8]))
                self._write(db, bucket, _version_row(r, True))
        return gone

    def update_meta(self, db: Any, bucket: str, key: str, version_id: str | None, meta: dict[str, Any]) -> bool:
        """Replace one version's ``meta`` (object tags); False when there is no such object version."""
        found = self.get(db, bucket, key, version_id)
        if found is None or found.marker:
            return False
        if found.latest:
            db.execute(self._q("UPDATE objects SET meta = ? WHERE bucket = ? AND key = ?"),
                       (json.dumps(meta), bucket, key))
        else:
            db.execute(self._q("UPDATE object_versions SET meta = ? WHERE bucket = ? AND key = ? AND version_id = ?"),
                       (json.dumps(meta), bucket, key, found.version_id))
        return True

    def listing(self, db: Any, bucket: str, prefix: str, after: str, limit: int,
                key: str | None = None) -> list[ObjectRow]:
        """Every version (delete markers too) of the keys that start with ``prefix`` and sort after
        ``after`` (or of ``key`` alone), by key, newest first, at most ``limit``; ``latest`` set."""
        where = "bucket = ?"
        args: list[Any] = [bucket]
        if key is not None:
            where += " AND key = ?"
            args.append(key)
        else:
            if prefix > after:
                where += " AND key >= ?"
                args.append(prefix)
            else:
                where += " AND key > ?"
                args.append(after)
            if prefix:
                where += " AND substr(key, 1, ?) = ?"   # characters, as Python's startswith
                args += [len(prefix), prefix]
                bound = prefix_bound(prefix)
                if bound is not None:
                    where += " AND key < ?"
                    args.append(bound)
        sql = (f"SELECT {COLUMNS}, 0 AS marker, 1 AS cur, 0 AS seq FROM objects WHERE {where} UNION ALL "
               f"SELECT {COLUMNS}, marker, 0 AS cur, seq FROM object_versions WHERE {where} "
               "ORDER BY key, cur DESC, seq DESC LIMIT ?")
        out: list[ObjectRow] = []
        previous = None
        for r in db.execute(self._q(sql), (*args, *args, limit)).fetchall():
            out.append(_version_row(r, r[0] != previous))
            previous = r[0]
        return out

    def since(self, db: Any, bucket: str, key: str, version_id: str) -> int | None:
        """When a noncurrent version stopped being current."""
        r = db.execute(self._q("SELECT since_ms FROM object_versions WHERE bucket = ? AND key = ? AND "
                               "version_id = ?"), (bucket, key, version_id)).fetchone()
        return int(r[0]) if r else None
