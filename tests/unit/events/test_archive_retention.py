"""An archive's retention on a fake clock: the event bus's sweep (which the housekeeper runs)
removes archived events older than the archive's RetentionDays, and keeps an archive without one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from cumulo.events.bus import ARCHIVE_PREFIX, EventBusService
from cumulo.model.function import Arns
from cumulo.sources.housekeeping import Housekeeper
from cumulo.store.ports import NewMessage
from cumulo.store.sqlite_messages import SQLiteMessageStore

from ..fakes import FakeClock, FakeDocuments


class NoSchedules:
    def create(self, name: str, expression: str, target_arn: str, *, state: str = "ENABLED",
               update: bool = False) -> dict[str, Any]:
        raise AssertionError("no scheduled rule here")

    def delete(self, name: str) -> None:
        raise AssertionError("no scheduled rule here")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    s = SQLiteMessageStore(tmp_path / "queues.db")
    yield s
    s.close()


def test_archived_events_past_their_archive_s_retention_are_swept(store: SQLiteMessageStore) -> None:
    clock, documents = FakeClock(), FakeDocuments()
    bus = EventBusService(documents, store.queues, Arns("us-east-1", "000000000000"), NoSchedules(),
                          lambda name: None, clock)
    documents.put_document("event-archive", "a", {"ArchiveName": "a", "RetentionDays": 1})
    documents.put_document("event-archive", "forever", {"ArchiveName": "forever", "RetentionDays": 0})
    for archive in ("a", "forever"):
        store.queues.send(ARCHIVE_PREFIX + archive, [NewMessage("e1", b"{}")], clock.ms())
    clock.advance(12 * 3_600)
    store.queues.send(ARCHIVE_PREFIX + "a", [NewMessage("e2", b"{}")], clock.ms())
    housekeeper = Housekeeper([bus.sweep_archives])
    clock.advance(12 * 3_600 - 0.001)
    assert housekeeper.sweep() == 0
    clock.advance(0.001)
    assert housekeeper.sweep() == 1                                 # e1 in a; e2 is 12 hours old
    assert store.queues.queue_stats(ARCHIVE_PREFIX + "a")[0] == 1
    assert store.queues.queue_stats(ARCHIVE_PREFIX + "forever")[0] == 1     # no retention: kept
