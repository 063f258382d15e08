"""What the SQLite message store adds to the contract (``test_contract_*.py``): several processes
share its file, and its wake-ups are this process's, so it looks again for the others' commits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cumulo.store.ports import NewMessage, now_ms
from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.store.sqlite_messages.database import RECHECK_S
from cumulo.store.sqlite_messages.wakeups import LocalWakeups


def test_a_wait_looks_again_for_other_processes_commits_which_notify_nobody_here(tmp_path: Path) -> None:
    here = SQLiteMessageStore(tmp_path / "queues.db", wakeups=LocalWakeups(recheck_s=0.2))
    there = SQLiteMessageStore(tmp_path / "queues.db")          # another process on the same file
    try:
        started = time.monotonic()
        there.queues.send("q", [NewMessage("m1", b"x")], now_ms())
        here.wakeups.wait("q", 30.0)                             # nobody here notifies
        assert 0.15 < time.monotonic() - started < 5
        assert [m.id for m in here.queues.receive("q", 1, 30_000, now_ms())] == ["m1"]
    finally:
        here.close()
        there.close()


def test_a_queues_document_changed_by_another_process_shows_within_the_recheck(tmp_path: Path) -> None:
    here, there = SQLiteMessageStore(tmp_path / "queues.db"), SQLiteMessageStore(tmp_path / "queues.db")
    try:
        here.queues.create_queue("q", {"v": 1})
        assert here.queues.get_queue("q") == {"v": 1} and there.queues.get_queue("q") == {"v": 1}
        there.queues.put_queue("q", {"v": 2})
        assert there.queues.get_queue("q") == {"v": 2}           # its own write: at once
        time.sleep(RECHECK_S)
        assert here.queues.get_queue("q") == {"v": 2}
    finally:
        here.close()
        there.close()



def _held_sends(store: SQLiteMessageStore, batches: list[dict[str, list[NewMessage]]]) -> tuple[int, list[Any]]:
    """Each batch sent from a thread of its own while the database is held, then let go: (the
    transactions the sends took, what each send raised or None)."""
    import threading

    transactions = []
    real_tx = store.queues._tx

    def counting_tx():  # type: ignore[no-untyped-def]
        transactions.append(1)
        return real_tx()
    store.queues._tx = counting_tx      # type: ignore[method-assign]
    outcomes: list[Any] = [None] * len(batches)

    def send(n: int) -> None:
        try:
            store.queues.send_many(batches[n], now_ms())
        except Exception as exc:        # noqa: BLE001 (the test looks at it)
            outcomes[n] = exc
    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(batches))]
    with store.queues._lock:            # a commit in progress: every send waits behind it
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(store.queues._pending) < len(batches) and time.monotonic() < deadline:
            time.sleep(0.001)
    for t in threads:
        t.join()
    store.queues._tx = real_tx          # type: ignore[method-assign]
    return len(transactions), outcomes


def test_sends_waiting_behind_a_commit_share_the_next_one(tmp_path: Path) -> None:
    """Group commit (a topic's fan-outs from several publishers): one transaction for all the
    batches that waited, each caller returning once its rows are in."""
    store = SQLiteMessageStore(tmp_path / "queues.db")
    try:
        batches = [{f"q{k}": [NewMessage(f"m{n}-{k}", b"x")] for k in range(3)} for n in range(5)]
        transactions, outcomes = _held_sends(store, batches)
        assert (transactions, outcomes) == (1, [None] * 5)
        for k in range(3):
            assert sorted(m.id for m in store.queues.receive(f"q{k}", 10, 30_000, now_ms())) == \
                [f"m{n}-{k}" for n in range(5)]
    finally:
        store.close()


def test_a_failed_group_commit_fails_every_send_it_held(tmp_path: Path) -> None:
    import sqlite3

    store = SQLiteMessageStore(tmp_path / "queues.db")
    try:
        batches: list[dict[str, list[NewMessage]]] = [{"q": [NewMessage(f"m{n}", b"x")]} for n in range(3)]
        batches.append({"q": [NewMessage("bad", None)]})       # type: ignore[arg-type]   # NOT NULL body
        transactions, outcomes = _held_sends(store, batches)
        assert transactions == 1 and all(isinstance(o, sqlite3.IntegrityError) for o in outcomes)
        assert store.queues.receive("q", 10, 30_000, now_ms()) == []
        store.queues.send_many({"q": [NewMessage("after", b"x")]}, now_ms())   # the store goes on
        assert [m.id for m in store.queues.receive("q", 10, 30_000, now_ms())] == ["after"]
    finally:
        store.close()


def test_a_page_of_executions_is_one_range_of_an_index_not_a_sort_of_all(tmp_path: Path) -> None:
    """ListExecutions' page (with or without a status, after a position or not) reads a range of an
    index in the listing's order, so its cost does not grow with the executions a machine kept."""
    from cumulo.store.sqlite_messages.executions import _listing

    store = SQLiteMessageStore(tmp_path / "queues.db")
    try:
        db = store.database.connection
        for status in (None, "SUCCEEDED"):
            for after in (None, (1_700_000_000_000, "arn:x")):
                sql, args = _listing("arn:m", status, after, 100, "?")
                plan = " / ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, args))
                index = "executions_by_machine_status" if status else "executions_by_machine"
                assert f"SEARCH executions USING INDEX {index} (" in plan, plan
                assert "TEMP B-TREE FOR ORDER BY" not in plan, plan      # at most ties of one ms are sorted
    finally:
        store.close()


def test_redrive_data_of_a_page_is_read_by_key_not_from_every_document_of_the_machine(tmp_path: Path) -> None:
    store = SQLiteMessageStore(tmp_path / "queues.db")
    try:
        db = store.database.connection
        seen: list[str] = []
        db.set_trace_callback(seen.append)
        store.executions.redrives("arn:m", [f"arn:m:e{i}" for i in range(100)])
        db.set_trace_callback(None)
        query = next(s for s in seen if s.lstrip().startswith("SELECT"))
        plan = " / ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + query))
        assert plan == "SEARCH executions USING INDEX sqlite_autoindex_executions_1 (arn=?)", plan
    finally:
        store.close()
