"""Concurrency limits, as AWS Lambda accounts them.

A function's concurrency is the number of its invocations in flight. The
account has a pool (default 1,000). Reserved concurrency sets a function's
maximum and takes that many from the pool; every other function shares what is
left (the unreserved pool), which may never drop below a minimum (AWS: 100).
A limit reached means an immediate ``TooManyRequestsException``, never a wait.

Limits hold within one supervisor process, or across a cluster's nodes (several processes on
one PostgreSQL store): each node then holds a *share* of every limit (``set_share``), node
``rank`` of ``nodes`` getting ``limit // nodes`` plus one of the remainder, so the shares add up
to the limit exactly and the warm path never asks the database (docs/scale-out.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cumulo.errors import InvalidParameterValueException, TooManyRequestsException

__all__ = ["ConcurrencyLimiter", "Reason", "Slot"]


class Reason:
    RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
    ACCOUNT = "ConcurrentInvocationLimitExceeded"


@dataclass(frozen=True)
class Slot:
    """One invocation's place in flight; give it back with ``release``."""

    function: str
    unreserved: bool


class ConcurrencyLimiter:
    def __init__(self, account_limit: int, unreserved_min: int) -> None:
        self.account_limit = account_limit
        self.unreserved_min = min(unreserved_min, account_limit)
        self._lock = threading.Lock()
        self._reserved: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._unreserved_in_flight = 0
        self.total = 0          # invocations in flight, all functions
        self._rank, self._nodes = 0, 1      # this node's place in the cluster (set_share)

    def set_share(self, rank: int, nodes: int) -> None:
        """This node is ``rank`` (from 0) of ``nodes`` sharing the limits (a cluster's live nodes)."""
        with self._lock:
            self._rank, self._nodes = rank, max(nodes, 1)

    def share(self, limit: int) -> int:
        """This node's part of a cluster-wide ``limit``: the parts of all nodes add up to it."""
        base, extra = divmod(limit, self._nodes)
        return base + (1 if self._rank < extra else 0)

    # -- configuration --------------------------------------------------------
    def load(self, reserved: dict[str, int]) -> None:
        """Replace all reservations (functions in flight move between pools accordingly)."""
        with self._lock:
            self._reserved = dict(reserved)
            self._unreserved_in_flight = sum(n for f, n in self._in_flight.items() if f not in self._reserved)

    def check_reservation(self, function: str, value: int) -> None:
        """Refuse a reservation that would shrink the unreserved pool below its minimum."""
        if value < 0:
            raise InvalidParameterValueException("ReservedConcurrentExecutions must be 0 or more.")
        self.check_reservations({function: value})

    def check_reservations(self, wanted: dict[str, int | None]) -> None:
        """Refuse reservations that together (``None``: the function's removed) would shrink the unreserved pool
        below its minimum: a template's functions are checked as one (a plan refuses what its deploy would)."""
        with self._lock:
            others = sum(v for k, v in self._reserved.items() if k not in wanted)
        value = sum(v for v in wanted.values() if v is not None)
        if self.account_limit - others - value < self.unreserved_min:
            raise InvalidParameterValueException(
                f"Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{self.unreserved_min}]."
            )

    def set_reserved(self, function: str, value: int | None) -> None:
        with self._lock:
            was_unreserved = function not in self._reserved
            if value is None:
                self._reserved.pop(function, None)
            else:
                self._reserved[function] = value
            now_unreserved = function not in self._reserved
            if was_unreserved != now_unreserved:   # its running invocations move between pools
                moved = self._in_flight.get(function, 0)
                self._unreserved_in_flight += moved if now_unreserved else -moved

    def reserved(self, function: str) -> int | None:
        return self._reserved.get(function)

    @property
    def unreserved_in_flight(self) -> int:
        """Invocations in flight of functions without a reservation (Lambda's UnreservedConcurrentExecutions)."""
        return self._unreserved_in_flight

    @property
    def unreserved_limit(self) -> int:
        return self.account_limit - sum(self._reserved.values())

    # -- the hot path ---------------------------------------------------------
    def ceiling(self, function: str) -> int:
        """The most invocations of ``function`` that can run at once: its reservation, else the
        unreserved pool."""
        reserved = self._reserved.get(function)
        return self.share(reserved if reserved is not None else self.account_limit - sum(self._reserved.values()))

    def acquire(self, function: str) -> Slot:
        with self._lock:
            in_flight = self._in_flight.get(function, 0)
            reserved = self._reserved.get(function)
            if reserved is not None:
                if in_flight >= self.share(reserved):
                    raise TooManyRequestsException("Rate Exceeded.", Reason.RESERVED)
            else:
                if self._unreserved_in_flight >= self.share(self.account_limit - sum(self._reserved.values())):
                    raise TooManyRequestsException("Rate Exceeded.", Reason.ACCOUNT)
                self._unreserved_in_flight += 1
            self._in_flight[function] = in_flight + 1
            self.total += 1
            return Slot(function, reserved is None)

    def release(self, slot: Slot) -> None:
        function = slot.function
        with self._lock:
            left = self._in_flight.get(function, 1) - 1
            self.total -= 1
            if left:
                self._in_flight[function] = left
            else:
                self._in_flight.pop(function, None)
            if function not in self._reserved:
                self._unreserved_in_flight = max(self._unreserved_in_flight - 1, 0)

    def in_flight(self, function: str) -> int:
        return self._in_flight.get(function, 0)
