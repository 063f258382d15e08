"""Retention: queue messages and stream records past their period are swept; a shard keeps counting."""

from __future__ import annotations

import time

from cumulo import Cumulo


def test_sweep_drops_what_retention_expired(cumulo: Cumulo) -> None:
    cumulo.queues.create_queue("q", {"MessageRetentionPeriod": "60"})
    cumulo.queues.send_message("q", "old")
    cumulo.queues.send_message("q", "new")
    cumulo.streams.create_stream("s", 1)
    for _ in range(3):
        cumulo.streams.put_record("s", b"x", "k")
    with cumulo.messages.database.tx() as db:      # the clock moves on: these were stored long ago
        db.execute("UPDATE messages SET sent_ms = sent_ms - 61000 WHERE body = ?", (b"old",))
        db.execute("UPDATE records SET arrival_ms = arrival_ms - 25 * 3600 * 1000")
    housekeeper = cumulo.housekeeper()
    assert housekeeper.sweep() == 3                   # one message, and all records but the newest
    assert [m["Body"] for m in cumulo.queues.receive_message("q", 10)] == ["new"]
    it = cumulo.streams.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON", "s")
    assert cumulo.streams.get_records(it)["Records"] == []       # the kept newest record is past retention too
    put = cumulo.streams.put_record("s", b"y", "k")
    assert put["SequenceNumber"].endswith("4")                   # numbering never restarts


def test_expired_messages_are_not_delivered_before_the_sweep(cumulo: Cumulo) -> None:
    cumulo.queues.create_queue("q", {"MessageRetentionPeriod": "60"})
    cumulo.queues.send_message("q", "old")
    with cumulo.messages.database.tx() as db:
        db.execute("UPDATE messages SET sent_ms = sent_ms - 61000")
    assert cumulo.queues.receive_message("q", 10) == []
    assert cumulo.messages.queues.counts("q", int(time.time() * 1000)) == (0, 0, 0)
