"""Traces benchmark: what X-Ray tracing costs the warm path, as ratios in one run.

    python bench/traces.py [--rounds N] [--blocks B]

One Cumulo, two warm no-op functions: ``plain`` (TracingConfig PassThrough, called without a
trace header: tracing off, the path every untraced invocation takes) and ``traced`` (Active).
Blocks of ``rounds`` invocations rotate between three arms, in random order, so all see the same
machine at the same time: plain; traced and sampled every time (the caller's header says
``Sampled=1``: two segments recorded per invocation, the worst case); traced under X-Ray's default
rule (one a second, then 5 %). Prints each arm's p50 and its ratio to plain. The off path's own
addition (``Invoker._begin_trace`` deciding there is no trace) is also timed alone and given as a
share of plain's p50; last, the flush of 10,000 segments. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.invoke.invoker import InvocationRequest  # noqa: E402

HANDLER = """
def handler(event, context):
    return {"ok": True}
"""
SAMPLED = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=30)
    args = parser.parse_args()
    arms = {"plain (tracing off)": ("plain", None), "traced, every one sampled": ("traced", SAMPLED),
            "traced, default sampling": ("traced", None)}
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp, "code")
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        with Cumulo(home=Path(tmp, "home"), idle_timeout_s=3600) as c:
            c.create_function("plain", code, "app.handler")
            c.create_function("traced", code, "app.handler", tracing="Active")
            for _ in range(200):
                for name, header in arms.values():
                    c.invoke(name, b"{}", trace_header=header)
            samples: dict[str, list[int]] = {arm: [] for arm in arms}
            for _ in range(args.blocks):
                for arm in random.sample(list(arms), len(arms)):
                    name, header = arms[arm]
                    for _ in range(args.rounds):
                        t = time.perf_counter_ns()
                        c.invoke(name, b"{}", trace_header=header)
                        samples[arm].append(time.perf_counter_ns() - t)
                    c.traces.flush()       # the flusher's work, off the measured path as in `cumulo up`
            print(f"sandbox: {c.sandbox.level.value}, python {sys.version.split()[0]}")
            base = statistics.median(samples["plain (tracing off)"]) / 1e3
            for arm, got in samples.items():
                p50 = statistics.median(got) / 1e3
                print(f"{'warm invoke, ' + arm:<48} p50 {p50:9.1f} us   ratio {p50 / base:6.3f}")
            invoker = c._runtime()
            config = c.get_function_configuration("plain")
            request = InvocationRequest(b"{}")
            n = 1_000_000
            t = time.perf_counter_ns()
            for _ in range(n):
                invoker._begin_trace(config, request)
            cost = (time.perf_counter_ns() - t) / n / 1e3
            print(f"{'off path alone (_begin_trace), per invocation':<48}     {cost:9.3f} us")
            print(f"{'  as a share of the plain warm invoke p50':<48}     {cost / base:9.5f}")
            trace = c.trace_recorder.begin(True, SAMPLED)
            for _ in range(5000):
                c.trace_recorder.invocation(trace, name="f", arn="arn:aws:lambda:us-east-1:1:function:f", account="1",
                                            request_id="r", duration_ms=1.0, init_ms=None)
            t = time.perf_counter_ns()
            n = c.traces.flush()
            print(f"{'flush of ' + str(n) + ' segments':<48}     {(time.perf_counter_ns() - t) / 1e6:9.1f} ms")


if __name__ == "__main__":
    main()
