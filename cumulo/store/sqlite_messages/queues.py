"""Queues and their messages on SQLite (``ports.QueueMessages``).

A receive is a lease: the message's ``visible_ms`` moves into the future and a fresh receipt token
is written, in one transaction. Receipt handles name the row and the lease (``<seq>-<token>``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from typing import Any, Iterable, Iterator

from cumulo.store.ports import NewMessage, StoredMessage, Wakeups, deleted_per_receipt, now_ms
from cumulo.store.sqlite_messages.database import RECHECK_S, MessageDatabase

__all__ = ["SQLiteQueueMessages", "SCHEMA"]

FEW = 2     # a receive or delete of up to this many goes row by row; more, in a fixed number of statements

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body BLOB NOT NULL,
    attrs TEXT,
    sys TEXT,
    group_id TEXT,
    sent_ms INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    lease_ms INTEGER,
    receives INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    token TEXT
);
DROP INDEX IF EXISTS messages_ready;
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue);
CREATE INDEX IF NOT EXISTS messages_groups ON messages (queue, group_id, receives);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL,
    scope TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, scope, dedup_id)
);
"""


class _Pending:
    """One ``send_many`` caller's rows, until a commit takes them."""

    __slots__ = ("rows", "done", "error")

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.done = False
        self.error: BaseException | None = None


class SQLiteQueueMessages:
    def __init__(self, database: MessageDatabase, wakeups: Wakeups) -> None:
        self._lock, self._db, self._tx = database.lock, database.connection, database.tx
        self._wakeups = wakeups
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()
        self._queue_cache: dict[str, tuple[str, float]] = {}

    # -- queues ---------------------------------------------------------------
    def create_queue(self, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            with self._tx() as db:
                row = db.execute("SELECT doc FROM queues WHERE name = ?", (name,)).fetchone()
                if not row:
                    db.execute("INSERT INTO queues (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))
            self._queue_cache.pop(name, None)          # after the commit, under the lock readers take
        return json.loads(row[0]) if row else None

    def get_queue(self, name: str) -> dict[str, Any] | None:
        """Cached: our own writes clear the cache, and another process's change shows within
        ``RECHECK_S``."""
        now = time.monotonic()
        cached = self._queue_cache.get(name)
        if cached is not None and now - cached[1] < RECHECK_S:
            return json.loads(cached[0]) if cached[0] else None
        with self._lock:
            row = self._db.execute("SELECT doc FROM queues WHERE name = ?", (name,)).fetchone()
            self._queue_cache[name] = (row[0] if row else "", now)
        return json.loads(row[0]) if row else None

    def put_queue(self, name: str, doc: dict[str, Any]) -> bool:
        with self._lock:
            with self._tx() as db:
                changed = db.execute("UPDATE queues SET doc = ? WHERE name = ?", (json.dumps(doc), name)).rowcount > 0
            self._queue_cache.pop(name, None)
        return changed

    def list_queues(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM queues ORDER BY name")]

    def delete_queue(self, name: str) -> bool:
        with self._lock:
            with self._tx() as db:
                gone = db.execute("DELETE FROM queues WHERE name = ?", (name,)).rowcount > 0
                db.execute("DELETE FROM messages WHERE queue = ?", (name,))
                db.execute("DELETE FROM dedup WHERE queue = ?", (name,))
            self._queue_cache.pop(name, None)
        return gone

    # -- messages -------------------------------------------------------------
    def send(self, queue: str, messages: Iterable[NewMessage], now_ms: int,
             dedup_window_ms: int = 300_000, dedup_scope_by_group: bool = False) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        with self._tx() as db:
            for m in messages:
                if m.dedup_id is not None:
                    scope = (m.group_id or "") if dedup_scope_by_group else ""
                    row = db.execute("SELECT message_id, seq, expires_ms FROM dedup WHERE queue = ? AND scope = ? "
                                     "AND dedup_id = ?", (queue, scope, m.dedup_id)).fetchone()
                    if row and row[2] > now_ms:
                        out.append((row[0], row[1]))
                        continue
                cur = db.execute(
                    "INSERT INTO messages (queue, id, body, attrs, sys, group_id, sent_ms, visible_ms, lease_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (queue, m.id, m.body, json.dumps(m.attrs) if m.attrs else None,
                     json.dumps(m.sys) if m.sys else None, m.group_id, now_ms, now_ms + m.delay_ms, m.lease_ms))
                seq = int(cur.lastrowid or 0)
                if m.dedup_id is not None:
                    db.execute("INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?, ?)",
                               (queue, scope, m.dedup_id, m.id, seq, now_ms + dedup_window_ms))
                out.append((m.id, seq))
        self._wakeups.notify(queue)
        return out

    def send_many(self, batches: dict[str, list[NewMessage]], now_ms: int) -> None:
        """Group commit: the rows wait in ``_pending``; whichever caller holds the database next
        commits every batch waiting then in one transaction (a topic's fan-out from several
        publishers at once shares a commit: the same index pages take every queue's rows), and each
        caller returns once its own rows are committed, or raises that commit's error."""
        rows = [(queue, m.id, m.body, json.dumps(m.attrs) if m.attrs else None, json.dumps(m.sys) if m.sys else None,
                 m.group_id, now_ms, now_ms + m.delay_ms, m.lease_ms)
                for queue, messages in batches.items() for m in messages]
        if not rows:
            return
        mine = _Pending(rows)
        with self._pending_lock:
            self._pending.append(mine)
        with self._lock:
            if not mine.done:
                with self._pending_lock:
                    group, self._pending = self._pending, []
                try:
                    with self._tx() as db:
                        db.executemany("INSERT INTO messages (queue, id, body, attrs, sys, group_id, sent_ms, "
                                       "visible_ms, lease_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                       [row for pending in group for row in pending.rows])
                except BaseException as exc:
                    for pending in group:
                        pending.error = exc
                finally:
                    for pending in group:
                        pending.done = True
        if mine.error is not None:
            raise mine.error
        self._wakeups.notify(*batches)

    def receive(self, queue: str, limit: int, visibility_ms: int, now_ms: int, fifo: bool = False,
                redrive: tuple[str, int] | None = None, retention_ms: int | None = None,
                source_arn: str | None = None) -> list[StoredMessage]:
        """A batch (``limit`` above ``FEW``) in a fixed number of statement steps, whatever its size:
        the rows come back as one JSON array each time (``json_group_array``), and one UPDATE leases
        them all under one fresh token (the receipt is the row's seq with it). The sqlite3 module
        gives up the GIL at every step, and with busy worker threads getting it back can take a
        switch interval: leasing 20 messages a row at a time took 2.5-3x as long (wall) as this. One
        or two (SQS's default is one) go row by row, which takes fewer statements for them."""
        sql = "SELECT seq, receives, sent_ms FROM messages WHERE queue = ? AND visible_ms <= ?"
        args: list[Any] = [queue, now_ms]
        if fifo:
            sql += (" AND (group_id IS NULL OR group_id NOT IN (SELECT group_id FROM messages WHERE queue = ? "
                    "AND receives > 0 AND visible_ms > ? AND group_id IS NOT NULL))")
            args += [queue, now_ms]
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        batch = limit > FEW
        with self._tx() as db:
            if batch:
                (found,) = db.execute(f"SELECT json_group_array(json_array(seq, receives, sent_ms)) FROM ({sql})",
                                      args).fetchone()
                rows = sorted(json.loads(found))
            else:
                rows = db.execute(sql, args).fetchall()
            taken, expired, dead = [], [], []
            for seq, receives, sent_ms in rows:
                if retention_ms is not None and sent_ms + retention_ms <= now_ms:
                    expired.append(seq)
                elif redrive is not None and receives >= redrive[1]:
                    dead.append(seq)
                else:
                    taken.append(seq)
            if expired:
                db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in expired])
            if dead and redrive is not None:
                self._move_dead(db, dead, redrive[0], source_arn, now_ms)
            out = self._lease_batch(db, taken, visibility_ms, now_ms) if batch else \
                self._lease_rows(db, taken, visibility_ms, now_ms)
        if dead and redrive is not None:
            self._wakeups.notify(redrive[0])
        return out

    @staticmethod
    def _lease_rows(db: sqlite3.Connection, seqs: list[int], visibility_ms: int, now_ms: int) -> list[StoredMessage]:
        out = []
        for seq in seqs:
            token = secrets.token_hex(8)
            row = db.execute(
                "UPDATE messages SET visible_ms = ? + COALESCE(lease_ms, ?), receives = receives + 1, "
                "first_receive_ms = COALESCE(first_receive_ms, ?), token = ? WHERE seq = ? "
                "RETURNING seq, id, body, attrs, sys, group_id, sent_ms, receives, first_receive_ms",
                (now_ms, visibility_ms, now_ms, token, seq)).fetchone()
            out.append(StoredMessage(row[0], row[1], bytes(row[2]), json.loads(row[3]) if row[3] else None,
                                     json.loads(row[4]) if row[4] else None, row[5], row[6], row[7], row[8],
                                     f"{seq}-{token}"))
        return out

    @staticmethod
    def _lease_batch(db: sqlite3.Connection, seqs: list[int], visibility_ms: int, now_ms: int) -> list[StoredMessage]:
        if not seqs:
            return []
        token, listed = secrets.token_hex(8), json.dumps(seqs)
        db.execute("UPDATE messages SET visible_ms = ? + COALESCE(lease_ms, ?), receives = receives + 1, "
                   "first_receive_ms = COALESCE(first_receive_ms, ?), token = ? "
                   "WHERE seq IN (SELECT value FROM json_each(?))", (now_ms, visibility_ms, now_ms, token, listed))
        (rows,) = db.execute(
            "SELECT json_group_array(json_array(seq, id, hex(body), attrs, sys, group_id, sent_ms, receives, "
            "first_receive_ms)) FROM messages WHERE seq IN (SELECT value FROM json_each(?))", (listed,)).fetchone()
        return [StoredMessage(r[0], r[1], bytes.fromhex(r[2]), json.loads(r[3]) if r[3] else None,
                              json.loads(r[4]) if r[4] else None, r[5], r[6], r[7], r[8], f"{r[0]}-{token}")
                for r in sorted(json.loads(rows))]

    @staticmethod
    def _move_dead(db: sqlite3.Connection, seqs: list[int], dlq: str, source_arn: str | None, now_ms: int) -> None:
        for seq in seqs:
            row = db.execute("SELECT sys FROM messages WHERE seq = ?", (seq,)).fetchone()
            sys_attrs = json.loads(row[0]) if row and row[0] else {}
            if source_arn:
                sys_attrs["DeadLetterQueueSourceArn"] = source_arn
            db.execute("UPDATE messages SET queue = ?, visible_ms = ?, receives = 0, first_receive_ms = NULL, "
                       "token = NULL, sys = ? WHERE seq = ?", (dlq, now_ms, json.dumps(sys_attrs), seq))

    def delete(self, queue: str, receipts: list[tuple[int, str]]) -> list[bool]:
        """More than ``FEW`` receipts in two statements, whatever their number (see ``receive``)."""
        if len(receipts) <= FEW:
            with self._tx() as db:
                return [db.execute("DELETE FROM messages WHERE seq = ? AND queue = ? AND token = ?",
                                   (seq, queue, token)).rowcount > 0 for seq, token in receipts]
        pairs = json.dumps(receipts)
        with self._tx() as db:
            (held,) = db.execute(
                "SELECT json_group_array(seq) FROM messages WHERE queue = ? AND (seq, token) IN "
                "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
                (queue, pairs)).fetchone()
            held = json.loads(held)
            if held:
                db.execute("DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))", (json.dumps(held),))
        return deleted_per_receipt(receipts, set(held))

    def change_visibility(self, queue: str, receipt: tuple[int, str], visible_ms: int, now_ms: int) -> str:
        seq, token = receipt
        with self._tx() as db:
            row = db.execute("SELECT visible_ms FROM messages WHERE seq = ? AND queue = ? AND token = ?",
                             (seq, queue, token)).fetchone()
            if row is None:
                return "gone"
            if row[0] <= now_ms:
                return "not-inflight"
            db.execute("UPDATE messages SET visible_ms = ? WHERE seq = ?", (visible_ms, seq))
        if visible_ms <= now_ms:
            self._wakeups.notify(queue)
        return "ok"

    def release(self, queue: str, receipts: list[tuple[int, str]], visible_ms: int,
                sys_attrs: dict[str, Any] | None = None) -> None:
        """Waiters are woken only if ``visible_ms`` is now: a later one is found by their periodic
        recheck."""
        sys_json = None if sys_attrs is None else json.dumps(sys_attrs)
        with self._tx() as db:
            db.executemany("UPDATE messages SET visible_ms = ?, sys = COALESCE(?, sys) "
                           "WHERE seq = ? AND queue = ? AND token = ?",
                           [(visible_ms, sys_json, seq, queue, token) for seq, token in receipts])
        if visible_ms <= now_ms():
            self._wakeups.notify(queue)

    def queue_stats(self, queue: str) -> tuple[int, int]:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM messages WHERE queue = ?",
                                   (queue,)).fetchone()
        return int(row[0]), int(row[1])

    def scan(self, queue: str, batch: int = 500) -> Iterator[bytes]:
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute("SELECT seq, body FROM messages WHERE queue = ? AND seq > ? ORDER BY seq "
                                        "LIMIT ?", (queue, last, batch)).fetchall()
            if not rows:
                return
            for seq, body in rows:
                last = seq
                yield bytes(body)

    def purge(self, queue: str) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM messages WHERE queue = ?", (queue,)).rowcount

    def counts(self, queue: str, now_ms: int) -> tuple[int, int, int]:
        with self._lock:
            row = self._db.execute(
                "SELECT SUM(visible_ms <= ?), SUM(visible_ms > ? AND receives > 0), SUM(visible_ms > ? AND receives = 0) "
                "FROM messages WHERE queue = ?", (now_ms, now_ms, now_ms, queue)).fetchone()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def oldest_sent_ms(self, queue: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(sent_ms) FROM messages WHERE queue = ?", (queue,)).fetchone()
        return None if row[0] is None else int(row[0])

    def move(self, source: str, target: str, limit: int | None, now_ms: int) -> int:
        with self._tx() as db:
            seqs = [r[0] for r in db.execute("SELECT seq FROM messages WHERE queue = ? AND visible_ms <= ? ORDER BY seq "
                                             "LIMIT ?", (source, now_ms, -1 if limit is None else limit))]
            db.executemany("UPDATE messages SET queue = ?, visible_ms = ?, receives = 0, first_receive_ms = NULL, "
                           "token = NULL WHERE seq = ?", [(target, now_ms, s) for s in seqs])
        if seqs:
            self._wakeups.notify(target)
        return len(seqs)

    def sweep(self, now_ms: int, retention: dict[str, int]) -> int:
        with self._tx() as db:
            n = 0
            for queue, retention_ms in retention.items():
                n += db.execute("DELETE FROM messages WHERE queue = ? AND sent_ms <= ?",
                                (queue, now_ms - retention_ms)).rowcount
            db.execute("DELETE FROM dedup WHERE expires_ms <= ?", (now_ms,))
            return n
