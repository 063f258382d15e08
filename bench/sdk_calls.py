"""A function calling the platform: a warm ``sqs.send_message`` from inside a function, with the
credentials of its role, beside the same call made from outside the sandbox with the owner's keys
(the baseline, measured in the same run against the same ``cumulo up``).

    python bench/sdk_calls.py [--calls N] [--rounds R]

Inside, the handler times each call with ``time.perf_counter`` around ``send_message`` on a client
made once at module level (what a warm environment does), so the figure is what the function's own
code waits for: signing, the request through the sandbox's one door, the role's policy evaluated,
the message committed. Prints medians; asserts nothing (the target: ≤ 2 ms p50 inside).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config

HANDLER = """
import time, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    took = []
    for _ in range(event["calls"]):
        started = time.perf_counter()
        sqs.send_message(QueueUrl=event["url"], MessageBody="x")
        took.append((time.perf_counter() - started) * 1000)
    return took
"""
ANNOUNCED = re.compile(r"Cumulo is up: AWS Lambda API at (http://\S+)")
CREDENTIALS = re.compile(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)")
ROLE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]}
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", text)
    return buffer.getvalue()


def _up(home: str) -> tuple[subprocess.Popen[str], str, str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "cumulo", "--home", home, "up", "--port", "0", "--gateway-port",
                             "0"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    endpoint = keys = None
    for line in proc.stderr:
        endpoint = endpoint or (m.group(1) if (m := ANNOUNCED.search(line)) else None)
        keys = keys or (m.groups() if (m := CREDENTIALS.search(line)) else None)
        if endpoint and keys:
            break
    if not (endpoint and keys):
        sys.exit(f"`cumulo up` exited with {proc.wait()} before announcing itself")
    threading.Thread(target=lambda: [None for _ in proc.stderr or ()], daemon=True).start()   # keep it drained
    return proc, endpoint, keys[0], keys[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="send_message calls per invocation")
    parser.add_argument("--rounds", type=int, default=10, help="warm invocations (and outside rounds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        proc, endpoint, key, secret = _up(home)
        try:
            def client(service: str):   # noqa: ANN202
                return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                                    aws_access_key_id=key, aws_secret_access_key=secret,
                                    config=Config(retries={"max_attempts": 0}, read_timeout=120))
            iam, lam, sqs = client("iam"), client("lambda"), client("sqs")
            role = iam.create_role(RoleName="sender", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
            iam.put_role_policy(RoleName="sender", PolicyName="send", PolicyDocument=json.dumps(ROLE_POLICY))
            lam.create_function(FunctionName="sender", Runtime=f"python{sys.version_info[0]}.{sys.version_info[1]}",
                                Role=role, Handler="app.handler", Code={"ZipFile": _zip(HANDLER)}, Timeout=60)
            url = sqs.create_queue(QueueName="bench")["QueueUrl"]
            payload = json.dumps({"url": url, "calls": args.calls})
            lam.invoke(FunctionName="sender", Payload=payload)   # the cold start, not measured
            inside: list[float] = []
            outside: list[float] = []
            for _ in range(args.rounds):    # alternate, so load on a shared machine hits both alike
                answer = lam.invoke(FunctionName="sender", Payload=payload)
                result = json.loads(answer["Payload"].read())
                if "FunctionError" in answer:
                    sys.exit(f"the function failed: {result}")
                inside.extend(result)
                for _ in range(args.calls):
                    started = time.perf_counter()
                    sqs.send_message(QueueUrl=url, MessageBody="x")
                    outside.append((time.perf_counter() - started) * 1000)
        finally:
            proc.terminate()
            proc.wait(30)
    out, ins = statistics.median(outside), statistics.median(inside)
    print(f"send_message from outside, owner's keys: p50 {out:.2f} ms (baseline)")
    print(f"send_message inside a warm function, its role's credentials: p50 {ins:.2f} ms = {ins / out:.2f} x the "
          f"baseline  [target: <= 2 ms]")


if __name__ == "__main__":
    main()
