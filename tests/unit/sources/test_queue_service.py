"""The queue service's timing on a fake clock: visibility timeouts, delays, long polls, retention,
the deduplication window and the purge interval, each to the millisecond, without waiting.

The messages are kept in a real message store (SQLite, in a temporary folder); the service reads
its time from a ``FakeClock``, and its long polls sleep on ``ClockWakeups``, which moves the clock
by the time asked instead of sleeping. One real end-to-end test of each path stays in
``tests/integration/test_sqs.py`` (a message visible again after its timeout, a long poll woken by
a send)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from cumulo.model.queue import PurgeQueueInProgress, ReceiptHandleIsInvalid
from cumulo.sources.housekeeping import Housekeeper
from cumulo.sources.queues import QueueService
from cumulo.store.sqlite_messages import SQLiteMessageStore

from ..fakes import FakeClock


class ClockWakeups:
    """``store.ports.Wakeups`` for one thread: nothing notifies, so a wait ends at its timeout or at
    the next re-check (every ``recheck_s``, as the SQLite store's waits look again now and then);
    it moves the clock by that much instead of sleeping, and is recorded."""

    def __init__(self, clock: FakeClock, recheck_s: float = 1.0) -> None:
        self.clock, self.recheck_s = clock, recheck_s
        self.waits: list[tuple[str | None, float]] = []

    def notify(self, topic: str | None = None) -> None:
        pass

    def wait(self, topic: str | None, timeout_s: float) -> None:
        self.waits.append((topic, timeout_s))
        self.clock.advance(min(timeout_s, self.recheck_s))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    s = SQLiteMessageStore(tmp_path / "queues.db")
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wakeups(clock: FakeClock) -> ClockWakeups:
    return ClockWakeups(clock)


@pytest.fixture
def queues(store: SQLiteMessageStore, clock: FakeClock, wakeups: ClockWakeups) -> QueueService:
    return QueueService(store.queues, wakeups, "us-east-1", "000000000000", clock)


def bodies(queues: QueueService, name: str) -> list[str]:
    return [m["Body"] for m in queues.receive_message(name, 10)]


def test_a_received_message_is_back_exactly_when_its_visibility_timeout_ends(queues: QueueService,
                                                                              clock: FakeClock) -> None:
    queues.create_queue("q", {"VisibilityTimeout": "30"})
    queues.send_message("q", "again")
    (first,) = queues.receive_message("q")
    clock.advance(29.999)
    assert queues.receive_message("q") == []
    assert queues.get_queue_attributes("q", ["ApproximateNumberOfMessagesNotVisible"]) == \
        {"ApproximateNumberOfMessagesNotVisible": "1"}
    clock.advance(0.001)
    (second,) = queues.receive_message("q", attribute_names=["ApproximateReceiveCount",
                                                              "ApproximateFirstReceiveTimestamp"])
    assert second["MessageId"] == first["MessageId"] and second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"] == {"ApproximateReceiveCount": "2",
                                    "ApproximateFirstReceiveTimestamp": str(clock.ms() - 30_000)}
    with pytest.raises(ReceiptHandleIsInvalid):          # the old receipt no longer changes the message
        queues.change_message_visibility("q", first["ReceiptHandle"], 0)


def test_a_visibility_change_counts_from_the_time_it_is_made(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q")
    queues.send_message("q", "m")
    (m,) = queues.receive_message("q")
    clock.advance(20)
    queues.change_message_visibility("q", m["ReceiptHandle"], 5)
    clock.advance(4.999)
    assert queues.receive_message("q") == []
    clock.advance(0.001)
    assert bodies(queues, "q") == ["m"]


def test_a_delayed_message_is_counted_as_delayed_until_its_delay_ends(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q")
    queues.send_message("q", "later", delay_seconds=90)
    assert queues.receive_message("q") == []
    assert queues.get_queue_attributes("q", ["ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessages"]) \
        == {"ApproximateNumberOfMessagesDelayed": "1", "ApproximateNumberOfMessages": "0"}
    clock.advance(89.999)
    assert queues.receive_message("q") == []
    clock.advance(0.001)
    assert bodies(queues, "q") == ["later"]


def test_a_queue_s_delay_applies_to_each_message_sent_to_it(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q", {"DelaySeconds": "10"})
    queues.send_message("q", "first")
    clock.advance(5)
    queues.send_message("q", "second")
    clock.advance(5)
    assert bodies(queues, "q") == ["first"]
    clock.advance(5)
    assert bodies(queues, "q") == ["second"]


def test_a_long_poll_on_an_empty_queue_waits_its_whole_time_and_answers_nothing(
        queues: QueueService, clock: FakeClock, wakeups: ClockWakeups) -> None:
    queues.create_queue("q")
    started = clock.monotonic()
    assert queues.receive_message("q", wait_seconds=20) == []
    assert clock.monotonic() - started == 20
    assert {topic for topic, _ in wakeups.waits} == {"q"}         # it slept on the queue's topic


def test_a_queue_s_receive_wait_is_the_default_long_poll(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q", {"ReceiveMessageWaitTimeSeconds": "7"})
    started = clock.monotonic()
    assert queues.receive_message("q") == []
    assert clock.monotonic() - started == 7
    started = clock.monotonic()
    assert queues.receive_message("q", wait_seconds=0) == []        # a short poll asked for
    assert clock.monotonic() - started == 0


def test_a_long_poll_answers_a_message_that_becomes_visible_while_it_waits(queues: QueueService,
                                                                         clock: FakeClock) -> None:
    queues.create_queue("q")
    queues.send_message("q", "soon", delay_seconds=3)
    started = clock.monotonic()
    assert bodies_waiting(queues, "q", 20) == ["soon"]
    assert clock.monotonic() - started == 3             # found at the first look after its delay


def bodies_waiting(queues: QueueService, name: str, wait: int) -> list[str]:
    return [m["Body"] for m in queues.receive_message(name, 10, wait_seconds=wait)]


def test_a_message_past_its_queue_s_retention_is_not_delivered(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q", {"MessageRetentionPeriod": "60"})
    queues.send_message("q", "old")
    clock.advance(30)
    queues.send_message("q", "new")
    clock.advance(29.999)
    queues.change_message_visibility("q", queues.receive_message("q")[0]["ReceiptHandle"], 0)   # "old" is still here
    clock.advance(0.001)                                                                        # now 60 s old
    assert bodies(queues, "q") == ["new"]


def test_the_housekeeper_sweeps_messages_past_their_queue_s_retention(
        store: SQLiteMessageStore, queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q", {"MessageRetentionPeriod": "60"})
    queues.create_queue("kept")
    queues.send_message("q", "old")
    queues.send_message("kept", "old")
    clock.advance(30)
    queues.send_message("q", "new")
    housekeeper = Housekeeper([queues.sweep])
    clock.advance(29.999)
    assert housekeeper.sweep() == 0
    clock.advance(0.001)
    assert housekeeper.sweep() == 1
    assert store.queues.counts("q", clock.ms()) == (1, 0, 0)                # "new" stays
    assert store.queues.counts("kept", clock.ms()) == (1, 0, 0)             # 4 days by default


def test_timestamps_are_the_clock_s(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q")
    created = int(clock.now())
    clock.advance(100)
    queues.set_queue_attributes("q", {"VisibilityTimeout": "5"})
    queues.send_message("q", "m")
    attrs = queues.get_queue_attributes("q", ["CreatedTimestamp", "LastModifiedTimestamp"])
    assert attrs == {"CreatedTimestamp": str(created), "LastModifiedTimestamp": str(created + 100)}
    (m,) = queues.receive_message("q", attribute_names=["SentTimestamp"])
    assert m["Attributes"] == {"SentTimestamp": str(clock.ms())}


def test_a_fifo_deduplication_id_is_remembered_for_five_minutes(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q.fifo", {"FifoQueue": "true"})
    first = queues.send_message("q.fifo", "one", group_id="g", dedup_id="d")
    clock.advance(299.999)
    assert queues.send_message("q.fifo", "two", group_id="g", dedup_id="d")["MessageId"] == first["MessageId"]
    clock.advance(0.001)
    assert queues.send_message("q.fifo", "three", group_id="g", dedup_id="d")["MessageId"] != first["MessageId"]
    got = queues.receive_message("q.fifo", 10)
    assert [m["Body"] for m in got] == ["one", "three"]


def test_a_queue_is_purged_at_most_once_a_minute(queues: QueueService, clock: FakeClock) -> None:
    queues.create_queue("q")
    queues.purge_queue("q")
    clock.advance(59.999)
    with pytest.raises(PurgeQueueInProgress):
        queues.purge_queue("q")
    clock.advance(0.001)
    queues.purge_queue("q")
