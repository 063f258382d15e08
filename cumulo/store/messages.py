"""The message store as one object, as the services still take it: a stand-in over
``store/sqlite_messages/`` until each service is given the concerns it uses (``store/ports.py``).
"""

from __future__ import annotations

from pathlib import Path

from cumulo.store import health
from cumulo.store.ports import NewMessage, StoredMessage, lease_owner, now_ms, parse_receipt
from cumulo.store.ports import stream_topic as stream_key
from cumulo.store.sqlite_messages import SCHEMA
from cumulo.store.sqlite_messages.database import RECHECK_S, MessageDatabase
from cumulo.store.sqlite_messages.executions import SQLiteExecutions
from cumulo.store.sqlite_messages.leases import SQLiteLeases
from cumulo.store.sqlite_messages.queues import SQLiteQueueMessages
from cumulo.store.sqlite_messages.streams import SQLiteStreamRecords
from cumulo.store.sqlite_messages.wakeups import LocalWakeups

__all__ = ["MessageStore", "NewMessage", "StoredMessage", "RECHECK_S", "lease_owner", "now_ms", "stream_key"]


class MessageStore(SQLiteQueueMessages, SQLiteStreamRecords, SQLiteExecutions, SQLiteLeases):
    parse_receipt = staticmethod(parse_receipt)

    def __init__(self, path: Path, durability: str = "normal") -> None:
        self.path = path
        self.database = MessageDatabase(path, SCHEMA, durability)
        self.wakeups = LocalWakeups()
        SQLiteQueueMessages.__init__(self, self.database, self.wakeups)
        SQLiteStreamRecords.__init__(self, self.database, self.wakeups)
        SQLiteExecutions.__init__(self, self.database, self.wakeups)
        SQLiteLeases.__init__(self, self.database)

    def wait_for(self, timeout_s: float, key: str | None = None) -> None:
        self.wakeups.wait(key, timeout_s)

    def quick_check(self, budget_s: float = health.QUICK_CHECK_BUDGET_S) -> bool:
        return self.database.quick_check(budget_s)

    def close(self) -> None:
        self.database.close()
