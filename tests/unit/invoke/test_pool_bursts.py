"""The pool's burst policy: wait for a released environment only when that should be sooner."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from cumulo.invoke.pool import EnvironmentPool, PoolKey

KEY = PoolKey("f", "$LATEST", "r1")


class _Spawner:
    pid = 1

    def has_exited(self, pid: int) -> bool:
        return False


class _Env:
    def __init__(self, init_lines: list[Any] | None = None) -> None:
        self.dead = self.provisioned = False
        self.pid, self.zygote, self.last_used = 1, _Spawner(), 0.0
        self.init_lines = init_lines or []

    def kill(self) -> None:
        self.dead = True


def _pool(tmp_path: Path, created: list[Any], create_s: float = 0.0, on_logs: Any = lambda env, lines: None,
          fail: bool = False) -> EnvironmentPool:
    pool = EnvironmentPool(tmp_path, 300, 1, None, on_logs=on_logs)

    def create(spec: Any, timeout: float) -> tuple[Any, None]:
        time.sleep(create_s)
        env = _Env(["INIT output"])
        created.append(env)
        return (None if fail else env), None

    pool._create = create  # type: ignore[method-assign]
    return pool


def _busy_one(pool: EnvironmentPool, busy_ms: float, cold_ms: float) -> _Env:
    env = _Env()
    pool._idle[KEY].append(env)  # type: ignore[arg-type]
    assert pool.take_idle(KEY) is env
    pool._busy_ms[KEY], pool._cold_ms[KEY] = busy_ms, cold_ms
    return env


def test_a_caller_waits_for_a_release_when_invocations_are_shorter_than_a_cold_start(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    env = _busy_one(pool, busy_ms=1, cold_ms=500)
    threading.Timer(0.02, pool.release, (KEY, env)).start()
    started = time.monotonic()
    got, failure, cold = pool.acquire(KEY, lambda t: None)  # type: ignore[arg-type,return-value]
    assert got is env and not cold and not created and time.monotonic() - started < 0.4


def test_a_caller_starts_one_at_once_when_invocations_are_longer(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    _busy_one(pool, busy_ms=800, cold_ms=5)
    got, failure, cold = pool.acquire(KEY, lambda t: None)  # type: ignore[arg-type,return-value]
    assert cold and created == [got]


def test_the_wait_is_bounded_by_the_cold_start_cost(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    _busy_one(pool, busy_ms=1, cold_ms=50)     # never released
    started = time.monotonic()
    got, failure, cold = pool.acquire(KEY, lambda t: None)  # type: ignore[arg-type,return-value]
    assert cold and created == [got] and 0.04 <= time.monotonic() - started < 1.0


def test_burst_wait_off_never_waits(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    pool.burst_wait = False
    _busy_one(pool, busy_ms=1, cold_ms=5000)
    started = time.monotonic()
    _, _, cold = pool.acquire(KEY, lambda t: None)  # type: ignore[arg-type,return-value]
    assert cold and time.monotonic() - started < 0.5


# -- callers on an event loop (the gateway, the control plane's Invoke) --------------------------

def _on_loop(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def test_a_loop_caller_is_handed_the_released_environment(tmp_path: Path) -> None:
    import asyncio

    pool = _pool(tmp_path, [])
    env = _busy_one(pool, busy_ms=1, cold_ms=500)

    async def main() -> Any:
        got = pool.take_idle_or_queue(KEY, asyncio.get_running_loop())
        assert isinstance(got, asyncio.Future) and not got.done()
        asyncio.get_running_loop().call_later(0.02, pool.release, KEY, env)
        return await got

    assert _on_loop(main()) is env
    assert pool.idle_count(KEY) == 0 and pool._busy[KEY] == 1 and pool._waiting[KEY] == 0


def test_a_release_from_another_thread_reaches_the_loop_waiter(tmp_path: Path) -> None:
    import asyncio

    pool = _pool(tmp_path, [])
    env = _busy_one(pool, busy_ms=1, cold_ms=500)

    async def main() -> Any:
        got = pool.take_idle_or_queue(KEY, asyncio.get_running_loop())
        threading.Timer(0.02, pool.release, (KEY, env)).start()
        return await got

    assert _on_loop(main()) is env


def test_a_loop_waiter_gives_up_after_a_cold_start_time(tmp_path: Path) -> None:
    import asyncio

    pool = _pool(tmp_path, [])
    _busy_one(pool, busy_ms=1, cold_ms=50)     # never released

    async def main() -> Any:
        started = time.monotonic()
        got = pool.take_idle_or_queue(KEY, asyncio.get_running_loop())
        assert isinstance(got, asyncio.Future)
        result = await got
        return result, time.monotonic() - started

    result, waited = _on_loop(main())
    assert result is None and 0.04 <= waited < 1.0 and pool._waiting[KEY] == 0


def test_loop_waiters_are_told_when_the_last_busy_environment_dies(tmp_path: Path) -> None:
    import asyncio

    pool = _pool(tmp_path, [])
    env = _busy_one(pool, busy_ms=1, cold_ms=5000)

    async def main() -> Any:
        got = pool.take_idle_or_queue(KEY, asyncio.get_running_loop())
        env.dead = True
        pool.release(KEY, env)            # nothing left to wait for: start one
        return await asyncio.wait_for(got, 1)

    assert _on_loop(main()) is None and pool._waiting[KEY] == 0


def test_a_cancelled_loop_waiter_does_not_swallow_an_environment(tmp_path: Path) -> None:
    import asyncio

    pool = _pool(tmp_path, [])
    env = _busy_one(pool, busy_ms=1, cold_ms=5000)

    async def main() -> None:
        got = pool.take_idle_or_queue(KEY, asyncio.get_running_loop())
        assert isinstance(got, asyncio.Future)
        got.cancel()
        await asyncio.sleep(0)
        pool.release(KEY, env)

    _on_loop(main())
    assert pool.idle_count(KEY) == 1 and pool._waiting[KEY] == 0


def test_an_idle_environment_is_taken_at_once_on_the_loop(tmp_path: Path) -> None:
    import asyncio

    pool = _pool(tmp_path, [])
    env = _Env()
    pool._idle[KEY].append(env)  # type: ignore[arg-type]

    async def main() -> Any:
        return pool.take_idle_or_queue(KEY, asyncio.get_running_loop())

    assert _on_loop(main()) is env


# -- growing under sustained demand ----------------------------------------------------------

def _ticks(pool: EnvironmentPool, n: int, waiting: int = 1) -> None:
    """``n`` housekeeping ticks, each after ``waiting`` callers waited for a release at once."""
    for _ in range(n):
        with pool._lock:
            pool._waiting[KEY] += waiting
            pool._note_wait(KEY, lambda t: None, lambda: False, None)  # type: ignore[arg-type,return-value]
            pool._waiting[KEY] -= waiting
        pool._grow_for_demand()


def _settle(pool: EnvironmentPool) -> None:
    deadline = time.monotonic() + 5
    while pool._growing and time.monotonic() < deadline:
        time.sleep(0.01)


def test_callers_waiting_tick_after_tick_grow_the_pool_by_the_most_that_waited(tmp_path: Path) -> None:
    created: list[Any] = []
    logged: list[Any] = []
    pool = _pool(tmp_path, created, on_logs=lambda env, lines: logged.append((env, lines)))
    _busy_one(pool, busy_ms=1, cold_ms=5000)
    _ticks(pool, 2, waiting=4)
    _settle(pool)
    assert created == []                    # two ticks: a burst, perhaps
    _ticks(pool, 1, waiting=4)
    _settle(pool)
    assert len(created) == 4 and pool.idle_count(KEY) == 4 and pool._busy[KEY] == 1
    # What their Init printed is in the log stream, as a warm invocation's log has no place for it.
    assert logged == [(e, ["INIT output"]) for e in created] and all(e.init_lines == [] for e in created)


def test_a_tick_without_waiting_starts_the_count_again(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    _busy_one(pool, busy_ms=1, cold_ms=5000)
    _ticks(pool, 2)
    pool._grow_for_demand()                 # nobody waited
    _ticks(pool, 2)
    _settle(pool)
    assert created == []


def test_a_waiting_caller_is_handed_an_environment_grown_for_the_demand(tmp_path: Path) -> None:
    import asyncio

    created: list[Any] = []
    pool = _pool(tmp_path, created, create_s=0.02)
    _busy_one(pool, busy_ms=1, cold_ms=5000)     # never released: without growing it would wait 5 s
    _ticks(pool, 2)

    async def main() -> Any:
        got = pool.take_idle_or_queue(KEY, asyncio.get_running_loop())
        assert isinstance(got, asyncio.Future)
        pool.note_wait(KEY, lambda t: None, lambda: False, None)  # type: ignore[arg-type,return-value]
        threading.Thread(target=pool._grow_for_demand).start()   # the third tick, from the housekeeper's thread
        return await asyncio.wait_for(got, 2)

    got = _on_loop(main())
    assert created == [got] and pool._busy[KEY] == 2 and pool._waiting[KEY] == 0


def test_nothing_grows_beyond_the_functions_concurrency(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    _busy_one(pool, busy_ms=1, cold_ms=5000)
    for _ in range(3):
        with pool._lock:
            pool._waiting[KEY] += 5
            pool._note_wait(KEY, lambda t: None, lambda: False, lambda: 3)  # type: ignore[arg-type,return-value]
            pool._waiting[KEY] -= 5
        pool._grow_for_demand()
    _settle(pool)
    assert len(created) == 2                # 1 busy + 2 = the ceiling of 3, though 5 waited


def test_a_failed_background_start_stops_growing_for_a_while(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created, fail=True)
    _busy_one(pool, busy_ms=1, cold_ms=5000)
    _ticks(pool, 3, waiting=3)
    _settle(pool)
    assert len(created) == 1 and KEY in pool._grow_after   # the first failed: the other two were not tried
    _ticks(pool, 3, waiting=3)
    _settle(pool)
    assert len(created) == 1


def test_waiting_while_environments_start_does_not_count_towards_more(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created, create_s=0.3)
    _busy_one(pool, busy_ms=1, cold_ms=5000)
    _ticks(pool, 3, waiting=2)                 # grows 2, one after another (0.6 s)
    _ticks(pool, 3, waiting=2)                 # callers waiting for those meanwhile
    _settle(pool)
    _ticks(pool, 1, waiting=1)                 # the first tick after: not a third in a row
    _settle(pool)
    assert len(created) == 2


def test_closing_waits_for_an_environment_being_started_and_stops_it(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created, create_s=0.2)
    begun, create = threading.Event(), pool._create

    def create_and_tell(spec: Any, timeout: float) -> Any:
        begun.set()
        return create(spec, timeout)

    pool._create = create_and_tell  # type: ignore[method-assign]
    _busy_one(pool, busy_ms=1, cold_ms=5000)
    _ticks(pool, 3, waiting=3)
    assert begun.wait(10)                      # the first of three is starting (not a guessed sleep)
    pool.close()
    assert not any(t.is_alive() for t in pool._growers)
    assert len(created) == 1 and created[0].dead   # released into a closed pool: killed; no more started


# -- the start gate: a burst's cold starts a few at a time ---------------------------------------

def _burst(pool: EnvironmentPool, callers: int, invoke_s: float = 0.0) -> list[tuple[Any, bool]]:
    """``callers`` threads acquiring at once, each holding what it got for ``invoke_s`` then releasing it."""
    barrier = threading.Barrier(callers)
    got: list[tuple[Any, bool]] = []

    def call() -> None:
        barrier.wait()
        env, _, cold = pool.acquire(KEY, lambda t: None)  # type: ignore[arg-type,return-value]
        got.append((env, cold))
        time.sleep(invoke_s)        # the invocation
        pool.release(KEY, env)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return got


def _counting(pool: EnvironmentPool, create_s: float) -> dict[str, int]:
    """Count the cold starts in flight at once (``most``)."""
    seen = {"now": 0, "most": 0}
    lock, create = threading.Lock(), pool._create

    def counted(spec: Any, timeout: float) -> Any:
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        try:
            return create(spec, timeout)
        finally:
            with lock:
                seen["now"] -= 1

    pool._create = counted  # type: ignore[method-assign]
    return seen


def test_a_burst_starts_environments_a_few_at_a_time_and_serves_the_rest_with_released_ones(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created, create_s=0.03)
    pool.max_starting, pool.start_age_s = 2, 60.0     # (no start ages out, however loaded the machine)
    seen = _counting(pool, 0.03)
    got = _burst(pool, 40, invoke_s=0.001)
    assert len(got) == 40 and all(env is not None for env, _ in got)
    assert seen["most"] <= 2                                  # never more than the gate's starts at once
    assert len(created) < 40 and sum(cold for _, cold in got) == len(created)
    assert pool._gated[KEY] == 0 and not pool._gate and not pool._starts


def test_without_the_gate_every_caller_of_a_burst_starts_one(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created, create_s=0.03)
    pool.max_starting = 0
    seen = _counting(pool, 0.03)
    _burst(pool, 10, invoke_s=0.001)
    assert len(created) == 10 and seen["most"] > 2


def test_a_slow_start_does_not_hold_the_gate(tmp_path: Path) -> None:
    """An Init that waits (on the network, say) stops counting after ``_START_AGE_S``: another
    function's cold start goes ahead instead of queueing behind it."""
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    pool.max_starting = 1
    slow_begun, finish = threading.Event(), threading.Event()
    create = pool._create

    def maybe_slow(spec: Any, timeout: float) -> Any:
        if spec == "slow":
            slow_begun.set()
            finish.wait(10)
        return create(spec, timeout)

    pool._create = maybe_slow  # type: ignore[method-assign]
    other = PoolKey("g", "$LATEST", "r1")
    slow = threading.Thread(target=pool.acquire, args=(KEY, lambda t: "slow"))
    slow.start()
    assert slow_begun.wait(10)
    env, _, cold = pool.acquire(other, lambda t: "fast")  # type: ignore[arg-type,return-value]
    assert cold and env is created[-1]
    finish.set()
    slow.join(10)
    assert len(created) == 2


def test_closing_lets_callers_waiting_at_the_gate_go(tmp_path: Path) -> None:
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    pool.max_starting = 1
    begun, finish = threading.Event(), threading.Event()
    create = pool._create

    def blocking(spec: Any, timeout: float) -> Any:
        begun.set()
        finish.wait(10)
        return create(spec, timeout)

    pool._create = blocking  # type: ignore[method-assign]
    first = threading.Thread(target=pool.acquire, args=(KEY, lambda t: None))
    first.start()
    assert begun.wait(10)
    with pool._lock:                       # a start younger than the age limit: a second caller queues
        for token in pool._starts:
            pool._starts[token] = time.monotonic() + 60
    second = threading.Thread(target=pool.acquire, args=(KEY, lambda t: None))
    second.start()
    deadline = time.monotonic() + 10
    while not pool._gate and time.monotonic() < deadline:
        time.sleep(0.001)
    assert pool._gated[KEY] == 1
    finish.set()
    pool.close()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive() and not pool._gate


def test_a_queued_caller_waits_for_a_release_rather_than_start_one_once_releases_come_sooner(tmp_path: Path) -> None:
    """Once its function's first environments serve 1 ms invocations, a caller queued at the gate
    takes the next release when a place to start one frees: a start begun then would only come
    last (the slowest answers of a burst were such late cold starts)."""
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    pool.max_starting = 1
    begun, finish = threading.Event(), threading.Event()
    create = pool._create

    def other_function(spec: Any, timeout: float) -> Any:     # holds the gate's one place
        begun.set()
        finish.wait(10)
        return create(spec, timeout)

    pool._create = other_function  # type: ignore[method-assign]
    other = PoolKey("g", "$LATEST", "r1")
    holder = threading.Thread(target=pool.acquire, args=(other, lambda t: None))
    holder.start()
    assert begun.wait(10)
    with pool._lock:                       # a young start: the caller below queues
        for token in pool._starts:
            pool._starts[token] = time.monotonic() + 60
    pool._create = create  # type: ignore[method-assign]
    got: list[Any] = []
    caller = threading.Thread(target=lambda: got.append(pool.acquire(KEY, lambda t: None)))
    caller.start()                         # its function's first caller: nothing known, it queues to start one
    deadline = time.monotonic() + 10
    while not pool._gated[KEY] and time.monotonic() < deadline:
        time.sleep(0.001)
    env = _busy_one(pool, busy_ms=1, cold_ms=60000)   # meanwhile an environment of it serves, 1 ms each
    finish.set()                           # the place frees: the queued caller does not take it ...
    holder.join(10)
    pool.release(KEY, env)                 # ... and is handed the release
    caller.join(10)
    assert got and got[0][0] is env and got[0][2] is False and len(created) == 1   # (the holder's own)


def test_a_passed_over_caller_starts_one_when_no_release_comes(tmp_path: Path) -> None:
    """Busy times learnt from short invocations, then invocations that hold their environment:
    a queued caller is passed over for about one cold start's time, then starts one (it waited
    for a release that was never coming until the holders ended)."""
    created: list[Any] = []
    pool = _pool(tmp_path, created)
    pool.max_starting = 1
    begun, finish = threading.Event(), threading.Event()
    create = pool._create

    def other_function(spec: Any, timeout: float) -> Any:     # holds the gate's one place
        begun.set()
        finish.wait(10)
        return create(spec, timeout)

    pool._create = other_function  # type: ignore[method-assign]
    holder = threading.Thread(target=pool.acquire, args=(PoolKey("g", "$LATEST", "r1"), lambda t: None))
    holder.start()
    assert begun.wait(10)
    with pool._lock:
        for token in pool._starts:
            pool._starts[token] = time.monotonic() + 60
    pool._create = create  # type: ignore[method-assign]
    got: list[Any] = []
    caller = threading.Thread(target=lambda: got.append(pool.acquire(KEY, lambda t: None)))
    caller.start()
    deadline = time.monotonic() + 10
    while not pool._gated[KEY] and time.monotonic() < deadline:
        time.sleep(0.001)
    _busy_one(pool, busy_ms=1, cold_ms=100)      # busy, and never released
    finish.set()
    holder.join(10)
    caller.join(5)
    assert got and got[0][2] is True and len(created) == 2
