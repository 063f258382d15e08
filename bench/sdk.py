"""The runtime's AWS SDK on a first cold start: a handler doing ``import boto3; sqs = boto3.client("sqs")``
at module level, forked from the SDK zygote (zygote_main._warm_sdk), beside a fresh interpreter doing the
same (the baseline, measured in the same run) and beside a handler that imports no SDK (what the SDK
adds to a cold start).

    python bench/sdk.py [--functions N] [--default]

The functions run under a real ``cumulo up`` (the sandbox it chooses: namespaces under root) and get
what ``cumulo up`` gives every function: ``AWS_ENDPOINT_URL`` and their role's temporary credentials,
so the client is made as it is in production. Each function is new and its first invocation is timed
(``SnapStart: None``: on-demand, no template; ``--default``: SnapStart left unset, Cumulo's default,
where the first invocation builds the version's template and forks from it). The figure is the wall time of ``Invoke`` from outside
and Lambda's ``Init Duration`` from the REPORT line. Prints medians; asserts nothing (the target:
≤ 15 ms p50 for the cold start).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cumulo.runtime import catalog  # noqa: E402
from sdk_calls import TRUST, _up  # noqa: E402

HANDLERS = {
    "sdk": 'import boto3\nsqs = boto3.client("sqs")\ndef handler(event, context):\n    return {"ok": True}\n',
    "no sdk": 'import json\ndef handler(event, context):\n    return {"ok": True}\n',
}
FRESH = ("import sys, time; sys.path.append(sys.argv[1]); t = time.perf_counter(); import boto3; "
         "boto3.client('sqs', region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b'); "
         "print((time.perf_counter() - t) * 1000)")


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", text)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=20, help="new functions of each kind")
    parser.add_argument("--default", action="store_true", help="SnapStart left unset (templates)")
    args = parser.parse_args()
    snap: dict[str, Any] = {} if args.default else {"SnapStart": {"ApplyOn": "None"}}
    folder = catalog.runtime_packages_dir()
    if folder is None:
        sys.exit("boto3 is not installed beside this interpreter")
    fresh = [float(subprocess.run([sys.executable, "-I", "-S", "-c", FRESH, folder], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(5)]
    walls: dict[str, list[float]] = {kind: [] for kind in HANDLERS}
    inits: dict[str, list[float]] = {kind: [] for kind in HANDLERS}
    with tempfile.TemporaryDirectory() as home:
        proc, endpoint, key, secret = _up(home)
        try:
            def client(service: str):   # noqa: ANN202
                return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                                    aws_access_key_id=key, aws_secret_access_key=secret,
                                    config=Config(retries={"max_attempts": 0}, read_timeout=120))
            iam, lam = client("iam"), client("lambda")
            role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
            runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
            lam.invoke(FunctionName=lam.create_function(   # the runtime's first start, not measured
                FunctionName="first", Runtime=runtime, Role=role, Handler="app.handler",
                Code={"ZipFile": _zip(HANDLERS["sdk"])})["FunctionName"])
            for i in range(args.functions):
                for kind, text in HANDLERS.items():   # alternate, so load on a shared machine hits both alike
                    name = f"{kind.replace(' ', '')}{i}"
                    lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler="app.handler",
                                        Code={"ZipFile": _zip(text + f"# {i}\n")}, **snap)
                    time.sleep(0.05)
                    started = time.perf_counter()
                    answer = lam.invoke(FunctionName=name, LogType="Tail")
                    walls[kind].append((time.perf_counter() - started) * 1000)
                    if "FunctionError" in answer:
                        sys.exit(f"the function failed: {answer['Payload'].read()!r}")
                    log = base64.b64decode(answer["LogResult"]).decode()
                    report = next(line for line in log.splitlines() if line.startswith("REPORT"))
                    phase = "Init Duration: " if "Init Duration: " in report else "Restore Duration: "
                    inits[kind].append(float(report.split(phase)[1].split(" ms")[0]))
        finally:
            proc.terminate()
            proc.wait(30)
    base = statistics.median(fresh)
    print(f"fresh interpreter, import boto3 + client: {base:.1f} ms (baseline)")
    for kind in HANDLERS:
        wall, init = statistics.median(walls[kind]), statistics.median(inits[kind])
        print(f"first cold start, {kind:6}: Invoke p50 {wall:.1f} ms (Init Duration {init:.1f} ms) = "
              f"{wall / base:.2f} x the baseline" + ("  [target: <= 15 ms]" if kind == "sdk" else ""))


if __name__ == "__main__":
    main()
