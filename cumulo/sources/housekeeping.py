"""Housekeeping: messages past their queue's retention, stream records past the stream's, archived
events past the archive's, log events past their log group's (``AWS::Logs::LogGroup``'s
``RetentionInDays``: the group's documents, ``log-group``; a group with none keeps its events)."""

from __future__ import annotations

import logging
import threading

from cumulo.events.bus import ARCHIVE_PREFIX
from cumulo.observe.logs import log_group_key
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, LogRetention
from cumulo.ports import now_ms as clock_ms
from cumulo.sources.queues import QueueService
from cumulo.sources.streams import StreamService
from cumulo.store.ports import QueueMessages

__all__ = ["Housekeeper"]

log = logging.getLogger("cumulo.housekeeping")


class Housekeeper:
    INTERVAL_S = 30.0

    def __init__(self, store: Documents, messages: QueueMessages, queues: QueueService, streams: StreamService,
                 logs: LogRetention | None = None, clock: Clock = SYSTEM_CLOCK, interval_s: float = INTERVAL_S) -> None:
        self._store, self._messages, self._queues, self._streams = store, messages, queues, streams
        self._logs = logs
        self._clock = clock             # archived events' and logs' age (queues and streams read their own)
        self._interval_s = interval_s   # between sweeps
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
        swept = self._messages.sweep(clock_ms(self._clock), archives) if archives else 0
        return swept + self._queues.sweep() + self._streams.sweep() + self.sweep_logs(clock_ms(self._clock))

    def sweep_logs(self, now_ms: int) -> int:
        """Each log group's events older than its retention; how many went."""
        if self._logs is None:
            return 0
        pruned = 0
        for group in self._store.list_documents("log-group"):
            days = group.get("retentionInDays")
            if days:
                pruned += self._logs.prune_logs(log_group_key(group["logGroupName"]), now_ms - int(days) * 86_400_000)
        return pruned

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.sweep()
            except Exception:
                log.exception("housekeeping sweep failed")
