"""SnapStart benchmark: cold starts forked from a template vs. on-demand Init, and burst policies.

    python bench/snapstart.py [--rounds N] [--burst N] [--sandbox process|namespace] [--no-credentials]

Cold starts (at the sandbox level asked for, ``process`` by default), each against a baseline measured
in the same run — a fresh ``python -I -S`` importing the handler module and calling it once:
- stdlib-only handler, and one importing json, decimal, uuid, datetime, email, http.client;
- with a template (SnapStart, Cumulo's default) and with ``SnapStart.ApplyOn: None``;
- the template's memory (RSS and PSS);
- each environment given its role's session and the endpoint, as under ``cumulo up`` (unless
  ``--no-credentials``), and what building them costs per cold start (a session cached per role and
  function for an hour, and a fresh one).
Bursts: N callers at once against a version with no idle environment, for a no-op handler and a
20 ms one, with ``burst_wait`` on (wait up to one cold start for a released environment) and off
(every caller without an idle environment starts one). Nothing here asserts; people read it.
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

LIGHT = """
import os
def handler(event, context):
    return {"ok": True}
"""
HEAVY = """
import json, decimal, uuid, datetime, email, email.message, email.parser, http.client
def handler(event, context):
    return {"ok": True, "id": str(uuid.uuid4())}
"""
SLEEPY = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return 1
"""


def _pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def _cold(c: Cumulo, name: str, rounds: int) -> tuple[list[float], list[float]]:
    c.invoke(name)   # the template (or nothing) exists from here on
    total, phase = [], []
    for _ in range(rounds):
        c.pool.drop_idle(name)
        t = time.perf_counter()
        r = c.invoke(name)
        total.append((time.perf_counter() - t) * 1000)
        report = next(l for l in r.log_lines if l.startswith("REPORT"))
        key = "Restore Duration: " if "Restore Duration: " in report else "Init Duration: "
        phase.append(float(report.split(key)[1].split(" ms")[0]))
        assert r.cold_start and r.function_error is None
    return total, phase


def _baseline(code: Path, rounds: int) -> list[float]:
    script = f"import sys; sys.path.insert(0, {str(code)!r}); import app; app.handler({{}}, None)"
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", script], check=True, capture_output=True)
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def bench_credentials(c: Cumulo, rounds: int = 2000) -> None:
    """What a cold start pays for its environment's credentials (Cumulo._function_credentials)."""
    config = c.functions.get(c.store.list_functions()[0].latest.name)
    c._function_credentials(config)
    cached = []
    for _ in range(rounds):
        t = time.perf_counter()
        c._function_credentials(config)
        cached.append((time.perf_counter() - t) * 1e6)
    fresh = []
    for i in range(rounds // 4):
        t = time.perf_counter()
        c.identity.sessions.for_role(config.role, f"s{i}", 43200)
        fresh.append((time.perf_counter() - t) * 1e6)
    print(f"credentials per cold start: cached session p50 {statistics.median(cached):.1f} us, "
          f"a fresh session p50 {statistics.median(fresh):.1f} us", flush=True)


def bench_cold(tmp: Path, rounds: int, sandbox: str, credentials: bool = True) -> None:
    print(f"{'cold start (new environment + first invoke)':<52} {'p50':>8} {'p99':>8} {'phase p50':>10}  baseline p50 / ratio")
    with Cumulo(home=tmp / "cold", sandbox=sandbox, idle_timeout_s=3600) as c:
        if credentials:     # as `cumulo up` does: every environment gets the endpoint and its role's session
            c.endpoint_url = "http://127.0.0.1:9000"
        print(f"sandbox {c.sandbox.level.value}, SnapStart available: {c.snapstart_available}, "
              f"credentials: {'yes' if credentials else 'no'}")
        for label, source in (("stdlib-only", LIGHT), ("json/decimal/uuid/datetime/email/http", HEAVY)):
            code = tmp / f"code-{label[:5]}"
            code.mkdir()
            (code / "app.py").write_text(source)
            base = statistics.median(_baseline(code, max(rounds // 4, 10)))
            for mode, snap in (("template (SnapStart)", None), ("on-demand (ApplyOn None)", "None")):
                name = f"f{abs(hash((label, mode))) % 10**8}"
                c.create_function(name, code, "app.handler", **({"snap_start": snap} if snap else {}))
                total, phase = _cold(c, name, rounds)
                p50 = statistics.median(total)
                print(f"{label + ', ' + mode:<52} {p50:8.2f} {_pct(total, 0.99):8.2f} {statistics.median(phase):10.2f}"
                      f"  python -I -S {base:6.1f} ms / {base / p50:4.1f}x faster", flush=True)
        if credentials:
            bench_credentials(c)
        for s in c.pool.template_stats():
            print(f"template {s.key.function}: RSS {s.rss_kb / 1024:.1f} MB, PSS {s.pss_kb / 1024:.1f} MB, "
                  f"{s.restores} restores", flush=True)


def bench_burst(tmp: Path, callers: int, rounds: int, sandbox: str) -> None:
    print(f"\nburst of {callers} callers, no idle environment (template present)")
    print(f"{'handler / policy':<36} {'burst ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'cold starts':>12}")
    code = tmp / "code-sleepy"
    code.mkdir()
    (code / "app.py").write_text(SLEEPY)
    for sleep in (0.0, 0.02):
        for wait in (True, False):
            with Cumulo(home=tmp / f"burst-{sleep}-{wait}", sandbox=sandbox, idle_timeout_s=3600,
                        burst_wait=wait) as c:
                c.create_function("b", code, "app.handler")
                c.invoke("b")
                walls, lat, colds = [], [], []
                for _ in range(rounds):
                    c.pool.drop_idle("b")
                    c.invoke("b")     # one warm environment, and a recent cold-start cost to wait for
                    barrier = threading.Barrier(callers + 1)
                    out: list[tuple[float, bool]] = []

                    def call() -> None:
                        barrier.wait()
                        t = time.perf_counter()
                        r = c.invoke("b", f'{{"sleep": {sleep}}}')
                        out.append(((time.perf_counter() - t) * 1000, r.cold_start))

                    threads = [threading.Thread(target=call) for _ in range(callers)]
                    for th in threads:
                        th.start()
                    barrier.wait()
                    t0 = time.perf_counter()
                    for th in threads:
                        th.join()
                    walls.append((time.perf_counter() - t0) * 1000)
                    lat.extend(x for x, _ in out)
                    colds.append(sum(1 for _, cold in out if cold))
                label = f"sleep {sleep * 1000:.0f} ms, {'wait for release' if wait else 'cold start each'}"
                print(f"{label:<36} {statistics.median(walls):9.1f} {statistics.median(lat):8.2f} "
                      f"{_pct(lat, 0.99):8.2f} {statistics.median(colds):12.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--burst", type=int, default=32)
    parser.add_argument("--sandbox", default="process", choices=["process", "namespace"])
    parser.add_argument("--no-credentials", action="store_true",
                        help="environments get no endpoint or role session (as without `cumulo up`)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_cold(Path(tmp), args.rounds, args.sandbox, not args.no_credentials)
        bench_burst(Path(tmp), args.burst, max(args.rounds // 20, 3), args.sandbox)


if __name__ == "__main__":
    main()
