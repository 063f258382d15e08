"""Lambda's Invoke API, signed as boto3 signs it: server CPU per request against serverless-offline.

    python bench/invoke_api.py [--seconds S] [--targets NAME ...] [--markdown PATH]

Two targets, each a real process, started and measured one at a time (on a 2-core machine an
idle process next to the one under load would skew it):

  cumulo       ``cumulo up`` with SigV4 authentication on (no ``--no-auth``), one python3.11
               no-op function ``noop``; the requests are ``POST /2015-03-31/functions/noop/
               invocations`` with a body of ``{}``, signed with the store's access key.
  sls-offline  serverless-offline 13 serving the same handler on an httpApi ``GET /noop`` event,
               started and measured by bench/gateway.py's own code (the same target as there).

The signed request is made once by boto3 itself (a ``before-send`` hook keeps the request it
sent: every header, the body), and then replayed: the server accepts a signature for 15 minutes
(its clock skew), so keep-alive clients send the same bytes again and again and no signing is
done during the measurement (it is re-signed before each point, so a point never runs on an old
signature). wrk (``-s`` a Lua script with those headers) drives 1, 16 and 64 connections, after
warming at each until steady; without wrk, Python http.client threads (client-bound, and said so).

For every point: requests/s, p50 and p99, and the SERVER's CPU per request: its whole process tree
(server, zygote, template, environments; for serverless-offline npx, node and its python) read
from /proc before and after (bench/gateway.py's ``_tree_cpu_s``), so the client's CPU (signing,
wrk) never counts. The last column is Cumulo's CPU per request over serverless-offline's at the
same concurrency, measured in the same run. Each target's CPU with no request at all (timers,
pollers) is measured after its points, and the "less idle" columns take its share (idle CPU per
second over requests per second) out: on a busy machine, at a few hundred requests/s, it is most
of the figure. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway as gw  # noqa: E402  (bench/gateway.py: the targets, /proc CPU, wrk's output)

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = gw.CONCURRENCY
PATH = "/2015-03-31/functions/noop/invocations"
HANDLER = "def handler(event, context):\n    return {}\n"


def _signed_request(endpoint: str, key: dict[str, str]) -> tuple[list[tuple[str, str]], bytes]:
    """The headers and body boto3 sends for Invoke(FunctionName="noop", Payload=b"{}"), as sent
    (the request also goes through, so its answer is checked)."""
    import boto3
    from botocore.config import Config

    client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                          config=Config(retries={"max_attempts": 0}))
    sent: list[Any] = []
    client.meta.events.register("before-send.lambda.Invoke", lambda request, **_: sent.append(request))
    answer = client.invoke(FunctionName="noop", Payload=b"{}")
    if answer["StatusCode"] != 200 or "FunctionError" in answer or answer["Payload"].read() != b"{}":
        raise RuntimeError(f"Invoke answered {answer}")
    request = sent[-1]
    headers = [(k, v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()
               if k.lower() not in ("content-length", "host")]
    body = request.body if isinstance(request.body, bytes) else (request.body or b"")
    return headers, bytes(body)


def _lua(headers: list[tuple[str, str]], body: bytes) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers]
    return "\n".join(lines) + "\n"


def _wrk(url: str, script: Path, concurrency: int, seconds: int, server: int | None) -> gw.Result:
    """wrk with ``script``: requests/s, p50/p99 and (``server``) the server tree's CPU per request."""
    import re

    before, client = gw._tree_cpu_s(server) if server else 0.0, resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t", str(min(concurrency, 2)), "-c", str(concurrency), "-d", f"{seconds}s",
                          "--timeout", "10s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    after, client_after = gw._tree_cpu_s(server) if server else 0.0, resource.getrusage(resource.RUSAGE_CHILDREN)
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    found = {p: re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE) for p in ("50", "99")}
    rps, done = re.search(r"Requests/sec:\s+([\d.]+)", out), re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)
    if rps is None or done is None or None in found.values():
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    p50, p99 = (float(m.group(1)) * unit[m.group(2)] for m in found.values() if m is not None)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(map(int, m.groups()))
    result = gw.Result(float(rps.group(1)), p50, p99, errors, "non-2xx or socket errors" if errors else "")
    n = int(done.group(1))
    if n and server:
        result.server_us = (after - before) * 1e6 / n
        result.client_us = (client_after.ru_utime + client_after.ru_stime - client.ru_utime - client.ru_stime) * 1e6 / n
    return result


def _threads(url: str, headers: list[tuple[str, str]], body: bytes, concurrency: int, seconds: int,
             server: int | None) -> gw.Result:
    """Python http.client threads sending the same signed request (client-bound: without wrk)."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    latencies: list[list[int]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = time.monotonic() + seconds
    before = gw._tree_cpu_s(server) if server else 0.0

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < stop:
            t = time.perf_counter_ns()
            conn.request("POST", PATH, body, dict(headers))
            resp = conn.getresponse()
            resp.read()
            latencies[i].append(time.perf_counter_ns() - t)
            errors[i] += resp.status != 200
        conn.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    after = gw._tree_cpu_s(server) if server else 0.0
    ms = sorted(x / 1e6 for lat in latencies for x in lat)
    result = gw.Result(len(ms) / seconds, ms[len(ms) // 2], ms[int(len(ms) * 0.99)], sum(errors))
    if ms and server:
        result.server_us = (after - before) * 1e6 / len(ms)
    return result


def _measure_invoke(target: gw.Target, endpoint: str, key: dict[str, str], work: Path, seconds: int,
                    use_wrk: bool) -> dict[int, gw.Result]:
    results = {}
    url = endpoint + PATH
    for c in CONCURRENCY:
        headers, body = _signed_request(endpoint, key)   # fresh for each point: well inside the 15 minutes
        script = work / "invoke.lua"
        script.write_text(_lua(headers, body))

        def load(n: int, secs: int, server: int | None = None) -> gw.Result:
            return _wrk(url, script, n, secs, server) if use_wrk else _threads(url, headers, body, n, secs, server)

        prev, warm = load(c, 1), 1
        while warm < 15:
            cur, warm = load(c, 1), warm + 1
            if abs(cur.rps - prev.rps) < 0.1 * prev.rps and cur.p99_ms <= max(1.5 * prev.p99_ms, prev.p99_ms + 2):
                break
            prev = cur
        r = results[c] = load(c, seconds, target.proc.pid)
        print(f"  {target.name:<12} c={c:<3} {r.rps:9.0f} req/s   p50 {r.p50_ms:8.3f} ms   p99 {r.p99_ms:8.3f} ms"
              f"   errors {r.errors}   CPU/request {r.server_us:6.1f} us + client {r.client_us:5.1f} us"
              f"   (warmed {warm} s)", flush=True)
        if r.errors:
            for line in target.lines[-10:]:
                gw._say(f"  {target.name} printed: {line}")
    return results


def _idle(target: gw.Target, seconds: float = 3.0) -> float:
    """The target's process tree's CPU with no request at all, in µs per second (its timers and
    pollers): at a few hundred requests/s on a busy machine it is a large share of the CPU per request."""
    before = gw._tree_cpu_s(target.proc.pid)
    time.sleep(seconds)
    rate = (gw._tree_cpu_s(target.proc.pid) - before) * 1e6 / seconds
    gw._say(f"{target.name}: {rate / 1000:.1f} ms of CPU per second when idle (over {seconds:.0f} s)")
    return rate


def _start_cumulo(work: Path, env: dict[str, str]) -> tuple[gw.Target, str, dict[str, str]]:
    home = work / "home"
    py = sys.executable
    subprocess.run([py, "-m", "cumulo", "--home", str(home), "function", "create", "noop", "--code", str(work / "fn"),
                    "--handler", "app.handler", "--runtime", "python3.11"], check=True, env=env, capture_output=True)
    made = subprocess.run([py, "-m", "cumulo", "--home", str(home), "keys", "create"], check=True, env=env,
                          capture_output=True, text=True)
    key = json.loads(made.stdout)
    cmd = [py, "-m", "cumulo", "--home", str(home), "up", "--port", "0", "--gateway-port", "0",
           "--console-port", "-1"]
    target = gw.Target("cumulo", cmd, work, env, r"API at (\S+)", 120, home)
    return target, target.match, key


def _table(results: dict[str, dict[int, gw.Result]], idle: dict[str, float], markdown: bool) -> str:
    head = ["conc", "target", "req/s", "p50 ms", "p99 ms", "errors", "server CPU us/req", "less idle",
            "client CPU us/req", "cumulo CPU / sls-offline CPU", "less idle"]
    rows = []

    def less_idle(name: str, r: gw.Result) -> float:
        """(n/a where the idle rate exceeds what the point spent: it was not idle like that under load)"""
        left = r.server_us - idle[name] / r.rps if name in idle and r.rps else float("nan")
        return left if left > 0 else float("nan")

    for c in CONCURRENCY:
        for name, by_c in results.items():
            r = by_c[c]
            ratios = ["", ""]
            if name == "cumulo":
                sls = results.get("sls-offline", {}).get(c)
                ratios = [f"{r.server_us / sls.server_us:.2f}x", f"{less_idle(name, r) / less_idle('sls-offline', sls):.2f}x"] \
                    if sls is not None else ["n/a", "n/a"]
            rows.append([str(c), name, f"{r.rps:.0f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}", str(r.errors),
                         gw._us(r.server_us), gw._us(less_idle(name, r)), gw._us(r.client_us), *ratios])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(x.rjust(w) for x, w in zip(row, widths)) for row in [head, *rows]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each measurement (default 5)")
    parser.add_argument("--targets", nargs="+", choices=("cumulo", "sls-offline"), metavar="NAME",
                        help="measure only these (default: cumulo and sls-offline)")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(gw.CONCURRENCY), metavar="N",
                        help="connections of each point (default: 1 16 64)")
    args = parser.parse_args()
    global CONCURRENCY
    CONCURRENCY = gw.CONCURRENCY = tuple(args.concurrency)      # (gw._measure reads its own)
    use_wrk = shutil.which("wrk") is not None
    client = "wrk --latency -s (signed headers)" if use_wrk else \
        "Python http.client threads (wrk not found: apt-get install -y wrk; client-bound)"
    gw._say(f"load generator: {client}; {args.seconds} s per point; {os.cpu_count()} cores; "
            f"load average {os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}")
    results: dict[str, dict[int, gw.Result]] = {}
    idle: dict[str, float] = {}     # each target's CPU per second with no request
    names = args.targets or ["cumulo", "sls-offline"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "fn").mkdir()
        (work / "fn" / "app.py").write_text(HANDLER)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if "cumulo" in names:
            target, endpoint, key = _start_cumulo(work, env)
            try:
                print(f"cumulo: {endpoint}{PATH} (signed)", flush=True)
                results["cumulo"] = _measure_invoke(target, endpoint, key, work, args.seconds, use_wrk)
                idle["cumulo"] = _idle(target)
            finally:
                target.stop()
        if "sls-offline" in names:
            sls = None
            try:
                sls, url = gw._start_sls(work)
                print(f"sls-offline: {url}", flush=True)
                results["sls-offline"] = gw._measure(sls, url, "ok", args.seconds, use_wrk)
                idle["sls-offline"] = _idle(sls)
            except Exception as exc:   # Cumulo's numbers stand without it
                gw._say(f"sls-offline SKIPPED: {exc}")
            finally:
                if sls is not None:
                    sls.stop()
    gw._say(f"load average at the end {os.getloadavg()[0]:.2f}")
    print("\n" + _table(results, idle, markdown=False), end="")
    if args.markdown:
        args.markdown.write_text("# Invoke API benchmark\n\n" + _table(results, idle, markdown=True) + "\n"
                                 + "".join(f"- {n}\n" for n in gw.NOTES))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
