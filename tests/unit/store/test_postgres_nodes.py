"""What only a shared database has: several nodes (store objects on one PostgreSQL database)
seeing one another's writes and wake-ups, and never taking the same message."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest

from cumulo.store.ports import NewMessage, now_ms
from cumulo.store.postgres import PostgresMessageStore


@pytest.fixture
def two_nodes(postgres: Any) -> Iterator[tuple[PostgresMessageStore, PostgresMessageStore]]:
    url = postgres.fresh_database()
    # waiters re-check only every 120 s: within a test, only a NOTIFY wakes them
    a, b = PostgresMessageStore(url, recheck_s=120.0), PostgresMessageStore(url, recheck_s=120.0)
    yield a, b
    a.close()
    b.close()


def test_a_send_on_one_node_wakes_a_waiter_on_the_other(two_nodes: tuple[PostgresMessageStore, ...]) -> None:
    a, b = two_nodes
    waiter = threading.Thread(target=b.wakeups.wait, args=("q", 60.0), daemon=True)
    waiter.start()
    while b.wakeups.waiters("q") == 0:
        waiter.join(0.005)
    a.queues.send("q", [NewMessage("m1", b"x")], now_ms())
    waiter.join(10)
    assert not waiter.is_alive()
    assert [m.body for m in b.queues.receive("q", 10, 30_000, now_ms())] == [b"x"]


def test_concurrent_receivers_on_two_nodes_never_take_the_same_message(
        two_nodes: tuple[PostgresMessageStore, ...]) -> None:
    a, b = two_nodes
    sent = 400
    a.queues.send_many({"q": [NewMessage(f"m{i}", b"%d" % i) for i in range(sent)]}, now_ms())
    taken: list[list[bytes]] = [[] for _ in range(4)]

    def consume(node: PostgresMessageStore, out: list[bytes]) -> None:
        while got := node.queues.receive("q", 7, 60_000, now_ms()):
            out.extend(m.body for m in got)

    threads = [threading.Thread(target=consume, args=((a, b)[i % 2], taken[i])) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [body for part in taken for body in part]
    assert sorted(everything) == sorted(b"%d" % i for i in range(sent))     # each once: none twice, none lost


def test_a_database_out_of_reach_is_a_retryable_503(postgres: Any, tmp_path: Any) -> None:
    import psycopg
    from psycopg_pool import PoolTimeout

    from cumulo import Cumulo

    with Cumulo(home=tmp_path / "home", store=postgres.fresh_database()) as c:
        for exc in (psycopg.OperationalError("connection refused"), PoolTimeout("no connection in time")):
            fault = c.store_fault(exc)
            assert fault is not None and (fault.status, fault.type, fault.retryable) == \
                (503, "ServiceUnavailableException", True)
        assert c.store_fault(ValueError("a bug")) is None
