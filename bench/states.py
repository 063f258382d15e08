"""State machines: transitions per second, Standard (durable) and Express, against plain invocations.

    python bench/states.py [--items N]

Measured in the same run:
- a 100-state Pass chain, Standard (every transition committed) and Express (in memory);
- a Map of Pass states over N items (default 10,000) Express, and over 5,000 Standard (a Standard
  history holds at most 25,000 events, as on AWS);
- a Map over 1,000 items whose iterations each invoke a no-op function, beside the same
  number of plain ``Cumulo.invoke`` calls (the cost floor of the tasks themselves), in ``--rounds``
  rounds (plain, Standard, Express in turn): each round's rates as ratios of that round's plain
  rate, the median of them read against issue 27's target (Standard >= 0.8x plain), with the
  process's CPU per transition (per invoke for plain; the functions' own processes not counted),
  and the ratio by CPU (plain CPU per invoke over CPU per transition), which a loaded machine
  does not flatter as it does the rates (the plain baseline is one caller, waiting on each answer).
Transitions are counted as AWS bills them: one per state entered.
Not a test: nothing here asserts; targets are read by people (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def _run(c: Cumulo, label: str, definition: dict, kind: str, payload: dict, transitions: int,
         quiet: bool = False) -> tuple[float, float]:
    """(transitions/s, process CPU µs per transition) of one execution; (0, 0) when it did not succeed."""
    arn = c.state_machines.create_state_machine(f"{label}-{kind}".replace(" ", "-").replace(",", ""), definition,
                                                type_=kind)["stateMachineArn"]
    t, cpu = time.perf_counter(), time.process_time()
    if kind == "EXPRESS":
        desc = c.state_machines.start_sync_execution(arn, None, json.dumps(payload))
    else:
        desc = _wait(c, c.state_machines.start_execution(arn, None, json.dumps(payload))["executionArn"])
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    if desc["status"] != "SUCCEEDED":
        print(f"{label + ', ' + kind.lower():<44} {desc['status']}: {desc.get('error')}: {desc.get('cause')}")
        return 0.0, 0.0
    rate = transitions / seconds
    if not quiet:
        print(f"{label + ', ' + kind.lower():<44} {transitions:>7} transitions {seconds * 1000:9.1f} ms "
              f"{rate:10.0f} transitions/s", flush=True)
    return rate, cpu * 1e6 / transitions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of the Map over function tasks (default 3).")
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
            rows: dict[str, list[tuple[float, float]]] = {"plain": [], "STANDARD": [], "EXPRESS": []}
            ratios: dict[str, list[float]] = {"STANDARD": [], "EXPRESS": []}
            print(f"Map over {n} function tasks (MaxConcurrency 8), {args.rounds} rounds: plain, standard, express",
                  flush=True)
            for r in range(args.rounds):
                t, cpu = time.perf_counter(), time.process_time()
                for i in range(n):
                    c.invoke("noop", json.dumps(i).encode())
                plain = n / (time.perf_counter() - t)
                rows["plain"].append((plain, (time.process_time() - cpu) * 1e6 / n))
                line = f"  round {r + 1}: plain {plain:6.0f} invokes/s"
                for kind in ("STANDARD", "EXPRESS"):
                    rate, per = _run(c, f"Map over {n} function tasks round {r + 1}", tasks, kind,
                                     {"items": list(range(n))}, n + 1, quiet=True)
                    rows[kind].append((rate, per))
                    ratios[kind].append(rate / plain)
                    line += f", {kind.lower()} {rate:6.0f} transitions/s ({rate / plain:.2f}x)"
                print(line, flush=True)
            med = statistics.median
            print(f"{'baseline: plain invocations, 1 caller':<44} {n:>7} invokes {'':>21} "
                  f"{med(r[0] for r in rows['plain']):10.0f} invokes/s, {med(r[1] for r in rows['plain']):6.0f} "
                  "µs CPU/invoke")
            for kind in ("STANDARD", "EXPRESS"):
                print(f"{'Map over ' + str(n) + ' function tasks, ' + kind.lower():<44} {n + 1:>7} transitions "
                      f"{'':>12} {med(r[0] for r in rows[kind]):10.0f} transitions/s, "
                      f"{med(r[1] for r in rows[kind]):6.0f} µs CPU/transition")
                print(f"{'':<44} {med(ratios[kind]):.2f}x the plain invocation rate (median of the rounds' ratios)")
            standard = med(ratios["STANDARD"])
            print(f"issue 27 target, Standard Map over {n} function tasks >= 0.80x plain invocations: "
                  f"{standard:.2f}x ({'met' if standard >= 0.8 else 'not met'}); Express {med(ratios['EXPRESS']):.2f}x; "
                  f"load average {os.getloadavg()[0]:.1f}")
            # The plain baseline is one caller waiting for each answer: on a loaded machine its waits
            # grow while the Map's 8 tasks at once hide theirs, flattering the ratio above. CPU per
            # transition does not wait: plain CPU per invoke over it is the ratio where CPU binds.
            plain_cpu = med(r[1] for r in rows["plain"])
            print(f"{'':<44} by CPU (plain µs per invoke / µs per transition): standard "
                  f"{plain_cpu / med(r[1] for r in rows['STANDARD']):.2f}x, express "
                  f"{plain_cpu / med(r[1] for r in rows['EXPRESS']):.2f}x")

if __name__ == "__main__":
    main()
