"""What the SQLite message store adds to the contract (``test_contract_*.py``): several processes
share its file, and its wake-ups are this process's, so it looks again for the others' commits."""

from __future__ import annotations

import time
from pathlib import Path

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
