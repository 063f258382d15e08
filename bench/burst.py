"""Burst benchmark: N concurrent first requests to a function with no environment, through `cumulo up`.

    python bench/burst.py [--burst N] [--rounds R] [--sequential S] [--snap-start None] [--no-gateway] [--quick]

A real server (``cumulo up --no-auth``, its own home), reached two ways: the Lambda Invoke API
over HTTP, as boto3 and the AWS CLI reach it, whose ``LogType: Tail`` tells each caller whether
its request was a cold start (REPORT's Init or Restore Duration); and the gateway, at a function
URL (``AuthType NONE``), as a browser reaches a function, whose answer does not say. The burst
policy (``EnvironmentPool``: the start gate, waiting for a release, templates, growth) is below
both; the gateway adds its own CPU per request (the event, the response mapping).

- **baseline**: S sequential cold starts, each the first request to a fresh function of the same
  kind (same code, runtime, memory and SnapStart setting) in the same run;
- **burst**: R rounds per policy and way in, each N requests written at once on N open keep-alive
  connections (one asyncio client thread) to a fresh function of that kind, against two servers
  started side by side whose rounds alternate: the default start gate (``max_starting``: a few
  cold starts at a time, callers queued for their turn take released environments) and none
  (``CUMULO_MAX_STARTING=0``: every caller without an environment starts one at once). Per round: the burst's p50/p90/p99/max, p99/p50,
  how many callers got a cold start, throttles (429), the environments created (log streams:
  one per environment that ran an invocation), and how long the pool took to reach that size (the
  last cold start's answer, from the burst's start).

Run the client at real-time priority where it may (``chrt -f 10 python bench/burst.py``): other
work on the machine then delays the server, not the clock that measures it. Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLER = "def handler(event, context):\n    return {\"ok\": True}\n"
ROLE = "arn:aws:iam::000000000000:role/bench"


def _pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", HANDLER)
    return buf.getvalue()


class Server:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        cmd = [sys.executable, "-m", "cumulo", "--home", str(home), "up", "--port", "0", "--gateway-port", "0",
               "--console-port", "-1", "--no-auth"]
        self.proc = subprocess.Popen(cmd, cwd=home.parent, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        self.lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"API at http://(\S+):(\d+)", line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
            m = re.search(r"HTTP APIs\s+http://[^:]+:(\d+)/", line)
            if m:
                self.gateway_port = int(m.group(1))
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.proc.kill()
        raise RuntimeError("cumulo up did not start:\n" + "".join(self.lines[-20:]))

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"",
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body, {"content-type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def create_function(conn: http.client.HTTPConnection, name: str, code: bytes, snap_start: str | None) -> None:
    spec: dict = {"FunctionName": name, "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
                  "Code": {"ZipFile": base64.b64encode(code).decode()}}
    if snap_start:
        spec["SnapStart"] = {"ApplyOn": snap_start}
    status, _, data = _call(conn, "POST", "/2015-03-31/functions", json.dumps(spec).encode())
    if status != 201:
        raise RuntimeError(f"CreateFunction {name}: {status} {data[:300]!r}")


def create_url(conn: http.client.HTTPConnection, name: str) -> str:
    """A function URL (AuthType NONE, with the permission AWS requires for it): its path on the gateway."""
    status, _, data = _call(conn, "POST", f"/2021-10-31/functions/{name}/url", json.dumps({"AuthType": "NONE"}).encode())
    if status != 201:
        raise RuntimeError(f"CreateFunctionUrlConfig {name}: {status} {data[:300]!r}")
    url_id = json.loads(data)["FunctionUrl"].split("//")[1].split(".")[0]
    permission = {"StatementId": "url", "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
                  "FunctionUrlAuthType": "NONE"}
    status, _, data = _call(conn, "POST", f"/2015-03-31/functions/{name}/policy", json.dumps(permission).encode())
    if status != 201:
        raise RuntimeError(f"AddPermission {name}: {status} {data[:300]!r}")
    return f"/lambda-url/{url_id}/"


def _cold_of(log_result: str | None) -> bool:
    if not log_result:
        return False
    tail = base64.b64decode(log_result).decode(errors="replace")
    report = next((line for line in tail.splitlines() if line.startswith("REPORT")), "")
    return "Init Duration" in report or "Restore Duration" in report


def _invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def sequential(server: Server, names: list[str]) -> list[float]:
    conn = http.client.HTTPConnection(server.host, server.port)
    lat = []
    for name in names:
        t = time.perf_counter()
        status, headers, _ = _call(conn, "POST", _invoke_path(name), b"{}", {"x-amz-log-type": "Tail"})
        lat.append((time.perf_counter() - t) * 1000)
        if status != 200 or not _cold_of(headers.get("x-amz-log-result")):
            raise RuntimeError(f"{name}: {status}, cold: {_cold_of(headers.get('x-amz-log-result'))}")
    conn.close()
    return lat


async def _burst(host: str, port: int, path: str, n: int) -> list[tuple[float, float, int, bool]]:
    """N requests written at once on N open connections: (sent, answered) in ms from the first send,
    the status and whether it was a cold start (known from the Invoke API's LogType Tail only)."""
    conns = [await asyncio.open_connection(host, port) for _ in range(n)]
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
               f"x-amz-log-type: Tail\r\ncontent-length: 2\r\n\r\n{{}}").encode()

    async def one(reader: asyncio.StreamReader, sent: float) -> tuple[float, float, int, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        answered = time.perf_counter()
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        await reader.readexactly(int(headers.get("content-length", "0")))
        return sent, answered, status, _cold_of(headers.get("x-amz-log-result"))

    t0 = time.perf_counter()
    tasks = []
    for reader, writer in conns:
        sent = time.perf_counter()
        writer.write(request)
        tasks.append(asyncio.ensure_future(one(reader, sent)))
    done = await asyncio.gather(*tasks)
    for _, writer in conns:
        writer.close()
    return [((s - t0) * 1000, (a - t0) * 1000, status, cold) for s, a, status, cold in done]


def log_streams(conn: http.client.HTTPConnection, name: str) -> int:
    """Log streams of the function's group: one per environment that ran an invocation."""
    count, token = 0, None
    while True:
        body: dict = {"logGroupName": f"/aws/lambda/{name}"}
        if token:
            body["nextToken"] = token
        status, _, data = _call(conn, "POST", "/", json.dumps(body).encode(),
                                {"content-type": "application/x-amz-json-1.1",
                                 "x-amz-target": "Logs_20140328.DescribeLogStreams"})
        if status != 200:
            raise RuntimeError(f"DescribeLogStreams: {status} {data[:200]!r}")
        doc = json.loads(data)
        count += len(doc.get("logStreams", []))
        token = doc.get("nextToken")
        if not token:
            return count


def _row(label: str, row: tuple) -> str:
    p50, p90, p99, mx, ratio, vs_seq, cold, throttled, envs, pool_ms = row
    known = cold >= 0
    return (f"{label:<28} {p50:7.1f} {p90:7.1f} {p99:7.1f} {mx:7.1f} {ratio:8.2f} {vs_seq:8.2f} "
            f"{f'{cold:5.0f}' if known else '    -'} {throttled:4.0f} {envs:5.0f} "
            f"{f'{pool_ms:8.1f}' if known else '       -'}")


def _round(server: Server, name: str, n: int, s50: float, url: str | None = None) -> tuple:
    """One burst to ``name``: through the Invoke API, or through the gateway at its function ``url``."""
    if url is None:
        out = asyncio.run(_burst(server.host, server.port, _invoke_path(name), n))
    else:
        out = asyncio.run(_burst(server.host, server.gateway_port, url, n))
    lat = [a - s for s, a, status, _ in out if status == 200]
    throttled = sum(1 for *_, status, _ in out if status == 429)
    if len(lat) + throttled < n:
        raise RuntimeError(f"{name}: statuses {sorted({status for *_, status, _ in out})}")
    colds = [a for s, a, status, cold in out if cold]
    time.sleep(0.3)    # the log writer commits every 50 ms
    conn = http.client.HTTPConnection(server.host, server.port)   # (a kept-alive one may have been closed as idle)
    envs = log_streams(conn, name)
    conn.close()
    p50, p90, p99, mx = statistics.median(lat), _pct(lat, 0.9), _pct(lat, 0.99), max(lat)
    if url is not None:     # the gateway's answer does not say whether it was a cold start
        return p50, p90, p99, mx, p99 / p50, p50 / s50, -1, throttled, envs, -1.0
    return p50, p90, p99, mx, p99 / p50, p50 / s50, len(colds), throttled, envs, max(colds) if colds else 0.0


# label -> extra environment of its server
POLICIES = {"gate": {}, "no gate": {"CUMULO_MAX_STARTING": "0"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=100, help="Concurrent first requests per round.")
    parser.add_argument("--rounds", type=int, default=5, help="Bursts per policy, each to a fresh function.")
    parser.add_argument("--sequential", type=int, default=100, help="Sequential cold starts (the baseline).")
    parser.add_argument("--snap-start", default=None, choices=["None", "PublishedVersions"],
                        help="The functions' SnapStart.ApplyOn (default: unset, Cumulo's templates).")
    parser.add_argument("--no-gateway", dest="gateway", action="store_false",
                        help="Bursts through the Invoke API only (by default also through the gateway, at a "
                             "function URL of a fresh function of the same kind).")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 30 sequential cold starts.")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.sequential = min(args.rounds, 3), min(args.sequential, 30)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; client scheduling "
          f"{'SCHED_FIFO' if os.sched_getscheduler(0) == os.SCHED_FIFO else 'normal'}; "
          f"burst {args.burst} x {args.rounds} rounds per policy, {args.sequential} sequential; "
          f"SnapStart {args.snap_start or 'default (templates)'}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, Server] = {}
        try:
            for i, (label, extra) in enumerate(POLICIES.items()):
                servers[label] = Server(Path(tmp) / f"home{i}", {**os.environ, "PYTHONPATH": str(ROOT), **extra})
            conns = {label: http.client.HTTPConnection(s.host, s.port) for label, s in servers.items()}
            code = _zip()
            baseline = next(iter(servers))
            urls: dict[tuple[str, int], str] = {}
            for label, conn in conns.items():
                create_function(conn, "warmup", code, args.snap_start)   # the zygote, code extraction paths
                _call(conn, "POST", _invoke_path("warmup"), b"{}")
                for r in range(args.rounds):
                    create_function(conn, f"burst-{r}", code, args.snap_start)
                    if args.gateway:
                        create_function(conn, f"url-{r}", code, args.snap_start)
                        urls[label, r] = create_url(conn, f"url-{r}")
            seq_names = [f"seq-{i}" for i in range(args.sequential)]
            for name in seq_names:
                create_function(conns[baseline], name, code, args.snap_start)
            seq = sequential(servers[baseline], seq_names)
            s50, s99 = statistics.median(seq), _pct(seq, 0.99)
            print(f"baseline, {len(seq)} sequential cold starts (first requests to fresh functions of the same kind): "
                  f"p50 {s50:.1f} ms, p99 {s99:.1f} ms", flush=True)
            print(f"{'burst of ' + str(args.burst) + ', ms':<28} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} "
                  f"{'p99/p50':>8} {'p50/seq':>8} {'cold':>5} {'429':>4} {'envs':>5} {'pool ms':>8}", flush=True)
            rows: dict[str, list[tuple]] = {}
            for r in range(args.rounds):     # the policies' rounds alternate: load that drifts hits both
                for label, server in servers.items():
                    rows.setdefault(f"{label}, Invoke", []).append(
                        _round(server, f"burst-{r}", args.burst, s50))
                    print(_row(f"{label}, Invoke #{r}", rows[f"{label}, Invoke"][-1]), flush=True)
                    if args.gateway:
                        rows.setdefault(f"{label}, URL", []).append(
                            _round(server, f"url-{r}", args.burst, s50, urls[label, r]))
                        print(_row(f"{label}, URL #{r}", rows[f"{label}, URL"][-1]), flush=True)
            print("medians of the rounds:")
            for label, got in rows.items():
                med = tuple(statistics.median(col) for col in zip(*got))
                print(_row(label, med), flush=True)
            print("gate: the default start gate (max_starting); no gate: CUMULO_MAX_STARTING=0, every caller "
                  "without an environment starts one at once (as before the gate)", flush=True)
            print("p50/seq: the burst's p50 over a sequential cold start's (Invoke API); cold: callers whose REPORT "
                  "has an Init or Restore Duration (LogType Tail: the Invoke API only); envs: log streams "
                  "(environments that ran an invocation); pool ms: the last cold start's answer, from the burst's "
                  "first request", flush=True)
        finally:
            for server in servers.values():
                server.stop()


if __name__ == "__main__":
    main()
