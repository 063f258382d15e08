"""Control-plane benchmark: warm Invoke over HTTP against a no-op endpoint on the same stack.

    python bench/server.py [--seconds S]

Starts ``cumulo up`` (no auth, loopback) and, as the baseline, a no-op handler on the same
HTTP stack (Cumulo's edge, edge/server.py, on uvloop), both as real processes. Keep-alive
HTTP/1.1 clients send POST /2015-03-31/functions/noop/invocations (Cumulo) or the same
request to the no-op endpoint, at concurrency 1 and 16, and report requests/s and p50/p99
latency, plus the ratio to the baseline. The client is wrk (a Lua script makes it POST)
where it is installed, else Python http.client threads, whose own cost then dominates the
latency (the output says which). A last row measures boto3's Invoke at concurrency 1
(signed), which is what most users see. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = textwrap.dedent("""\
    import asyncio, socket, sys, uvloop
    from cumulo.edge.server import HttpEdge, Response

    ANSWER = Response(200, [("content-type", "application/json")], b"{}")

    async def noop(request):
        return ANSWER

    async def serve():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        await HttpEdge(noop).start(sock)
        print(f"running on http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
        await asyncio.Event().wait()

    uvloop.run(serve())
""")
WRK_POST = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def _start(cmd: list[str], cwd: Path, env: dict[str, str], pattern: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(pattern, line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def _load(host: str, port: int, path: str, concurrency: int, seconds: float,
          script: Path | None) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 in ms: from wrk with ``script``, else from Python threads."""
    if script is not None:
        out = subprocess.run(["wrk", "-t", str(min(concurrency, 2)), "-c", str(concurrency), "-d", f"{seconds:g}s",
                              "--timeout", "10s", "--latency", "-s", str(script), f"http://{host}:{port}{path}"],
                             capture_output=True, text=True, check=True).stdout
        if "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"errors from {host}:{port}{path}:\n{out}")
        unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
        found = [re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE) for p in ("50", "99")]
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if rps is None or found[0] is None or found[1] is None:
            raise RuntimeError(f"unexpected wrk output:\n{out}")
        p50, p99 = (float(m.group(1)) * unit[m.group(2)] for m in (found[0], found[1]))
        return float(rps.group(1)), p50, p99
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    stop = time.monotonic() + seconds
    body = b"{}"

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, port)
        while time.monotonic() < stop:
            t = time.perf_counter_ns()
            conn.request("POST", path, body, {"content-type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            latencies[i].append((time.perf_counter_ns() - t) / 1e6)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _summary(sorted(x for lat in latencies for x in lat), seconds)


def _summary(ms: list[float], seconds: float) -> tuple[float, float, float]:
    return len(ms) / seconds, statistics.median(ms), ms[int(len(ms) * 0.99)]


def _row(label: str, measured: tuple[float, float, float], base: float | None = None) -> None:
    rps, p50, p99 = measured
    line = f"{label:<40} {rps:8.0f} req/s   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"
    if base:
        line += f"   {rps / base:5.2f}x of baseline throughput"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "noop").mkdir()
        (work / "noop" / "app.py").write_text("def handler(event, context):\n    return {}\n")
        (work / "edge_floor.py").write_text(FLOOR)
        script = None
        if shutil.which("wrk"):
            script = work / "post.lua"
            script.write_text(WRK_POST)
        print(f"client: {'wrk --latency' if script else 'Python http.client threads (no wrk: apt-get install -y wrk)'}",
              flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        py = sys.executable
        subprocess.run([py, "-m", "cumulo", "--home", str(work / "home"), "function", "create", "noop",
                        "--code", str(work / "noop"), "--handler", "app.handler"], check=True, env=env,
                       capture_output=True)
        cumulo, endpoint = _start([py, "-m", "cumulo", "--home", str(work / "home"), "up", "--port", "0",
                                   "--gateway-port", "0", "--no-auth"], work, env, r"API at (\S+)")
        baseline, base_url = _start([py, "edge_floor.py"], work, env, r"running on (\S+)")
        try:
            host, port = endpoint.removeprefix("http://").split(":")
            bhost, bport = base_url.removeprefix("http://").split(":")
            path = "/2015-03-31/functions/noop/invocations"
            _load(host, int(port), path, 1, 0.5, None)   # warm the environment and connections
            for concurrency in (1, 16):
                _load(host, int(port), path, concurrency, 1, script)   # environments for this concurrency
                base = _load(bhost, int(bport), path, concurrency, args.seconds, script)
                ours = _load(host, int(port), path, concurrency, args.seconds, script)
                _row(f"no-op endpoint, concurrency {concurrency}", base)
                _row(f"Cumulo Invoke, concurrency {concurrency}", ours, base[0])
            _boto3(endpoint, args.seconds)
        finally:
            for proc in (cumulo, baseline):
                proc.terminate()
                proc.wait(timeout=30)


def _boto3(endpoint: str, seconds: float) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIABENCH",
                          aws_secret_access_key="bench", config=Config(retries={"max_attempts": 0}))
    lat = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        t = time.perf_counter_ns()
        client.invoke(FunctionName="noop", Payload=b"{}")
        lat.append((time.perf_counter_ns() - t) / 1e6)
    _row("boto3 Invoke (signed client), concurrency 1", _summary(sorted(lat), seconds))


if __name__ == "__main__":
    main()
