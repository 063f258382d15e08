"""What a direct integration costs beside its baseline, measured in the same run (medians, sequential requests
on one keep-alive connection each): ``cumulo up`` with tests/corpus/integrations and a legacy HTTP server on
loopback.

  sqs-send     POST /orders on the HTTP API (SQS-SendMessage as a role)   vs  boto3 send_message (same queue)
  put-events   POST /events (EventBridge-PutEvents as a role)             vs  boto3 put_events
  http-proxy   GET /legacy/x through the HTTP API's HTTP_PROXY            vs  GET /legacy/x straight to the server
  non-proxy    GET /pets/7 (REST, function with mapping templates)        vs  GET /orders/7 (Lambda proxy, HTTP API)
  http         POST /orders/7/legacy (REST HTTP non-proxy: JSON->XML,     vs  GET /x (REST HTTP_PROXY to the same
               parameters, response template and parameters)                  server)

The boto3 baselines include boto3's own signing and parsing (client side); the gateway's calls skip SigV4.

Run: ``PYTHONPATH=. chrt -f 10 python bench/gateway_integrations.py [--requests 300]`` (as root for chrt).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "integrations"


class _Legacy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()      # its head and body are two writes: without this, Nagle waits for a delayed ACK
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:      # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"legacy": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_GET

    def log_message(self, *args: object) -> None:
        pass


class _Client:
    def __init__(self, url: str) -> None:
        m = re.match(r"http://([^/:]+):(\d+)(/.*)?$", url)
        assert m, url
        self.conn = http.client.HTTPConnection(m[1], int(m[2]), timeout=30)
        self.path = m[3] or "/"

    def __call__(self, method: str, suffix: str, body: bytes | None = None) -> None:
        self.conn.request(method, self.path + suffix, body, {"Content-Type": "application/json", "X-Tenant": "bench"})
        resp = self.conn.getresponse()
        data = resp.read()
        assert resp.status < 300, (resp.status, data[:200])


def _median_ms(call: Callable[[], None], n: int) -> float:
    for _ in range(10):
        call()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    legacy = ThreadingHTTPServer(("127.0.0.1", 0), _Legacy)
    threading.Thread(target=legacy.serve_forever, daemon=True).start()
    work = Path(tempfile.mkdtemp(prefix="cumulo-bench-integrations-"))
    shutil.copytree(CORPUS, work / "app")
    cmd = [sys.executable, "-m", "cumulo", "--home", str(work / "home"), "up", "--port", "0", "--gateway-port", "0",
           "--console-port", "0", str(work / "app" / "template.yaml"), "--parameter",
           f"LegacyUrl=http://127.0.0.1:{legacy.server_address[1]}"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Stop with Ctrl-C" in line:
                break
        text = "".join(lines)
        outputs = dict(re.findall(r"output (\w+) = (\S+)", text))
        endpoint = re.search(r"Cumulo is up: AWS Lambda API at (http://\S+)", text)[1]
        key = re.search(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)", text)
        assert key, text
        session = boto3.session.Session(aws_access_key_id=key[1], aws_secret_access_key=key[2], region_name="us-east-1")
        config = Config(retries={"max_attempts": 0})
        sqs = session.client("sqs", endpoint_url=endpoint, config=config)
        events = session.client("events", endpoint_url=endpoint, config=config)
        api, strangler = _Client(outputs["ApiEndpoint"]), _Client(outputs["StranglerEndpoint"])
        rest, direct = _Client(outputs["ServiceRestEndpoint"]), _Client(f"http://127.0.0.1:{legacy.server_address[1]}")
        rest_proxy = _Client(outputs["RestEndpoint"])
        queue = outputs["OrdersQueueUrl"]
        n = args.requests
        pairs = {
            "sqs-send": (lambda: api("POST", "/orders", b'{"order": 1}'),
                         lambda: sqs.send_message(QueueUrl=queue, MessageBody='{"order": 1}')),
            "put-events": (lambda: api("POST", "/events", b'{"Detail": {"m": 1}}'),
                           lambda: events.put_events(Entries=[{"Source": "Bench", "DetailType": "T", "Detail": "{}"}])),
            "http-proxy": (lambda: strangler("GET", "/legacy/x"), lambda: direct("GET", "/legacy/x")),
            "non-proxy": (lambda: rest("GET", "/pets/7"), lambda: strangler("GET", "/orders/7")),
            "http": (lambda: rest_proxy("POST", "/orders/7/legacy", b'{"item": "pen", "qty": 3}'),
                     lambda: rest_proxy("GET", "/x")),
        }
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {n} sequential requests each; median ms")
        for name, (candidate, baseline) in pairs.items():
            b1 = _median_ms(baseline, n // 2)
            c = _median_ms(candidate, n)
            b2 = _median_ms(baseline, n // 2)
            b = (b1 + b2) / 2
            print(f"  {name:<11} {c:7.2f} ms   baseline {b:7.2f} ms   ratio {c / b:5.2f}")
        sqs.purge_queue(QueueUrl=queue)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        legacy.shutdown()
        legacy.server_close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
