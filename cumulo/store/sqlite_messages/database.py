"""The message store's SQLite file (``queues.db``): one connection, its lock, its transactions.

Its own file, so message traffic never queues behind configuration writes or the log writer. WAL
with ``synchronous=NORMAL``: a commit survives the death of the process (``kill -9``) at any
moment; with ``durability="full"`` it also survives the machine losing power (an fsync per
commit). Every write is one ``BEGIN IMMEDIATE`` transaction (``tx``); reads take the lock alone.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from cumulo.store import health
from cumulo.store import schema as versions
from cumulo.store.schema import MESSAGES_VERSION

__all__ = ["MessageDatabase", "RECHECK_S"]

RECHECK_S = 0.05    # how often this process looks for other processes' commits (waits, cached queues)


class MessageDatabase:
    def __init__(self, path: Path, schema: str, durability: str = "normal",
                 upgrade: Callable[[sqlite3.Connection, int], None] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        with health.opening(path):      # a damaged file or a full disk: said so, naming the file
            self._open(path, schema, durability, upgrade)

    def _open(self, path: Path, schema: str, durability: str,
              upgrade: Callable[[sqlite3.Connection, int], None] | None) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
        self.connection.execute("PRAGMA busy_timeout=10000")
        with self.tx() as db:
            found = versions.check_sqlite(db, str(path), "messages", MESSAGES_VERSION)
            if upgrade is not None and found < MESSAGES_VERSION:      # an older file's columns first
                upgrade(db, found)
            for statement in schema.split(";"):
                if statement.strip():
                    db.execute(statement)
            if found != MESSAGES_VERSION:       # written only when it changes: opening writes nothing
                db.execute(f"PRAGMA user_version = {MESSAGES_VERSION}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
                self.connection.execute("COMMIT")
            except BaseException:       # a full disk at commit too: nothing of the transaction is kept
                health.rollback(self.connection)
                raise

    def quick_check(self, budget_s: float = health.QUICK_CHECK_BUDGET_S) -> bool:
        """SQLite's ``PRAGMA quick_check`` within ``budget_s`` (``health.quick_check``)."""
        with self.lock:
            return health.quick_check(self.connection, self.path, budget_s)

    def close(self) -> None:
        with self.lock:
            self.connection.close()
