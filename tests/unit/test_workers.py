"""workers.Periodic: the metrics' and traces' flushers run on it (a job each interval, a last run
when stopped, a failing run logged and the next one still coming)."""

from __future__ import annotations

import threading

from cumulo.metrics.service import MetricsFlusher
from cumulo.traces.service import TraceFlusher
from cumulo.workers import Periodic


def test_runs_each_interval_survives_a_failure_and_runs_once_more_when_stopped() -> None:
    runs: list[str] = []
    third = threading.Event()

    def tick() -> None:
        runs.append("tick")
        if len(runs) == 1:
            raise RuntimeError("a failing flush")
        if len(runs) >= 3:
            third.set()

    job = Periodic("test-periodic", 0.001, tick, last=lambda: runs.append("last"))
    job.start()
    assert third.wait(30)
    job.stop()
    assert runs[-1] == "last" and runs.count("last") == 1 and runs.count("tick") >= 3


def test_both_flushers_are_periodic_jobs() -> None:
    assert issubclass(MetricsFlusher, Periodic) and issubclass(TraceFlusher, Periodic)
