"""Who a send wakes: the threads waiting for that queue or stream (and those waiting for anything),
not every worker and poller of the store."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cumulo.store import messages
from cumulo.store.messages import MessageStore, NewMessage, stream_key


def _waiter(store: MessageStore, key: str | None) -> threading.Thread:
    t = threading.Thread(target=store.wait_for, args=(10.0, key), daemon=True)
    t.start()
    return t


def test_a_send_wakes_the_waiters_of_its_queue_and_of_anything_only(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messages, "RECHECK_S", 10.0)   # no periodic re-check: only a send may wake them
    store = MessageStore(tmp_path / "queues.db")
    try:
        keys = ("a", "b", stream_key("a"), None)
        on_a, on_b, on_stream, on_any = (_waiter(store, k) for k in keys)
        # Every thread asleep on its key's condition before the first send (not a guessed sleep).
        deadline = time.monotonic() + 10
        while not all(k in store._sent and store._sent[k]._waiters for k in keys):  # type: ignore[attr-defined]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        store.send("a", [NewMessage(id="m1", body=b"x")], messages.now_ms())
        on_a.join(2)
        on_any.join(2)
        assert not on_a.is_alive() and not on_any.is_alive()
        time.sleep(0.3)
        assert on_b.is_alive() and on_stream.is_alive()     # another queue, and a stream of that name
        store.put_records("a", [(0, "k", b"r")], messages.now_ms())
        on_stream.join(2)
        assert not on_stream.is_alive() and on_b.is_alive()
        store.send_many({"b": [NewMessage(id="m2", body=b"y")]}, messages.now_ms())
        on_b.join(2)
        assert not on_b.is_alive()
    finally:
        store.close()
