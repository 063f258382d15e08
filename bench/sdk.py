"""The runtime's AWS SDK on a first cold start: a handler doing ``import boto3; sqs = boto3.client("sqs")``
at module level, forked from the SDK zygote (zygote_main._warm_sdk), beside a fresh interpreter doing the
same (the baseline, measured in the same run).

    python bench/sdk.py [--functions N] [--sandbox process|namespace]

Each function is new (its first cold start, ``SnapStart: None``), so nothing of an earlier
environment of it helps. Prints medians; asserts nothing (the target: ≤ 15 ms p50 for the cold start).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.runtime import catalog  # noqa: E402

HANDLER = """
import boto3
sqs = boto3.client("sqs")
def handler(event, context):
    return {"ok": True}
"""
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
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--sandbox", default="namespace" if sys.platform == "linux" else "process")
    args = parser.parse_args()
    folder = catalog.runtime_packages_dir()
    if folder is None:
        sys.exit("boto3 is not installed beside this interpreter")
    fresh = [float(subprocess.run([sys.executable, "-I", "-S", "-c", FRESH, folder], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(5)]
    walls, inits = [], []
    with tempfile.TemporaryDirectory() as home, Cumulo(home=home, sandbox=args.sandbox) as c:
        c.invoke  # noqa: B018 (the runtime starts with the first function)
        for i in range(args.functions):
            name = f"sdk{i}"
            c.create_function(name, _zip(HANDLER + f"# {i}\n"), "app.handler", snap_start="None",
                              environment={"AWS_EC2_METADATA_DISABLED": "true"})
            time.sleep(0.1)
            started = time.perf_counter()
            result = c.invoke(name)
            walls.append((time.perf_counter() - started) * 1000)
            report = next(line for line in result.log_lines if line.startswith("REPORT"))
            inits.append(float(report.split("Init Duration: ")[1].split(" ms")[0]))
            assert result.function_error is None, result.payload
    print(f"fresh interpreter, import boto3 + client: {statistics.median(fresh):.1f} ms (baseline)")
    print(f"first cold start, p50: {statistics.median(walls):.1f} ms (Init Duration {statistics.median(inits):.1f} ms)"
          f" = {statistics.median(walls) / statistics.median(fresh):.2f} x the baseline  [target: <= 15 ms]")


if __name__ == "__main__":
    main()
