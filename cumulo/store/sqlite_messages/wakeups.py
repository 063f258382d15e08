"""Wake-ups in this process (``ports.Wakeups``): one condition per topic, and a short re-check.

Waiters sleep by what they wait for (a queue's name, ``stream_topic(name)``; None: anything), so
a send wakes only the threads that poll that queue, not every worker and poller at once. Commits
by other processes sharing the SQLite file notify nobody here: a wait lasts at most ``recheck_s``,
after which the waiter looks again.

No wake-up is lost between two waits of one thread: each topic counts its notifies, and a thread
whose topic was notified since its previous wait returned (while it was looking) does not sleep.
That race cost a worker a whole re-check interval whenever a send landed just after its empty
receive (on PostgreSQL, whose re-check is seconds, it halved the rate of asynchronous events).
"""

from __future__ import annotations

import threading

from cumulo.store.sqlite_messages.database import RECHECK_S

__all__ = ["LocalWakeups"]


class LocalWakeups:
    def __init__(self, recheck_s: float = RECHECK_S) -> None:
        self._recheck_s = recheck_s
        self._lock = threading.Lock()
        self._waiting: dict[str | None, threading.Condition] = {}
        self._notified: dict[str | None, int] = {}      # notifies per topic (None: any), ever
        self._seen = threading.local()                  # per thread: {topic: the count its last wait ended at}

    def notify(self, *topics: str) -> None:
        """Wake whoever waits for these topics, and for anything."""
        with self._lock:
            for topic in (*topics, None):
                self._notified[topic] = self._notified.get(topic, 0) + 1
                waiting = self._waiting.get(topic)
                if waiting is not None:
                    waiting.notify_all()

    def wait(self, topic: str | None, timeout_s: float) -> None:
        seen: dict[str | None, int] | None = getattr(self._seen, "counts", None)
        if seen is None:
            seen = self._seen.counts = {}
        with self._lock:
            count = self._notified.get(topic, 0)
            if topic in seen and seen[topic] != count:      # notified while this thread was looking
                seen[topic] = count
                return
            waiting = self._waiting.get(topic)
            if waiting is None:
                waiting = self._waiting[topic] = threading.Condition(self._lock)
            waiting.wait(min(timeout_s, self._recheck_s))
            seen[topic] = self._notified.get(topic, 0)

    def waiters(self, topic: str | None) -> int:
        """How many threads sleep on ``topic`` now (tests wait for them rather than guess a sleep)."""
        with self._lock:
            waiting = self._waiting.get(topic)
            return 0 if waiting is None else len(waiting._waiters)  # type: ignore[attr-defined]
