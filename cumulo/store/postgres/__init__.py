"""The store on PostgreSQL: every node of a cluster shares one database (docs/scale-out.md).

``PostgresStore`` (``documents.py``) implements ``store/base.py``'s ``Store``;
``PostgresMessageStore`` implements ``store/ports.py``'s ``MessageStore``, one module per concern
as on SQLite (``queues.py``, ``streams.py``, ``tables.py``, ``executions.py``, ``leases.py``,
``objects.py``), with wake-ups across nodes by LISTEN/NOTIFY (``wakeups.py``). Both share one
pool of connections (``database.py``). Only the composition root (``cumulo/app.py``) builds them.

What a single server keeps in files of its home beside the store is kept here too, so no node
holds anything another needs (the schema component ``shared``): objects' bodies (``bodies.py``),
metric data (``metrics.py``, SQLite's ``metrics.db``), traces (``traces.py``, ``traces.db``) and the keys every node must sign with
alike (``keys.py``: the STS key, the SNS signing key).
"""

from __future__ import annotations

from cumulo.store.postgres import (bodies, executions, keys, leases, metrics, nodes, objects, queues, streams, tables,
                                   traces)
from cumulo.store.postgres.bodies import PostgresBodies
from cumulo.store.postgres.database import Database, is_postgres_url, redacted
from cumulo.store.postgres.documents import PostgresStore
from cumulo.store.postgres.executions import PostgresExecutions
from cumulo.store.postgres.keys import PostgresSharedKeys
from cumulo.store.postgres.leases import PostgresLeases
from cumulo.store.postgres.metrics import PostgresMetricData
from cumulo.store.postgres.objects import PostgresObjectIndex
from cumulo.store.postgres.queues import PostgresQueueMessages
from cumulo.store.postgres.streams import PostgresStreamRecords
from cumulo.store.postgres.tables import PostgresTableItems
from cumulo.store.postgres.traces import PostgresTraceSegments
from cumulo.store.postgres.wakeups import PostgresWakeups
from cumulo.store.schema import MESSAGES_VERSION, SHARED_VERSION

__all__ = ["PostgresMessageStore", "PostgresStore", "Database", "is_postgres_url", "redacted"]

SCHEMA = (queues.SCHEMA + streams.SCHEMA + tables.SCHEMA + executions.SCHEMA + leases.SCHEMA + objects.SCHEMA
          + nodes.SCHEMA)
SHARED_SCHEMA = bodies.SCHEMA + metrics.SCHEMA + keys.SCHEMA + traces.SCHEMA + nodes.SHARES_SCHEMA


class PostgresMessageStore:
    """``ports.MessageStore`` on the database ``url`` (or on ``database``, shared with the
    documents store)."""

    def __init__(self, url: str, database: Database | None = None, recheck_s: float | None = None) -> None:
        self.database = database if database is not None else Database(url)
        self._owns_database = database is None
        self.path = self.database.path
        try:
            self.database.apply_schema("messages", MESSAGES_VERSION, SCHEMA)
            self.database.apply_schema("shared", SHARED_VERSION, SHARED_SCHEMA)
        except BaseException:
            if self._owns_database:
                self.database.close()
            raise
        self.wakeups = PostgresWakeups(self.database) if recheck_s is None else PostgresWakeups(self.database, recheck_s)
        self.queues = PostgresQueueMessages(self.database, self.wakeups)
        self.streams = PostgresStreamRecords(self.database, self.wakeups)
        self.tables = PostgresTableItems(self.database, self.wakeups)
        self.executions = PostgresExecutions(self.database, self.wakeups)
        self.leases = PostgresLeases(self.database)
        self.objects = PostgresObjectIndex(self.database, self.wakeups)
        self.bodies = PostgresBodies(self.database)                 # what SQLite keeps in files of the home
        self.metric_data = PostgresMetricData(self.database)
        self.shared_keys = PostgresSharedKeys(self.database)
        self.trace_data = PostgresTraceSegments(self.database)

    def quick_check(self, budget_s: float = 0.0) -> bool:
        return True

    def close(self) -> None:
        self.wakeups.close()
        if self._owns_database:
            self.database.close()
