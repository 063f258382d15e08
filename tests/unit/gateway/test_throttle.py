"""Token buckets: burst, steady rate, Retry-After — with an injected clock, exactly."""

from __future__ import annotations

import math

import pytest

from cumulo.gateway.model import BadRequestException, Throttle
from cumulo.gateway.throttle import Throttles, TokenBucket, retry_after


def test_a_full_bucket_admits_exactly_its_burst() -> None:
    bucket = TokenBucket(Throttle(1.0, 5), now=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [None] * 5
    wait = bucket.take(0.0)
    assert wait == pytest.approx(1.0)


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    bucket = TokenBucket(Throttle(10.0, 2), now=0.0)
    assert bucket.take(0.0) is None and bucket.take(0.0) is None
    assert bucket.take(0.05) == pytest.approx(0.05)        # half a token there: 50 ms to go
    assert bucket.take(0.1) is None                          # one token after 100 ms
    assert bucket.take(100.0) is None and bucket.take(100.0) is None
    assert bucket.take(100.0) is not None                    # the bucket held 2, not 1000


def test_zero_rate_or_burst_refuses_forever() -> None:
    assert TokenBucket(Throttle(0.0, 1), 0.0).take(0.0) is None
    assert TokenBucket(Throttle(0.0, 1), 0.0).take(1e9) is None
    bucket = TokenBucket(Throttle(0.0, 1), 0.0)
    bucket.take(0.0)
    assert bucket.take(1e9) == math.inf
    assert TokenBucket(Throttle(100.0, 0), 0.0).take(0.0) == math.inf


def test_throttles_keep_a_bucket_per_key_and_restart_one_whose_limit_changed() -> None:
    now = [0.0]
    throttles = Throttles(clock=lambda: now[0])
    limit = Throttle(1.0, 1)
    assert throttles.take("a", limit) is None
    assert throttles.take("a", limit) is not None
    assert throttles.take("b", limit) is None
    assert throttles.take("a", Throttle(1.0, 3)) is None     # new limit, new (full) bucket
    throttles.forget(lambda key: key == "b")
    assert throttles.take("a", Throttle(1.0, 3)) is None     # forgotten: full again


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(w) for w in (0.001, 1.0, 1.2, math.inf)] == ["1", "1", "2", "1"]


@pytest.mark.parametrize("rate,burst", [(-1, 1), (1, -1), (1, 1.5), (True, 1), ("1", 1)])
def test_invalid_limits_are_refused(rate: object, burst: object) -> None:
    with pytest.raises(BadRequestException):
        Throttle(rate, burst)  # type: ignore[arg-type]
