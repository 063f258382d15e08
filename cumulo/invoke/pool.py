"""Environments per function version: reuse, idle reaping, provisioned concurrency.

Environments are grouped by ``PoolKey`` — function, version and the revision
of its configuration — so environments of different functions, versions or
revisions are never shared. An idle environment is reused last-in-first-out
(the warmest first). A background housekeeper shuts down environments idle for
longer than ``idle_timeout_s`` (SIGTERM, grace, SIGKILL) and keeps each
provisioned-concurrency target filled with initialised environments,
re-creating any that die.

SnapStart (``acquire(..., snap_start=True)``): the first cold start of a key creates a
*template* — an environment that ran Init and now forks environments (runtime/inside/snapshot.py) —
and every cold start of that key is a fork of it (a restore). One Init per key at a time: cold
starts arriving while the template is being built wait for it instead of running Init each.
A template Init refused (threads or open descriptors left behind) becomes an ordinary
environment and marks the key, whose cold starts are on-demand from then on. Templates are
retired when idle for ``idle_timeout_s``, at ``max_age_s`` of age (environments too: a template's
children count from their template's birth), when their key is retired (code or configuration
changed), and, least recently used first, while their total proportional memory (PSS) is over
``template_budget_mb``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from cumulo.runtime.environment import Environment
from cumulo.runtime.interfaces import EnvironmentSpec, ExecutionEnvironment, LogLine, Outcome
from cumulo.runtime.process_env import ProcessEnvironment
from cumulo.runtime.sandbox import MemoryCgroups
from cumulo.runtime.template import Template
from cumulo.runtime.zygote import Zygote, ZygoteError

__all__ = ["PoolKey", "EnvironmentPool", "InitType", "SpecFactory", "TemplateStats"]

INIT_TIMEOUT_S = 10.0       # AWS limits the Init phase of on-demand environments to 10 s (Settings.init_timeout_s)
PROVISIONED_INIT_TIMEOUT_S = 60.0
RESTORE_TIMEOUT_S = 10.0    # AWS: the runtime load and after-restore hooks must finish within 10 s
_HOUSEKEEPING_INTERVAL_S = 0.25
_GROW_AFTER_TICKS = 3       # of callers waiting in a row (0.5-0.75 s) before the pool grows (_grow_for_demand)
_START_AGE_S = 0.05         # a cold start running longer than this stops holding its place in the start gate


class InitType:
    ON_DEMAND = "on-demand"
    PROVISIONED = "provisioned-concurrency"
    SNAP_START = "snap-start"


class PoolKey(NamedTuple):
    """A tuple, so hashing it (about ten dictionary lookups per invocation) is done in C."""

    function: str
    version: str
    revision: str


@dataclass(frozen=True)
class TemplateStats:
    key: PoolKey
    pid: int
    rss_kb: int
    pss_kb: int
    restores: int
    idle_s: float


SpecFactory = Callable[[str], EnvironmentSpec]   # init type -> spec
LogCallback = Callable[[ExecutionEnvironment, list[LogLine]], None]


@dataclass
class _Provisioned:
    target: int
    make_spec: SpecFactory
    last_error: str | None = None


class EnvironmentPool:
    def __init__(self, home: Path, idle_timeout_s: float, shutdown_grace_s: float,
                 cgroups: MemoryCgroups | None, on_logs: LogCallback = lambda env, lines: None,
                 template_budget_mb: float = 1024.0, burst_wait: bool = True, network: str = "host",
                 init_timeout_s: float = INIT_TIMEOUT_S, max_age_s: float = float("inf"),
                 max_starting: int | None = None) -> None:
        self._on_logs = on_logs   # output written outside an invocation (Shutdown, background threads)
        self._zygote = Zygote(home / "zygote.log", network)
        self._zygote_lock = threading.Lock()
        self._cgroups = cgroups
        self.idle_timeout_s = idle_timeout_s
        self.max_age_s = max_age_s      # retired by this age, busy or not (at their next release)
        self.init_timeout_s = init_timeout_s    # an on-demand environment's Init phase, at most
        self.shutdown_grace_s = shutdown_grace_s
        self._lock = threading.Lock()
        self._idle: dict[PoolKey, list[ExecutionEnvironment]] = defaultdict(list)
        self._busy_provisioned: dict[PoolKey, int] = defaultdict(int)
        self._fill_lock = threading.Lock()
        self._provisioned: dict[PoolKey, _Provisioned] = {}
        self._closed = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self.template_budget_mb = template_budget_mb
        self.burst_wait = burst_wait
        self._released = threading.Condition(self._lock)
        self._busy: dict[PoolKey, int] = defaultdict(int)      # environments handed out, per key
        self._cold_ms: dict[PoolKey, float] = {}       # what a cold start of the key costs now (EWMA)
        self._busy_ms: dict[PoolKey, float] = {}       # how long an environment of the key stays busy (EWMA)
        self._waiting: dict[PoolKey, int] = defaultdict(int)    # callers waiting for a release: threads and loops
        self._loop_waiters: dict[PoolKey, deque[_LoopWaiter]] = defaultdict(deque)
        self._taken_at: dict[int, float] = {}                   # id(env) -> when it was handed out
        # Growing under sustained demand (``_grow_for_demand``), per housekeeping tick:
        self._peak_waiting: dict[PoolKey, int] = {}             # most callers waiting at once this tick
        self._grow_with: dict[PoolKey, tuple[SpecFactory, Callable[[], bool], Callable[[], int] | None]] = {}
        self._contended: dict[PoolKey, int] = {}                # consecutive ticks with callers waiting
        self._growing: set[PoolKey] = set()                     # keys with environments starting in the background
        self._grow_after: dict[PoolKey, float] = {}             # no background start before (after one failed)
        self._growers: list[threading.Thread] = []
        self._templates: dict[PoolKey, Template] = {}
        self._untemplatable: dict[PoolKey, str] = {}    # key -> why its template was refused
        self._template_locks: dict[PoolKey, threading.Lock] = defaultdict(threading.Lock)
        # The start gate (``_start_slot``): callers' cold starts begun less than ``_START_AGE_S`` ago,
        # at most ``max_starting`` (None: twice the CPUs environments run on; 0: no gate).
        self.max_starting = max_starting
        self.start_age_s = _START_AGE_S
        self._starts: dict[int, float] = {}                     # token -> when that start began
        self._start_tokens = 0
        self._gate: deque[_GateWaiter] = deque()                # callers waiting for a start (FIFO)
        self._gated: dict[PoolKey, int] = defaultdict(int)      # of them, per key
        self._last_release: dict[PoolKey, float] = {}           # when an environment of the key was last released

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

    def place(self, cpus: set[int]) -> None:
        """Environments (and templates) created from now on run on ``cpus`` (``Cumulo.place_cpus``)."""
        self._zygote.place(cpus)

    def start(self) -> None:
        self.zygote()
        self._housekeeper = threading.Thread(target=self._housekeep, name="cumulo-pool-housekeeper", daemon=True)
        self._housekeeper.start()

    # -- acquire / release ----------------------------------------------------
    def acquire(self, key: PoolKey, make_spec: SpecFactory, snap_start: Callable[[], bool] = lambda: False,
                may_wait: bool = True,
                ceiling: Callable[[], int] | None = None) -> tuple[ExecutionEnvironment | None, Outcome | None, bool]:
        """An environment for ``key``: ``(env, None, cold)`` or ``(None, init_failure, True)``;
        when ``snap_start()`` says so (asked on the cold path only), a cold one is forked from the
        key's template. Templates are forked Python environments only: a Runtime API runtime
        (``spec.entrypoint`` set) always starts on demand.

        Bursts: with ``burst_wait``, a caller that finds no idle environment while others of the
        key are busy, and whose invocations keep an environment busy for less time than a cold start
        costs, waits for a release for at most that cold-start time, and only then starts one.
        Both costs are the cheapest of the key's last 32: the uncontended ones, as a burst on few
        cores inflates every measurement (bench/snapstart.py measures the policies). ``may_wait``
        False: the caller already waited (on its event loop, ``take_idle_or_queue``).

        Callers that keep having to wait make the pool grow in the background (``_grow_for_demand``)
        up to ``ceiling()``, the function's concurrency limit.

        Cold starts pass the start gate (``_start_slot``): a few at a time, and a caller waiting
        for its turn takes an environment of its key released meanwhile instead."""
        env = self._take_idle_or_wait(key, make_spec, snap_start, ceiling) if may_wait else self.take_idle(key)
        if env is not None:
            return env, None, False
        env, token = self._start_slot(key)
        if env is not None:     # released while this caller waited for its turn to start one
            return env, None, False
        started = time.perf_counter()
        try:
            created, failure = self._start_cold(key, make_spec, snap_start)
        finally:
            self._end_start(token)
        if created is not None:
            now = time.perf_counter()
            with self._lock:
                self._busy[key] += 1
                _average(self._cold_ms, key, (now - started) * 1000)
                self._taken_at[id(created)] = now
        return created, failure, True

    def _start_cold(self, key: PoolKey, make_spec: SpecFactory,
                    snap_start: Callable[[], bool]) -> tuple[ExecutionEnvironment | None, Outcome | None]:
        """A new environment for ``key``: forked from its template when ``snap_start()`` says so."""
        if key not in self._untemplatable and snap_start():
            return self._restore(key, make_spec)
        return self._create(make_spec(InitType.ON_DEMAND), self.init_timeout_s)

    def _wait_ms(self, key: PoolKey) -> float | None:
        """How long a caller finding no idle environment should wait for a release (None: start one now).
        Called with the lock held."""
        if not self.burst_wait:
            return None
        cold_ms, busy_ms, busy = self._cold_ms.get(key), self._busy_ms.get(key), self._busy[key]
        ahead = self._waiting[key] + self._gated[key]
        if cold_ms is None or busy_ms is None or not busy or (ahead + 1) / busy * busy_ms >= cold_ms:
            return None
        return cold_ms

    def _take_idle_or_wait(self, key: PoolKey, make_spec: SpecFactory, snap_start: Callable[[], bool],
                           ceiling: Callable[[], int] | None) -> ExecutionEnvironment | None:
        env = self.take_idle(key)
        if env is not None or not self.burst_wait:
            return env
        with self._lock:
            cold_ms = self._wait_ms(key)
            if cold_ms is None:
                return None
            deadline = time.monotonic() + cold_ms / 1000
            self._waiting[key] += 1
            self._note_wait(key, make_spec, snap_start, ceiling)
            try:
                while True:
                    env = self._pop_idle(key)
                    left = deadline - time.monotonic()
                    if env is not None or left <= 0 or not self._busy[key]:
                        return env
                    self._released.wait(left)
            finally:
                self._waiting[key] -= 1

    # -- the start gate -----------------------------------------------------------
    def _start_room(self, now: float) -> bool:
        """Whether another cold start may begin now (lock held): fewer than ``max_starting`` begun
        within the last ``_START_AGE_S``. A start that takes longer (an Init waiting on the network,
        a slow import) stops counting, so it never holds up the others for long."""
        limit = self.max_starting
        if limit is None:
            limit = self.max_starting = 2 * len(self._zygote.cpus or os.sched_getaffinity(0))
        if limit <= 0 or len(self._starts) < limit:
            return True
        young = now - self.start_age_s
        return sum(1 for begun in self._starts.values() if begun > young) < limit

    def _begin_start(self, now: float) -> int:
        self._start_tokens += 1
        self._starts[self._start_tokens] = now
        return self._start_tokens

    def _start_slot(self, key: PoolKey) -> tuple[ExecutionEnvironment | None, int]:
        """A caller's turn to start an environment of ``key``: ``(None, token)`` (give the token
        back with ``_end_start``), or ``(env, 0)``: an environment of the key released while it
        waited for its turn (reusing a freed environment rather than starting one).

        A burst's cold starts all at once share the CPU: each takes as long as all of them (100
        at once on 2 cores: every caller waited 0.8-1.3 s, where one cold start alone takes 25
        ms). A few at a time, the first are ready within about one cold start's time, and the
        callers queued behind them are served by their releases as much as by new starts: the
        queue is first come, first served, and a release goes to the first caller of its key."""
        waiter = _GateWaiter(key)
        with self._lock:
            env = self._pop_idle(key)
            if env is not None:
                return env, 0
            now = time.monotonic()
            if not self._gate and self._start_room(now):
                return None, self._begin_start(now)
            self._gate.append(waiter)
            self._gated[key] += 1
        while True:
            with self._lock:
                now = time.monotonic()
                timeout = None
                if waiter.env is None and not waiter.token and self._gate and self._gate[0] is waiter:
                    # the head watches the gate: starts aging out, waiters whose wait stopped paying
                    timeout = self._admit(now)
                if waiter.env is not None or waiter.token:
                    return waiter.env, waiter.token
                waiter.event.clear()
            waiter.event.wait(timeout)

    def _admit(self, now: float) -> float | None:
        """Hand the gate's free places to the queue's callers in order (lock held), passing over
        those for whom a release should come sooner than a start would (``_release_sooner``): a
        burst's queue is served mostly by the environments its first starts made, and a start
        begun late only makes the tail longer (it was the slowest answer of a burst, p99, once the
        first environments were serving). Returns how long until the gate should be looked at
        again (a start ages out, or a passed-over caller's wait stops paying), or None."""
        ahead: dict[PoolKey, int] = defaultdict(int)
        wake: float | None = None
        for waiter in list(self._gate):
            if not self._start_room(now):
                break
            key = waiter.key
            until = self._release_sooner(key, ahead[key], now)
            if until is not None:
                ahead[key] += 1
                wake = until if wake is None else min(wake, until)
                continue
            self._unqueue(waiter)
            waiter.token = self._begin_start(now)
            waiter.event.set()
        if self._gate and not self._start_room(now) and self._starts:
            aged = min(self._starts.values()) + self.start_age_s
            wake = aged if wake is None else min(wake, aged)
        return None if wake is None else max(wake - now, 0.001)

    def _release_sooner(self, key: PoolKey, ahead: int, now: float) -> float | None:
        """Until when a caller of ``key`` queued at the gate should rather wait for a release than
        start one (lock held), by ``_wait_ms``'s rule — ``ahead`` callers of its key before it, the
        key's busy environments and its recent busy and cold-start times — while releases keep
        coming: no later than one cold start's time after the key's last release. None: it starts one."""
        cold_ms, busy_ms, busy = self._cold_ms.get(key), self._busy_ms.get(key), self._busy[key]
        if not self.burst_wait or cold_ms is None or busy_ms is None or not busy or \
                (ahead + 1) / busy * busy_ms >= cold_ms:
            return None
        last = self._last_release.get(key)
        if last is None:      # none since the burst began: the bound runs from the first pass
            last = self._last_release[key] = now
        until = last + cold_ms / 1000
        return until if until > now else None

    def _unqueue(self, waiter: "_GateWaiter") -> None:
        """Take ``waiter`` out of the gate's queue (lock held); a new head is woken to watch the gate."""
        was_head = self._gate[0] is waiter
        self._gate.remove(waiter)
        self._gated[waiter.key] -= 1
        if was_head and self._gate:
            self._gate[0].event.set()

    def _end_start(self, token: int) -> None:
        """A cold start ended (ready or failed): its place in the gate goes to the next caller."""
        if not token:
            return
        with self._lock:
            self._starts.pop(token, None)
            if self._gate:
                self._admit(time.monotonic())
            if self._gate:
                self._gate[0].event.set()   # the head: when to look at the gate again

    def _hand_to_gate(self, key: PoolKey, env: ExecutionEnvironment, now: float) -> bool:
        """Give a released environment to the first caller of ``key`` waiting at the gate (lock held)."""
        for waiter in self._gate:
            if waiter.key == key:
                self._unqueue(waiter)
                if env.provisioned:
                    self._busy_provisioned[key] += 1
                self._busy[key] += 1
                self._taken_at[id(env)] = now
                waiter.env = env
                waiter.event.set()
                return True
        return False

    # -- templates (SnapStart) -------------------------------------------------
    def _restore(self, key: PoolKey, make_spec: SpecFactory) -> tuple[ExecutionEnvironment | None, Outcome | None]:
        template, env, failure = self._template(key, make_spec)
        if template is None:   # Init failed, or was refused and ``env`` serves as an ordinary environment
            return env, failure
        try:
            restored, failure = Environment.restore(make_spec(InitType.SNAP_START), template, self._cgroups,
                                                    time.monotonic() + RESTORE_TIMEOUT_S)
        except ZygoteError:   # retired or died since we looked: start over with a new template
            with self._lock:
                if self._templates.get(key) is template:
                    del self._templates[key]
            return self._restore(key, make_spec)
        init = template.take_init() if restored is not None else None
        if restored is not None and init is not None:   # the first restore reports the template's Init
            restored.template_init_ms, restored.template_init_lines = init
        return restored, failure

    def _template(self, key: PoolKey, make_spec: SpecFactory) -> tuple[Template | None, ExecutionEnvironment | None,
                                                                       Outcome | None]:
        """The key's live template, created if need be: ``(template, None, None)``; else
        ``(None, refused_env, None)`` or ``(None, None, init_failure)``."""
        with self._template_locks[key]:   # one Init per key: concurrent cold starts wait for it
            template = self._templates.get(key)
            if template is not None and template.alive:
                return template, None, None
            spec = make_spec(InitType.SNAP_START)
            if spec.entrypoint is not None:   # a Runtime API runtime is never forked from a template
                self._untemplatable[key] = "not a forked Python runtime"
                return (None, *self._create(make_spec(InitType.ON_DEMAND), self.init_timeout_s))
            env, failure = Environment.start(spec, self.zygote(), self._cgroups,
                                             time.monotonic() + self.init_timeout_s, template=True)
            if env is None or not env.template:
                if env is not None:   # refused: it serves as an ordinary environment
                    self._untemplatable[key] = env.refused or "refused"
                return None, env, failure
            if self._cgroups is not None and env.cgroup is not None:
                # Init ran within the function's memory. From now on the template only forks, and
                # each child is charged here for what it touches before it moves into its own
                # cgroup: under the function's limit, a burst of restores OOM-killed the template's
                # children (100 at once at 128 MB). The templates' memory budget is the cap instead.
                budget = int(self.template_budget_mb * 1024 * 1024)
                self._cgroups.raise_limit(env.cgroup, max(budget, spec.memory_mb * 1024 * 1024))
            template = Template(env)
            with self._lock:
                self._templates[key] = template
            return template, None, None

    def prepare_template(self, key: PoolKey, make_spec: SpecFactory) -> None:
        """Create ``key``'s template ahead of its first invocation (AWS snapshots a SnapStart version
        when it is published). Its Init's output is reported with the first restore."""
        if key in self._untemplatable or self._closed.is_set():
            return
        try:
            _, env, _ = self._template(key, make_spec)
        except (ZygoteError, OSError):   # closing: the first cold start will try again
            return
        if env is not None:   # refused: its cold starts will be on-demand
            env.kill()

    def template_refused(self, key: PoolKey) -> str | None:
        """Why ``key`` has no template (its Init left threads or descriptors), if it was refused."""
        return self._untemplatable.get(key)

    def template_stats(self) -> list[TemplateStats]:
        """Every live template, with its memory (RSS and PSS from /proc)."""
        now = time.monotonic()
        with self._lock:
            templates = list(self._templates.items())
        stats = []
        for key, t in templates:
            m = t.memory()
            stats.append(TemplateStats(key, t.pid, m.rss_kb, m.pss_kb, t.restores, now - t.last_used))
        return stats

    def _born(self, env: ExecutionEnvironment) -> float:
        """When what ``env`` runs with was made: a template's child keeps what the template's Init
        captured (a client made at import holds the template's credentials), so its template's birth."""
        spawner = env.zygote
        return spawner.created if isinstance(spawner, Template) else env.created

    def _reap_templates(self) -> None:
        now = time.monotonic()
        cutoff = now - self.idle_timeout_s
        victims = []
        with self._lock:
            for key, t in list(self._templates.items()):
                if not t.alive or t.last_used < cutoff or now - t.created > self.max_age_s:
                    victims.append(self._templates.pop(key))
            live = sorted(self._templates.items(), key=lambda kv: kv[1].last_used)
        if live and self.template_budget_mb >= 0:   # /proc reads outside the lock: acquire must not wait
            sizes = [(key, t, t.memory().pss_kb) for key, t in live]
            total_kb = sum(size for _, _, size in sizes)
            with self._lock:
                for key, t, size in sizes:   # least recently used first
                    if total_kb <= self.template_budget_mb * 1024:
                        break
                    if self._templates.get(key) is t:
                        victims.append(self._templates.pop(key))
                    total_kb -= size
        for t in victims:
            t.retire()

    def _retire_templates(self, function: str | None, keep: set[PoolKey] | None) -> None:
        with self._lock:
            doomed = [k for k in self._templates if (function is None or k.function == function)
                      and (keep is None or k not in keep)]
            victims = [self._templates.pop(k) for k in doomed]
            for k in [k for k in self._untemplatable if (function is None or k.function == function)
                      and (keep is None or k not in keep)]:
                del self._untemplatable[k]
        for t in victims:
            t.retire()

    def take_idle(self, key: PoolKey) -> ExecutionEnvironment | None:
        """The warmest idle environment for ``key``, if any; never blocks on a cold start."""
        with self._lock:
            return self._pop_idle(key)

    def take_idle_or_queue(self, key: PoolKey,
                           loop: asyncio.AbstractEventLoop) -> "ExecutionEnvironment | asyncio.Future[ExecutionEnvironment | None] | None":
        """``take_idle`` for callers on an event loop, with the burst policy of ``acquire``: an idle
        environment; or, when waiting for a release beats a cold start, a future that a released
        environment is handed to (its result is None once waiting stopped paying: start one then,
        with ``acquire(may_wait=False)``); or None: start one now. Call it on ``loop``'s thread.
        A caller given a future tells ``note_wait`` how to grow the pool, as ``acquire`` does."""
        with self._lock:
            env = self._pop_idle(key)
            if env is not None:
                return env
            wait_ms = self._wait_ms(key)
            if wait_ms is None:
                return None
            waiter = _LoopWaiter(loop, loop.create_future())
            self._loop_waiters[key].append(waiter)
            self._waiting[key] += 1
        waiter.timer = loop.call_later(wait_ms / 1000, self._stop_waiting, key, waiter)
        waiter.future.add_done_callback(lambda f: self._stop_waiting(key, waiter) if f.cancelled() else None)
        return waiter.future

    def note_wait(self, key: PoolKey, make_spec: SpecFactory, snap_start: Callable[[], bool],
                  ceiling: Callable[[], int] | None) -> None:
        """A caller on an event loop waits for a release (``take_idle_or_queue`` gave it a future):
        how the pool would grow for it, told only then (nothing per invocation otherwise)."""
        with self._lock:
            self._note_wait(key, make_spec, snap_start, ceiling)

    def _note_wait(self, key: PoolKey, make_spec: SpecFactory, snap_start: Callable[[], bool],
                   ceiling: Callable[[], int] | None) -> None:
        """A caller is waiting for a release (lock held): remembered for ``_grow_for_demand``."""
        self._peak_waiting[key] = max(self._peak_waiting.get(key, 0), self._waiting[key])
        self._grow_with[key] = (make_spec, snap_start, ceiling)

    def _grow_for_demand(self) -> None:
        """Every housekeeping tick: a key whose callers had to wait for a release in each of the
        last ``_GROW_AFTER_TICKS`` ticks gets as many more environments, started in the background,
        as the most callers that waited at once in the last tick (within ``ceiling()``).

        Waiting for a release beats a cold start in a burst, but a load that lasts finds the pool
        as small as the burst left it, and every request pays for the wait: at a steady 16
        connections the pool stayed at 6-8 environments from run to run, and the gateway served
        20-25% fewer requests than with 16. Bursts shorter than the ticks never grow the pool (a
        background start competes with the burst for the CPU: bursts of 32 no-op callers took
        twice as long when each wait started one)."""
        plans = []
        with self._lock:
            peaks, self._peak_waiting = self._peak_waiting, {}
            withs, self._grow_with = self._grow_with, {}
            # Waiting while environments are being started for the key does not count towards more.
            self._contended = {key: 0 if key in self._growing else self._contended.get(key, 0) + 1 for key in peaks}
            if self._closed.is_set():
                return
            now = time.monotonic()
            for key, peak in peaks.items():
                if self._contended[key] < _GROW_AFTER_TICKS or key in self._growing or now < self._grow_after.get(key, 0.0):
                    continue
                make_spec, snap_start, ceiling = withs[key]
                n = peak if ceiling is None else min(peak, ceiling() - self._busy[key] - len(self._idle[key]))
                if n > 0:
                    self._growing.add(key)
                    self._contended[key] = 0    # the next growth needs as long a wait again
                    plans.append((key, n, make_spec, snap_start))
        for plan in plans:
            thread = threading.Thread(target=self._grow, args=plan, name="cumulo-pool-grow", daemon=True)
            self._growers.append(thread)
            thread.start()
        self._growers = [t for t in self._growers if t.is_alive()]

    def _grow(self, key: PoolKey, n: int, make_spec: SpecFactory, snap_start: Callable[[], bool]) -> None:
        """Start ``n`` environments for ``key`` one after another, each released as it is ready: to a
        waiting caller, else to the idle list.

        Not a cold start for whoever gets one (no Init or Restore Duration in its REPORT, as for an
        environment AWS started ahead); what Init printed goes to the log stream at once. A failure
        is reported to no one (the next cold start of the key meets it and tells its caller) and
        stops growing the key for a second."""
        try:
            for _ in range(n):
                if self._closed.is_set():
                    return
                env: ExecutionEnvironment | None = None
                try:
                    env, _ = self._start_cold(key, make_spec, snap_start)
                except Exception:   # the zygote is gone (closing) or the configuration with it
                    env = None
                with self._lock:
                    if env is None:
                        self._grow_after[key] = time.monotonic() + 1.0
                        return
                    self._busy[key] += 1
                try:
                    self._report_init(env)
                finally:
                    self.release(key, env)    # (killed if the pool closed meanwhile)
        finally:
            with self._lock:
                self._growing.discard(key)

    def _report_init(self, env: ExecutionEnvironment) -> None:
        """What an environment started ahead of its first invocation printed in Init (a warm
        invocation's log has no place for it)."""
        lines, env.init_lines = env.init_lines, []
        if isinstance(env, Environment) and env.template_init_lines:
            lines[:0], env.template_init_lines = env.template_init_lines, []
        if lines:
            self._on_logs(env, lines)

    def _stop_waiting(self, key: PoolKey, waiter: "_LoopWaiter") -> None:
        """A loop waiter's time is up (or it was cancelled): it starts an environment instead."""
        with self._lock:
            waiters = self._loop_waiters.get(key)
            if waiters is None or waiter not in waiters:
                return          # already handed an environment (or nothing)
            waiters.remove(waiter)
            self._waiting[key] -= 1
        if not waiter.future.done():
            waiter.future.set_result(None)

    def _hand(self, key: PoolKey, waiter: "_LoopWaiter", env: ExecutionEnvironment | None) -> None:
        """On the waiter's loop: give it the released environment (or None: nothing left to wait for)."""
        if waiter.timer is not None:
            waiter.timer.cancel()
        if waiter.future.done():     # cancelled meanwhile: the environment goes back
            if env is not None:
                self.release(key, env)
            return
        waiter.future.set_result(env)

    def _deliver(self, key: PoolKey, waiter: "_LoopWaiter", env: ExecutionEnvironment | None) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is waiter.loop:
            self._hand(key, waiter, env)
            return
        try:
            waiter.loop.call_soon_threadsafe(self._hand, key, waiter, env)
        except RuntimeError:    # that loop is closed: nobody waits any more
            if env is not None:
                self.release(key, env)

    def _pop_idle(self, key: PoolKey) -> ExecutionEnvironment | None:
        idle = self._idle.get(key)
        if idle and key in self._provisioned and not idle[-1].provisioned:
            # as Lambda: a provisioned environment first, on-demand ones only when all are busy
            # (a spillover); the newest idle one otherwise
            at = next((i for i in range(len(idle) - 1, -1, -1) if idle[i].provisioned), None)
            if at is not None:
                idle.append(idle.pop(at))
        while idle:
            env = idle.pop()
            if not env.dead and env.pid and env.zygote.has_exited(env.pid):
                env.kill()   # died while idle or after its last answer (a runtime that exits on an
                             # uncaught error): free what it held
            if not env.dead:
                if env.provisioned:
                    self._busy_provisioned[key] += 1
                self._busy[key] += 1
                self._taken_at[id(env)] = time.perf_counter()
                return env
        return None

    def release(self, key: PoolKey, env: ExecutionEnvironment) -> None:
        """Give an environment back: to a caller waiting on an event loop first, else to the idle list."""
        env.last_used = time.monotonic()
        now = time.perf_counter()
        handed: _LoopWaiter | None = None
        stranded: list[_LoopWaiter] = []
        with self._lock:
            if env.provisioned:
                self._busy_provisioned[key] -= 1
            self._busy[key] = max(self._busy[key] - 1, 0)
            if self._gated[key]:
                self._last_release[key] = env.last_used
            elif key in self._last_release:     # no burst queued: the next one's bound starts afresh
                del self._last_release[key]
            taken = self._taken_at.pop(id(env), None)
            if taken is not None:
                _average(self._busy_ms, key, (now - taken) * 1000)
            if not env.dead and not self._closed.is_set():
                waiters = self._loop_waiters.get(key)
                if waiters:
                    handed = waiters.popleft()
                    self._waiting[key] -= 1
                    if env.provisioned:
                        self._busy_provisioned[key] += 1
                    self._busy[key] += 1
                    self._taken_at[id(env)] = now
                elif self._gated[key] and self._hand_to_gate(key, env, now):
                    return
                else:
                    self._idle[key].append(env)
                    if self._waiting[key]:
                        self._released.notify_all()
                    return
            else:
                if self._gated[key]:
                    self._gate[0].event.set()     # one fewer busy: those passed over may have to start one
                if self._waiting[key]:
                    self._released.notify_all()   # one fewer busy: waiters may have nothing left to wait for
                if not self._busy[key] and self._loop_waiters.get(key):
                    stranded = list(self._loop_waiters.pop(key))
                    self._waiting[key] -= len(stranded)
        if handed is not None:
            self._deliver(key, handed, env)
            return
        for waiter in stranded:
            self._deliver(key, waiter, None)
        env.kill()

    def _create(self, spec: EnvironmentSpec, init_timeout: float) -> tuple[ExecutionEnvironment | None, Outcome | None]:
        deadline = time.monotonic() + init_timeout
        if spec.entrypoint is not None:   # a runtime of another language: the Runtime API
            return ProcessEnvironment.start(spec, self.zygote(), self._cgroups, deadline)
        return Environment.start(spec, self.zygote(), self._cgroups, deadline)

    # -- provisioned concurrency ----------------------------------------------
    def set_provisioned(self, key: PoolKey, target: int, make_spec: SpecFactory) -> None:
        """Keep ``target`` initialised environments of ``key`` (0: none). Idle provisioned ones
        beyond a lowered target become ordinary idle environments (reaped when idle too long)."""
        with self._lock:
            if target <= 0:
                self._provisioned.pop(key, None)
            else:
                self._provisioned[key] = _Provisioned(target, make_spec)
            excess = sum(1 for e in self._idle.get(key, []) if e.provisioned and not e.dead) \
                + self._busy_provisioned[key] - max(target, 0)
            for env in reversed(self._idle.get(key, [])):
                if excess <= 0:
                    break
                if env.provisioned and not env.dead:
                    env.provisioned = False
                    env.last_used = time.monotonic()
                    excess -= 1
        self._fill_provisioned()

    def provisioned_targets(self) -> dict[PoolKey, int]:
        with self._lock:
            return {k: p.target for k, p in self._provisioned.items()}

    def provisioned_use(self, key: PoolKey, env: ExecutionEnvironment) -> tuple[int, int, bool] | None:
        """For an invocation of a version with provisioned concurrency, while ``env`` is still
        taken: (its provisioned environments busy now, its target, whether ``env`` is one of them);
        None for any other version (one dictionary lookup: the warm path's whole cost)."""
        p = self._provisioned.get(key)
        if p is None or p.target <= 0:
            return None
        return self._busy_provisioned.get(key, 0), p.target, bool(env.provisioned)

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
            self._report_init(env)
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
        self._retire_templates(function, keep)
        self._shutdown(victims)

    def drop_idle(self, function: str) -> None:
        """Shut down the idle environments of ``function``, keeping its templates (benchmarks, tests)."""
        with self._lock:
            victims = [e for k, envs in self._idle.items() if k.function == function for e in envs]
            for k in [k for k in self._idle if k.function == function]:
                self._idle[k] = [e for e in self._idle[k] if e.provisioned]
                victims = [e for e in victims if not e.provisioned]
        self._shutdown(victims)

    def idle_count(self, key: PoolKey | None = None, function: str | None = None) -> int:
        with self._lock:
            return sum(len([e for e in envs if not e.dead]) for k, envs in self._idle.items()
                       if (key is None or k == key) and (function is None or k.function == function))

    def _housekeep(self) -> None:
        while not self._closed.wait(_HOUSEKEEPING_INTERVAL_S):
            try:
                self._reap_idle()
                self._reap_templates()
                self._fill_provisioned()
                self._grow_for_demand()
            except Exception:  # keep housekeeping alive; a failure here must not stop reaping
                import traceback

                traceback.print_exc()

    def environments(self, function: str, version: str | None = None) -> list[ExecutionEnvironment]:
        """The idle environments of a function (or one version of it)."""
        with self._lock:
            return [e for k, envs in self._idle.items() for e in envs
                    if k.function == function and (version is None or k.version == version)]

    def _reap_idle(self) -> None:
        now = time.monotonic()
        cutoff = now - self.idle_timeout_s
        victims: list[ExecutionEnvironment] = []
        with self._lock:
            for key, envs in self._idle.items():
                for e in envs:
                    if e.zygote.has_exited(e.pid):   # died while idle (killed, crashed in a background thread)
                        e.dead = True
                keep = [e for e in envs if not e.dead and (e.provisioned or e.last_used > cutoff)
                        and now - self._born(e) <= self.max_age_s]
                if len(keep) == len(envs):
                    continue
                # By identity: ``in`` on a list of dataclasses compares every field of every pair
                # (quadratic in the idle environments, four times a second, holding the pool's lock).
                kept = {id(e) for e in keep}
                victims.extend(e for e in envs if id(e) not in kept)
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
            stranded = [(k, w) for k, ws in self._loop_waiters.items() for w in ws]
            self._loop_waiters.clear()
            while self._gate:       # their starts fail on the closed pool's zygote, as any start now does
                gated = self._gate[0]
                self._unqueue(gated)
                gated.token = self._begin_start(time.monotonic())
                gated.event.set()
        for key, waiter in stranded:
            self._deliver(key, waiter, None)
        # Environments being started in the background finish first: one still starting after
        # the zygote stops would start a new one (and a restore, a new template) nobody stops.
        for thread in list(self._growers):
            thread.join(timeout=self.init_timeout_s)
        self._retire_templates(None, None)
        self._shutdown(victims)
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
        self._zygote.stop()


class _GateWaiter:
    """A calling thread waiting at the start gate: handed a token (its turn to start one) or an environment."""

    __slots__ = ("key", "event", "env", "token")

    def __init__(self, key: PoolKey) -> None:
        self.key, self.event = key, threading.Event()
        self.env: ExecutionEnvironment | None = None
        self.token = 0


class _LoopWaiter:
    """A caller on an event loop waiting for an environment of a key to be released."""

    __slots__ = ("loop", "future", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[ExecutionEnvironment | None]") -> None:
        self.loop, self.future = loop, future
        self.timer: asyncio.TimerHandle | None = None


def _average(averages: dict[PoolKey, float], key: PoolKey, sample: float) -> None:
    previous = averages.get(key)
    averages[key] = sample if previous is None else 0.7 * previous + 0.3 * sample
