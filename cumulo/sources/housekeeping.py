"""Housekeeping: what is past its retention goes, every ``interval_s``.

The housekeeper knows no service: each sweep is given to it by the composition root and answers how
many it removed: messages past their queue's retention, stream records past the stream's, archived
events past the archive's (the event bus's sweep), log events past their log group's retention
(``cumulo.logs``' sweep)."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Sequence

from cumulo.store.health import log_failure

__all__ = ["Housekeeper", "Sweep"]

log = logging.getLogger("cumulo.housekeeping")

Sweep = Callable[[], int]      # remove what is past its retention now; how many went


class Housekeeper:
    INTERVAL_S = 30.0

    def __init__(self, sweeps: Sequence[Sweep], interval_s: float = INTERVAL_S) -> None:
        self._sweeps = tuple(sweeps)
        self._interval_s = interval_s   # between sweeps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sweep(self) -> int:
        return sum(sweep() for sweep in self._sweeps)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.sweep()
            except Exception:
                log_failure(log, "housekeeping sweep failed")
