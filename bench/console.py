"""The web console: each page's render time on a large store, against ListFunctions in the same run.

    python bench/console.py [--functions 1000] [--lines 1000000] [--rounds 20] [--fifo 10]

The store: ``--functions`` functions (one small Python zip each), ``--lines`` log lines written
straight to the log store as invocations would write them (START, two lines of output, END, REPORT,
every fifth invocation failed, each invocation also recorded in the metrics at its minute), spread over the functions and the last two hours, with one hot
function holding a tenth of them in its last minutes; 100 queues (one a dead-letter queue), a state
machine with a failed execution. Pages are asked of ``Console.handle`` in this process (no socket,
a logged-in session) so the number is the page's own work; the baseline is the API's ListFunctions
(its first page of 50, as boto3 asks) through the same ``ControlPlane.dispatch``.
Not a test: nothing here asserts; targets are read by people (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.api.http import Request  # noqa: E402
from cumulo.api.keys import first_key  # noqa: E402
from cumulo.api.server import ControlPlane  # noqa: E402
from cumulo.console.server import Console, Incoming  # noqa: E402
from cumulo.store.base import LogRecord  # noqa: E402


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


def _fill_logs(c: Cumulo, names: list[str], lines: int, hot: str) -> None:
    now = int(time.time() * 1000)
    per_invocation = 5
    batch: list[LogRecord] = []
    written = 0
    invocations = lines // per_invocation
    clock = [time.time()]
    c.metric_recorder._now = lambda: clock[0]      # noqa: SLF001 (a benchmark writing history)
    for i in range(invocations):
        name = hot if i % 10 == 0 else names[i % len(names)]
        ts = now - (i % 300_000 if name == hot else (i * 7) % 7_200_000)
        rid = str(uuid.UUID(int=i))
        stream = f"2026/01/01/[$LATEST]{i % 50:032x}"
        failed = i % 5 == 0
        out = [f"START RequestId: {rid} Version: $LATEST", f"processing order {i}",
               f"[ERROR] ValueError: order {i} refused" if failed else f"done {i}",
               f"END RequestId: {rid}",
               f"REPORT RequestId: {rid}\tDuration: {1 + i % 97 / 7:.2f} ms\tBilled Duration: {2 + i % 14} ms\t"
               f"Memory Size: 128 MB\tMax Memory Used: 31 MB\t"]
        batch.extend(LogRecord(name, "$LATEST", stream, rid, ts, m) for m in out)
        clock[0] = ts / 1000        # the same invocation in CloudWatch's metrics, at its own minute
        c.metric_recorder.invocation(name, None, 1 + i % 97 / 7, failed)
        if len(batch) >= 50_000:
            c.store.append_logs(batch)
            written += len(batch)
            batch = []
            print(f"\r  log lines written: {written:,}", end="", file=sys.stderr, flush=True)
    if batch:
        c.store.append_logs(batch)
    c.metrics.flush()
    c.metric_recorder._now = time.time             # noqa: SLF001
    print(file=sys.stderr)


def _interleaved(cases, rounds: int) -> list[tuple[str, float, float, int]]:
    """(label, median ms, p90 ms, bytes) of each case, the rounds taken in turn (case 1, 2, … then
    again), so a change of the machine's load falls on every case alike, not on the ones timed then."""
    sizes = {label: fn() for label, fn in cases}        # warm
    times: dict[str, list[float]] = {label: [] for label, _ in cases}
    for _ in range(rounds):
        for label, fn in cases:
            t = time.perf_counter()
            sizes[label] = fn()
            times[label].append(time.perf_counter() - t)
    out = []
    for label, _ in cases:
        ts = sorted(times[label])
        out.append((label, statistics.median(ts) * 1000, ts[max(int(len(ts) * 0.9) - 1, 0)] * 1000, sizes[label]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--fifo", type=int, default=0, metavar="PRIORITY",
                    help="time the pages at this SCHED_FIFO priority (as chrt -f; root), the store's filling not")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        c = Cumulo(home=Path(tmp) / "home")
        code = _zip()
        t = time.perf_counter()
        names = [f"fn-{i:04d}" for i in range(args.functions)]
        for n in names:
            c.create_function(n, code, "app.handler", runtime="python3.11")
        print(f"  {args.functions} functions created in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        hot = names[0]
        t = time.perf_counter()
        _fill_logs(c, names, args.lines, hot)
        print(f"  {args.lines:,} log lines in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        dlq = c.queues.create_queue("orders-dlq")
        dlq_arn = c.queues.arn("orders-dlq")
        for i in range(99):
            attrs = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})} \
                if i == 0 else {}
            c.queues.create_queue(f"queue-{i:03d}", attrs)
        for i in range(50):
            c.queues.send_message("orders-dlq", f"lost {i}")
        del dlq
        fn_arn = c.arns.function(names[1])
        machine = c.state_machines.create_state_machine("orders", json.dumps({"StartAt": "Prepare", "States": {
            "Prepare": {"Type": "Pass", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Ship"}],
                      "Default": "Refuse"},
            "Ship": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "Pack", "States": {"Pack": {"Type": "Pass", "End": True}}},
                {"StartAt": "Bill", "States": {"Bill": {"Type": "Task", "Resource": fn_arn, "End": True}}}]},
            "Refuse": {"Type": "Fail", "Error": "Refused"}}}))["stateMachineArn"]   # the platform role
        c.start_workers()
        execution = c.state_machines.start_execution(machine, None, json.dumps({"ok": False}))["executionArn"]
        deadline = time.monotonic() + 30
        while c.state_machines.describe_execution(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)

        control = ControlPlane(c, auth=True, workers=4)
        console = Console(c, control, login=True)
        key, _ = first_key(c.store)
        host = {"host": "127.0.0.1:8081"}
        reply = console.handle(Incoming("POST", "/login", {}, host, urlencode({"key_id": key.id,
                                                                                "secret": key.secret}).encode()))
        cookie = dict(reply.headers)["set-cookie"].split(";")[0]
        headers = {**host, "cookie": cookie}
        first = console.handle(Incoming("GET", f"/functions/{hot}", {}, headers))
        rid = re.search(rb"/requests/([0-9a-f-]{36})", first.body).group(1).decode()
        since = re.search(rb"/requests/[0-9a-f-]{36}\?since=([0-9]+)", first.body).group(1).decode()
        principal = console.owner()

        def list_functions() -> int:
            r = control.dispatch(Request("GET", "/2015-03-31/functions/", "", [("host", "x")], b"",
                                         principal=principal))
            assert r.status == 200
            return len(r.body)

        def page(path: str, query: dict[str, str] | None = None):
            def get() -> int:
                r = console.handle(Incoming("GET", path, query or {}, headers))
                assert r.status == 200, (path, r.status, r.body[-300:])
                return len(r.body)
            return get

        from cumulo.console import metrics_view, pages
        from cumulo.console.html import Safe

        def per_row_sparks(name: str) -> tuple[Safe, Safe]:
            """The list's sparklines as they were read before MetricData.read_many: three series a row."""
            dims = [("FunctionName", name)]
            [invocations] = metrics_view._values(c.metrics, "Invocations", ["Sum"], dims, spark, zero=False)
            [errors] = metrics_view._values(c.metrics, "Errors", ["Sum"], dims, spark, zero=True)
            rate = [None if n is None or n <= 0 else 100.0 * (e or 0.0) / n for n, e in zip(invocations, errors)]
            [p99] = metrics_view._values(c.metrics, "Duration", ["p99"], dims, spark, zero=False)
            return (metrics_view.sparkline(rate, "Error rate", "%"), metrics_view.sparkline(p99, "p99 duration", "ms"))

        spark = metrics_view.window(metrics_view.SPARK_RANGE, period=metrics_view.SPARK_PERIOD)

        def list_body(sparks) -> int:
            return len(pages.functions_list(c, console.telemetry, "", 0, sparks))

        class AllConfigs:
            """The list as it was read before Store.function_names: every function's configuration."""

            def __init__(self) -> None:
                self.store = self

            def function_names(self) -> list[str]:
                return [f.name for f in sorted(c.list_functions(), key=lambda f: f.name)]

            def __getattr__(self, name: str):
                return getattr(c, name)

        def before_body() -> int:
            return len(pages.functions_list(AllConfigs(), console.telemetry, "", 0,
                                            lambda names: {n: per_row_sparks(n) for n in names}))

        from urllib.parse import quote
        cases = [
            ("ListFunctions API (baseline, 50 functions)", list_functions),
            ("list body before: all configs, 3 metric reads a row", before_body),
            ("list body: names, 3 metric reads a row", lambda: list_body(
                lambda names: {n: per_row_sparks(n) for n in names})),
            ("list body after: names, one read_many", lambda: list_body(
                lambda names: metrics_view.function_sparklines(c.metrics, names, spark))),
            ("list body without sparklines (logs only)", lambda: list_body(None)),
            ("/functions (50 of 1,000, with error rates)", page("/functions")),
            ("/functions?q=fn-09 (filtered)", page("/functions", {"q": "fn-09"})),
            ("/functions/HOT (10% of all lines)", page(f"/functions/{hot}")),
            ("/functions/NAME (an ordinary function)", page(f"/functions/{names[len(names) // 2 + 1]}")),
            ("/functions/HOT/requests/ID (one request's log)", page(f"/functions/{hot}/requests/{rid}", {"since": since})),
            ("/logs (tail page)", page("/logs")),
            ("/states", page("/states")),
            ("/states/ARN (graph, executions)", page("/states/" + quote(machine, safe=""))),
            ("/executions/ARN (path, history)", page("/executions/" + quote(execution, safe=""))),
            ("/queues (100 queues)", page("/queues")),
            ("/metrics (the account, 1 hour)", page("/metrics")),
            ("/metrics?function=HOT&range=24h", page("/metrics", {"function": hot, "range": "24h"})),
            ("/metrics?range=7d", page("/metrics", {"range": "7d"})),
        ]
        import os
        load = os.getloadavg()
        if args.fifo:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.fifo))
        try:
            results = _interleaved(cases, args.rounds)
        finally:
            if args.fifo:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        base = results[0][1]
        print(f"\nconsole pages: {args.functions} functions, {args.lines:,} log lines, {args.rounds} rounds each; "
              f"load average before {load[0]:.1f}, after {os.getloadavg()[0]:.1f}")
        print(f"{'page':<52} {'median':>9} {'p90':>9} {'× ListFunctions':>16} {'size':>9}")
        for label, median, p90, size in results:
            print(f"{label:<52} {median:7.2f} ms {p90:7.2f} ms {median / base:15.1f}× {size / 1024:7.1f} KB")
        control.close()
        c.close()


if __name__ == "__main__":
    main()
