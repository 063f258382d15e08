"""The PostgreSQL database behind a store: a pool of connections, transactions, schema versions.

Every connection is in autocommit mode: a read is one statement, and a write is ``tx()``, one
transaction (``BEGIN`` … ``COMMIT``, rolled back on an exception). Nothing holds a transaction
open across calls, so the pool stays small (``POOL_MAX``) however many threads share it.

Schema versions: ``cumulo_schema`` holds one row per component (``documents``, ``messages``) with
the version its tables are at. ``apply_schema`` creates or upgrades them under an advisory lock
(two nodes starting at once do not race), and refuses a database whose version is newer than
this build knows (``SchemaTooNew``): an older node never writes into tables it does not understand.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from cumulo.store.schema import SchemaTooNew

__all__ = ["Database", "POOL_MAX", "redacted", "is_postgres_url", "unreachable"]

POOL_MAX = 24       # connections per node; callers beyond it wait for one (they are held per statement)
_SCHEMA_LOCK = 0x63756D756C6F   # "cumulo": the advisory lock key schema changes take


def unreachable(exc: BaseException) -> bool:
    """Whether a request failed for want of the database (down, or the pool exhausted)."""
    return isinstance(exc, (psycopg.OperationalError, PoolTimeout))


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL without its password (what messages and ``path`` show)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Database:
    def __init__(self, url: str, max_size: int = POOL_MAX) -> None:
        self.url = url
        self.path = redacted(url)       # what a message names
        self.pool = ConnectionPool(url, min_size=1, max_size=max_size, kwargs={"autocommit": True},
                                   open=True, timeout=60.0, name="cumulo")
        self.pool.wait(timeout=60.0)
        self._closed = threading.Event()

    @contextmanager
    def tx(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction; committed when the block ends, rolled back on an exception."""
        with self.pool.connection() as conn:
            with conn.transaction():
                yield conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self.pool.connection() as conn:
            yield conn

    def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with self.pool.connection() as conn:
            return conn.execute(sql, args).fetchone()

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self.pool.connection() as conn:
            return conn.execute(sql, args).fetchall()

    def apply_schema(self, component: str, version: int, statements: str) -> None:
        """Create or upgrade ``component``'s tables to ``version`` (idempotent statements), or
        refuse a database at a newer version."""
        with self.tx() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS cumulo_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM cumulo_schema WHERE component = %s", (component,)).fetchone()
            found = int(row[0]) if row else 0
            if found > version:
                raise SchemaTooNew(self.path, component, found, version)
            if found < version:
                for statement in statements.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO cumulo_schema VALUES (%s, %s) ON CONFLICT (component) "
                           "DO UPDATE SET version = excluded.version", (component, version))

    def schema_versions(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.all("SELECT component, version FROM cumulo_schema")}

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self.pool.close()
