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
    def __init__(self) -> None:
        self.dead = self.provisioned = False
        self.pid, self.zygote, self.last_used = 1, _Spawner(), 0.0

    def kill(self) -> None:
        self.dead = True


def _pool(tmp_path: Path, created: list[Any]) -> EnvironmentPool:
    pool = EnvironmentPool(tmp_path, 300, 1, None)

    def create(spec: Any, timeout: float) -> tuple[Any, None]:
        env = _Env()
        created.append(env)
        return env, None

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
