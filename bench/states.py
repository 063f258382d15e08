"""State machines: transitions per second, Standard (durable) and Express, against plain invocations.

    python bench/states.py [--items N]

Measured in the same run:
- a 100-state Pass chain, Standard (every transition committed) and Express (in memory);
- a Map of Pass states over N items (default 10,000) Express, and over 5,000 Standard (a Standard
  history holds at most 25,000 events, as on AWS);
- a Map over 1,000 items whose iterations each invoke a no-op function, beside the same
  number of plain ``Cumulo.invoke`` calls (the cost floor of the tasks themselves).
Transitions are counted as AWS bills them: one per state entered.
Not a test: nothing here asserts; targets are read by people (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402


def _wait(c: Cumulo, arn: str) -> dict:
    while True:
        desc = c.state_machines.describe_execution(arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.005)


def _run(c: Cumulo, label: str, definition: dict, kind: str, payload: dict, transitions: int) -> float:
    arn = c.state_machines.create_state_machine(f"{label}-{kind}".replace(" ", "-"), definition,
                                                type_=kind)["stateMachineArn"]
    t = time.perf_counter()
    if kind == "EXPRESS":
        desc = c.state_machines.start_sync_execution(arn, None, json.dumps(payload))
    else:
        desc = _wait(c, c.state_machines.start_execution(arn, None, json.dumps(payload))["executionArn"])
    seconds = time.perf_counter() - t
    if desc["status"] != "SUCCEEDED":
        print(f"{label + ', ' + kind.lower():<44} {desc['status']}: {desc.get('error')}: {desc.get('cause')}")
        return 0.0
    rate = transitions / seconds
    print(f"{label + ', ' + kind.lower():<44} {transitions:>7} transitions {seconds * 1000:9.1f} ms "
          f"{rate:10.0f} transitions/s", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text("def handler(event, context):\n    return event\n")
        with Cumulo(home=Path(tmp) / "home") as c:
            c.create_function("noop", code, "app.handler")
            c.invoke("noop")
            c.start_workers()
            chain = {"StartAt": "S0", "States": {f"S{i}": {"Type": "Pass", **({"Next": f"S{i + 1}"} if i < 99
                                                                              else {"End": True})}
                                                 for i in range(100)}}
            mapped = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
                                                       "End": True, "ItemProcessor": {"StartAt": "P", "States": {
                                                           "P": {"Type": "Pass", "End": True}}}}}}
            items = {"items": list(range(args.items))}
            print(f"python {sys.version.split()[0]}", flush=True)
            for kind in ("STANDARD", "EXPRESS"):
                _run(c, "100-state Pass chain", chain, kind, {}, 100)
            # A Standard history holds at most 25,000 events (AWS's limit; an inline Map iteration
            # records four), so the Standard Map runs over 5,000 items and the Express one over N.
            _run(c, "Map over 5000 items", mapped, "STANDARD", {"items": list(range(5000))}, 5001)
            _run(c, f"Map over {args.items} items", mapped, "EXPRESS", items, args.items + 1)
            n = 1000
            tasks = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 8,
                                                      "End": True, "ItemProcessor": {"StartAt": "T", "States": {
                                                          "T": {"Type": "Task", "Resource": c.arns.function("noop"),
                                                                "End": True}}}}}}
            t = time.perf_counter()
            for i in range(n):
                c.invoke("noop", json.dumps(i).encode())
            plain = n / (time.perf_counter() - t)
            print(f"{'baseline: plain invocations, 1 caller':<44} {n:>7} invokes {'':>21} {plain:10.0f} invokes/s")
            for kind in ("STANDARD", "EXPRESS"):
                rate = _run(c, f"Map over {n} function tasks", tasks, kind, {"items": list(range(n))}, n + 1)
                print(f"{'':<44} {rate / plain:.2f}x the plain invocation rate")


if __name__ == "__main__":
    main()
