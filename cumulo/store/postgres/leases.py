"""Leases on PostgreSQL (``ports.Leases``): one node at a time does a job (the scheduler, the
state-machine engine). The row is locked while it is decided, so two nodes never both win."""

from __future__ import annotations

from cumulo.store.postgres.database import Database
from cumulo.store.sqlite_messages.leases import _holder_alive

__all__ = ["PostgresLeases", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
"""


class PostgresLeases:
    def __init__(self, database: Database) -> None:
        self._tx = database.tx
        self._database = database

    def take_lease(self, name: str, owner: str, ttl_ms: int, now_ms: int) -> bool:
        with self._tx() as db:
            db.execute("INSERT INTO leases VALUES (%s, %s, 0) ON CONFLICT (name) DO NOTHING", (name, owner))
            row = db.execute("SELECT owner, expires_ms FROM leases WHERE name = %s FOR UPDATE", (name,)).fetchone()
            assert row is not None      # inserted above if it was missing
            if row[0] != owner and row[1] > now_ms and _holder_alive(row[0]):
                return False
            db.execute("UPDATE leases SET owner = %s, expires_ms = %s WHERE name = %s", (owner, now_ms + ttl_ms, name))
            return True

    def holders(self, now_ms: int) -> list[tuple[str, str, int]]:
        """(name, owner, expires ms) of the leases held now (``cumulo nodes``)."""
        return [(r[0], r[1], int(r[2])) for r in self._database.all(
            "SELECT name, owner, expires_ms FROM leases WHERE expires_ms > %s ORDER BY name", (now_ms,))]
