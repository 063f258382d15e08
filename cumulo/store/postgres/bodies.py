"""Objects' bodies on PostgreSQL, so every node serves every object (docs/scale-out.md).

What ``objects/files.py`` does with files under one node's home, done with rows every node sees:
a body is ``blob_chunks`` rows of at most ``CHUNK`` (1 MiB) bytes each, named by a random id, and
one ``blobs`` row naming it (with when it was written, for ``sweep``). Nothing holds a whole body
in memory: a write goes in chunk by chunk, a ``join`` copies chunk by chunk inside one
transaction, and a reader fetches one chunk at a time.

A body is written (and committed) before the metadata that names it, as with files. A reader of
a body of more than one chunk reads in one REPEATABLE READ transaction on a connection of its
own, held until it is closed: a write replacing the object meanwhile deletes the old rows, but the
reader's snapshot still holds them, as POSIX keeps an open file's bytes. A body of one chunk (most)
is read in one statement and holds nothing.

``sweep`` is the start-up clean-up of bodies no row names; on a cluster another node may be
between writing a body and committing its row, so only bodies written more than ``ORPHAN_AGE_S``
ago are taken.
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from typing import Any, BinaryIO, Iterable, Iterator

from cumulo.store.postgres.database import Database

__all__ = ["PostgresBodies", "SCHEMA", "CHUNK", "insert"]

CHUNK = 1 << 20
ORPHAN_AGE_S = 3600

SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    name TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    written_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_chunks (
    name TEXT NOT NULL,
    n INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (name, n)
);
"""


class PostgresBodies:
    """``objects/files.py``'s ``BodyFiles`` interface (what ``ObjectService`` asks), on rows."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def write(self, data: bytes) -> tuple[str, bytes]:
        """A new body holding ``data``: its name and the data's MD5."""
        view = memoryview(data)
        with self._database.tx() as db:
            name, _ = insert(db, uuid.uuid4().hex, (bytes(view[i:i + CHUNK]) for i in range(0, len(view), CHUNK)))
        return name, hashlib.md5(data).digest()

    def join(self, names: Iterable[str], ranges: Iterable[tuple[int, int]] | None = None) -> tuple[str, int]:
        """A new body of the named bodies' bytes, one after another (with ``ranges``, (start,
        length) of each), copied a chunk at a time in one transaction."""
        names = list(names)
        spans = list(ranges) if ranges is not None else [None] * len(names)
        with self._database.tx() as db:
            missing = [n for n in names if db.execute("SELECT 1 FROM blobs WHERE name = %s", (n,)).fetchone() is None]
            if missing:
                raise FileNotFoundError(f"no object body {missing[0]}")
            return insert(db, uuid.uuid4().hex, _rechunk(_span_bytes(db, name, span) for name, span in zip(names, spans)))

    def open(self, name: str) -> BinaryIO:
        """The body's bytes, readable and seekable; FileNotFoundError if there is none."""
        row = self._database.one("SELECT b.size, c.data FROM blobs b LEFT JOIN blob_chunks c ON c.name = b.name "
                                 "AND c.n = 0 WHERE b.name = %s", (name,))
        if row is None:
            raise FileNotFoundError(f"no object body {name}")
        size, first = int(row[0]), bytes(row[1] or b"")
        if size <= len(first):
            return io.BytesIO(first)
        return io.BufferedReader(_ChunkReader(self._database, name, size), buffer_size=CHUNK)  # type: ignore[return-value]

    def delete(self, *names: str) -> None:
        if names:
            with self._database.tx() as db:
                db.execute("DELETE FROM blob_chunks WHERE name = ANY(%s)", (list(names),))
                db.execute("DELETE FROM blobs WHERE name = ANY(%s)", (list(names),))

    def sweep(self, keep: set[str]) -> int:
        """Remove bodies no row names that were written over ``ORPHAN_AGE_S`` ago; how many."""
        before = int((time.time() - ORPHAN_AGE_S) * 1000)
        old = [r[0] for r in self._database.all("SELECT name FROM blobs WHERE written_ms < %s", (before,))]
        gone = [n for n in old if n not in keep]
        self.delete(*gone)
        return len(gone)


def insert(db: Any, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Keep the body ``name`` of ``chunks`` (each at most ``CHUNK`` bytes) in the transaction ``db``:
    its name and size (``store/migrate.py`` copies a home's body files with it)."""
    total = n = 0
    with db.cursor() as cur:
        for chunk in chunks:
            cur.execute("INSERT INTO blob_chunks VALUES (%s, %s, %s)", (name, n, chunk))
            n += 1
            total += len(chunk)
        cur.execute("INSERT INTO blobs VALUES (%s, %s, %s)", (name, total, int(time.time() * 1000)))
    return name, total


def _span_bytes(db: Any, name: str, span: tuple[int, int] | None) -> Iterator[bytes]:
    """The bytes of ``name`` within ``span`` (all of it: None), a stored chunk at a time."""
    start, length = span if span is not None else (0, None)
    first, offset = start // CHUNK, start % CHUNK
    left = length
    n = first
    while left is None or left > 0:
        row = db.execute("SELECT data FROM blob_chunks WHERE name = %s AND n = %s", (name, n)).fetchone()
        if row is None:
            return
        data = bytes(row[0])[offset:]
        offset = 0
        if left is not None:
            data = data[:left]
            left -= len(data)
        yield data
        n += 1


def _rechunk(parts: Iterable[Iterator[bytes]]) -> Iterator[bytes]:
    """Pieces of any sizes regrouped into chunks of ``CHUNK`` bytes (the last shorter)."""
    pending = bytearray()
    for part in parts:
        for piece in part:
            pending += piece
            while len(pending) >= CHUNK:
                yield bytes(pending[:CHUNK])
                del pending[:CHUNK]
    if pending:
        yield bytes(pending)


class _ChunkReader(io.RawIOBase):
    """A body of several chunks, read in one snapshot held on a connection of its own."""

    def __init__(self, database: Database, name: str, size: int) -> None:
        super().__init__()
        self._name, self._size, self._pos = name, size, 0
        self._lease: Any = database.pool.connection()
        self._conn = self._lease.__enter__()
        try:
            self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if self._conn.execute("SELECT 1 FROM blobs WHERE name = %s", (name,)).fetchone() is None:
                raise FileNotFoundError(f"no object body {name}")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            try:
                self._conn.execute("ROLLBACK")
            finally:
                lease.__exit__(None, None, None)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size:
            return 0
        n, offset = divmod(self._pos, CHUNK)
        row = self._conn.execute("SELECT data FROM blob_chunks WHERE name = %s AND n = %s", (self._name, n)).fetchone()
        if row is None:
            return 0
        data = memoryview(bytes(row[0]))[offset:offset + len(buffer)]
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._release()
        super().close()
