"""The wake-up port's contract, for every backend (``conftest.BACKENDS``): a notify wakes the
waiters of its topics and of anything, no others; and the store's writes notify what they made
available (so a long poll or a poller needs no polling loop)."""

from __future__ import annotations

import time
from typing import Callable

from cumulo.store.ports import MessageStore, NewMessage, parse_receipt, stream_topic

from .conftest import Sleeper

T = 1_700_000_000_000
Sleepers = Callable[[str | None], Sleeper]
ASLEEP_S = 0.3      # how long a waiter not meant to wake is watched


def test_a_notify_wakes_the_waiters_of_its_topics_and_of_anything_only(messages: MessageStore,
                                                                        sleeper: Sleepers) -> None:
    on_a, on_b, on_stream, on_any = sleeper("a"), sleeper("b"), sleeper(stream_topic("a")), sleeper(None)
    messages.wakeups.notify("a")
    assert on_a.woken(5) and on_any.woken(5)
    assert not on_b.woken(ASLEEP_S) and not on_stream.woken(0)
    messages.wakeups.notify("b", stream_topic("a"))
    assert on_b.woken(5) and on_stream.woken(5)


def test_a_wait_ends_at_its_timeout(messages: MessageStore) -> None:
    started = time.monotonic()
    messages.wakeups.wait("quiet", 0.1)
    assert 0.09 <= time.monotonic() - started < 5


def test_a_send_wakes_its_queue_and_a_put_of_records_its_stream(messages: MessageStore, sleeper: Sleepers) -> None:
    on_a, on_b, on_stream, on_any = sleeper("a"), sleeper("b"), sleeper(stream_topic("a")), sleeper(None)
    messages.queues.send("a", [NewMessage("m1", b"x")], T)
    assert on_a.woken(5) and on_any.woken(5)
    assert not on_b.woken(ASLEEP_S) and not on_stream.woken(0)      # another queue; a stream of that name
    messages.streams.put_records("a", [(0, "k", b"r")], T)
    assert on_stream.woken(5) and not on_b.woken(0)
    messages.queues.send_many({"b": [NewMessage("m2", b"y")]}, T)
    assert on_b.woken(5)


def test_what_makes_a_leased_message_visible_now_wakes_its_queue(messages: MessageStore, sleeper: Sleepers) -> None:
    q = messages.queues
    q.send("q", [NewMessage(f"m{i}", b"x") for i in range(3)], T)
    m0, m1, m2 = q.receive("q", 3, 30_000, T)
    waiting = sleeper("q")
    q.release("q", [(m0.seq, m0.receipt.partition("-")[2])], T)      # at a time long past: due now
    assert waiting.woken(5)
    waiting = sleeper("q")
    handle = parse_receipt(m1.receipt)
    assert handle is not None and q.change_visibility("q", handle, T, T) == "ok"
    assert waiting.woken(5)


def test_a_move_and_a_dead_letter_wake_the_queue_they_went_to(messages: MessageStore, sleeper: Sleepers) -> None:
    q = messages.queues
    q.send("source", [NewMessage("m1", b"x"), NewMessage("m2", b"y")], T)
    q.receive("source", 1, 1, T, redrive=("dlq", 1))
    waiting = sleeper("dlq")
    assert [m.id for m in q.receive("source", 2, 1, T + 1, redrive=("dlq", 1))] == ["m2"]   # m1 goes to dlq
    assert waiting.woken(5)
    waiting = sleeper("back")
    assert q.move("dlq", "back", None, T + 2) == 1
    assert waiting.woken(5)


def test_a_new_execution_wakes_who_waits_for_anything(messages: MessageStore, sleeper: Sleepers) -> None:
    on_any, on_q = sleeper(None), sleeper("q")
    messages.executions.insert_execution("arn:x", "arn:m", "x", T, {})
    assert on_any.woken(5) and not on_q.woken(ASLEEP_S)
