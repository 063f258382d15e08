"""Cold and warm invocations beside their peers: a process per invoke, python-lambda-local, direct calls.

    python bench/peers.py [--rounds N]

Measured in the same run, for a stdlib-only no-op handler and for a realistic one (imports json,
decimal, uuid, datetime; 1 ms of work):
- Cumulo cold start (a new environment: fork from the zygote + Init + the invocation) and warm
  invoke (Python API);
- a new ``python3 -I -S`` process per invoke that imports the handler and calls it (what an
  emulator that starts an interpreter per request pays at least);
- python-lambda-local (PyPI) per invoke, installed once into ~/.cache/cumulo-bench (skipped if
  pip cannot install it);
- calling the handler directly in this process (the floor of the warm path).
Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402

NOOP = "def handler(event, context):\n    return {'ok': True}\n"
REALISTIC = """
import datetime, decimal, json, uuid, time

def handler(event, context):
    end = time.perf_counter() + 0.001
    total = decimal.Decimal(0)
    while time.perf_counter() < end:
        total += decimal.Decimal("1.10")
    return {"id": str(uuid.uuid4()), "at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "total": str(total), "echo": json.dumps(event)}
"""
CACHE = Path.home() / ".cache" / "cumulo-bench"


def _p(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.99))]


def row(label: str, samples: list[float], floor: float | None = None) -> None:
    p50, p99 = _p(samples)
    line = f"{label:<54} p50 {p50:9.3f} ms   p99 {p99:9.3f} ms"
    if floor:
        line += f"   {p50 / floor:8.1f}x the Cumulo figure"
    print(line, flush=True)


def timed(fn, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def lambda_local() -> Path | None:
    venv = CACHE / "python-lambda-local"
    exe = venv / "bin" / "python-lambda-local"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "python-lambda-local"], check=True,
                       capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError):
        return None
    return exe if exe.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    rounds = args.rounds
    pll = lambda_local()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        event = folder / "event.json"
        event.write_text(json.dumps({"n": 1}))
        with Cumulo(home=folder / "home") as c:
            print(f"python {sys.version.split()[0]}, sandbox {c.sandbox.level.value}", flush=True)
            for name, source in (("noop", NOOP), ("realistic", REALISTIC)):
                code = folder / name
                code.mkdir()
                (code / "app.py").write_text(source)
                c.create_function(name, code, "app.handler")
                c.invoke(name)

                def cold() -> None:
                    c.pool.retire(name)
                    assert c.invoke(name, b'{"n": 1}').cold_start

                cold_ms = timed(cold, rounds)
                warm_ms = timed(lambda: c.invoke(name, b'{"n": 1}'), rounds * 10)
                script = (f"import sys; sys.path.insert(0, {str(code)!r}); import app, json; "
                          "print(json.dumps(app.handler({'n': 1}, None)))")
                proc_ms = timed(lambda: subprocess.run([sys.executable, "-I", "-S", "-c", script], check=True,
                                                       capture_output=True), rounds)
                sys.path.insert(0, str(code))
                sys.modules.pop("app", None)
                import app  # type: ignore[import-not-found]
                direct_ms = timed(lambda: app.handler({"n": 1}, None), rounds * 10)
                sys.path.remove(str(code))
                sys.modules.pop("app", None)
                c50 = _p(cold_ms)[0]
                w50 = _p(warm_ms)[0]
                print(f"-- {name} handler", flush=True)
                row("Cumulo cold start (new environment)", cold_ms)
                row("Cumulo warm invoke (Python API)", warm_ms)
                row("direct call of the handler (floor)", direct_ms)
                print(f"{'warm overhead over the direct call, p50':<54} {(w50 - _p(direct_ms)[0]) * 1000:9.1f} µs")
                row("new python3 -I -S process per invoke", proc_ms, c50)
                if pll is not None:
                    pll_ms = timed(lambda: subprocess.run([str(pll), "-f", "handler", str(code / "app.py"),
                                                           str(event), "-t", "3"], check=True, capture_output=True,
                                                          cwd=code), max(rounds // 5, 5))
                    row("python-lambda-local per invoke", pll_ms, c50)
                else:
                    print("python-lambda-local: not installable here; skipped")
                print(f"{'cold start vs process per invoke':<54} {_p(proc_ms)[0] / c50:9.1f}x faster", flush=True)
                _ = w50


if __name__ == "__main__":
    main()
