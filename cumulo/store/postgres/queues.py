"""Queues and their messages on PostgreSQL (``ports.QueueMessages``), shared by every node.

A receive is a lease taken with ``FOR UPDATE SKIP LOCKED``: concurrent receivers on any node each
take other rows, never wait for one another, and never take the same message; the lease moves the
row's ``visible_ms`` into the future and writes a fresh receipt token in the same transaction. A
node that dies holding leases just stops renewing them: the messages come back when the leases run
out and another node takes them. FIFO queues serialise their receives with an advisory lock on
the queue (a group with a message in flight must be seen as such by the next receiver).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Iterable, Iterator

import psycopg

from cumulo.store.ports import NewMessage, StoredMessage, Wakeups, deleted_per_receipt, now_ms
from cumulo.store.postgres.database import Database

__all__ = ["PostgresQueueMessages", "SCHEMA", "RECHECK_S"]

RECHECK_S = 0.1     # how long a queue's cached document is trusted (another node's change shows after it)

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq BIGSERIAL PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body BYTEA NOT NULL,
    attrs TEXT,
    sys TEXT,
    group_id TEXT,
    sent_ms BIGINT NOT NULL,
    visible_ms BIGINT NOT NULL,
    lease_ms BIGINT,
    receives INTEGER NOT NULL DEFAULT 0,
    first_receive_ms BIGINT,
    token TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_ms, seq);
CREATE INDEX IF NOT EXISTS messages_groups ON messages (queue, group_id, receives);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL,
    scope TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (queue, scope, dedup_id)
);
"""

_INSERT = ("INSERT INTO messages (queue, id, body, attrs, sys, group_id, sent_ms, visible_ms, lease_ms) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")


def _row(queue: str, m: NewMessage, now: int) -> tuple[Any, ...]:
    return (queue, m.id, m.body, json.dumps(m.attrs) if m.attrs else None, json.dumps(m.sys) if m.sys else None,
            m.group_id, now, now + m.delay_ms, m.lease_ms)


class PostgresQueueMessages:
    def __init__(self, database: Database, wakeups: Wakeups) -> None:
        self._database, self._tx = database, database.tx
        self._wakeups = wakeups
        self._queue_cache: dict[str, tuple[str, float]] = {}

    # -- queues ---------------------------------------------------------------
    def create_queue(self, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        with self._tx() as db:
            inserted = db.execute("INSERT INTO queues (name, doc) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING "
                                  "RETURNING name", (name, json.dumps(doc))).fetchone()
            row = None if inserted else db.execute("SELECT doc FROM queues WHERE name = %s", (name,)).fetchone()
        self._queue_cache.pop(name, None)
        return json.loads(row[0]) if row else None

    def get_queue(self, name: str) -> dict[str, Any] | None:
        now = time.monotonic()
        cached = self._queue_cache.get(name)
        if cached is not None and now - cached[1] < RECHECK_S:
            return json.loads(cached[0]) if cached[0] else None
        row = self._database.one("SELECT doc FROM queues WHERE name = %s", (name,))
        self._queue_cache[name] = (row[0] if row else "", now)
        return json.loads(row[0]) if row else None

    def put_queue(self, name: str, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            changed = db.execute("UPDATE queues SET doc = %s WHERE name = %s", (json.dumps(doc), name)).rowcount > 0
        self._queue_cache.pop(name, None)
        return changed

    def list_queues(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._database.all('SELECT doc FROM queues ORDER BY name COLLATE "C"')]

    def delete_queue(self, name: str) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM queues WHERE name = %s", (name,)).rowcount > 0
            db.execute("DELETE FROM messages WHERE queue = %s", (name,))
            db.execute("DELETE FROM dedup WHERE queue = %s", (name,))
        self._queue_cache.pop(name, None)
        return gone

    # -- messages -------------------------------------------------------------
    def send(self, queue: str, messages: Iterable[NewMessage], now_ms: int,
             dedup_window_ms: int = 300_000, dedup_scope_by_group: bool = False) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        messages = list(messages)
        with self._tx() as db:
            if any(m.dedup_id is not None for m in messages):
                db.execute("SELECT pg_advisory_xact_lock(hashtext('dedup:' || %s))", (queue,))
            for m in messages:
                scope = ""
                if m.dedup_id is not None:
                    scope = (m.group_id or "") if dedup_scope_by_group else ""
                    row = db.execute("SELECT message_id, seq, expires_ms FROM dedup WHERE queue = %s AND scope = %s "
                                     "AND dedup_id = %s", (queue, scope, m.dedup_id)).fetchone()
                    if row and row[2] > now_ms:
                        out.append((row[0], int(row[1])))
                        continue
                inserted = db.execute(_INSERT + " RETURNING seq", _row(queue, m, now_ms)).fetchone()
                assert inserted is not None
                seq = int(inserted[0])
                if m.dedup_id is not None:
                    db.execute("INSERT INTO dedup VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (queue, scope, dedup_id) "
                               "DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq, "
                               "expires_ms = excluded.expires_ms",
                               (queue, scope, m.dedup_id, m.id, seq, now_ms + dedup_window_ms))
                out.append((m.id, seq))
        self._wakeups.notify(queue)
        return out

    def send_many(self, batches: dict[str, list[NewMessage]], now_ms: int) -> None:
        rows = [_row(queue, m, now_ms) for queue, messages in batches.items() for m in messages]
        if not rows:
            return
        with self._tx() as db:
            with db.cursor() as cur:
                cur.executemany(_INSERT, rows)
        self._wakeups.notify(*batches)

    def receive(self, queue: str, limit: int, visibility_ms: int, now_ms: int, fifo: bool = False,
                redrive: tuple[str, int] | None = None, retention_ms: int | None = None,
                source_arn: str | None = None) -> list[StoredMessage]:
        sql = "SELECT seq, receives, sent_ms FROM messages WHERE queue = %s AND visible_ms <= %s"
        args: list[Any] = [queue, now_ms]
        if fifo:
            sql += (" AND (group_id IS NULL OR group_id NOT IN (SELECT group_id FROM messages WHERE queue = %s "
                    "AND receives > 0 AND visible_ms > %s AND group_id IS NOT NULL))")
            args += [queue, now_ms]
        sql += " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED"
        args.append(limit)
        out: list[StoredMessage] = []
        with self._tx() as db:
            if fifo:
                db.execute("SELECT pg_advisory_xact_lock(hashtext('fifo:' || %s))", (queue,))
            taken, expired, dead = [], [], []
            for seq, receives, sent_ms in db.execute(sql, args).fetchall():
                if retention_ms is not None and sent_ms + retention_ms <= now_ms:
                    expired.append(seq)
                elif redrive is not None and receives >= redrive[1]:
                    dead.append(seq)
                else:
                    taken.append(seq)
            if expired:
                db.execute("DELETE FROM messages WHERE seq = ANY(%s)", (expired,))
            if dead and redrive is not None:
                self._move_dead(db, dead, redrive[0], source_arn, now_ms)
            if taken:
                tokens = [secrets.token_hex(8) for _ in taken]
                rows = db.execute(
                    "UPDATE messages m SET visible_ms = %s + COALESCE(m.lease_ms, %s), receives = m.receives + 1, "
                    "first_receive_ms = COALESCE(m.first_receive_ms, %s), token = t.token "
                    "FROM unnest(%s::bigint[], %s::text[]) AS t(seq, token) WHERE m.seq = t.seq "
                    "RETURNING m.seq, m.id, m.body, m.attrs, m.sys, m.group_id, m.sent_ms, m.receives, "
                    "m.first_receive_ms, m.token",
                    (now_ms, visibility_ms, now_ms, taken, tokens)).fetchall()
                for r in sorted(rows, key=lambda r: r[0]):
                    out.append(StoredMessage(int(r[0]), r[1], bytes(r[2]), json.loads(r[3]) if r[3] else None,
                                             json.loads(r[4]) if r[4] else None, r[5], int(r[6]), int(r[7]),
                                             None if r[8] is None else int(r[8]), f"{r[0]}-{r[9]}"))
        if dead and redrive is not None:
            self._wakeups.notify(redrive[0])
        return out

    @staticmethod
    def _move_dead(db: psycopg.Connection[Any], seqs: list[int], dlq: str, source_arn: str | None,
                   now_ms: int) -> None:
        for seq in seqs:
            row = db.execute("SELECT sys FROM messages WHERE seq = %s", (seq,)).fetchone()
            sys_attrs = json.loads(row[0]) if row and row[0] else {}
            if source_arn:
                sys_attrs["DeadLetterQueueSourceArn"] = source_arn
            db.execute("UPDATE messages SET queue = %s, visible_ms = %s, receives = 0, first_receive_ms = NULL, "
                       "token = NULL, sys = %s WHERE seq = %s", (dlq, now_ms, json.dumps(sys_attrs), seq))

    def delete(self, queue: str, receipts: list[tuple[int, str]]) -> list[bool]:
        """One statement (one round trip) whatever the number of receipts."""
        if not receipts:
            return []
        with self._tx() as db:
            rows = db.execute("DELETE FROM messages m USING unnest(%s::bigint[], %s::text[]) AS r(seq, token) "
                              "WHERE m.seq = r.seq AND m.token = r.token AND m.queue = %s RETURNING m.seq",
                              ([seq for seq, _ in receipts], [token for _, token in receipts], queue)).fetchall()
        found = {int(r[0]) for r in rows}
        return deleted_per_receipt(receipts, found)

    def change_visibility(self, queue: str, receipt: tuple[int, str], visible_ms: int, now_ms: int) -> str:
        seq, token = receipt
        with self._tx() as db:
            row = db.execute("SELECT visible_ms FROM messages WHERE seq = %s AND queue = %s AND token = %s FOR UPDATE",
                             (seq, queue, token)).fetchone()
            if row is None:
                return "gone"
            if row[0] <= now_ms:
                return "not-inflight"
            db.execute("UPDATE messages SET visible_ms = %s WHERE seq = %s", (visible_ms, seq))
        if visible_ms <= now_ms:
            self._wakeups.notify(queue)
        return "ok"

    def release(self, queue: str, receipts: list[tuple[int, str]], visible_ms: int,
                sys_attrs: dict[str, Any] | None = None) -> None:
        sys_json = None if sys_attrs is None else json.dumps(sys_attrs)
        with self._tx() as db:
            with db.cursor() as cur:
                cur.executemany("UPDATE messages SET visible_ms = %s, sys = COALESCE(%s, sys) "
                                "WHERE seq = %s AND queue = %s AND token = %s",
                                [(visible_ms, sys_json, seq, queue, token) for seq, token in receipts])
        if visible_ms <= now_ms():
            self._wakeups.notify(queue)

    def queue_stats(self, queue: str) -> tuple[int, int]:
        row = self._database.one("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM messages WHERE queue = %s",
                                 (queue,))
        return int(row[0]), int(row[1])

    def scan(self, queue: str, batch: int = 500) -> Iterator[bytes]:
        last = 0
        while True:
            rows = self._database.all("SELECT seq, body FROM messages WHERE queue = %s AND seq > %s ORDER BY seq "
                                      "LIMIT %s", (queue, last, batch))
            if not rows:
                return
            for seq, body in rows:
                last = seq
                yield bytes(body)

    def purge(self, queue: str) -> int:
        with self._tx() as db:
            return int(db.execute("DELETE FROM messages WHERE queue = %s", (queue,)).rowcount)

    def counts(self, queue: str, now_ms: int) -> tuple[int, int, int]:
        row = self._database.one(
            "SELECT COUNT(*) FILTER (WHERE visible_ms <= %s), COUNT(*) FILTER (WHERE visible_ms > %s AND receives > 0), "
            "COUNT(*) FILTER (WHERE visible_ms > %s AND receives = 0) FROM messages WHERE queue = %s",
            (now_ms, now_ms, now_ms, queue))
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def oldest_sent_ms(self, queue: str) -> int | None:
        row = self._database.one("SELECT MIN(sent_ms) FROM messages WHERE queue = %s", (queue,))
        return None if row is None or row[0] is None else int(row[0])

    def move(self, source: str, target: str, limit: int | None, now_ms: int) -> int:
        with self._tx() as db:
            seqs = [r[0] for r in db.execute(
                "SELECT seq FROM messages WHERE queue = %s AND visible_ms <= %s ORDER BY seq LIMIT %s "
                "FOR UPDATE SKIP LOCKED", (source, now_ms, limit)).fetchall()]
            if seqs:
                db.execute("UPDATE messages SET queue = %s, visible_ms = %s, receives = 0, first_receive_ms = NULL, "
                           "token = NULL WHERE seq = ANY(%s)", (target, now_ms, seqs))
        if seqs:
            self._wakeups.notify(target)
        return len(seqs)

    def sweep(self, now_ms: int, retention: dict[str, int]) -> int:
        with self._tx() as db:
            n = 0
            for queue, retention_ms in retention.items():
                n += db.execute("DELETE FROM messages WHERE queue = %s AND sent_ms <= %s",
                                (queue, now_ms - retention_ms)).rowcount
            db.execute("DELETE FROM dedup WHERE expires_ms <= %s", (now_ms,))
            return n
