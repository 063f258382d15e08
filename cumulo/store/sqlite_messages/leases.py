"""Leases on SQLite (``ports.Leases``): one process does a job (the scheduler, the state-machine engine)."""

from __future__ import annotations

import os
import socket

from cumulo.store.sqlite_messages.database import MessageDatabase

__all__ = ["SQLiteLeases", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
"""


class SQLiteLeases:
    def __init__(self, database: MessageDatabase) -> None:
        self._tx = database.tx

    def take_lease(self, name: str, owner: str, ttl_ms: int, now_ms: int) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT owner, expires_ms FROM leases WHERE name = ?", (name,)).fetchone()
            if row and row[0] != owner and row[1] > now_ms and _holder_alive(row[0]):
                return False
            db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (name, owner, now_ms + ttl_ms))
            return True


def _holder_alive(owner: str) -> bool:
    """Whether a ``lease_owner()`` may still be alive: a process of this host is asked."""
    host, _, rest = owner.partition("|")
    pid = rest.partition("|")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True                       # another node's: trust its TTL
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
