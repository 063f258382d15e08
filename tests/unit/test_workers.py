"""workers.Periodic: the metrics' and traces' flushers run on it (a job each interval, a last run
when stopped, a failing run logged and the next one still coming). workers.QueueWorkers on a real
message store: batches leased at once, deletes grouped, buffered messages' leases renewed or left,
and given back when stopped."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from cumulo.metrics.service import MetricsFlusher
from cumulo.store.ports import NewMessage, StoredMessage
from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.traces.service import TraceFlusher
from cumulo.workers import STALE_MS, Periodic, QueueWorkers

from .fakes import FakeClock

LEASE_MS = 5_000


def test_runs_each_interval_survives_a_failure_and_runs_once_more_when_stopped() -> None:
    runs: list[str] = []
    third = threading.Event()

    def tick() -> None:
        runs.append("tick")
        if len(runs) == 1:
            raise RuntimeError("a failing flush")
        if len(runs) >= 3:
            third.set()

    job = Periodic("test-periodic", 0.001, tick, last=lambda: runs.append("last"))
    job.start()
    assert third.wait(30)
    job.stop()
    assert runs[-1] == "last" and runs.count("last") == 1 and runs.count("tick") >= 3


def test_both_flushers_are_periodic_jobs() -> None:
    assert issubclass(MetricsFlusher, Periodic) and issubclass(TraceFlusher, Periodic)


class Counting:
    """The queue store, with what each receive returned and each delete was given."""

    def __init__(self, queues: Any) -> None:
        self._queues, self.received, self.deleted = queues, [], []
        self.released = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queues, name)

    def receive(self, *args: Any, **kwargs: Any) -> list[StoredMessage]:
        found = self._queues.receive(*args, **kwargs)
        self.received.append(len(found))
        return found

    def delete(self, queue: str, receipts: list[tuple[int, str]]) -> list[bool]:
        self.deleted.append(len(receipts))
        return self._queues.delete(queue, receipts)

    def release(self, *args: Any, **kwargs: Any) -> None:
        self._queues.release(*args, **kwargs)
        self.released.set()


class Gated:
    """A handler that holds each message until the test lets it go."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.go = threading.Semaphore(0)
        self.changed = threading.Condition()
        self.workers: QueueWorkers | None = None       # whose ``settle`` deletes a handled message

    def __call__(self, message: StoredMessage) -> None:
        with self.changed:
            self.started.append(message.id)
            self.changed.notify_all()
        assert self.go.acquire(timeout=30)
        if self.workers is not None:
            self.workers.settle((message.seq, message.receipt.partition("-")[2]))

    def wait_started(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.started) >= count, timeout=30), self.started


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    messages = SQLiteMessageStore(tmp_path / "queues.db")
    yield messages
    messages.close()


def _send(store: SQLiteMessageStore, clock: FakeClock, count: int) -> None:
    store.queues.send("work", [NewMessage(f"m{i}", b"{}", None, None, None, 0, None, None) for i in range(1, count + 1)],
                      clock.ms())


def test_a_worker_leases_a_batch_at_once_and_deletes_what_it_handled_in_groups(store: SQLiteMessageStore) -> None:
    clock = FakeClock()
    queues = Counting(store.queues)
    handled: list[str] = []
    done = threading.Event()

    def handle(message: StoredMessage) -> None:
        handled.append(message.id)
        workers.settle((message.seq, message.receipt.partition("-")[2]))
        if len(handled) == 9:
            done.set()

    workers = QueueWorkers(queues, store.wakeups, "work", 1, LEASE_MS, handle, "test-batch", clock, prefetch=8,
                           settle_delay_s=3600.0)
    _send(store, clock, 9)
    workers.start()
    assert done.wait(30), handled       # the one worker also handles what it buffered once the queue is empty
    workers.stop()
    assert handled == [f"m{i}" for i in range(1, 10)]
    assert queues.received[0] == 9                      # one transaction leased all of them
    assert sum(queues.deleted) == 9 and len(queues.deleted) <= 3     # the first alone, then held back in groups
    assert store.queues.receive("work", 10, LEASE_MS, clock.ms() + 10 * LEASE_MS) == []


def test_a_buffered_message_has_its_lease_renewed_or_is_left_when_it_ran_out(store: SQLiteMessageStore) -> None:
    clock = FakeClock()
    handler = Gated()
    workers = handler.workers = QueueWorkers(store.queues, store.wakeups, "work", 1, LEASE_MS, handler, "test-stale",
                                             clock, prefetch=2)
    _send(store, clock, 3)
    workers.start()
    handler.wait_started(1)                             # m1 runs; m2 and m3 wait in the buffer
    clock.advance((STALE_MS + 1_000) / 1000)
    handler.go.release()
    handler.wait_started(2)                             # m2 waited past STALE_MS: its lease was renewed
    # Another consumer, after the first lease ran out: m3 is visible again and becomes its; m2 is not.
    (taken,) = store.queues.receive("work", 10, LEASE_MS, clock.ms() + LEASE_MS - 1_000)
    assert taken.id == "m3"
    handler.go.release()
    workers.stop()
    assert handler.started == ["m1", "m2"]              # m3 is the other consumer's: not run here as well


def test_stopping_gives_the_buffered_messages_back_at_once(store: SQLiteMessageStore) -> None:
    clock = FakeClock()
    handler = Gated()
    queues = Counting(store.queues)
    workers = QueueWorkers(queues, store.wakeups, "work", 1, LEASE_MS, handler, "test-stop", clock, prefetch=4)
    _send(store, clock, 5)
    workers.start()
    handler.wait_started(1)
    stopping = threading.Thread(target=workers.stop)
    stopping.start()
    assert queues.released.wait(30)                     # while m1 still runs
    handler.go.release()
    stopping.join(30)
    assert not stopping.is_alive() and handler.started == ["m1"]
    assert [m.id for m in store.queues.receive("work", 10, LEASE_MS, clock.ms())] == ["m2", "m3", "m4", "m5"]
