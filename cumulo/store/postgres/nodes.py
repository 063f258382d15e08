"""The nodes of a cluster (``cumulo nodes``): each ``cumulo up`` on the database keeps a row fresh
with a heartbeat every ``HEARTBEAT_S``, with where it listens and its load (invocations in
flight); a node is live while its row is younger than ``LIVE_S``. Nothing is configured: a node
joining writes its row, one leaving deletes it, one killed stops refreshing it.

The beat also leases the node's shares of the concurrency limits (``concurrency_shares``, one row
per node and pool: the limit, the node's demand, what it ``held``): under one advisory lock, the
node reports its demand, computes every live node's target with the rebalancing rule (the same
answer on every node), lowers its own share at once to its target, and raises it only as far as
the others' held shares leave room (or to its minimum) — so the held shares of the live nodes add
up to more than the limit only by a joining node's minimum until the others' next beats, and a
node never admits more than it holds. A node whose beats fail for
``FENCE_S`` stops admitting (``fence``) before the others take its shares (``LIVE_S``)."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from typing import Any, Callable, Protocol

import psycopg

from cumulo.store.ports import now_ms
from cumulo.store.postgres.database import Database

__all__ = ["Heartbeat", "Shares", "next_share", "live_nodes", "SCHEMA", "SHARES_SCHEMA", "HEARTBEAT_S", "LIVE_S", "FENCE_S"]

HEARTBEAT_S = 2.0
LIVE_S = 10.0
FENCE_S = LIVE_S / 2
_SHARES_LOCK = 0x63756D756C6F5348     # pg_advisory_xact_lock key of the shares' rebalancing
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

SHARES_SCHEMA = """
CREATE TABLE IF NOT EXISTS concurrency_shares (
    node TEXT NOT NULL,
    pool TEXT NOT NULL,
    lim INTEGER NOT NULL,
    demand INTEGER NOT NULL,
    held INTEGER NOT NULL,
    PRIMARY KEY (node, pool)
);
"""


def next_share(target: int, room: int, floor: int, in_flight: int) -> tuple[int, int]:
    """A node's new share of a limit and what it records as held: its ``target`` (the rebalancing
    rule's), but never past the ``room`` the others' held shares leave — except for the ``floor``
    every node keeps (a node just joined serves with it while the others shrink at their next
    beats). Held: the share, or what still runs here when more (it counts until it ends)."""
    mine = max(0, min(target, max(room, floor)))
    return mine, max(mine, in_flight)


class Shares(Protocol):
    """What a node's limits offer the beat (``invoke.concurrency.ConcurrencyLimiter``)."""

    def demand(self) -> dict[str, tuple[int, int, int, int]]: ...     # pool -> (limit, share, demand, in flight)
    def grant(self, leases: dict[str, tuple[int, int]]) -> None: ...   # pool -> (limit, share)
    def set_share(self, rank: int, nodes: int) -> None: ...
    def fence(self) -> None: ...


def live_nodes(database: Database, now: int) -> list[dict[str, Any]]:
    return [{"node": r[0], "endpoint": r[1], "started_ms": int(r[2]), "age_s": (now - int(r[3])) / 1000,
             **json.loads(r[4])}
            for r in database.all("SELECT id, endpoint, started_ms, seen_ms, load FROM nodes WHERE seen_ms > %s "
                                  "ORDER BY started_ms, id", (now - int(LIVE_S * 1000),))]


class Heartbeat:
    """A worker (``ports.Worker``): this node's row, refreshed until it stops."""

    def __init__(self, database: Database, endpoint: Callable[[], str], load: Callable[[], dict[str, Any]],
                 shares: Shares | None = None,
                 allocate: Callable[[int, dict[str, int]], dict[str, int]] | None = None,
                 even: Callable[[int, int, int], int] | None = None,
                 peers: Callable[[int, int], None] | None = None, sync: Callable[[], None] | None = None,
                 minimum: Callable[[int, int], int] | None = None) -> None:
        """``shares`` (with the rebalancing rule ``allocate`` and the even split ``even``) are
        leased at every beat; ``peers(rank, nodes)`` is told after each beat where this node
        stands among the live ones (ordered by id); ``sync`` is called before the demand is read
        (the node's limits brought up to date with the store's: an idle node learns a new
        reservation at its beat, not at its next invocation); ``minimum(limit, nodes)`` is what a
        node may hold of a limit even before the others made room for it."""
        self._database, self._endpoint, self._load, self._peers = database, endpoint, load, peers
        self._shares, self._allocate, self._even, self._sync = shares, allocate, even, sync
        self._minimum = minimum
        self.id = f"{socket.gethostname()}|{os.getpid()}"
        self._started = now_ms()
        self._last_ok = now_ms()
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
            granted = self._lease(db, live) if self._shares is not None and self.id in live else None
        if self._shares is not None and self.id in live:
            self._shares.set_share(live.index(self.id), len(live))
            if granted:
                self._shares.grant(granted)         # raised only now the larger holds are committed
        if self._peers is not None and self.id in live:
            self._peers(live.index(self.id), len(live))
        self._last_ok = now

    def _lease(self, db: psycopg.Connection, live: list[str]) -> dict[str, tuple[int, int]]:
        """This node's shares for the next period (in the beat's transaction)."""
        assert self._shares is not None and self._allocate is not None and self._even is not None
        if self._sync is not None:
            self._sync()
        report = self._shares.demand()
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_SHARES_LOCK,))
        db.execute("DELETE FROM concurrency_shares WHERE node <> ALL(%s)", (live,))    # the dead hold nothing
        db.execute("DELETE FROM concurrency_shares WHERE node = %s AND pool <> ALL(%s)", (self.id, list(report)))
        for pool, (limit, share, demand, _) in report.items():
            db.execute("INSERT INTO concurrency_shares VALUES (%s, %s, %s, %s, %s) ON CONFLICT (node, pool) DO "
                       "UPDATE SET demand = excluded.demand, lim = excluded.lim, held = "
                       "CASE WHEN concurrency_shares.lim = excluded.lim THEN concurrency_shares.held "
                       "ELSE excluded.held END", (self.id, pool, limit, demand, share))
        rows: dict[str, dict[str, tuple[int, int, int]]] = {}
        for node, pool, lim, demand, held in db.execute(
                "SELECT node, pool, lim, demand, held FROM concurrency_shares WHERE pool = ANY(%s)",
                (list(report),)).fetchall():
            rows.setdefault(pool, {})[node] = (int(lim), int(demand), int(held))
        rank = {node: i for i, node in enumerate(live)}
        granted: dict[str, tuple[int, int]] = {}
        lowered: dict[str, tuple[int, int]] = {}
        for pool, (limit, share, _, in_flight) in report.items():
            seen = rows.get(pool, {})
            # a live node without a row for this very limit enforces its even part of it
            current = {n: seen[n][2] if n in seen and seen[n][0] == limit else self._even(limit, rank[n], len(live))
                       for n in live}
            demands = {n: seen[n][1] if n in seen and seen[n][0] == limit else 0 for n in live}
            target = self._allocate(limit, demands)[self.id]
            room = limit - sum(v for n, v in current.items() if n != self.id)
            floor = self._minimum(limit, len(live)) if self._minimum is not None else 0
            mine, held = next_share(target, room, floor, in_flight)
            if mine < share:
                lowered[pool] = (limit, mine)
            db.execute("UPDATE concurrency_shares SET held = %s, lim = %s WHERE node = %s AND pool = %s",
                       (held, limit, self.id, pool))
            granted[pool] = (limit, mine)
        if lowered:
            self._shares.grant(lowered)         # lowered before the others may take it (at our commit)
        return granted

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.beat()
            except psycopg.Error as exc:
                _log.warning("heartbeat failed: %s", exc)
                if self._shares is not None and now_ms() - self._last_ok > FENCE_S * 1000:
                    self._shares.fence()        # the others take our shares at LIVE_S: stop admitting first

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
                db.execute("DELETE FROM concurrency_shares WHERE node = %s", (self.id,))
        except psycopg.Error:
            pass
