"""The message store's backends, for the contract tests (``test_contract_*.py``).

Each contract test runs once per entry of ``BACKENDS``, against ``store/ports.py``'s protocols
only: SQLite (a file per test) and PostgreSQL (a fresh database per test on the session's
throw-away server, ``tests/postgres.py``; the tests skip naming ``[postgresql]`` where none can be
started, which ``CUMULO_REQUIRE`` turns into failures on CI).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, cast

import pytest

from cumulo.store.ports import MessageStore
from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.store.sqlite_messages.wakeups import LocalWakeups


@dataclass(frozen=True)
class Backend:
    # A fresh, empty store, its files (if any) under the folder given. One process uses it, so a
    # wake-up that re-checks for other processes' commits is built to re-check less often than
    # any test waits: a wait then ends only when notified (or at its timeout).
    open: Callable[[Path, pytest.FixtureRequest], MessageStore]
    # How many threads are asleep on a topic (None: anything) right now, so a test notifies only
    # once its waiters wait, instead of guessing a sleep.
    asleep: Callable[[MessageStore, str | None], int]


def _sqlite(folder: Path, request: pytest.FixtureRequest) -> MessageStore:
    return SQLiteMessageStore(folder / "queues.db", wakeups=LocalWakeups(recheck_s=120.0))


def _sqlite_asleep(store: MessageStore, topic: str | None) -> int:
    return cast(LocalWakeups, store.wakeups).waiters(topic)


def _postgres(folder: Path, request: pytest.FixtureRequest) -> MessageStore:
    from cumulo.store.postgres import PostgresMessageStore

    cluster = request.getfixturevalue("postgres")
    return PostgresMessageStore(cluster.fresh_database(), recheck_s=120.0)


def _postgres_asleep(store: MessageStore, topic: str | None) -> int:
    from cumulo.store.postgres.wakeups import PostgresWakeups

    return cast(PostgresWakeups, store.wakeups).waiters(topic)


BACKENDS = {
    "sqlite": Backend(_sqlite, _sqlite_asleep),
    "postgresql": Backend(_postgres, _postgres_asleep),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def messages(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MessageStore]:
    store = backend.open(tmp_path, request)
    yield store
    store.close()


@dataclass
class Sleeper:
    """A thread waiting on a topic for up to a minute; ``woken`` tells whether it has returned."""

    thread: threading.Thread

    def woken(self, within_s: float) -> bool:
        self.thread.join(within_s)
        return not self.thread.is_alive()


@pytest.fixture
def sleeper(backend: Backend, messages: MessageStore) -> Iterator[Callable[[str | None], Sleeper]]:
    """``sleeper(topic)``: a thread asleep on ``topic`` by the time it returns."""
    topics: list[str | None] = []

    def start(topic: str | None) -> Sleeper:
        before = backend.asleep(messages, topic)
        thread = threading.Thread(target=messages.wakeups.wait, args=(topic, 60.0), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while backend.asleep(messages, topic) <= before:
            assert time.monotonic() < deadline, f"nobody waits on {topic!r}"
            time.sleep(0.005)
        topics.append(topic)
        return Sleeper(thread)

    yield start
    messages.wakeups.notify(*(t for t in topics if t is not None))     # let the rest go
