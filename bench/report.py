"""Run every benchmark under bench/ and write one Markdown report.

    bench/run [--out bench/report.md] [--quick] [--only NAME ...]

Each benchmark is its own script, run in its own process one after another (on a small machine
two at once would measure each other), with its output kept verbatim in the report: every
script prints medians, p99 and ratios against a baseline it measured in the same run. The
report starts with the machine (cores, memory, kernel, Python) and the commit measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# name: (script, arguments, arguments with --quick)
SUITE: dict[str, tuple[str, list[str], list[str]]] = {
    "runtime": ("runtime.py", [], ["--rounds", "30"]),
    "peers": ("peers.py", [], ["--rounds", "20"]),
    "memory": ("memory.py", [], ["--environments", "30"]),
    "server": ("server.py", [], []),
    "gateway": ("gateway.py", [], ["--seconds", "3"]),
    "invoke_api": ("invoke_api.py", [], ["--seconds", "3"]),
    "queues": ("queues.py", [], ["--events", "2000", "--rounds", "50"]),
    "events": ("events_match.py", [], []),
    "states": ("states.py", [], ["--items", "2000"]),
    "iam": ("iam.py", [], []),
    "metrics": ("metrics.py", [], ["--rounds", "200", "--blocks", "5"]),
    "traces": ("traces.py", [], ["--rounds", "100", "--blocks", "5"]),
    "curves": ("curves.py", [], ["--quick"]),
    "burst": ("burst.py", [], ["--quick"]),
}
OPTIONAL: dict[str, tuple[str, list[str], list[str]]] = {"snapstart": ("snapstart.py", [], []), "sdk": ("sdk.py", [], ["--functions", "8"]), "runtimes": ("runtimes.py", [], []),
            "layers": ("layers.py", [], []),
            "console": ("console.py", [], ["--lines", "200000", "--rounds", "10"]),
            "cores": ("cores.py", [], ["--rounds", "1", "--seconds", "2", "--concurrency", "16"])}


def machine() -> str:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "?")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    return (f"- machine: {os.cpu_count()} cores, {int(mem) // 1024 // 1024 if mem.isdigit() else '?'} GiB, "
            f"{platform.system()} {platform.release()}\n- python {sys.version.split()[0]}, commit {commit}\n"
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BENCH / "report.md")
    parser.add_argument("--quick", action="store_true", help="Fewer rounds (minutes, not tens of minutes).")
    parser.add_argument("--only", nargs="*", default=None, help="Run only these benchmarks.")
    args = parser.parse_args()
    suite = dict(SUITE)
    for name, entry in OPTIONAL.items():
        if (BENCH / entry[0]).exists():
            suite[name] = entry
    names = args.only or list(suite)
    parts = ["# Cumulo benchmark report\n\n", machine()]
    for name in names:
        script, full, quick = suite[name]
        command = [sys.executable, str(BENCH / script), *(quick if args.quick else full)]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        took = time.monotonic() - started
        output = result.stdout.strip()
        print(output, flush=True)
        parts.append(f"\n## {name} (`bench/{script}`, {took:.0f} s)\n")
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            parts.append(f"\nFAILED (exit {result.returncode}):\n\n```\n{tail}\n```\n")
        if output:
            is_table = output.lstrip().startswith("|") or "\n|" in output
            parts.append(f"\n{output}\n" if is_table else f"\n```\n{output}\n```\n")
    args.out.write_text("".join(parts))
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
