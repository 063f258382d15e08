"""Scheduled rotation: every ``TICK_S`` the process holding the ``secrets-rotation`` lease (one per
store, as the scheduler's) starts the rotations whose window has opened on the service's clock
(``SecretService.rotate_due``), one after another. A window that opened while no server ran is
rotated once when one starts, as the scheduler fires a missed schedule once."""

from __future__ import annotations

import logging
import threading

from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.ports import now_ms as clock_ms
from cumulo.secrets.service import SecretService
from cumulo.store.health import log_failure
from cumulo.store.ports import Leases, lease_owner

__all__ = ["RotationWorker"]

log = logging.getLogger("cumulo.secrets")


class RotationWorker:
    TICK_S = 1.0
    LEASE_MS = 10_000

    def __init__(self, secrets: SecretService, leases: Leases, clock: Clock = SYSTEM_CLOCK) -> None:
        self._secrets, self._leases, self._clock = secrets, leases, clock
        self._owner = lease_owner()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-secret-rotation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.TICK_S):
            try:
                self.tick()
            except Exception:
                log_failure(log, "secret rotation tick failed")

    def tick(self) -> int:
        """Start every rotation that is due, if this process holds the lease; how many succeeded."""
        if not self._leases.take_lease("secrets-rotation", self._owner, self.LEASE_MS, clock_ms(self._clock)):
            return 0
        done = 0
        for name in self._secrets.due_rotations():
            if self._stop.is_set():
                break
            done += self._secrets.rotate_due(name)
        return done
