"""Background workers below the capabilities.

``QueueWorkers``: a pool of threads working off one internal queue of the message store. There is
no fetch thread: a worker that finds the in-memory buffer run low (and nobody else leasing) leases
a batch itself, in one transaction, keeps the first message and leaves the rest in the buffer,
waking as many idle workers as it left messages (and one more, to lease next); under load a worker
that finishes one message takes the next from the buffer without any other thread waking. When
the queue is empty one worker waits for its wake-up, the others for the buffer. At most ``workers
+ prefetch`` messages are in hand (buffered or being handled): with ``prefetch``, the buffer is
topped up once it has run down to half of it. A message that waited in the buffer longer than
``STALE_MS`` gets its lease renewed before it is handled (or is left to come back, when the lease
ran out meanwhile). A message whose handling raises stays leased and comes back after its lease,
so nothing is lost. Handled messages may be deleted through ``settle``: deletes of several workers
share one transaction (group commit). Used by the asynchronous-invocation dispatcher and the
event-bus delivery workers.

``Periodic``: one thread running a job every ``interval_s`` and once more when stopped (the
metrics' and traces' flushers: what the recorders hold in memory, into the store in batches).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

from cumulo.ports import SYSTEM_CLOCK, Clock, now_ms
from cumulo.store.ports import QueueMessages, StoredMessage, Wakeups
from cumulo.store.health import log_failure

__all__ = ["QueueWorkers", "Periodic", "STALE_MS"]

log = logging.getLogger("cumulo.workers")

STALE_MS = 1_000        # a message buffered longer than this has its lease renewed before it is handled
MAX_BATCH = 32          # messages leased (or deleted) in one transaction
BUFFER_S = 0.05         # prefetch no more than the workers handle in this long, as handling has taken so far
SETTLE_DELAY_S = 0.05   # the longest a worker holds back a handled message's delete while it has more to do


class QueueWorkers:
    def __init__(self, messages: QueueMessages, wakeups: Wakeups, queue: str, workers: int, lease_ms: int,
                 handle: Callable[[StoredMessage], None], name: str, clock: Clock = SYSTEM_CLOCK,
                 prefetch: int = 0, settle_delay_s: float = SETTLE_DELAY_S) -> None:
        self._messages, self._queue, self._lease_ms, self._handle = messages, queue, lease_ms, handle
        self._wakeups = wakeups
        self._clock = clock     # leases are counted from its time
        self._name, self._workers = name, workers
        self._prefetch = prefetch       # at most; less while handling is slow (``BUFFER_S``)
        self._handle_s: float | None = None     # how long handling a message takes, a moving average
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)       # idle workers wait for the buffer
        self._buffer: deque[tuple[StoredMessage, int]] = deque()   # (message, when it was leased)
        self._in_hand = 0       # buffered, being handled, or being leased
        self._leasing = False   # a worker is leasing (or waiting for the queue's wake-up to)
        self._dry = False       # the last lease found the queue empty: lease again once the buffer is
        self._idle = 0          # workers waiting on ``_ready``
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._settled: list[tuple[int, str]] = []
        self._settled_at = 0.0          # when the oldest receipt in ``_settled`` came
        self._settle_delay_s = settle_delay_s
        self._settle_lock = threading.Lock()
        self._settling = False
        self._local = threading.local()     # ``busy``: this thread is one of the workers, handling

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._work, name=f"{self._name}_{i}", daemon=True)
                         for i in range(self._workers)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop leasing; let the messages being handled finish, and give the buffered ones back."""
        with self._lock:
            self._stop.set()
            left = [message for message, _ in self._buffer]
            self._buffer.clear()
            self._in_hand -= len(left)
            self._ready.notify_all()
        if left:
            try:
                self._messages.release(self._queue, [_receipt(m) for m in left], now_ms(self._clock))
            except Exception:
                log_failure(log, "giving back %d messages of %s failed; they come back after their lease",
                            len(left), self._queue)
        for thread in self._threads:
            thread.join()
        self._flush_held()

    def settle(self, receipt: tuple[int, str]) -> None:
        """Delete a handled message. Group commit: a worker with more messages waiting in the buffer,
        while handling one takes under a quarter of ``settle_delay_s``, holds its receipt back (up to
        ``MAX_BATCH`` receipts or ``settle_delay_s``; the receipts held are deleted before anyone
        leases or waits); otherwise whoever finds no delete under way
        deletes every receipt settled until none is left, one transaction each round, while the
        other workers add theirs and go on. Called outside a worker (a test's direct call), it
        returns with the message deleted. A failed delete is logged: those messages come back after
        their lease (and run again: at least once)."""
        with self._settle_lock:
            if not self._settled:
                self._settled_at = time.monotonic()
            self._settled.append(receipt)
            handle_s = self._handle_s
            if self._settling or (getattr(self._local, "busy", False) and self._buffer
                                  and handle_s is not None and handle_s < self._settle_delay_s / 4
                                  and len(self._settled) < MAX_BATCH
                                  and time.monotonic() - self._settled_at < self._settle_delay_s):
                return
            self._settling = True
        self._flush()

    def _flush(self) -> None:
        """Delete the settled receipts (this thread is the one settling) until none is left."""
        while True:
            with self._settle_lock:
                receipts, self._settled = self._settled, []
                if not receipts:
                    self._settling = False
                    return
            try:
                self._messages.delete(self._queue, receipts)
            except Exception:
                log_failure(log, "deleting %d handled messages of %s failed; they come back after their lease",
                            len(receipts), self._queue)

    def _flush_held(self) -> None:
        """Before this worker leases or waits: receipts held back are deleted now."""
        with self._settle_lock:
            if not self._settled or self._settling:
                return
            self._settling = True
        self._flush()

    def _work(self) -> None:
        local = self._local
        while True:
            taken = self._next()
            if taken is None:
                return
            message, leased_ms = taken
            started = time.monotonic()
            local.busy = True
            try:
                if self._fresh(message, leased_ms):
                    self._handle(message)
            except Exception:
                log_failure(log, "message %s of %s failed; it comes back after its lease", message.id, self._queue)
            finally:
                local.busy = False
                took = time.monotonic() - started
                self._handle_s = took if self._handle_s is None else self._handle_s + (took - self._handle_s) * 0.1
                with self._lock:
                    self._in_hand -= 1

    def _limits(self) -> tuple[int, int]:
        """(messages in hand at most, the buffer's length at which to lease again): the prefetch
        shrinks to what the workers handle in ``BUFFER_S``, so that slow messages are not held
        from other processes (nodes) that could run them."""
        prefetch, handle_s = self._prefetch, self._handle_s
        if prefetch and handle_s:
            prefetch = min(prefetch, int(self._workers * BUFFER_S / handle_s))
        return self._workers + prefetch, prefetch // 2

    def _next(self) -> tuple[StoredMessage, int] | None:
        """The next message for this worker: from the buffer, or leased by it when the buffer ran
        low; None once stopped."""
        with self._lock:
            while not self._stop.is_set():
                capacity, low = self._limits()
                if not self._leasing and self._in_hand < capacity and len(self._buffer) <= low \
                        and not (self._dry and self._buffer):
                    self._leasing = True
                    break
                if self._buffer:
                    return self._buffer.popleft()
                self._lock.release()
                try:
                    self._flush_held()
                finally:
                    self._lock.acquire()
                if self._buffer or self._stop.is_set():
                    continue
                self._idle += 1
                self._ready.wait()
                self._idle -= 1
            else:
                self._lock.release()
                try:
                    self._flush_held()
                finally:
                    self._lock.acquire()
                return None
        self._flush_held()
        return self._lease()

    def _lease(self) -> tuple[StoredMessage, int] | None:
        """Lease a batch (this worker is the one leasing): wait for the queue's wake-up while it is
        empty; keep one message, buffer the rest and wake idle workers for them."""
        while True:
            with self._lock:
                if self._stop.is_set():
                    self._leasing = False
                    return None
                room = max(1, min(self._limits()[0] - self._in_hand, MAX_BATCH))
                self._in_hand += room
            try:
                found = self._messages.receive(self._queue, room, self._lease_ms, now_ms(self._clock))
            except Exception:
                log_failure(log, "receive from %s failed", self._queue)
                found = []
            leased_ms = now_ms(self._clock)
            with self._lock:
                self._in_hand -= room - len(found)
                self._dry = not found
                if found:
                    self._leasing = False
                    self._buffer.extend((message, leased_ms) for message in found)
                    # one for each message beyond this worker's, and one more to lease next
                    self._ready.notify(min(self._idle, len(found)))
                    return self._buffer.popleft()
                if self._buffer:        # nothing more in the queue: what is buffered is this worker's to do
                    self._leasing = False
                    return self._buffer.popleft()
            self._wakeups.wait(self._queue, 1.0)

    def _fresh(self, message: StoredMessage, leased_ms: int) -> bool:
        """Whether a message may be handled now: one buffered past ``STALE_MS`` first gets a fresh
        lease; if its lease already ran out, it is left alone (it is someone else's, or comes back)."""
        now = now_ms(self._clock)
        if now - leased_ms <= STALE_MS:
            return True
        state = self._messages.change_visibility(self._queue, _receipt(message), now + self._lease_ms, now)
        if state != "ok":
            log.info("message %s of %s waited %d ms in the buffer and its lease ran out (%s); it comes back",
                     message.id, self._queue, now - leased_ms, state)
        return state == "ok"


def _receipt(message: StoredMessage) -> tuple[int, str]:
    return message.seq, message.receipt.partition("-")[2]


class Periodic:
    """``tick`` every ``interval_s`` on a thread of its own, and ``last`` (``tick`` unless given)
    once more when stopped, so nothing a recorder holds is lost at shutdown. A failing run is
    logged and the next one comes on time."""

    def __init__(self, name: str, interval_s: float, tick: Callable[[], object],
                 last: Callable[[], object] | None = None, logger: logging.Logger = log) -> None:
        self._name, self._interval_s, self._tick = name, interval_s, tick
        self._last = last or tick
        self._log = logger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            self._last()
        except Exception:
            log_failure(self._log, "the last run of %s failed", self._name)

    def tick(self) -> None:
        self._tick()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._tick()
            except Exception:
                log_failure(self._log, "%s failed", self._name)
