"""The nodes of a cluster (``cumulo nodes``): each ``cumulo up`` on the database keeps a row fresh
with a heartbeat every ``HEARTBEAT_S``, with where it listens and its load (invocations in
flight); a node is live while its row is younger than ``LIVE_S``. Nothing is configured: a node
joining writes its row, one leaving deletes it, one killed stops refreshing it."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from typing import Any, Callable

import psycopg

from cumulo.store.ports import now_ms
from cumulo.store.postgres.database import Database

__all__ = ["Heartbeat", "live_nodes", "SCHEMA", "HEARTBEAT_S", "LIVE_S"]

HEARTBEAT_S = 2.0
LIVE_S = 10.0
_log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL,
    load TEXT NOT NULL
);
"""


def live_nodes(database: Database, now: int) -> list[dict[str, Any]]:
    return [{"node": r[0], "endpoint": r[1], "started_ms": int(r[2]), "age_s": (now - int(r[3])) / 1000,
             **json.loads(r[4])}
            for r in database.all("SELECT id, endpoint, started_ms, seen_ms, load FROM nodes WHERE seen_ms > %s "
                                  "ORDER BY started_ms, id", (now - int(LIVE_S * 1000),))]


class Heartbeat:
    """A worker (``ports.Worker``): this node's row, refreshed until it stops."""

    def __init__(self, database: Database, endpoint: Callable[[], str], load: Callable[[], dict[str, Any]],
                 peers: Callable[[int, int], None] | None = None) -> None:
        """``peers(rank, nodes)`` is told after each beat where this node stands among the live
        ones (ordered by id): what the concurrency limits are shared by."""
        self._database, self._endpoint, self._load, self._peers = database, endpoint, load, peers
        self.id = f"{socket.gethostname()}|{os.getpid()}"
        self._started = now_ms()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-heartbeat", daemon=True)

    def beat(self) -> None:
        now = now_ms()
        with self._database.tx() as db:
            db.execute("INSERT INTO nodes VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                       "endpoint = excluded.endpoint, seen_ms = excluded.seen_ms, load = excluded.load",
                       (self.id, self._endpoint(), self._started, now, json.dumps(self._load())))
            db.execute("DELETE FROM nodes WHERE seen_ms < %s", (now - 3600_000,))    # long dead
            live = [r[0] for r in db.execute("SELECT id FROM nodes WHERE seen_ms > %s ORDER BY id",
                                             (now - int(LIVE_S * 1000),)).fetchall()]
        if self._peers is not None and self.id in live:
            self._peers(live.index(self.id), len(live))

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.beat()
            except psycopg.Error as exc:
                _log.warning("heartbeat failed: %s", exc)

    def start(self) -> None:
        self.beat()             # listed from the moment the node serves
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        if self._peers is not None:
            self._peers(0, 1)
        try:
            with self._database.tx() as db:
                db.execute("DELETE FROM nodes WHERE id = %s", (self.id,))
        except psycopg.Error:
            pass
