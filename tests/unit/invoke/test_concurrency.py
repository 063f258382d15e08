"""Concurrency limits as AWS accounts them: the account pool, reserved concurrency, throttling reasons."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.errors import InvalidParameterValueException, TooManyRequestsException
from cumulo.invoke.concurrency import UNRESERVED, ConcurrencyLimiter, Reason, Slot, allocate, minimum_share

RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT = "ConcurrentInvocationLimitExceeded"


def fill(limiter: ConcurrencyLimiter, function: str, count: int) -> list[Slot]:
    return [limiter.acquire(function) for _ in range(count)]


def throttled(limiter: ConcurrencyLimiter, function: str) -> str:
    with pytest.raises(TooManyRequestsException) as info:
        limiter.acquire(function)
    assert info.value.status == 429
    assert info.value.retryable
    assert info.value.message == "Rate Exceeded."
    return info.value.reason


def test_reason_names_are_aws_names() -> None:
    assert (Reason.RESERVED, Reason.ACCOUNT) == (RESERVED, ACCOUNT)


# -- the unreserved pool ----------------------------------------------------------------
def test_unreserved_functions_share_the_account_pool() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=2)
    fill(limiter, "a", 6)
    fill(limiter, "b", 4)
    assert throttled(limiter, "a") == ACCOUNT
    assert throttled(limiter, "c") == ACCOUNT
    assert (limiter.in_flight("a"), limiter.in_flight("b"), limiter.in_flight("c")) == (6, 4, 0)


def test_one_function_may_use_the_whole_unreserved_pool() -> None:
    limiter = ConcurrencyLimiter(account_limit=5, unreserved_min=1)
    slots = fill(limiter, "a", 5)
    assert all(s.unreserved and s.function == "a" for s in slots)
    assert throttled(limiter, "a") == ACCOUNT


def test_release_frees_a_place() -> None:
    limiter = ConcurrencyLimiter(account_limit=2, unreserved_min=1)
    first, _ = fill(limiter, "a", 2)
    throttled(limiter, "b")
    limiter.release(first)
    assert limiter.in_flight("a") == 1
    limiter.acquire("b")
    assert limiter.in_flight("b") == 1
    throttled(limiter, "a")


def test_released_function_reports_zero_in_flight() -> None:
    limiter = ConcurrencyLimiter(account_limit=3, unreserved_min=1)
    for slot in fill(limiter, "a", 3):
        limiter.release(slot)
    assert limiter.in_flight("a") == 0
    assert len(fill(limiter, "a", 3)) == 3


def test_throttled_attempts_do_not_count_in_flight() -> None:
    limiter = ConcurrencyLimiter(account_limit=1, unreserved_min=1)
    slot = limiter.acquire("a")
    for _ in range(5):
        throttled(limiter, "a")
    assert limiter.in_flight("a") == 1
    limiter.release(slot)
    limiter.acquire("a")


# -- reserved concurrency -----------------------------------------------------------------
def test_reserved_function_is_capped_at_its_reservation() -> None:
    limiter = ConcurrencyLimiter(account_limit=100, unreserved_min=10)
    limiter.set_reserved("r", 3)
    slots = fill(limiter, "r", 3)
    assert not any(s.unreserved for s in slots)
    assert throttled(limiter, "r") == RESERVED
    limiter.release(slots[0])
    limiter.acquire("r")


def test_reserved_zero_throttles_every_invocation() -> None:
    limiter = ConcurrencyLimiter(account_limit=100, unreserved_min=10)
    limiter.set_reserved("off", 0)
    assert throttled(limiter, "off") == RESERVED
    assert limiter.in_flight("off") == 0
    limiter.acquire("other")


def test_reservation_shrinks_the_pool_of_other_functions() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=2)
    limiter.set_reserved("r", 4)
    assert limiter.unreserved_limit == 6
    fill(limiter, "a", 6)
    assert throttled(limiter, "a") == ACCOUNT


def test_reserved_function_runs_even_when_the_unreserved_pool_is_full() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=2)
    limiter.set_reserved("r", 4)
    fill(limiter, "a", 6)
    assert len(fill(limiter, "r", 4)) == 4
    assert throttled(limiter, "r") == RESERVED


def test_reservation_can_be_cleared() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=2)
    limiter.set_reserved("r", 0)
    assert limiter.reserved("r") == 0
    limiter.set_reserved("r", None)
    assert limiter.reserved("r") is None
    assert limiter.unreserved_limit == 10
    assert limiter.acquire("r").unreserved


def test_load_replaces_reservations() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=2)
    limiter.set_reserved("old", 3)
    limiter.load({"a": 1, "b": 2})
    assert (limiter.reserved("old"), limiter.reserved("a"), limiter.reserved("b")) == (None, 1, 2)
    assert limiter.unreserved_limit == 7


# -- check_reservation ----------------------------------------------------------------------
def test_reservation_leaving_the_minimum_unreserved_is_allowed() -> None:
    limiter = ConcurrencyLimiter(account_limit=1000, unreserved_min=100)
    limiter.check_reservation("f", 900)
    limiter.check_reservation("f", 0)


def test_reservation_leaving_less_than_the_minimum_is_refused_with_aws_message() -> None:
    limiter = ConcurrencyLimiter(account_limit=1000, unreserved_min=100)
    with pytest.raises(InvalidParameterValueException) as info:
        limiter.check_reservation("f", 901)
    assert info.value.message == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )


def test_reservations_of_other_functions_count() -> None:
    limiter = ConcurrencyLimiter(account_limit=1000, unreserved_min=100)
    limiter.set_reserved("a", 500)
    limiter.check_reservation("b", 400)
    with pytest.raises(InvalidParameterValueException):
        limiter.check_reservation("b", 401)


def test_own_current_reservation_is_replaced_not_added() -> None:
    limiter = ConcurrencyLimiter(account_limit=1000, unreserved_min=100)
    limiter.set_reserved("a", 900)
    limiter.check_reservation("a", 900)
    limiter.check_reservation("a", 10)


def test_negative_reservation_is_refused() -> None:
    limiter = ConcurrencyLimiter(account_limit=1000, unreserved_min=100)
    with pytest.raises(InvalidParameterValueException):
        limiter.check_reservation("a", -1)


def test_minimum_never_exceeds_the_account_limit() -> None:
    limiter = ConcurrencyLimiter(account_limit=50, unreserved_min=100)
    assert limiter.unreserved_min == 50
    limiter.check_reservation("a", 0)
    with pytest.raises(InvalidParameterValueException):
        limiter.check_reservation("a", 1)


@given(st.integers(1, 2000), st.integers(0, 200), st.lists(st.integers(0, 500), max_size=5), st.integers(0, 2500))
def test_check_reservation_accepts_exactly_what_keeps_the_minimum(
    account: int, minimum: int, others: list[int], value: int
) -> None:
    limiter = ConcurrencyLimiter(account_limit=account, unreserved_min=minimum)
    limiter.load({f"o{i}": v for i, v in enumerate(others)})
    allowed = account - sum(others) - value >= min(minimum, account)
    if allowed:
        limiter.check_reservation("f", value)
    else:
        with pytest.raises(InvalidParameterValueException):
            limiter.check_reservation("f", value)


# -- reservations changing while invocations are in flight ----------------------------------------
def test_reserving_a_busy_function_counts_its_in_flight_invocations() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=1)
    slots = fill(limiter, "f", 2)
    limiter.set_reserved("f", 2)
    assert throttled(limiter, "f") == RESERVED
    limiter.release(slots[0])
    limiter.acquire("f")
    assert limiter.in_flight("f") == 2


def test_slot_taken_unreserved_gives_back_an_unreserved_place_after_reservation() -> None:
    limiter = ConcurrencyLimiter(account_limit=4, unreserved_min=1)
    slot = limiter.acquire("f")
    limiter.set_reserved("f", 1)
    limiter.release(slot)
    assert limiter.in_flight("f") == 0
    fill(limiter, "g", 3)                      # 4 - 1 reserved: the whole unreserved pool again
    assert throttled(limiter, "g") == ACCOUNT


def test_slot_taken_reserved_does_not_free_an_unreserved_place_it_never_held() -> None:
    limiter = ConcurrencyLimiter(account_limit=4, unreserved_min=1)
    limiter.set_reserved("f", 1)
    slot = limiter.acquire("f")
    fill(limiter, "g", 3)
    limiter.set_reserved("f", None)            # the pool is 4 now; f's earlier slot was reserved
    limiter.release(slot)
    limiter.acquire("g")                       # 4 unreserved in flight
    assert throttled(limiter, "g") == ACCOUNT


def test_removing_a_reservation_mid_flight_keeps_the_account_total_within_its_limit() -> None:
    """AWS: the account limit caps *all* invocations in flight. After f's reservation is removed,
    f's running invocations are unreserved ones and leave that much less room for the others."""
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=1)
    limiter.set_reserved("f", 5)
    fill(limiter, "f", 5)
    limiter.set_reserved("f", None)
    admitted = 0
    while admitted < 20:
        try:
            limiter.acquire("g")
        except TooManyRequestsException as exc:
            assert exc.reason == ACCOUNT
            break
        admitted += 1
    assert limiter.in_flight("f") + admitted <= 10


def test_reserving_a_busy_function_moves_its_invocations_out_of_the_unreserved_pool() -> None:
    """f runs 5 unreserved invocations, then gets a reservation of 5: the remaining 5 of the
    account's 10 are the unreserved pool, and no other function is using it."""
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_min=1)
    fill(limiter, "f", 5)
    limiter.set_reserved("f", 5)
    assert len(fill(limiter, "g", 5)) == 5
    assert throttled(limiter, "g") == ACCOUNT


# -- properties and threads ------------------------------------------------------------------------
@given(st.lists(st.tuples(st.booleans(), st.sampled_from("abc")), max_size=60))
def test_in_flight_counts_follow_acquires_and_releases(ops: list[tuple[bool, str]]) -> None:
    limiter = ConcurrencyLimiter(account_limit=7, unreserved_min=1)
    limiter.set_reserved("c", 2)
    held: dict[str, list[Slot]] = {"a": [], "b": [], "c": []}
    for acquire, fn in ops:
        if acquire:
            unreserved_total = len(held["a"]) + len(held["b"])
            expect_ok = len(held["c"]) < 2 if fn == "c" else unreserved_total < 5
            try:
                held[fn].append(limiter.acquire(fn))
                assert expect_ok
            except TooManyRequestsException as exc:
                assert not expect_ok
                assert exc.reason == (RESERVED if fn == "c" else ACCOUNT)
        elif held[fn]:
            limiter.release(held[fn].pop())
        for name, slots in held.items():
            assert limiter.in_flight(name) == len(slots)


def test_concurrent_acquires_never_exceed_the_limit() -> None:
    limiter = ConcurrencyLimiter(account_limit=20, unreserved_min=1)
    limiter.set_reserved("r", 5)
    got: list[Slot] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(fn: str) -> None:
        barrier.wait()
        for _ in range(50):
            try:
                slot = limiter.acquire(fn)
            except TooManyRequestsException:
                continue
            with lock:
                got.append(slot)

    threads = [threading.Thread(target=worker, args=("r" if i % 2 else "u",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for s in got if s.function == "r") == 5
    assert sum(1 for s in got if s.function == "u") == 15
    assert limiter.in_flight("r") == 5 and limiter.in_flight("u") == 15


# -- a cluster's nodes share the limits (set_share) ------------------------------------------------
@given(limit=st.integers(0, 3000), nodes=st.integers(1, 12))
def test_the_nodes_shares_of_a_limit_add_up_to_it_and_differ_by_one_at_most(limit: int, nodes: int) -> None:
    parts = []
    for rank in range(nodes):
        limiter = ConcurrencyLimiter(1000, 100)
        limiter.set_share(rank, nodes)
        parts.append(limiter.share(limit))
    assert sum(parts) == limit
    assert max(parts) - min(parts) <= 1


def test_across_nodes_a_reservation_and_the_account_hold_in_total() -> None:
    nodes = [ConcurrencyLimiter(10, 2) for _ in range(3)]
    for rank, limiter in enumerate(nodes):
        limiter.set_share(rank, 3)
        limiter.load({"reserved": 2})
    taken = [limiter.acquire("reserved") for limiter in nodes[:2]]    # 2 = the reservation, on nodes 0 and 1
    with pytest.raises(TooManyRequestsException) as info:
        nodes[2].acquire("reserved")                                     # node 2 holds none of it
    assert info.value.reason == Reason.RESERVED
    unreserved = 0
    for limiter in nodes:                                                # 8 unreserved: 3 + 3 + 2
        while True:
            try:
                limiter.acquire("other")
            except TooManyRequestsException as exc:
                assert exc.reason == Reason.ACCOUNT
                break
            unreserved += 1
    assert unreserved == 8
    nodes[0].release(taken[0])
    nodes[0].set_share(0, 1)                                             # alone again: the whole limit
    assert nodes[0].acquire("reserved") and nodes[0].acquire("reserved")


# -- shares leased by demand (allocate: the rebalancing rule) ---------------------------------------
@given(limit=st.integers(0, 3000), demands=st.lists(st.integers(0, 4000), min_size=1, max_size=12))
def test_the_rebalanced_shares_add_up_to_the_limit_and_each_node_keeps_its_minimum(
        limit: int, demands: list[int]) -> None:
    named = {f"node-{i:02}": d for i, d in enumerate(demands)}
    shares = allocate(limit, named)
    assert set(shares) == set(named)
    assert sum(shares.values()) == limit
    floor = minimum_share(limit, len(named))
    assert all(s >= floor for s in shares.values())
    assert floor >= (1 if limit >= len(named) else 0)
    if sum(max(d, floor) for d in named.values()) <= limit:          # room for every demand: each gets it
        assert all(shares[k] >= d for k, d in named.items())
    for k in named:                  # max-min fair: a node short of its demand got no less than any other
        if shares[k] < named[k]:     # (but the one of a remainder), beyond the minimum
            assert all(shares[o] <= max(shares[k] + 1, floor) for o in named)
    assert allocate(limit, dict(reversed(named.items()))) == shares   # every node computes the same


def test_a_busy_node_gets_most_of_a_limit_and_an_idle_one_its_minimum() -> None:
    assert allocate(10, {"a": 25, "b": 0}) == {"a": 9, "b": 1}
    assert allocate(1000, {"a": 1000, "b": 0, "c": 3}) == {"a": 834, "b": 83, "c": 83}
    assert allocate(10, {"a": 0, "b": 0}) == {"a": 5, "b": 5}        # nobody asks: even
    assert allocate(10, {"a": 4, "b": 0}) == {"a": 7, "b": 3}        # room to spare: split evenly on top


def test_the_limiter_reports_its_demand_and_enforces_its_lease() -> None:
    limiter = ConcurrencyLimiter(100, 10)
    limiter.load({"r": 10})
    limiter.set_share(0, 2)                                           # no lease yet: an even part, 5
    slots = fill(limiter, "r", 5)
    for _ in range(3):
        assert throttled(limiter, "r") == RESERVED
    report = limiter.demand()
    assert report["r"] == (10, 5, 8, 5)                               # limit, share, 5 at once + 3 throttled, 5 now
    assert report[UNRESERVED] == (90, 45, 0, 0)
    limiter.grant({"r": (10, 9)})
    fill(limiter, "r", 4)
    assert throttled(limiter, "r") == RESERVED
    assert limiter.demand()["r"] == (10, 9, 10, 9)
    limiter.grant({"r": (10, 2)})                                     # lowered: no admission until below 2
    for slot in slots:
        limiter.release(slot)
    assert throttled(limiter, "r") == RESERVED
    limiter.load({"r": 4})                                            # the limit changed: its lease is void
    assert limiter.ceiling("r") == 2                                  # even part of 4 again
    limiter.fence()
    assert limiter.ceiling("other") == 0
