"""Metrics benchmark: what recording Lambda's metrics costs the warm path, as a ratio in one run.

    python bench/metrics.py [--rounds N] [--blocks B]

One Cumulo, one warm no-op function; blocks of ``rounds`` invocations alternate between the
recorder on and off (``MetricRecorder.enabled``), so both see the same machine at the same time.
Prints the p50 of each and the ratio (on / off; target <= 1.05, issue 24). On a noisy machine
that ratio swings by several percent either way, so the recorder's own cost is also timed alone
(``Invoker._record``, what an invocation adds) and given as a share of the same run's warm p50.
Last, the flush of a busy minute. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402

HANDLER = """
def handler(event, context):
    return {"ok": True}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp, "code")
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        with Cumulo(home=Path(tmp, "home"), idle_timeout_s=3600) as c:
            c.create_function("warm", code, "app.handler")
            for _ in range(200):
                c.invoke("warm", b"{}")
            samples: dict[bool, list[int]] = {True: [], False: []}
            order = [random.random() < 0.5 for _ in range(args.blocks)]
            for on in [x for first in order for x in (first, not first)]:   # pairs, in random order
                c.metric_recorder.enabled = on
                for _ in range(args.rounds):
                    t = time.perf_counter_ns()
                    c.invoke("warm", b"{}")
                    samples[on].append(time.perf_counter_ns() - t)
            c.metric_recorder.enabled = True
            on50 = statistics.median(samples[True]) / 1e3
            off50 = statistics.median(samples[False]) / 1e3
            print(f"sandbox: {c.sandbox.level.value}, python {sys.version.split()[0]}")
            print(f"{'warm invoke, metrics recorded':<44} p50 {on50:9.1f} us")
            print(f"{'warm invoke, metrics off (baseline)':<44} p50 {off50:9.1f} us")
            print(f"{'ratio (on / off; target <= 1.05)':<44} {on50 / off50:9.3f}")
            invoker = c._runtime()
            outcome = types.SimpleNamespace(duration_ms=1.25, lines=[])
            arn = c.arns.function("warm", None)
            n = 200_000
            t = time.perf_counter_ns()
            for _ in range(n):
                invoker._record("warm", arn, outcome, False)      # type: ignore[arg-type]
            cost = (time.perf_counter_ns() - t) / n / 1e3
            print(f"{'recording alone, per invocation':<44}     {cost:9.2f} us")
            print(f"{'  as a share of the warm invoke (off) p50':<44} {cost / off50:9.4f}")
            for _ in range(2000):
                c.metric_recorder.invocation("busy", None, 1.5, False)
            t = time.perf_counter_ns()
            n = c.metrics.flush()
            print(f"{'flush of a minute (' + str(n) + ' points)':<44} {(time.perf_counter_ns() - t) / 1e6:9.2f} ms")


if __name__ == "__main__":
    main()
