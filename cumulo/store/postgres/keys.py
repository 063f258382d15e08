"""Keys every node of a cluster must hold alike, kept in the database (docs/scale-out.md): the STS
key (a session token issued by one node verifies on every other) and the SNS signing key and
certificate (a subscriber checks a delivery against the certificate any node serves).

A key is made once, by whichever node needs it first (``INSERT … ON CONFLICT DO NOTHING``: the
first writer wins, and every node then reads that one). What is kept is what the caller gives:
the composition root seals it with the master key first, so the database never holds these keys
in the clear.
"""

from __future__ import annotations

from typing import Callable

from cumulo.store.postgres.database import Database

__all__ = ["PostgresSharedKeys", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS shared_keys (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
"""


class PostgresSharedKeys:
    def __init__(self, database: Database) -> None:
        self._database = database

    def get_or_make(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The value kept as ``name``; ``make()``'s, kept, when there is none yet."""
        row = self._database.one("SELECT value FROM shared_keys WHERE name = %s", (name,))
        if row is None:
            with self._database.tx() as db:
                db.execute("INSERT INTO shared_keys VALUES (%s, %s) ON CONFLICT (name) DO NOTHING", (name, make()))
                row = db.execute("SELECT value FROM shared_keys WHERE name = %s", (name,)).fetchone()
        return bytes(row[0])
