"""Cost curves: how each cost grows with what is stored, at 1x, 10x, 100x and 1,000x scale.

    python bench/curves.py [--quick] [--only functions queues executions logs]

One store per curve, grown step by step; at each step the same operations are timed (medians) and
the step's row printed, then the ratio of the cost at the largest scale to the smallest. A ratio is
flagged ``GROWS`` when it is above what a logarithmic cost would give (log(largest)/log(smallest),
at least 2x, plus 50% for noise): AWS's answer to these calls does not depend on how many other
functions, queues, executions or log lines the account holds.

- functions (10 -> 10,000; --quick 10 -> 1,000): CreateFunction per function, ListFunctions' first
  page (10 functions, so that the smallest scale fills it too), the first Invoke of a new function (a cold start), ``cumulo up``'s start-up (until it
  answers) and its RSS then; through boto3 against a real ``cumulo up``. The store is filled between
  steps through the Python API (``Cumulo.create_function``), the server stopped meanwhile.
- queues (1 -> 1,000; --quick 1 -> 100), each holding 10 messages of which 5 in flight:
  ReceiveMessage (and DeleteMessage of what came) on one of them, through the queue service.
- executions kept (1 K -> 1 M; --quick 1 K -> 100 K) of one state machine: DescribeExecution of one,
  ListExecutions' first page (100), through the service. The kept executions are written directly
  through the store's own write path (``insert_execution`` and ``save_step``, the calls the engine
  makes) for the first 10,000, then the same rows 10,000 to a transaction (the store's calls cost
  ~2 ms an execution on a loaded machine: 1 M would take most of an hour); none through the API.
- log lines (1 M -> 30 M; --quick 100 K -> 1 M), 100 functions, spread over the last 7 days of a
  7-day retention: FilterLogEvents' first page (100) of one group, with and without a pattern, and
  the first batch (100 lines) of ``cumulo logs NAME --since 1h``, DescribeLogStreams of the group (a
  new stream every 100,000 lines, as environments come and go); the database's size per line. Lines
  arrive at one rate throughout: a step is the store after a part of the week, so the hour queried
  holds as many lines at every step and only what is stored besides grows.
- rules per bus: bench/events_match.py (matching cost 2.18x at 5,000 rules against 1): not repeated.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cumulo import Cumulo  # noqa: E402
from cumulo.store.base import LogRecord  # noqa: E402

HANDLER = b"def handler(event, context):\n    return {'ok': True}\n"


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("app.py", HANDLER)
    return out.getvalue()


def median_ms(run: Callable[[], Any], repeat: int) -> float:
    run()       # once untimed: caches and the planner's first look
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


class Curve:
    """Rows of one curve and the verdict on each column."""

    def __init__(self, title: str, unit: str, columns: list[str]) -> None:
        self.title, self.unit, self.columns = title, unit, columns
        self.rows: list[tuple[int, list[float]]] = []
        print(f"\n### {title}\n\n| {unit} | " + " | ".join(columns) + " |", flush=True)
        print("|---:|" + "---:|" * len(columns), flush=True)

    def row(self, scale: int, values: list[float]) -> None:
        self.rows.append((scale, values))
        print(f"| {scale:,} | " + " | ".join(_fmt(v) for v in values) + " |", flush=True)

    def verdict(self) -> None:
        if len(self.rows) < 2:
            return
        (small, first), (large, last) = self.rows[0], self.rows[-1]
        bound = max(2.0, math.log(large) / math.log(max(small, 2))) * 1.5
        print(f"\n{self.title}, {large:,} against {small:,} ({large // small:,}x):", flush=True)
        for name, a, b in zip(self.columns, first, last):
            ratio = b / a if a else float("inf")
            flag = "  GROWS (faster than log)" if ratio > bound else ""
            print(f"- {name}: {ratio:.2f}x{flag}", flush=True)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


# -- functions -----------------------------------------------------------------
def _boto(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIABENCH",
                        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 0}))


def _serve(home: Path) -> tuple[subprocess.Popen[str], str, float]:
    """Start ``cumulo up`` on ``home``; the process, its endpoint and the seconds until it answered."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cumulo", "--home", str(home), "up", "--port", "0",
                             "--gateway-port", "0", "--no-auth"], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    endpoint = ""
    while not endpoint:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("cumulo up exited before answering")
        m = re.search(r"API at (\S+)", line)
        endpoint = m.group(1) if m else ""
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    import urllib.request
    while True:     # answering: a request served, not only the line printed
        try:
            urllib.request.urlopen(f"{endpoint}/2015-03-31/functions?MaxItems=1", timeout=30).read()
            break
        except OSError:
            time.sleep(0.01)
    return proc, endpoint, time.perf_counter() - t


def _db_bytes(path: Path) -> int:
    """A SQLite file's size with its WAL: what the store holds on disk."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.name in (path.name, path.name + "-wal"))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def functions_curve(scales: list[int], repeat: int) -> None:
    code = _zip()
    curve = Curve("Functions deployed", "functions", ["CreateFunction ms", "ListFunctions page 1 (10) ms",
                                                       "first Invoke (cold) ms", "`cumulo up` start s", "RSS MB",
                                                       "DB bytes/function"])
    with tempfile.TemporaryDirectory() as tmp:
        home, have, fresh = Path(tmp) / "home", 0, 0
        for scale in scales:
            with Cumulo(home=home) as c:
                while have < scale:
                    c.create_function(f"fn-{have:06d}", code, "app.handler")
                    have += 1
            proc, endpoint, started = _serve(home)
            try:
                lam = _boto("lambda", endpoint)
                lam.list_functions(MaxItems=10)
                rss = _rss_mb(proc.pid)
                listing = median_ms(lambda: lam.list_functions(MaxItems=10), repeat)
                creates, colds = [], []
                for _ in range(5):
                    name = f"new-{fresh:04d}"
                    fresh += 1
                    t = time.perf_counter()
                    lam.create_function(FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
                                        Handler="app.handler", Code={"ZipFile": code})
                    creates.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    lam.invoke(FunctionName=name, Payload=b"{}")
                    colds.append((time.perf_counter() - t) * 1000)
                curve.row(scale, [statistics.median(creates), listing, statistics.median(colds), started, rss,
                                  _db_bytes(home / "cumulo.db") / (scale + fresh)])
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    curve.verdict()


# -- queues --------------------------------------------------------------------
def queues_curve(scales: list[int], repeat: int) -> None:
    curve = Curve("Queues (10 messages each, 5 in flight)", "queues", ["ReceiveMessage ms", "Send+Receive+Delete ms",
                                                                         "DB bytes/queue"])
    with tempfile.TemporaryDirectory() as tmp, Cumulo(home=Path(tmp) / "home") as c:
        q, have = c.queues, 0
        for scale in scales:
            while have < scale:
                name = f"q-{have:05d}"
                q.create_queue(name, {"VisibilityTimeout": "3600"})
                q.send_message_batch(name, [{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
                q.receive_message(name, max_messages=5)         # 5 in flight (an hour's visibility)
                have += 1
            target = f"q-{scale // 2:05d}"

            def receive() -> None:
                got = q.receive_message(target, max_messages=1, visibility_timeout=0)
                assert got

            def cycle() -> None:
                q.send_message(target, "x")
                for m in q.receive_message(target, max_messages=10, visibility_timeout=0):
                    if m["Body"] == "x":
                        q.delete_message(target, m["ReceiptHandle"])
            curve.row(scale, [median_ms(receive, repeat), median_ms(cycle, repeat),
                              _db_bytes(c.settings.messages_path) / scale])
    curve.verdict()


# -- executions ----------------------------------------------------------------
def executions_curve(scales: list[int], repeat: int) -> None:
    curve = Curve("Executions kept (one state machine)", "executions",
                  ["DescribeExecution ms", "ListExecutions page 1 ms", "fill µs/execution",
                   "DB bytes/execution"])
    with tempfile.TemporaryDirectory() as tmp, Cumulo(home=Path(tmp) / "home") as c:
        sm = c.state_machines
        machine = sm.create_state_machine("kept", json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
                                          None)["stateMachineArn"]
        first = sm.start_execution(machine, "e-seed", "{}")["executionArn"]
        store = c.messages.executions
        _, _, _, _, doc = store.get_execution(first)
        prefix, have = first.rsplit(":", 1)[0], 1
        start_ms = int(time.time() * 1000) - 10_000_000
        database = c.messages.database     # type: ignore[attr-defined]  # SQLite's
        for scale in scales:
            t = time.perf_counter()
            added = scale - have
            while have < scale:
                if have < 10_000:       # the store's own calls, as the engine makes them
                    name = f"e-{have:08d}"
                    arn = f"{prefix}:{name}"
                    store.insert_execution(arn, machine, name, start_ms + have, {**doc, "name": name})
                    store.save_step(arn, "SUCCEEDED", start_ms + have + 5, {**doc, "name": name, "output": "{}"},
                                    [], [], [], [])
                    have += 1
                    continue
                n = min(10_000, scale - have)    # beyond: the same rows, 10,000 to a transaction
                rows = [(f"{prefix}:e-{i:08d}", machine, f"e-{i:08d}", start_ms + i, start_ms + i + 5,
                         json.dumps({**doc, "name": f"e-{i:08d}", "output": "{}"})) for i in range(have, have + n)]
                with database.tx() as db:
                    db.executemany("INSERT INTO executions VALUES (?, ?, ?, 'SUCCEEDED', ?, ?, ?)", rows)
                have += n
            fill_us = (time.perf_counter() - t) * 1e6 / max(added, 1)
            probe = f"{prefix}:e-{scale // 2:08d}"
            describe = median_ms(lambda: sm.describe_execution(probe), repeat)
            listing = median_ms(lambda: _list_page(c, machine), max(3, repeat // 4))
            curve.row(scale, [describe, listing, fill_us, _db_bytes(c.settings.messages_path) / scale])
    curve.verdict()


def _list_page(c: Cumulo, machine: str) -> None:
    from cumulo.api.stepfunctions import OPERATIONS  # the API's own ListExecutions, paging included
    OPERATIONS["ListExecutions"](c, None, {"stateMachineArn": machine, "maxResults": 100})


# -- logs ----------------------------------------------------------------------
MESSAGES = ("INFO served /items/{i} in {ms} ms", "ERROR payment {i} failed: card declined",
            '{{"level": "INFO", "latency": {ms}, "n": {i}}}', "10.0.0.{b} GET /items/{i} 200 {ms}")


def logs_curve(scales: list[int], repeat: int) -> None:
    curve = Curve("Log lines stored (100 functions, 7 days, 7-day retention)", "lines",
                  ["FilterLogEvents page 1 ms", "… pattern ERROR ms", "`cumulo logs --since 1h` ms",
                   "DescribeLogStreams ms", "DB bytes/line", "fill µs/line"])
    week_ms = 7 * 86_400_000
    with tempfile.TemporaryDirectory() as tmp, Cumulo(home=Path(tmp) / "home", log_retention_days=7) as c:
        rng, have = random.Random(7), 0
        now_ms = int(time.time() * 1000)
        c.create_function("fn-050", _zip(), "app.handler")
        for scale in scales:
            t = time.perf_counter()
            added = scale - have
            while have < scale:
                n = min(20_000, scale - have)
                batch = []
                for i in range(have, have + n):
                    # time order within the week, as a log sink writes them (ids follow time)
                    ts = now_ms - week_ms + (i * week_ms) // scales[-1]
                    fn = i % 100
                    roll = rng.random()      # 1% errors, 30% JSON, the rest access and info lines
                    kind = 1 if roll < 0.01 else 2 if roll < 0.31 else 3 if roll < 0.8 else 0
                    text = MESSAGES[kind].format(i=i, ms=rng.randint(1, 999), b=i % 250)
                    batch.append(LogRecord(f"fn-{fn:03d}", "$LATEST", f"2026/01/01/[$LATEST]{fn:03d}{i // 100_000:029x}",
                                           None, ts, text))
                c.store.append_logs(batch)
                have += n
            fill_us = (time.perf_counter() - t) * 1e6 / max(added, 1)
            group = "/aws/lambda/fn-050"
            last = max(ts for ts in [now_ms - week_ms + ((scale - 1) * week_ms) // scales[-1]])
            since = last - 3_600_000
            page = median_ms(lambda: c.log_groups.filter_events(group, limit=100, start=since), repeat)
            errors = median_ms(lambda: c.log_groups.filter_events(group, "ERROR", limit=100, start=since), repeat)
            tail = median_ms(lambda: c.get_logs("fn-050", since_ms=since, limit=100), repeat)
            streams = median_ms(lambda: c.log_groups.describe_streams(group), max(3, repeat // 4))
            size = _db_bytes(Path(c.settings.db_path))
            curve.row(scale, [page, errors, tail, streams, size / scale, fill_us])
    curve.verdict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Each curve to 100x, logs to 10x (minutes, not an hour).")
    parser.add_argument("--only", nargs="*", default=["functions", "queues", "executions", "logs"])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--log-scales", type=lambda s: [int(x) for x in s.split(",")], default=None,
                        help="Log lines at each step, e.g. 1000000,10000000,30000000.")
    args = parser.parse_args()
    quick = args.quick
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {'--quick' if quick else 'full'}", flush=True)
    if "functions" in args.only:
        functions_curve([10, 100, 1000] if quick else [10, 100, 1000, 10_000], args.repeat)
    if "queues" in args.only:
        queues_curve([1, 10, 100] if quick else [1, 10, 100, 1000], args.repeat)
    if "executions" in args.only:
        executions_curve([1000, 10_000, 100_000] if quick else [1000, 10_000, 100_000, 1_000_000], args.repeat)
    if "logs" in args.only:
        logs_curve(args.log_scales or ([100_000, 1_000_000] if quick else [1_000_000, 10_000_000, 30_000_000]),
                   args.repeat)
    print("\nRules per bus: bench/events_match.py (matching 2.18x at 5,000 rules against 1), not repeated here.")
    print(f"load average at end: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
