"""Background workers below the capabilities.

``QueueWorkers``: a pool of threads working off one internal queue of the message store. One
fetch thread leases up to as many messages as there are free workers (at most ten at a time) and
hands each to a worker; a message whose handling raises stays leased and comes back after its
lease, so nothing is lost. Used by the asynchronous-invocation dispatcher and the event-bus
delivery workers.

``Periodic``: one thread running a job every ``interval_s`` and once more when stopped (the
metrics' and traces' flushers: what the recorders hold in memory, into the store in batches).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from cumulo.ports import SYSTEM_CLOCK, Clock, now_ms
from cumulo.store.ports import QueueMessages, StoredMessage, Wakeups
from cumulo.store.health import log_failure

__all__ = ["QueueWorkers", "Periodic"]

log = logging.getLogger("cumulo.workers")


class QueueWorkers:
    def __init__(self, messages: QueueMessages, wakeups: Wakeups, queue: str, workers: int, lease_ms: int,
                 handle: Callable[[StoredMessage], None], name: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self._messages, self._queue, self._lease_ms, self._handle = messages, queue, lease_ms, handle
        self._wakeups = wakeups
        self._clock = clock     # leases are counted from its time
        self._workers = workers
        self._free = threading.Semaphore(workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name=f"{name}-fetch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop leasing; let the messages in hand finish."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)

    def _fetch(self) -> None:
        while not self._stop.is_set():
            if not self._free.acquire(timeout=0.2):
                continue
            permits = 1
            while permits < min(10, self._workers) and self._free.acquire(blocking=False):
                permits += 1
            try:
                found = self._messages.receive(self._queue, permits, self._lease_ms, now_ms(self._clock))
            except Exception:
                log_failure(log, "receive from %s failed", self._queue)
                found = []
            for _ in range(permits - len(found)):
                self._free.release()
            if not found:
                self._wakeups.wait(self._queue, 1.0)
                continue
            for message in found:
                self._pool.submit(self._run, message)

    def _run(self, message: StoredMessage) -> None:
        try:
            self._handle(message)
        except Exception:
            log_failure(log, "message %s of %s failed; it comes back after its lease", message.id, self._queue)
        finally:
            self._free.release()


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
