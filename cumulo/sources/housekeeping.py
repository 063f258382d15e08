"""Housekeeping: messages past their queue's retention, stream records past the stream's, archived
events past the archive's."""

from __future__ import annotations

import logging
import threading
import time

from cumulo.events.bus import ARCHIVE_PREFIX
from cumulo.ports import Documents
from cumulo.sources.queues import QueueService
from cumulo.sources.streams import StreamService
from cumulo.store.ports import QueueMessages

__all__ = ["Housekeeper"]

log = logging.getLogger("cumulo.housekeeping")


class Housekeeper:
    INTERVAL_S = 30.0

    def __init__(self, store: Documents, messages: QueueMessages, queues: QueueService, streams: StreamService) -> None:
        self._store, self._messages, self._queues, self._streams = store, messages, queues, streams
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sweep(self) -> int:
        archives = {ARCHIVE_PREFIX + d["ArchiveName"]: d["RetentionDays"] * 86_400_000
                    for d in self._store.list_documents("event-archive") if d.get("RetentionDays")}
        swept = self._messages.sweep(int(time.time() * 1000), archives) if archives else 0
        return swept + self._queues.sweep() + self._streams.sweep()

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            try:
                self.sweep()
            except Exception:
                log.exception("housekeeping sweep failed")
