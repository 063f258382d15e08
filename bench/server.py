"""Control-plane benchmark: warm Invoke over HTTP against a no-op endpoint on the same stack.

    python bench/server.py [--seconds S]

Starts ``cumulo up`` (no auth, loopback) and, as the baseline, a no-op ASGI app on the
same server stack (uvicorn + uvloop + httptools), both as real processes. Keep-alive
HTTP/1.1 clients send POST /2015-03-31/functions/noop/invocations (Cumulo) or the same
request to the no-op app, at concurrency 1 and 16, and report requests/s and p50/p99
latency, plus the ratio to the baseline. A last row measures boto3's Invoke at
concurrency 1 (signed), which is what most users see. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOOP_APP = textwrap.dedent("""
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
""")


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


def _load(host: str, port: int, path: str, concurrency: int, seconds: float) -> tuple[float, list[int]]:
    latencies: list[list[int]] = [[] for _ in range(concurrency)]
    stop = time.monotonic() + seconds
    body = b"{}"

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, port)
        while time.monotonic() < stop:
            t = time.perf_counter_ns()
            conn.request("POST", path, body, {"content-type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            latencies[i].append(time.perf_counter_ns() - t)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for lat in latencies for x in lat]
    return len(flat) / seconds, flat


def _row(label: str, rps: float, lat: list[int], base: float | None = None) -> None:
    ms = sorted(x / 1e6 for x in lat)
    line = f"{label:<40} {rps:8.0f} req/s   p50 {statistics.median(ms):7.3f} ms   p99 {ms[int(len(ms) * 0.99)]:7.3f} ms"
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
        (work / "noop_app.py").write_text(NOOP_APP)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        py = sys.executable
        subprocess.run([py, "-m", "cumulo", "--home", str(work / "home"), "function", "create", "noop",
                        "--code", str(work / "noop"), "--handler", "app.handler"], check=True, env=env,
                       capture_output=True)
        cumulo, endpoint = _start([py, "-m", "cumulo", "--home", str(work / "home"), "up", "--port", "0", "--gateway-port", "0", "--no-auth"],
                                  work, env, r"API at (\S+)")
        baseline, base_url = _start([py, "-m", "uvicorn", "noop_app:app", "--port", "0", "--loop", "uvloop",
                                     "--http", "httptools", "--log-level", "info", "--no-access-log"],
                                    work, env, r"running on (\S+)")
        try:
            host, port = endpoint.removeprefix("http://").split(":")
            bhost, bport = base_url.removeprefix("http://").split(":")
            path = "/2015-03-31/functions/noop/invocations"
            _load(host, int(port), path, 1, 0.5)   # warm the environment and connections
            for concurrency in (1, 16):
                b_rps, b_lat = _load(bhost, int(bport), path, concurrency, args.seconds)
                c_rps, c_lat = _load(host, int(port), path, concurrency, args.seconds)
                _row(f"no-op endpoint, concurrency {concurrency}", b_rps, b_lat)
                _row(f"Cumulo Invoke, concurrency {concurrency}", c_rps, c_lat, b_rps)
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
        lat.append(time.perf_counter_ns() - t)
    _row("boto3 Invoke (signed client), concurrency 1", len(lat) / seconds, lat)


if __name__ == "__main__":
    main()
