"""GetSecretValue from inside a function, as issue 23's targets put it (≤ 1 ms p50 over the
Parameters and Secrets extension on localhost:2773, ≤ 2 ms through the SDK), beside the function's
own loopback baseline measured in the same run.

    python bench/secrets_inside.py [--n N] [--rounds R]

A real ``cumulo up`` (IAM enforced) on a fresh home; one function with AWS's extension layer and a
role that may read the secret. Each invocation times, inside the function, N calls of each kind
(the SDK client made at Init, outside the timing):

- extension, cached: ``GET /secretsmanager/get?secretId=…`` with ``X-Aws-Parameters-Secrets-Token``
  (the default TTL: answers after the first come from the cache);
- extension, uncached: the same with ``SECRETS_MANAGER_TTL=0`` (a second function): each call is a
  signed GetSecretValue through the server, IAM decided and the value opened;
- SDK: ``boto3.client("secretsmanager").get_secret_value`` (SigV4, HTTP to the endpoint);
- baseline: ``GET /`` of the extension's port (404, nothing read), the loopback round trip alone.

Rounds alternate the functions; the numbers are medians over all samples. Not a test: nothing
here asserts. Run the timed part under ``chrt -f 10`` on a busy machine and say the load.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

LAYER = "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:11"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
PROBE = '''
import json, os, time, urllib.request
import boto3

sm = boto3.client("secretsmanager")
TOKEN = os.environ["AWS_SESSION_TOKEN"]


def _get(path):
    request = urllib.request.Request("http://localhost:2773" + path,
                                     headers={"X-Aws-Parameters-Secrets-Token": TOKEN})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.read()
    except urllib.error.HTTPError as err:
        return err.read()


def timed(n, fn):
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def handler(event, context):
    n, secret = event["n"], event["secret"]
    assert json.loads(_get("/secretsmanager/get?secretId=" + secret))["SecretString"]
    return {
        "baseline": timed(n, lambda: _get("/")),
        "extension": timed(n, lambda: _get("/secretsmanager/get?secretId=" + secret)),
        "sdk": timed(n, lambda: sm.get_secret_value(SecretId=secret)),
    }
'''


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("app.py", source)
    return buffer.getvalue()


class Server:
    def __init__(self, home: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "cumulo", "--home", str(home), "up", "--port", "0",
                                      "--console-port", "-1", "--gateway-port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.proc.stderr or []], daemon=True).start()
        endpoint = keys = None
        deadline = time.monotonic() + 120
        while endpoint is None or keys is None:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            endpoint = endpoint or (m.group(1) if (m := re.search(r"AWS Lambda API at (http://\S+)", line)) else None)
            keys = keys or (m.groups() if (m := re.search(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)",
                                                          line)) else None)
        self.endpoint, (self.key_id, self.secret) = endpoint, keys

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                                              aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
                                              config=Config(retries={"max_attempts": 0}, read_timeout=300))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "home")
        try:
            iam, sm, lam = server.client("iam"), server.client("secretsmanager"), server.client("lambda")
            arn = sm.create_secret(Name="bench/db", SecretString=json.dumps({"user": "app", "password": "p" * 32}))["ARN"]
            role = iam.create_role(RoleName="bench-reader", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
            iam.put_role_policy(RoleName="bench-reader", PolicyName="read", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                        "Resource": arn}]}))
            for name, env in (("cached", {}), ("uncached", {"SECRETS_MANAGER_TTL": "0"})):
                lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=role,
                                    Code={"ZipFile": _zip(PROBE)}, Layers=[LAYER], Timeout=300, MemorySize=512,
                                    Environment={"Variables": env})
            samples: dict[str, list[float]] = {}
            payload = json.dumps({"n": args.n, "secret": "bench/db"}).encode()
            for name in ("cached", "uncached"):          # warm both environments first
                lam.invoke(FunctionName=name, Payload=json.dumps({"n": 5, "secret": "bench/db"}).encode())
            for _ in range(args.rounds):
                for name in ("cached", "uncached"):
                    answer = lam.invoke(FunctionName=name, Payload=payload)
                    body = json.loads(answer["Payload"].read())
                    if answer.get("FunctionError"):
                        raise SystemExit(f"{name}: {body}")
                    samples.setdefault(f"baseline ({name})", []).extend(body["baseline"])
                    samples.setdefault(f"extension, {name}", []).extend(body["extension"])
                    samples.setdefault(f"SDK ({name} function)", []).extend(body["sdk"])
        finally:
            server.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"{'inside a function, ms':38s} {'p50':>8s} {'p90':>8s} {'p99':>8s}  n")
    for label in ("baseline (cached)", "extension, cached", "extension, uncached", "SDK (cached function)",
                  "SDK (uncached function)", "baseline (uncached)"):
        s = samples[label]
        print(f"{label:38s} {statistics.median(s):8.3f} {pct(s, 0.9):8.3f} {pct(s, 0.99):8.3f}  {len(s)}")


if __name__ == "__main__":
    main()
