"""Memory per warm environment: PSS of 100 idle environments of a stdlib-only function.

    python bench/memory.py [--environments N]

PSS (proportional set size, from /proc/<pid>/smaps_rollup) splits each shared page between the
processes sharing it, so the copy-on-write pages environments share with the zygote are not
counted once per environment. Baseline in the same run: the PSS of one fresh ``python3 -I -S``
process idling after importing the same modules. Issue target: ≤ 10 MB PSS per idle environment.
Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402

HANDLER = """
import json, time
def handler(event, context):
    time.sleep(event.get("hold", 0))
    return {"ok": True}
"""


def pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc/*/status: per-thread ``children`` files miss
    children whose creating thread has exited)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("PPid:"):
                        out[int(entry.name)] = int(line.split()[1])
            except OSError:
                continue
    return out


def descendants(pid: int) -> tuple[list[int], set[int]]:
    """(descendants of ``pid``, those of them that have children)."""
    parents = _parents()
    kids: dict[int, list[int]] = {}
    for child, parent in parents.items():
        kids.setdefault(parent, []).append(child)
    found, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += kids.get(p, [])
    return found, {p for p in found if p in kids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--environments", type=int, default=100)
    args = parser.parse_args()
    n = args.environments
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        with Cumulo(home=Path(tmp) / "home") as c:
            c.create_function("mem", code, "app.handler", timeout=30)
            # n concurrent invocations that each hold their environment: the pool grows to n
            threads = [threading.Thread(target=c.invoke, args=("mem", b'{"hold": 1.5}')) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # the zygote and its environments are this process's descendants running zygote_main;
            # environments are the leaves (forked from the zygote, they keep its command line)
            found, parents = descendants(os.getpid())
            ours = [p for p in found if b"zygote_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
            values = sorted(pss_kb(p) for p in ours if p not in parents)
            zygote_pss = sum(pss_kb(p) for p in ours if p in parents)
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c",
                                     "import json, time, sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); "
                                     "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            proc.stdout.readline()
            time.sleep(0.2)
            baseline = pss_kb(proc.pid)
            proc.kill()
            proc.wait()
            print(f"python {sys.version.split()[0]}, sandbox {c.sandbox.level.value}", flush=True)
            print(f"{'idle environments measured':<48} {len(values):>6}")
            if values:
                print(f"{'PSS per idle environment, median':<48} {statistics.median(values) / 1024:9.2f} MB   "
                      f"p99 {values[min(len(values) - 1, int(len(values) * 0.99))] / 1024:.2f} MB")
                print(f"{'PSS of all idle environments':<48} {sum(values) / 1024:9.1f} MB")
            if zygote_pss:
                print(f"{'PSS of the zygote':<48} {zygote_pss / 1024:9.2f} MB")
            print(f"{'baseline: one fresh python -I -S (json, time)':<48} {baseline / 1024:9.2f} MB   "
                  f"ratio {baseline / max(statistics.median(values) if values else 1, 1):.1f}x more than an environment")


if __name__ == "__main__":
    main()
