"""The message store on SQLite (``store/ports.py``'s protocols): one file, ``queues.db``.

One module per concern, each behind its protocol, all on one connection (``database.py``):
``queues.py`` (``QueueMessages``), ``streams.py`` (``StreamRecords``), ``tables.py`` (``TableItems``), ``executions.py``
(``Executions``), ``leases.py`` (``Leases``), ``objects.py`` (``ObjectIndex``); wake-ups are in-process conditions (``wakeups.py``).
Only the composition root (``cumulo/app.py``) builds it; services see the protocols.
"""

from __future__ import annotations

from pathlib import Path

from cumulo.store import health
from cumulo.store.sqlite_messages import executions, leases, objects, queues, streams, tables
from cumulo.store.sqlite_messages.database import MessageDatabase
from cumulo.store.sqlite_messages.executions import SQLiteExecutions
from cumulo.store.sqlite_messages.leases import SQLiteLeases
from cumulo.store.sqlite_messages.objects import SQLiteObjectIndex
from cumulo.store.sqlite_messages.queues import SQLiteQueueMessages
from cumulo.store.sqlite_messages.streams import SQLiteStreamRecords
from cumulo.store.sqlite_messages.tables import SQLiteTableItems
from cumulo.store.sqlite_messages.wakeups import LocalWakeups

__all__ = ["SQLiteMessageStore"]

SCHEMA = queues.SCHEMA + streams.SCHEMA + tables.SCHEMA + executions.SCHEMA + leases.SCHEMA + objects.SCHEMA


class SQLiteMessageStore:
    """``ports.MessageStore`` on the SQLite file ``path`` (``durability``: "normal" or "full")."""

    def __init__(self, path: Path, durability: str = "normal", wakeups: LocalWakeups | None = None) -> None:
        self.database = MessageDatabase(path, SCHEMA, durability, objects.upgrade)
        self.path = path
        self.wakeups = wakeups if wakeups is not None else LocalWakeups()
        self.queues = SQLiteQueueMessages(self.database, self.wakeups)
        self.streams = SQLiteStreamRecords(self.database, self.wakeups)
        self.tables = SQLiteTableItems(self.database, self.wakeups)
        self.executions = SQLiteExecutions(self.database, self.wakeups)
        self.leases = SQLiteLeases(self.database)
        self.objects = SQLiteObjectIndex(self.database, self.wakeups)

    def quick_check(self, budget_s: float = health.QUICK_CHECK_BUDGET_S) -> bool:
        return self.database.quick_check(budget_s)

    def close(self) -> None:
        self.database.close()
