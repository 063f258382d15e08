"""Concurrency limits, as AWS Lambda accounts them.

A function's concurrency is the number of its invocations in flight. The
account has a pool (default 1,000). Reserved concurrency sets a function's
maximum and takes that many from the pool; every other function shares what is
left (the unreserved pool), which may never drop below a minimum (AWS: 100).
A limit reached means an immediate ``TooManyRequestsException``, never a wait.

Limits hold within one supervisor process, or across a cluster's nodes (several processes on
one PostgreSQL store): each node then holds a *share* of every limit and checks against it
locally, so the warm path never asks the database (docs/scale-out.md). A share is leased by
demand (``grant``): each heartbeat reports the node's ``demand`` (the most in flight since the
last report plus what it throttled), and ``allocate`` — the rebalancing rule — divides the limit
among the live nodes, each keeping a minimum. Until a node holds a lease for a limit (or when the
limit changed since), it takes an even part: node ``rank`` of ``nodes`` gets ``limit // nodes``
plus one of the remainder, so the parts add up to the limit exactly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cumulo.errors import InvalidParameterValueException, TooManyRequestsException

__all__ = ["ConcurrencyLimiter", "Reason", "Slot", "UNRESERVED", "allocate", "even_share", "minimum_share"]

UNRESERVED = ""         # the key of the account's unreserved pool among a node's leases (else: a function's name)
MINIMUM_FRACTION = 4    # every live node keeps at least a quarter of an even share of every limit (and 1 if it can)


def even_share(limit: int, rank: int, nodes: int) -> int:
    """Node ``rank``'s (from 0) part of ``limit`` split evenly among ``nodes``: the parts add up to it."""
    base, extra = divmod(limit, max(nodes, 1))
    return base + (1 if rank < extra else 0)


def minimum_share(limit: int, nodes: int) -> int:
    """What every node keeps of ``limit`` however idle it was: a burst on it is served at once."""
    even = limit // max(nodes, 1)
    return max(even // MINIMUM_FRACTION, min(1, even))


def allocate(limit: int, demands: dict[str, int]) -> dict[str, int]:
    """The rebalancing rule: ``limit`` divided among the nodes named in ``demands`` (a node's
    demand: what it would have run at once). Each gets ``minimum_share``; the rest goes max-min
    fairly by demand (water-filling: no node gets more than it asked while another gets less than
    it asked), and what nobody asked for is split evenly. The parts add up to ``limit`` exactly;
    remainders go to the nodes first by name, so every node computes the same answer."""
    nodes = sorted(demands)
    if not nodes:
        return {}
    floor = minimum_share(limit, len(nodes))
    give = {k: floor for k in nodes}
    left = limit - floor * len(nodes)
    want = {k: max(0, min(demands[k], limit) - floor) for k in nodes}
    active = [k for k in nodes if want[k] > 0]
    while left > 0 and active:
        each = left // len(active)
        if each == 0:
            for k in active[:left]:
                give[k] += 1
            left = 0
            break
        for k in active:
            got = min(each, want[k])
            give[k] += got
            want[k] -= got
            left -= got
        active = [k for k in active if want[k] > 0]
    if left > 0:            # nobody wants it: spread evenly, so a burst anywhere finds room
        for rank, k in enumerate(nodes):
            give[k] += even_share(left, rank, len(nodes))
    return give


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
        self._leases: dict[str, tuple[int, int]] = {}   # key -> (the limit it was leased for, this node's share)
        self._fenced = False                # cut off from the cluster: no share at all (fence)
        self._peak: dict[str, int] = {}     # key -> the most in flight since the last demand report
        self._throttled: dict[str, int] = {}

    def set_share(self, rank: int, nodes: int) -> None:
        """This node is ``rank`` (from 0) of ``nodes`` sharing the limits (a cluster's live nodes):
        its part of a limit it holds no lease for is an even one."""
        with self._lock:
            self._rank, self._nodes = rank, max(nodes, 1)
            if self._nodes == 1:
                self._leases.clear()        # alone: the whole of every limit
            self._fenced = False

    def share(self, limit: int, key: str | None = None) -> int:
        """This node's part of a cluster-wide ``limit`` (of the pool ``key``): its lease when it
        holds one for this very limit, else an even part. The parts of all nodes add up to it."""
        if self._fenced:
            return 0
        if key is not None:
            lease = self._leases.get(key)
            if lease is not None and lease[0] == limit:
                return lease[1]
        return even_share(limit, self._rank, self._nodes)

    # -- leases by demand (a cluster's heartbeat) --------------------------------
    def _limits(self) -> dict[str, int]:
        limits = {UNRESERVED: self.account_limit - sum(self._reserved.values())}
        limits.update(self._reserved)
        return limits

    def demand(self) -> dict[str, tuple[int, int, int, int]]:
        """Per pool: (its limit, this node's share now, its demand since the last report, in flight
        now), and the count starts again. Demand: the most in flight at once plus the throttled."""
        with self._lock:
            out = {}
            for key, limit in self._limits().items():
                now = self._unreserved_in_flight if key == UNRESERVED else self._in_flight.get(key, 0)
                wanted = max(self._peak.get(key, 0), now) + self._throttled.get(key, 0)
                out[key] = (limit, self.share(limit, key), min(wanted, limit), now)
            self._peak = {}
            self._throttled = {}
            return out

    def grant(self, leases: dict[str, tuple[int, int]]) -> None:
        """This node's shares, as leased: key -> (the limit, the share). A pool not named keeps its
        lease or its even part."""
        with self._lock:
            self._leases.update(leases)
            for key in [k for k in self._leases if k != UNRESERVED and k not in self._reserved]:
                del self._leases[key]
            self._fenced = False

    def fence(self) -> None:
        """Cut off from the cluster's database for too long: the others will take this node's
        shares when its heartbeat ages out, so it stops admitting (until the next ``grant``)."""
        with self._lock:
            self._fenced = True

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
        if reserved is not None:
            return self.share(reserved, function)
        return self.share(self.account_limit - sum(self._reserved.values()), UNRESERVED)

    def acquire(self, function: str) -> Slot:
        with self._lock:
            in_flight = self._in_flight.get(function, 0)
            reserved = self._reserved.get(function)
            if reserved is not None:
                if in_flight >= self.share(reserved, function):
                    self._throttled[function] = self._throttled.get(function, 0) + 1
                    raise TooManyRequestsException("Rate Exceeded.", Reason.RESERVED)
                if in_flight >= self._peak.get(function, 0):
                    self._peak[function] = in_flight + 1
            else:
                unreserved = self._unreserved_in_flight
                if unreserved >= self.share(self.account_limit - sum(self._reserved.values()), UNRESERVED):
                    self._throttled[UNRESERVED] = self._throttled.get(UNRESERVED, 0) + 1
                    raise TooManyRequestsException("Rate Exceeded.", Reason.ACCOUNT)
                self._unreserved_in_flight = unreserved + 1
                if unreserved >= self._peak.get(UNRESERVED, 0):
                    self._peak[UNRESERVED] = unreserved + 1
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
