"""Scheduled rotation: at each ``tick`` (``app.py`` runs it every second on a ``Housekeeper``
thread) the process holding the ``secrets-rotation`` lease (one per store, as the scheduler's)
starts the rotations whose window has opened on the service's clock (``SecretService.rotate_due``),
one after another. A window that opened while no server ran is rotated once when one starts, as
the scheduler fires a missed schedule once."""

from __future__ import annotations

from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.ports import now_ms as clock_ms
from cumulo.secrets.service import SecretService
from cumulo.store.ports import Leases, lease_owner

__all__ = ["RotationWorker"]


class RotationWorker:
    TICK_S = 1.0
    LEASE_MS = 10_000

    def __init__(self, secrets: SecretService, leases: Leases, clock: Clock = SYSTEM_CLOCK) -> None:
        self._secrets, self._leases, self._clock = secrets, leases, clock
        self._owner = lease_owner()

    def tick(self) -> int:
        """Start every rotation that is due, if this process holds the lease; how many succeeded."""
        if not self._leases.take_lease("secrets-rotation", self._owner, self.LEASE_MS, clock_ms(self._clock)):
            return 0
        return sum(self._secrets.rotate_due(name) for name in self._secrets.due_rotations())
