"""``QueueMessages``' contract, for every backend (``conftest.BACKENDS``): queues' documents, and
messages leased by receipt, FIFO groups, deduplication, redrive, retention."""

from __future__ import annotations

from typing import Any

from cumulo.store.ports import MessageStore, NewMessage, QueueMessages, StoredMessage, parse_receipt

T = 1_700_000_000_000       # the store's time is what callers pass: milliseconds
LEASE = 30_000


def new(id: str, body: bytes = b"x", **fields: Any) -> NewMessage:
    return NewMessage(id, body, **fields)


def handle(m: StoredMessage) -> tuple[int, str]:
    parsed = parse_receipt(m.receipt)
    assert parsed is not None
    return parsed


def ids(found: list[StoredMessage]) -> list[str]:
    return [m.id for m in found]


def receive(q: QueueMessages, queue: str = "q", limit: int = 10, at: int = T, **options: Any) -> list[StoredMessage]:
    return q.receive(queue, limit, LEASE, at, **options)


# -- queues' documents ------------------------------------------------------------------------------
def test_a_queue_is_created_once_and_its_document_read_listed_replaced_and_deleted(messages: MessageStore) -> None:
    q = messages.queues
    assert q.get_queue("b") is None and q.list_queues() == []
    assert q.create_queue("b", {"name": "b", "v": 1}) is None
    assert q.create_queue("b", {"name": "b", "v": 2}) == {"name": "b", "v": 1}     # exists: the stored one
    q.create_queue("a", {"name": "a"})
    assert [d["name"] for d in q.list_queues()] == ["a", "b"]
    assert q.put_queue("b", {"name": "b", "v": 3}) and q.get_queue("b") == {"name": "b", "v": 3}
    assert not q.put_queue("nope", {})
    assert q.delete_queue("b") and not q.delete_queue("b")
    assert q.get_queue("b") is None and [d["name"] for d in q.list_queues()] == ["a"]


def test_a_queues_document_is_a_copy(messages: MessageStore) -> None:
    q = messages.queues
    q.create_queue("q", {"name": "q", "attrs": {"x": 1}})
    q.get_queue("q")["attrs"]["x"] = 2                          # type: ignore[index]
    assert q.get_queue("q") == {"name": "q", "attrs": {"x": 1}}


def test_deleting_a_queue_deletes_its_messages_and_deduplication_ids(messages: MessageStore) -> None:
    q = messages.queues
    q.create_queue("q", {"name": "q"})
    q.send("q", [new("m1", dedup_id="d")], T)
    q.delete_queue("q")
    q.create_queue("q", {"name": "q"})
    assert receive(q) == []
    assert q.send("q", [new("m2", dedup_id="d")], T)[0][0] == "m2"           # the id is free again


# -- send, receive, delete --------------------------------------------------------------------------
def test_messages_come_oldest_first_with_what_was_sent(messages: MessageStore) -> None:
    q = messages.queues
    sent = q.send("q", [new("m1", b"one", attrs={"k": {"DataType": "String", "StringValue": "v"}},
                            sys={"AWSTraceHeader": "t"}), new("m2", b"two"), new("m3", b"three")], T)
    assert [i for i, _ in sent] == ["m1", "m2", "m3"] and sent[0][1] < sent[1][1] < sent[2][1]
    first, second = receive(q, limit=2, at=T + 5)
    assert (first.id, first.body, first.seq, first.sent_ms) == ("m1", b"one", sent[0][1], T)
    assert first.attrs == {"k": {"DataType": "String", "StringValue": "v"}} and first.sys == {"AWSTraceHeader": "t"}
    assert (first.receives, first.first_receive_ms, first.group_id) == (1, T + 5, None)
    assert (second.id, second.attrs, second.sys) == ("m2", None, None)
    assert first.sequence_number == f"{sent[0][1]:020d}"
    assert ids(receive(q, at=T + 5)) == ["m3"]


def test_a_received_message_is_leased_until_its_visibility_runs_out(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("m1")], T)
    (m,) = receive(q)
    assert receive(q, at=T + LEASE - 1) == []
    (again,) = receive(q, at=T + LEASE)
    assert again.id == "m1" and again.receives == 2 and again.first_receive_ms == T
    assert again.receipt != m.receipt


def test_a_messages_own_lease_wins_over_the_receives(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("m1", lease_ms=1_000)], T)
    receive(q)
    assert ids(receive(q, at=T + 1_000)) == ["m1"]


def test_a_receipt_is_seq_and_token_and_only_the_latest_lease_deletes(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("m1"), new("m2")], T)
    old, other = receive(q)
    seq, token = handle(old)
    assert seq == old.seq and old.receipt == f"{seq}-{token}"
    (new_lease,) = receive(q, limit=1, at=T + LEASE)
    assert q.delete("q", [handle(old)]) == [False]                # received again since
    assert q.delete("other", [handle(new_lease)]) == [False]      # another queue's name
    assert q.delete("q", [handle(new_lease), handle(other)]) == [True, True]
    assert q.delete("q", [handle(new_lease)]) == [False]          # gone
    assert receive(q, at=T + 10 * LEASE) == []


def test_receipts_no_store_could_write_are_refused() -> None:
    for receipt in ("", "12", "12-", "x-0123456789abcdef", "²-0123456789abcdef", "1-short", "-0123456789abcdef",
                    "1" * 19 + "-0123456789abcdef"):
        assert parse_receipt(receipt) is None, receipt
    assert parse_receipt("42-0123456789abcdef") == (42, "0123456789abcdef")


def test_a_delayed_message_is_not_received_before_its_time_and_counts_as_delayed(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("late", delay_ms=5_000), new("now")], T)
    assert q.counts("q", T) == (1, 0, 1)
    assert ids(receive(q)) == ["now"]
    assert q.counts("q", T) == (0, 1, 1)                          # (visible, in flight, delayed)
    assert ids(receive(q, at=T + 5_000)) == ["late"]
    assert q.counts("q", T + 5_000) == (0, 2, 0)


def test_the_oldest_messages_age_counts_every_message_in_the_queue(messages: MessageStore) -> None:
    q = messages.queues
    assert q.oldest_sent_ms("q") is None                          # empty: no age
    q.send("q", [new("first")], T)
    q.send("q", [new("second"), new("late", delay_ms=60_000)], T + 7_000)
    assert q.oldest_sent_ms("q") == T                             # received or not
    (first,) = [m for m in receive(q, at=T + 8_000) if m.id == "first"]
    assert q.oldest_sent_ms("q") == T                             # in flight still counts
    q.delete("q", [handle(first)])
    assert q.oldest_sent_ms("q") == T + 7_000 and q.oldest_sent_ms("other") is None


def test_send_many_commits_to_several_queues(messages: MessageStore) -> None:
    q = messages.queues
    q.send_many({"a": [new("a1"), new("a2", delay_ms=10)], "b": [new("b1", sys={"n": 1}, lease_ms=5)]}, T)
    q.send_many({}, T)
    q.send_many({"a": []}, T)
    assert ids(receive(q, "a", at=T + 10)) == ["a1", "a2"]
    (b,) = receive(q, "b")
    assert b.sys == {"n": 1} and ids(receive(q, "b", at=T + 5)) == ["b1"]


# -- FIFO and deduplication ---------------------------------------------------------------------------
def test_fifo_receives_nothing_from_a_group_with_a_message_in_flight(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("g1a", group_id="g1"), new("g1b", group_id="g1"), new("g2a", group_id="g2")], T)
    assert ids(receive(q, limit=1, fifo=True)) == ["g1a"]
    assert ids(receive(q, fifo=True)) == ["g2a"]                  # g1 waits for g1a
    assert receive(q, fifo=True) == []
    (g1a,) = receive(q, limit=1, at=T + LEASE, fifo=True)          # its lease ran out: received again
    assert ids(receive(q, at=T + LEASE, fifo=True)) == ["g2a"]
    q.delete("q", [handle(g1a)])
    assert ids(receive(q, at=T + LEASE, fifo=True)) == ["g1b"]


def test_a_deduplication_id_seen_within_the_window_stores_nothing(messages: MessageStore) -> None:
    q = messages.queues
    ((first, seq),) = q.send("q", [new("m1", dedup_id="d")], T, dedup_window_ms=1_000)
    assert q.send("q", [new("m2", dedup_id="d"), new("m3")], T + 999, dedup_window_ms=1_000)[0] == (first, seq)
    assert ids(receive(q, at=T + 999)) == ["m1", "m3"]
    assert q.send("q", [new("m4", dedup_id="d")], T + 1_000, dedup_window_ms=1_000)[0][0] == "m4"


def test_deduplication_ids_may_be_scoped_by_group(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("m1", group_id="a", dedup_id="d")], T, dedup_scope_by_group=True)
    assert q.send("q", [new("m2", group_id="b", dedup_id="d")], T, dedup_scope_by_group=True)[0][0] == "m2"
    assert q.send("q", [new("m3", group_id="a", dedup_id="d")], T, dedup_scope_by_group=True)[0][0] == "m1"
    assert q.send("q", [new("m4", group_id="c", dedup_id="d")], T)[0][0] == "m4"       # not scoped: its own id
    assert q.send("q", [new("m5", group_id="e", dedup_id="d")], T)[0][0] == "m4"


# -- redrive, retention ---------------------------------------------------------------------------------
def test_a_message_received_max_times_moves_to_the_dead_letter_queue(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("m1", sys={"AWSTraceHeader": "t"})], T)
    redrive = ("dlq", 2)
    for n in range(2):
        assert ids(receive(q, at=T + n * LEASE, redrive=redrive, source_arn="arn:q")) == ["m1"]
    assert receive(q, at=T + 2 * LEASE, redrive=redrive, source_arn="arn:q") == []
    (dead,) = receive(q, "dlq", at=T + 2 * LEASE)
    assert dead.id == "m1" and dead.receives == 1 and dead.first_receive_ms == T + 2 * LEASE
    assert dead.sys == {"AWSTraceHeader": "t", "DeadLetterQueueSourceArn": "arn:q"}


def test_messages_past_retention_are_dropped_when_met(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("old")], T)
    q.send("q", [new("new")], T + 500)
    assert ids(receive(q, at=T + 1_000, retention_ms=1_000)) == ["new"]
    assert q.queue_stats("q") == (1, 1)


def test_sweep_drops_messages_past_their_queues_retention_and_expired_deduplication_ids(
        messages: MessageStore) -> None:
    q = messages.queues
    q.send("a", [new("a-old", dedup_id="d")], T, dedup_window_ms=100)
    q.send("a", [new("a-new")], T + 900)
    q.send("b", [new("b-old")], T)
    assert q.sweep(T + 1_000, {"a": 1_000}) == 1                  # b has no retention given
    assert ids(receive(q, "a", at=T + 1_000)) == ["a-new"] and ids(receive(q, "b", at=T + 1_000)) == ["b-old"]
    assert q.send("a", [new("a-again", dedup_id="d")], T + 50)[0][0] == "a-again"


# -- visibility, release, move -----------------------------------------------------------------------
def test_change_visibility_of_a_lease(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("m1"), new("m2")], T)
    m1, m2 = receive(q)
    assert q.change_visibility("q", handle(m1), T + 100, T + 10) == "ok"
    assert ids(receive(q, at=T + 100)) == ["m1"]
    assert q.change_visibility("q", handle(m1), T + 100, T + 100) == "gone"      # received since
    assert q.change_visibility("q", (m2.seq, "0" * 16), T, T) == "gone"
    assert q.change_visibility("q", handle(m2), T + 5, T + LEASE) == "not-inflight"
    assert q.change_visibility("q", handle(m2), T, T + 1) == "ok"                  # visible now
    assert ids(receive(q, at=T + 1)) == ["m2"]


def test_release_makes_leases_visible_again_with_new_system_attributes(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new("m1", sys={"n": 0}), new("m2", sys={"n": 0}), new("m3", sys={"n": 0})], T)
    m1, m2, m3 = receive(q)
    q.release("q", [handle(m1), handle(m2)], T + 60_000, {"n": 1})
    q.release("q", [handle(m3)], T + 10)                           # attributes kept
    q.release("q", [(m1.seq, "0" * 16)], T)                        # not the lease: nothing happens
    (m3,) = receive(q, at=T + 10)
    assert (m3.id, m3.sys) == ("m3", {"n": 0})
    q.delete("q", [handle(m3)])
    assert [(m.id, m.sys, m.receives) for m in receive(q, at=T + 60_000)] == [("m1", {"n": 1}, 2),
                                                                              ("m2", {"n": 1}, 2)]


def test_move_takes_visible_messages_to_another_queue_as_never_received(messages: MessageStore) -> None:
    q = messages.queues
    q.send("dlq", [new("m1"), new("m2"), new("m3"), new("m4", delay_ms=1_000)], T)
    receive(q, "dlq", limit=1)                                     # m1 in flight: stays
    assert q.move("dlq", "q", 1, T) == 1
    assert q.move("dlq", "q", None, T) == 1
    assert q.move("dlq", "q", None, T) == 0
    moved = receive(q, at=T + 1)
    assert ids(moved) == ["m2", "m3"] and [(m.receives, m.first_receive_ms) for m in moved] == [(1, T + 1)] * 2
    assert q.counts("dlq", T) == (0, 1, 1)


# -- counting, scanning, purging ------------------------------------------------------------------------
def test_stats_scan_and_purge(messages: MessageStore) -> None:
    q = messages.queues
    q.send("q", [new(f"m{i}", f"body {i}".encode()) for i in range(7)], T)
    q.send("other", [new("o")], T)
    receive(q, limit=2)
    assert q.queue_stats("q") == (7, 7 * 6) and q.queue_stats("none") == (0, 0)
    assert list(q.scan("q", batch=3)) == [f"body {i}".encode() for i in range(7)]   # leased ones too
    assert q.counts("q", T) == (5, 2, 0)
    assert q.purge("q") == 7 and q.purge("q") == 0
    assert q.queue_stats("q") == (0, 0) and q.queue_stats("other") == (1, 1)
