"""Runtime benchmark: cold starts, warm-invoke overhead, throughput — each against a baseline.

    python bench/runtime.py [--rounds N]

Prints medians and p99, and the ratio to a baseline measured in the same run:
- cold start: a new environment (fork from the zygote + Init + first invoke) of a handler
  importing only the standard library, vs. starting ``python3 -c`` that imports and calls it
  (on-demand Init: ``SnapStart.ApplyOn None``; cold starts from templates: bench/snapstart.py);
- warm overhead: ``Cumulo.invoke`` of a no-op handler vs. calling the handler directly;
- throughput: no-op invocations per second with 1 and 2 concurrent callers.
Not a test: nothing here asserts; targets are read by people (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402

HANDLER = """
import json, os, time
def handler(event, context):
    return {"ok": True}
"""


def _stats(samples_ns: list[int]) -> tuple[float, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def _row(label: str, samples: list[int], baseline: list[int] | None = None, unit: str = "ms") -> None:
    p50, p99 = _stats(samples)
    line = f"{label:<44} p50 {p50:9.3f} {unit}   p99 {p99:9.3f} {unit}"
    if baseline:
        b50, _ = _stats(baseline)
        line += f"   baseline p50 {b50:9.3f} {unit}   ratio {b50 / p50:6.1f}x faster"
    print(line, flush=True)


def bench_cold(c: Cumulo, code: Path, rounds: int) -> None:
    c.create_function("cold", code, "app.handler", snap_start="None")
    c.invoke("cold")  # the zygote and the code extraction are one-time costs
    samples, inits = [], []
    for _ in range(rounds):
        c.pool.retire("cold")
        t = time.perf_counter_ns()
        result = c.invoke("cold")
        samples.append(time.perf_counter_ns() - t)
        assert result.cold_start and result.function_error is None
        report = next(l for l in result.log_lines if l.startswith("REPORT"))
        inits.append(int(float(report.split("Init Duration: ")[1].split(" ms")[0]) * 1e6))
    baseline = []
    script = f"import sys; sys.path.insert(0, {str(code)!r}); import app, json; print(json.dumps(app.handler({{}}, None)))"
    for _ in range(max(rounds // 2, 5)):
        t = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
        baseline.append(time.perf_counter_ns() - t)
    _row("cold start: new environment + invoke", samples, baseline)
    _row("  of which Init Duration (fork + init)", inits)


def bench_warm(c: Cumulo, code: Path, rounds: int) -> None:
    c.create_function("warm", code, "app.handler")
    c.invoke("warm")
    sys.path.insert(0, str(code))
    import app  # type: ignore[import-not-found]

    direct = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        app.handler({}, None)
        direct.append(time.perf_counter_ns() - t)
    samples = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        c.invoke("warm", b"{}")
        samples.append(time.perf_counter_ns() - t)
    p50, _ = _stats(samples)
    d50, _ = _stats(direct)
    _row("warm invoke via Python API", samples)
    _row("direct handler call (baseline)", direct)
    print(f"{'warm overhead (invoke - direct), p50':<44} {p50 - d50:9.3f} ms", flush=True)


def bench_throughput(c: Cumulo, seconds: float) -> None:
    for callers in (1, 2):
        stop = time.monotonic() + seconds
        counts = [0] * callers

        def loop(i: int) -> None:
            while time.monotonic() < stop:
                c.invoke("warm", b"{}")
                counts[i] += 1

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"{f'throughput, {callers} concurrent caller(s)':<44} {sum(counts) / seconds:9.0f} invocations/s",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp, "code")
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        with Cumulo(home=Path(tmp, "home"), idle_timeout_s=3600) as c:
            print(f"sandbox: {c.sandbox.level.value}, memory: {c.memory_enforcement}, python {sys.version.split()[0]}")
            bench_cold(c, code, args.rounds)
            bench_warm(c, code, args.rounds * 10)
            bench_throughput(c, args.seconds)


if __name__ == "__main__":
    main()
