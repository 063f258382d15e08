"""Wake-ups across nodes (``ports.Wakeups``) with PostgreSQL's LISTEN/NOTIFY.

A notify is sent to this process's waiters at once (``LocalWakeups``' conditions) and to every
other node as a ``NOTIFY cumulo, '<node>|<topic>'``; one listener thread per node holds a
connection in ``LISTEN cumulo`` and wakes the local waiters of each topic it hears from another
node. Idle nodes therefore do not poll: a waiter sleeps until a notify or its own timeout, with a
long safety re-check (``RECHECK_S``) in case the listener's connection was lost and re-made.

Sending is off the caller's path: ``notify`` wakes local waiters and hands the topics to a sender
thread, which sends what gathered meanwhile in one statement — under load, many sends to one queue
cost one NOTIFY, and no caller waits for a connection to say so.
"""

from __future__ import annotations

import logging
import secrets
import threading

import psycopg

from cumulo.store.postgres.database import Database
from cumulo.store.sqlite_messages.wakeups import LocalWakeups

__all__ = ["PostgresWakeups", "CHANNEL", "RECHECK_S"]

CHANNEL = "cumulo"
RECHECK_S = 2.0
_log = logging.getLogger(__name__)


class PostgresWakeups:
    def __init__(self, database: Database, recheck_s: float = RECHECK_S) -> None:
        self._database = database
        self.local = LocalWakeups(recheck_s=recheck_s)
        self.node = secrets.token_hex(6)
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._outgoing: set[str] = set()
        self._has_outgoing = threading.Condition()
        self._thread = threading.Thread(target=self._listen, name="cumulo-listen", daemon=True)
        self._thread.start()
        self._sender = threading.Thread(target=self._send, name="cumulo-notify", daemon=True)
        self._sender.start()
        self._listening.wait(30.0)

    def notify(self, *topics: str) -> None:
        self.local.notify(*topics)
        with self._has_outgoing:
            self._outgoing.update(topics or ("",))      # "": no topic (wakes who waits for anything)
            self._has_outgoing.notify()

    def _send(self) -> None:
        while True:
            with self._has_outgoing:
                while not self._outgoing and not self._stop.is_set():
                    self._has_outgoing.wait()
                topics, self._outgoing = self._outgoing, set()
            if not topics:          # stopped, nothing left
                return
            payloads = [f"{self.node}|{t}" for t in sorted(topics)]
            try:
                with self._database.connection() as conn:
                    conn.execute("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (CHANNEL, payloads))
            except Exception as exc:       # waiters elsewhere re-check on their own
                _log.warning("wake-up not sent to other nodes: %s", exc)

    def wait(self, topic: str | None, timeout_s: float) -> None:
        self.local.wait(topic, timeout_s)

    def waiters(self, topic: str | None) -> int:
        return self.local.waiters(topic)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._database.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    self.local.notify()      # anything may have happened while we were not listening
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=1.0):
                            if self._stop.is_set():
                                return
                            node, _, topic = n.payload.partition("|")
                            if node != self.node:
                                self.local.notify(*((topic,) if topic else ()))
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                _log.warning("listening for wake-ups failed (%s); again in 1 s", exc)
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        with self._has_outgoing:
            self._has_outgoing.notify()
        self._sender.join(5.0)
        try:        # the listener returns at its next notification: this one
            with self._database.connection() as conn:
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.node}|"))
        except psycopg.Error:
            pass
        self._thread.join(5.0)
