"""A 20-function SAM template deployed, then deployed again unchanged, beside the same 20 functions
created through the Python API one at a time (the baseline, measured in the same run).

    python bench/deploy.py [--functions N] [--rounds R]

Each round uses a new store (``Cumulo(home=…)``, the embedded SQLite default) and a new folder:
the template's functions each have their own ``CodeUri`` folder and an API event, as ``sam init``
apps do; nothing is built (``build=False``, as ``cumulo deploy --no-build``). Prints medians;
asserts nothing (the issue's targets: the deploy ≤ 2 s, the unchanged re-deploy ≤ 0.3 s).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.deploy.engine import deploy  # noqa: E402

HANDLER = "import json\n\ndef handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps({'n': %d})}\n"


def _template(folder: Path, count: int) -> Path:
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Transform: AWS::Serverless-2016-10-31",
             "Globals:", "  Function:", "    Runtime: python3.11", "    Timeout: 3", "Resources:"]
    for i in range(count):
        code = folder / f"fn{i}"
        code.mkdir(parents=True)
        (code / "app.py").write_text(HANDLER % i)
        lines += [f"  Fn{i}:", "    Type: AWS::Serverless::Function", "    Properties:",
                  f"      CodeUri: fn{i}/", "      Handler: app.handler", "      Events:", "        Api:",
                  "          Type: HttpApi", "          Properties:", f"            Path: /fn{i}",
                  "            Method: get"]
    path = folder / "template.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", text)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    first, again, one_by_one = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "app"
            template = _template(folder, args.functions)
            with Cumulo(home=Path(tmp) / "home") as c:
                started = time.perf_counter()
                result = deploy(c, template, stack_name="bench", build=False)
                first.append(time.perf_counter() - started)
                assert result.changed, result
                started = time.perf_counter()
                result = deploy(c, template, stack_name="bench", build=False)
                again.append(time.perf_counter() - started)
                assert not result.changed, result
            with Cumulo(home=Path(tmp) / "home-api") as c:
                zips = [_zip(HANDLER % i) for i in range(args.functions)]
                started = time.perf_counter()
                for i, code in enumerate(zips):
                    c.create_function(f"fn{i}", code, "app.handler", runtime="python3.11")
                one_by_one.append(time.perf_counter() - started)
    base = statistics.median(one_by_one)
    print(f"{args.functions} functions created one at a time through the Python API: {base * 1000:.0f} ms (baseline)")
    print(f"the {args.functions}-function template deployed: {statistics.median(first) * 1000:.0f} ms = "
          f"{statistics.median(first) / base:.2f} x the baseline  [target: <= 2 s]")
    print(f"deployed again, unchanged: {statistics.median(again) * 1000:.0f} ms = "
          f"{statistics.median(again) / base:.2f} x the baseline  [target: <= 0.3 s]")


if __name__ == "__main__":
    main()
