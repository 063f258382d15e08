"""Token-bucket throttling, as API Gateway applies it: a steady rate and a burst.

A bucket holds up to ``burst`` tokens and gains ``rate`` tokens per second; a
request takes one or is refused, with the time until the next token as its
``Retry-After``. ``Throttles`` keeps one bucket per key (an API stage's route,
a usage plan's key …), re-created when its limits change. Time is injected
(``clock``), so tests are exact and need no sleeping.

Exactness: the gateway consults buckets on its event loop only, so no two
requests race for a token; limits hold per server process (a cluster shares
nothing here, as AWS's own limits are per region, not exact either).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Hashable

from cumulo.gateway.model import Throttle as Limit

__all__ = ["Limit", "TokenBucket", "Throttles", "ACCOUNT_LIMIT", "retry_after"]


# API Gateway's account-level default for HTTP APIs in a region.
ACCOUNT_LIMIT = Limit(10_000.0, 5_000)


class TokenBucket:
    __slots__ = ("limit", "_tokens", "_stamp")

    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self._tokens = float(limit.burst)
        self._stamp = now

    def take(self, now: float) -> float | None:
        """None if a token was taken; else the seconds until one will be there (inf: never)."""
        limit = self.limit
        if now > self._stamp:
            self._tokens = min(float(limit.burst), self._tokens + (now - self._stamp) * limit.rate)
            self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        if limit.rate <= 0 or limit.burst < 1:
            return math.inf
        return (1.0 - self._tokens) / limit.rate


class Throttles:
    """Buckets by key, created on first use; a changed limit starts a fresh bucket."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[Hashable, TokenBucket] = {}

    def take(self, key: Hashable, limit: Limit) -> float | None:
        bucket = self._buckets.get(key)
        now = self._clock()
        if bucket is None or bucket.limit != limit:
            bucket = self._buckets[key] = TokenBucket(limit, now)
        return bucket.take(now)

    def forget(self, keep: Callable[[Hashable], bool]) -> None:
        """Drop buckets whose key is no longer wanted (a deleted API or stage)."""
        for key in [k for k in self._buckets if not keep(k)]:
            del self._buckets[key]


def retry_after(wait: float) -> str:
    """The ``Retry-After`` value (whole seconds, at least 1) for a refusal."""
    return "1" if not math.isfinite(wait) else str(max(1, math.ceil(wait)))
