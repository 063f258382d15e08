"""Schema versions, for every backend: what a store refuses to open.

Each backend records the version of its tables (SQLite: ``PRAGMA user_version`` of each file;
PostgreSQL: the ``cumulo_schema`` table) and upgrades older ones when it opens them. A store whose
version is newer than this build knows was written by a newer Cumulo: it is refused, never
written, so an older node cannot damage what it does not understand.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SchemaTooNew", "DOCUMENTS_VERSION", "MESSAGES_VERSION", "SHARED_VERSION", "check_sqlite"]

DOCUMENTS_VERSION = 3       # functions, versions, aliases, keys, documents, logs … (2: functions_reserved,
                            # and on PostgreSQL functions_by_name_c, for ListFunctions' pages; 3: log_streams,
                            # a row per log stream kept by the log writer, for DescribeLogStreams)
MESSAGES_VERSION = 3        # queues, streams, tables, executions, leases, objects … (2: S3 versioning;
                            # 3: executions_by_machine_status, for ListExecutions' pages with a status)
SHARED_VERSION = 2          # PostgreSQL only: objects' bodies, metric data, traces, shared keys (files on SQLite);
                            # 2: the nodes' leased concurrency shares


class SchemaTooNew(RuntimeError):
    def __init__(self, where: str, component: str, found: int, known: int) -> None:
        super().__init__(f"{where}: the {component} schema is at version {found}, newer than this Cumulo "
                         f"knows ({known}); run a newer Cumulo (or restore a backup taken before the upgrade)")
        self.found, self.known = found, known


def check_sqlite(db: Any, where: str, component: str, known: int) -> int:
    """Refuse a SQLite file whose ``user_version`` is newer than ``known`` (inside the opening
    transaction; the caller then creates what is missing and records ``known`` if it differs);
    the version found."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found > known:
        raise SchemaTooNew(where, component, found, known)
    return found
