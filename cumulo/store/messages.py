"""Durable messages: SQS queues, the asynchronous-invocation queue, and stream records.

Its own SQLite file (``queues.db``), so message traffic never queues behind
configuration writes or the log writer. WAL with ``synchronous=NORMAL``: a
commit survives the death of the process (``kill -9``) at any moment; with
``durability="full"`` it also survives the machine losing power (an fsync per
commit).

A receive is a lease: the message's ``visible_ms`` moves into the future and a
fresh receipt token is written, in one transaction. A consumer that dies simply
never deletes; the message is visible again once the lease runs out. Receipt
handles name the row and the lease (``<seq>-<token>``), so a handle from an
older receive can never delete or extend a message that was since handed to
someone else.

Every method is one ``BEGIN IMMEDIATE`` transaction; ``wait_for`` lets long
pollers sleep until a send in this process (or a short recheck, for sends from
other processes sharing the file).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator
from contextlib import contextmanager

from cumulo.store import health

__all__ = ["MessageStore", "NewMessage", "StoredMessage", "RECHECK_S", "lease_owner", "now_ms", "stream_key"]

RECHECK_S = 0.05    # how often a long poll looks for other processes' sends
_SEQ = re.compile(r"[0-9]{1,18}")   # a receipt's sequence (str.isdigit() takes '²', which int() refuses)

_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    stream TEXT NOT NULL,
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    arrival_ms INTEGER NOT NULL,
    PRIMARY KEY (stream, shard, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL,
    shard TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (consumer, shard)
);
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    machine TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    stopped_ms INTEGER,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (machine, started_ms);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
CREATE TABLE IF NOT EXISTS history (
    arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (arn, id)
);
CREATE TABLE IF NOT EXISTS timers (
    arn TEXT NOT NULL,
    timer_id TEXT NOT NULL,
    fire_ms INTEGER NOT NULL,
    PRIMARY KEY (arn, timer_id)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (fire_ms);
CREATE TABLE IF NOT EXISTS task_tokens (
    token TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    task_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class NewMessage:
    id: str
    body: bytes
    attrs: dict[str, Any] | None = None         # message attributes (JSON-able; binary as base64)
    sys: dict[str, Any] | None = None           # system attributes: MessageGroupId, AWSTraceHeader …
    group_id: str | None = None
    delay_ms: int = 0
    lease_ms: int | None = None                 # a receive's lease for this message, if not the queue's
    dedup_id: str | None = None


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    id: str
    body: bytes
    attrs: dict[str, Any] | None
    sys: dict[str, Any] | None
    group_id: str | None
    sent_ms: int
    receives: int
    first_receive_ms: int | None
    receipt: str

    @property
    def sequence_number(self) -> str:
        return f"{self.seq:020d}"


class MessageStore:
    def __init__(self, path: Path, durability: str = "normal") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        with health.opening(path):      # a damaged file or a full disk: said so, naming the file
            self._open(path, durability)

    def _open(self, path: Path, durability: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout=10000")
        # Waiters by what they wait for (a queue's name, ``stream_key(name)``; None: anything), so a
        # send wakes only the threads that poll that queue, not every worker and poller at once.
        self._sent_lock = threading.Lock()
        self._sent: dict[str | None, threading.Condition] = {}
        self._queue_cache: dict[str, tuple[str, float]] = {}
        with self._tx() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def _notify(self, *keys: str) -> None:
        """Wake whoever waits for these queues or streams (long polls, pollers), and for anything."""
        with self._sent_lock:
            for key in (*keys, None):
                waiting = self._sent.get(key)
                if waiting is not None:
                    waiting.notify_all()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:       # a full disk at commit too: nothing of the transaction is kept
                health.rollback(self._db)
                raise

    def quick_check(self, budget_s: float = health.QUICK_CHECK_BUDGET_S) -> bool:
        """SQLite's ``PRAGMA quick_check`` within ``budget_s`` (``health.quick_check``)."""
        with self._lock:
            return health.quick_check(self._db, self.path, budget_s)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- queues ---------------------------------------------------------------
    def create_queue(self, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Insert ``doc`` unless the queue exists; return the existing document if it does."""
        with self._lock:
            with self._tx() as db:
                row = db.execute("SELECT doc FROM queues WHERE name = ?", (name,)).fetchone()
                if not row:
                    db.execute("INSERT INTO queues (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))
            self._queue_cache.pop(name, None)          # after the commit, under the lock readers take
        return json.loads(row[0]) if row else None

    def get_queue(self, name: str) -> dict[str, Any] | None:
        """A queue's document (a copy). Read on every send and receive, so cached: our own writes
        clear the cache, and another process's change shows within ``RECHECK_S``."""
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
        """Commit messages; returns (message id, sequence) per message. A FIFO deduplication id
        seen within the window returns the original message's id and stores nothing."""
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
        self._notify(queue)
        return out

    def send_many(self, batches: dict[str, list[NewMessage]], now_ms: int) -> None:
        """Messages for several queues in one transaction (no deduplication ids): all or none."""
        rows = [(queue, m.id, m.body, json.dumps(m.attrs) if m.attrs else None, json.dumps(m.sys) if m.sys else None,
                 m.group_id, now_ms, now_ms + m.delay_ms, m.lease_ms)
                for queue, messages in batches.items() for m in messages]
        if not rows:
            return
        with self._tx() as db:
            db.executemany("INSERT INTO messages (queue, id, body, attrs, sys, group_id, sent_ms, visible_ms, "
                           "lease_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._notify(*batches)

    def receive(self, queue: str, limit: int, visibility_ms: int, now_ms: int, fifo: bool = False,
                redrive: tuple[str, int] | None = None, retention_ms: int | None = None,
                source_arn: str | None = None) -> list[StoredMessage]:
        """Lease up to ``limit`` visible messages, oldest first. FIFO: never from a message group
        that has a message in flight. With ``redrive`` (dead-letter queue, maxReceiveCount), a
        message received that many times moves to the dead-letter queue instead."""
        sql = "SELECT seq, receives, sent_ms FROM messages WHERE queue = ? AND visible_ms <= ?"
        args: list[Any] = [queue, now_ms]
        if fifo:
            sql += (" AND (group_id IS NULL OR group_id NOT IN (SELECT group_id FROM messages WHERE queue = ? "
                    "AND receives > 0 AND visible_ms > ? AND group_id IS NOT NULL))")
            args += [queue, now_ms]
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self._tx() as db:
            taken, expired, dead = [], [], []
            for seq, receives, sent_ms in db.execute(sql, args).fetchall():
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
            out = []
            for seq in taken:
                token = secrets.token_hex(8)
                row = db.execute(
                    "UPDATE messages SET visible_ms = ? + COALESCE(lease_ms, ?), receives = receives + 1, "
                    "first_receive_ms = COALESCE(first_receive_ms, ?), token = ? WHERE seq = ? "
                    "RETURNING seq, id, body, attrs, sys, group_id, sent_ms, receives, first_receive_ms",
                    (now_ms, visibility_ms, now_ms, token, seq)).fetchone()
                out.append(StoredMessage(row[0], row[1], bytes(row[2]), json.loads(row[3]) if row[3] else None,
                                         json.loads(row[4]) if row[4] else None, row[5], row[6], row[7], row[8],
                                         f"{seq}-{token}"))
        if dead and redrive is not None:
            self._notify(redrive[0])
        return out

    @staticmethod
    def _move_dead(db: sqlite3.Connection, seqs: list[int], dlq: str, source_arn: str | None, now_ms: int) -> None:
        for seq in seqs:
            row = db.execute("SELECT sys FROM messages WHERE seq = ?", (seq,)).fetchone()
            sys_attrs = json.loads(row[0]) if row and row[0] else {}
            if source_arn:
                sys_attrs["DeadLetterQueueSourceArn"] = source_arn
            db.execute("UPDATE messages SET queue = ?, visible_ms = ?, receives = 0, first_receive_ms = NULL, "
                       "token = NULL, sys = ? WHERE seq = ?", (dlq, now_ms, json.dumps(sys_attrs), seq))

    def wait_for(self, timeout_s: float, key: str | None = None) -> None:
        """Sleep until a send to ``key`` (a queue's name or ``stream_key(name)``; None: any) in this
        process, or ``RECHECK_S`` (sends by other processes)."""
        with self._sent_lock:
            waiting = self._sent.get(key)
            if waiting is None:
                waiting = self._sent[key] = threading.Condition(self._sent_lock)
            waiting.wait(min(timeout_s, RECHECK_S))

    @staticmethod
    def parse_receipt(receipt: str) -> tuple[int, str] | None:
        seq, sep, token = receipt.partition("-")
        if not sep or not _SEQ.fullmatch(seq) or len(token) != 16:
            return None
        return int(seq), token

    def delete(self, queue: str, receipts: list[tuple[int, str]]) -> list[bool]:
        """Delete by receipt; False for a receipt that no longer holds the message (already
        deleted, or received again since)."""
        with self._tx() as db:
            return [db.execute("DELETE FROM messages WHERE seq = ? AND queue = ? AND token = ?",
                               (seq, queue, token)).rowcount > 0 for seq, token in receipts]

    def change_visibility(self, queue: str, receipt: tuple[int, str], visible_ms: int, now_ms: int) -> str:
        """'ok', 'gone' (no such lease), or 'not-inflight' (the lease already ran out)."""
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
            self._notify(queue)
        return "ok"

    def release(self, queue: str, receipts: list[tuple[int, str]], visible_ms: int,
                sys_attrs: dict[str, Any] | None = None) -> None:
        """Make leased messages visible at ``visible_ms`` (a retry delay, or now), in one transaction
        with new system attributes when given (the async queue keeps its retry count there). Waiters
        are woken only if that is now: a later one is found by their periodic recheck."""
        sys_json = None if sys_attrs is None else json.dumps(sys_attrs)
        with self._tx() as db:
            db.executemany("UPDATE messages SET visible_ms = ?, sys = COALESCE(?, sys) "
                           "WHERE seq = ? AND queue = ? AND token = ?",
                           [(visible_ms, sys_json, seq, queue, token) for seq, token in receipts])
        if visible_ms <= now_ms():
            self._notify(queue)

    def queue_stats(self, queue: str) -> tuple[int, int]:
        """(messages, bytes of their bodies)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM messages WHERE queue = ?",
                                   (queue,)).fetchone()
        return int(row[0]), int(row[1])

    def scan(self, queue: str, batch: int = 500) -> Iterator[bytes]:
        """Every body in a queue, oldest first, without leasing (archives)."""
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
        """(visible, in flight, delayed)."""
        with self._lock:
            row = self._db.execute(
                "SELECT SUM(visible_ms <= ?), SUM(visible_ms > ? AND receives > 0), SUM(visible_ms > ? AND receives = 0) "
                "FROM messages WHERE queue = ?", (now_ms, now_ms, now_ms, queue)).fetchone()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def move(self, source: str, target: str, limit: int | None, now_ms: int) -> int:
        """Move up to ``limit`` visible messages from one queue to another (a redrive back)."""
        with self._tx() as db:
            seqs = [r[0] for r in db.execute("SELECT seq FROM messages WHERE queue = ? AND visible_ms <= ? ORDER BY seq "
                                             "LIMIT ?", (source, now_ms, -1 if limit is None else limit))]
            db.executemany("UPDATE messages SET queue = ?, visible_ms = ?, receives = 0, first_receive_ms = NULL, "
                           "token = NULL WHERE seq = ?", [(target, now_ms, s) for s in seqs])
        if seqs:
            self._notify(target)
        return len(seqs)

    def sweep(self, now_ms: int, retention: dict[str, int]) -> int:
        """Drop messages past their queue's retention period and expired deduplication ids."""
        with self._tx() as db:
            n = 0
            for queue, retention_ms in retention.items():
                n += db.execute("DELETE FROM messages WHERE queue = ? AND sent_ms <= ?",
                                (queue, now_ms - retention_ms)).rowcount
            db.execute("DELETE FROM dedup WHERE expires_ms <= ?", (now_ms,))
            return n

    # -- streams ----------------------------------------------------------------
    def create_stream(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM streams WHERE name = ?", (name,)).fetchone():
                return False
            db.execute("INSERT INTO streams (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))
            return True

    def get_stream(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM streams WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_streams(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM streams ORDER BY name")]

    def delete_stream(self, name: str) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM streams WHERE name = ?", (name,)).rowcount > 0
            db.execute("DELETE FROM records WHERE stream = ?", (name,))
            return gone

    def put_records(self, stream: str, records: list[tuple[int, str, bytes]], now_ms: int) -> list[int]:
        """Append (shard, partition key, data) records; each shard's sequence numbers increase."""
        out = []
        with self._tx() as db:
            last: dict[int, int] = {}
            for shard, key, data in records:
                if shard not in last:
                    row = db.execute("SELECT MAX(seq) FROM records WHERE stream = ? AND shard = ?",
                                     (stream, shard)).fetchone()
                    last[shard] = row[0] or 0
                last[shard] += 1
                db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                           (stream, shard, last[shard], key, data, now_ms))
                out.append(last[shard])
        self._notify(stream_key(stream))
        return out

    def read_records(self, stream: str, shard: int, after_seq: int, limit: int) -> list[tuple[int, str, bytes, int]]:
        """(seq, partition key, data, arrival ms) of records after ``after_seq``, in order."""
        with self._lock:
            return [(r[0], r[1], bytes(r[2]), r[3]) for r in self._db.execute(
                "SELECT seq, partition_key, data, arrival_ms FROM records WHERE stream = ? AND shard = ? AND seq > ? "
                "ORDER BY seq LIMIT ?", (stream, shard, after_seq, limit))]

    def shard_bounds(self, stream: str, shard: int) -> tuple[int, int]:
        """(first seq, last seq) held for a shard; (0, 0) when empty."""
        with self._lock:
            row = self._db.execute("SELECT MIN(seq), MAX(seq) FROM records WHERE stream = ? AND shard = ?",
                                   (stream, shard)).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def seq_at(self, stream: str, shard: int, timestamp_ms: int) -> int:
        """The last seq before the first record that arrived at or after ``timestamp_ms``."""
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM records WHERE stream = ? AND shard = ? AND arrival_ms >= ?",
                                   (stream, shard, timestamp_ms)).fetchone()
        if row[0] is None:
            return self.shard_bounds(stream, shard)[1]
        return int(row[0]) - 1

    def trim_records(self, stream: str, before_ms: int) -> int:
        """Drop records past retention; a shard's newest record stays, so its numbering never restarts."""
        with self._tx() as db:
            return db.execute(
                "DELETE FROM records WHERE stream = ? AND arrival_ms < ? AND seq < (SELECT MAX(r.seq) FROM records r "
                "WHERE r.stream = records.stream AND r.shard = records.shard)", (stream, before_ms)).rowcount

    def get_checkpoint(self, consumer: str, shard: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT seq FROM checkpoints WHERE consumer = ? AND shard = ?",
                                   (consumer, shard)).fetchone()
        return int(row[0]) if row else None

    def set_checkpoint(self, consumer: str, shard: str, seq: int) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (consumer, shard, seq))

    def delete_checkpoints(self, consumer: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM checkpoints WHERE consumer = ?", (consumer,))

    # -- state machine executions (Standard: every step durable) ------------------------
    def insert_execution(self, arn: str, machine: str, name: str, started_ms: int, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM executions WHERE arn = ?", (arn,)).fetchone():
                return False
            db.execute("INSERT INTO executions VALUES (?, ?, ?, 'RUNNING', ?, NULL, ?)",
                       (arn, machine, name, started_ms, json.dumps(doc)))
        self._notify()
        return True

    def get_execution(self, arn: str) -> tuple[str, str, int, int | None, dict[str, Any]] | None:
        """(status, name, started ms, stopped ms, document)."""
        with self._lock:
            row = self._db.execute("SELECT status, name, started_ms, stopped_ms, doc FROM executions WHERE arn = ?",
                                   (arn,)).fetchone()
        return (row[0], row[1], row[2], row[3], json.loads(row[4])) if row else None

    def list_executions(self, machine: str, status: str | None = None) -> list[tuple[str, str, str, int, int | None]]:
        """(arn, name, status, started ms, stopped ms), newest first."""
        sql = "SELECT arn, name, status, started_ms, stopped_ms FROM executions WHERE machine = ?"
        args: list[Any] = [machine]
        if status:
            sql += " AND status = ?"
            args.append(status)
        with self._lock:
            return [tuple(r) for r in self._db.execute(sql + " ORDER BY started_ms DESC, arn", args)]  # type: ignore[misc]

    def running_executions(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT arn FROM executions WHERE status = 'RUNNING'")]

    def save_step(self, arn: str, status: str, stopped_ms: int | None, doc: dict[str, Any],
                  events: list[tuple[int, str]], timers_add: list[tuple[str, int]], timers_del: list[str],
                  tokens_add: list[tuple[str, str]]) -> None:
        """One transition, atomically: the execution's new state, its new history events, timers, tokens."""
        with self._tx() as db:
            db.execute("UPDATE executions SET status = ?, stopped_ms = ?, doc = ? WHERE arn = ?",
                       (status, stopped_ms, json.dumps(doc), arn))
            db.executemany("INSERT OR REPLACE INTO history VALUES (?, ?, ?)", [(arn, i, e) for i, e in events])
            db.executemany("INSERT OR REPLACE INTO timers VALUES (?, ?, ?)", [(arn, t, ms) for t, ms in timers_add])
            db.executemany("DELETE FROM timers WHERE arn = ? AND timer_id = ?", [(arn, t) for t in timers_del])
            db.executemany("INSERT OR REPLACE INTO task_tokens VALUES (?, ?, ?)",
                           [(token, arn, task) for token, task in tokens_add])
            if status != "RUNNING":
                db.execute("DELETE FROM timers WHERE arn = ?", (arn,))
                db.execute("DELETE FROM task_tokens WHERE arn = ?", (arn,))

    def history(self, arn: str, after_id: int = 0, limit: int = 1000, reverse: bool = False) -> list[str]:
        with self._lock:
            if reverse:
                rows = self._db.execute("SELECT event FROM history WHERE arn = ? AND id < ? ORDER BY id DESC LIMIT ?",
                                        (arn, after_id or 2 ** 62, limit))
            else:
                rows = self._db.execute("SELECT event FROM history WHERE arn = ? AND id > ? ORDER BY id LIMIT ?",
                                        (arn, after_id, limit))
            return [r[0] for r in rows]

    def due_timers(self, now_ms: int) -> list[tuple[str, str]]:
        with self._lock:
            return [(r[0], r[1]) for r in self._db.execute(
                "SELECT arn, timer_id FROM timers WHERE fire_ms <= ? ORDER BY fire_ms LIMIT 500", (now_ms,))]

    def next_timer_ms(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(fire_ms) FROM timers").fetchone()
        return row[0]

    def delete_timer(self, arn: str, timer_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM timers WHERE arn = ? AND timer_id = ?", (arn, timer_id))

    def task_token(self, token: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute("SELECT arn, task_id FROM task_tokens WHERE token = ?", (token,)).fetchone()
        return (row[0], row[1]) if row else None

    def delete_task_token(self, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM task_tokens WHERE token = ?", (token,))

    # -- leases (one node does a job: schedules) ---------------------------------
    def take_lease(self, name: str, owner: str, ttl_ms: int, now_ms: int) -> bool:
        """Hold (or renew) the lease ``name`` for ``owner``; False while someone else holds it.

        Owners are ``lease_owner()`` strings (host, pid, nonce): a lease whose holder was a process
        on this host that no longer exists (killed) is taken over at once instead of after its TTL."""
        with self._tx() as db:
            row = db.execute("SELECT owner, expires_ms FROM leases WHERE name = ?", (name,)).fetchone()
            if row and row[0] != owner and row[1] > now_ms and _holder_alive(row[0]):
                return False
            db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (name, owner, now_ms + ttl_ms))
            return True


def lease_owner() -> str:
    """A lease holder's name: this host, this process, and a nonce."""
    return f"{socket.gethostname()}|{os.getpid()}|{secrets.token_hex(4)}"


def _holder_alive(owner: str) -> bool:
    host, _, rest = owner.partition("|")
    pid = rest.partition("|")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True                       # another node's: trust its TTL
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stream_key(stream: str) -> str:
    """What a stream's pollers wait on (``MessageStore.wait_for``): apart from queues' names."""
    return "stream:" + stream


def now_ms() -> int:
    """Wall-clock milliseconds, the store's time unit."""
    return int(time.time() * 1000)
