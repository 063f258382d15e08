"""Environments per function version: reuse, idle reaping, provisioned concurrency.

Environments are grouped by ``PoolKey`` — function, version and the revision
of its configuration — so environments of different functions, versions or
revisions are never shared. An idle environment is reused last-in-first-out
(the warmest first). A background housekeeper shuts down environments idle for
longer than ``idle_timeout_s`` (SIGTERM, grace, SIGKILL) and keeps each
provisioned-concurrency target filled with initialised environments,
re-creating any that die.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cumulo.runtime.environment import Environment
from cumulo.runtime.interfaces import EnvironmentSpec, ExecutionEnvironment, LogLine, Outcome
from cumulo.runtime.process_env import ProcessEnvironment
from cumulo.runtime.sandbox import MemoryCgroups
from cumulo.runtime.zygote import Zygote

__all__ = ["PoolKey", "EnvironmentPool", "InitType", "SpecFactory"]

INIT_TIMEOUT_S = 10.0       # AWS limits the Init phase of on-demand environments to 10 s
PROVISIONED_INIT_TIMEOUT_S = 60.0
_HOUSEKEEPING_INTERVAL_S = 0.25


class InitType:
    ON_DEMAND = "on-demand"
    PROVISIONED = "provisioned-concurrency"


@dataclass(frozen=True)
class PoolKey:
    function: str
    version: str
    revision: str


SpecFactory = Callable[[str], EnvironmentSpec]   # init type -> spec
LogCallback = Callable[[ExecutionEnvironment, list[LogLine]], None]


@dataclass
class _Provisioned:
    target: int
    make_spec: SpecFactory
    last_error: str | None = None


class EnvironmentPool:
    def __init__(self, home: Path, idle_timeout_s: float, shutdown_grace_s: float,
                 cgroups: MemoryCgroups | None, on_logs: LogCallback = lambda env, lines: None) -> None:
        self._on_logs = on_logs   # output written outside an invocation (Shutdown, background threads)
        self._zygote = Zygote(home / "zygote.log")
        self._zygote_lock = threading.Lock()
        self._cgroups = cgroups
        self.idle_timeout_s = idle_timeout_s
        self.shutdown_grace_s = shutdown_grace_s
        self._lock = threading.Lock()
        self._idle: dict[PoolKey, list[ExecutionEnvironment]] = defaultdict(list)
        self._busy_provisioned: dict[PoolKey, int] = defaultdict(int)
        self._fill_lock = threading.Lock()
        self._provisioned: dict[PoolKey, _Provisioned] = {}
        self._closed = threading.Event()
        self._housekeeper: threading.Thread | None = None

    # -- zygote ---------------------------------------------------------------
    def zygote(self) -> Zygote:
        """The running zygote, (re)started on demand."""
        z = self._zygote
        if z.alive:
            return z
        with self._zygote_lock:
            if not self._zygote.alive:
                self._zygote.stop()
                self._zygote.start()
            return self._zygote

    def start(self) -> None:
        self.zygote()
        self._housekeeper = threading.Thread(target=self._housekeep, name="cumulo-pool-housekeeper", daemon=True)
        self._housekeeper.start()

    # -- acquire / release ----------------------------------------------------
    def acquire(self, key: PoolKey, make_spec: SpecFactory) -> tuple[ExecutionEnvironment | None, Outcome | None, bool]:
        """An environment for ``key``: ``(env, None, cold)`` or ``(None, init_failure, True)``."""
        env = self.take_idle(key)
        if env is not None:
            return env, None, False
        created, failure = self._create(make_spec(InitType.ON_DEMAND), INIT_TIMEOUT_S)
        return created, failure, True

    def take_idle(self, key: PoolKey) -> ExecutionEnvironment | None:
        """The warmest idle environment for ``key``, if any; never blocks on a cold start."""
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                env = idle.pop()
                if env.pid and self._zygote.has_exited(env.pid):   # died after its last answer (a runtime
                    env.dead = True                                  # that exits on an uncaught error)
                    env.kill()
                if not env.dead:
                    if env.provisioned:
                        self._busy_provisioned[key] += 1
                    return env
        return None

    def release(self, key: PoolKey, env: ExecutionEnvironment) -> None:
        env.last_used = time.monotonic()
        with self._lock:
            if env.provisioned:
                self._busy_provisioned[key] -= 1
            if not env.dead and not self._closed.is_set():
                self._idle[key].append(env)
                return
        env.kill()

    def _create(self, spec: EnvironmentSpec, init_timeout: float) -> tuple[ExecutionEnvironment | None, Outcome | None]:
        deadline = time.monotonic() + init_timeout
        if spec.entrypoint is not None:   # a runtime of another language: the Runtime API
            return ProcessEnvironment.start(spec, self.zygote(), self._cgroups, deadline)
        return Environment.start(spec, self.zygote(), self._cgroups, deadline)

    # -- provisioned concurrency ----------------------------------------------
    def set_provisioned(self, key: PoolKey, target: int, make_spec: SpecFactory) -> None:
        with self._lock:
            if target <= 0:
                self._provisioned.pop(key, None)
            else:
                self._provisioned[key] = _Provisioned(target, make_spec)
        self._fill_provisioned()

    def provisioned_status(self, key: PoolKey) -> tuple[int, int, str | None]:
        """(requested, ready, last error) for a provisioned-concurrency target."""
        with self._lock:
            p = self._provisioned.get(key)
            if p is None:
                return 0, 0, None
            ready = sum(1 for e in self._idle.get(key, []) if e.provisioned and not e.dead)
            return p.target, ready, p.last_error

    def _fill_provisioned(self) -> None:
        with self._fill_lock:      # one filler at a time, or two would both top up
            with self._lock:
                wanted = []
                for key, p in self._provisioned.items():
                    alive = sum(1 for e in self._idle.get(key, []) if e.provisioned and not e.dead)
                    alive += self._busy_provisioned[key]
                    wanted.extend([(key, p)] * max(p.target - alive, 0))
            self._create_provisioned(wanted)

    def _create_provisioned(self, wanted: list[tuple[PoolKey, _Provisioned]]) -> None:
        for key, p in wanted:
            env, failure = self._create(p.make_spec(InitType.PROVISIONED), PROVISIONED_INIT_TIMEOUT_S)
            if env is None:
                p.last_error = type(failure).__name__
                continue
            env.provisioned = True
            with self._lock:
                if key in self._provisioned and not self._closed.is_set():
                    self._idle[key].append(env)
                    continue
            env.kill()

    # -- retirement -----------------------------------------------------------
    def retire(self, function: str, keep: set[PoolKey] | None = None) -> None:
        """Shut down idle environments of ``function`` whose key is not in ``keep``."""
        victims = []
        with self._lock:
            for key in list(self._idle):
                if key.function == function and (keep is None or key not in keep):
                    victims.extend(self._idle.pop(key))
            for key in list(self._provisioned):
                if key.function == function and (keep is None or key not in keep):
                    del self._provisioned[key]
        self._shutdown(victims)

    def idle_count(self, key: PoolKey | None = None, function: str | None = None) -> int:
        with self._lock:
            return sum(len([e for e in envs if not e.dead]) for k, envs in self._idle.items()
                       if (key is None or k == key) and (function is None or k.function == function))

    def _housekeep(self) -> None:
        while not self._closed.wait(_HOUSEKEEPING_INTERVAL_S):
            try:
                self._reap_idle()
                self._fill_provisioned()
            except Exception:  # keep housekeeping alive; a failure here must not stop reaping
                import traceback

                traceback.print_exc()

    def environments(self, function: str, version: str | None = None) -> list[ExecutionEnvironment]:
        """The idle environments of a function (or one version of it)."""
        with self._lock:
            return [e for k, envs in self._idle.items() for e in envs
                    if k.function == function and (version is None or k.version == version)]

    def _reap_idle(self) -> None:
        cutoff = time.monotonic() - self.idle_timeout_s
        victims: list[ExecutionEnvironment] = []
        zygote = self._zygote
        with self._lock:
            for key, envs in self._idle.items():
                for e in envs:
                    if zygote.has_exited(e.pid):   # died while idle (killed, crashed in a background thread)
                        e.dead = True
                keep = [e for e in envs if not e.dead and (e.provisioned or e.last_used > cutoff)]
                victims.extend(e for e in envs if e not in keep)
                envs[:] = keep
        self._shutdown(victims)

    def _shutdown(self, envs: list[ExecutionEnvironment]) -> None:
        """SIGTERM them all, give them one shared grace period, then SIGKILL."""
        if not envs:
            return
        for env in envs:
            env.terminate()
        deadline = time.monotonic() + self.shutdown_grace_s
        for env in envs:
            env.await_exit(max(deadline - time.monotonic(), 0))
            lines = env.collect_logs()
            env.kill()
            if lines:
                self._on_logs(env, lines)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            victims = [e for envs in self._idle.values() for e in envs]
            self._idle.clear()
            self._provisioned.clear()
        self._shutdown(victims)
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
        self._zygote.stop()
