"""Using every core (issue 27): requests/s with the server's whole process tree on 1 core, then on 2.

    python bench/cores.py [--rounds R] [--seconds S] [--cpus 0 0,1] [--concurrency 16 64] [--targets ...]

Each target is real processes started under ``taskset -c CPUS`` (every thread, child and
grandchild inherits the mask: the supervisor, its event loop, the zygote, templates and
environments), one configuration at a time and restarted for each, so a server adapts to the
CPUs it was started with (``Cumulo`` spins before sleeping only with 2 or more CPUs):

  floor       the bare HTTP edge (edge/server.py on uvloop) answering {}: one event loop, the
              most one loop on this stack can do.
  cumulo      ``cumulo up TEMPLATE --no-auth`` (SQLite): the gateway's no-op GET (an HttpApi
              ``GET /noop`` on a python3.11 function) and the Invoke API (POST
              /2015-03-31/functions/noop/invocations, RequestResponse) of another no-op function.
  nodes-N     N ``cumulo up --reuse-port`` nodes on one fresh PostgreSQL database (``tests/postgres.py``,
              its server pinned with them), accepting on the same two ports (SO_REUSEPORT): N event
              loops, N pools. Skipped when no PostgreSQL server binaries are found.

wrk (keep-alive, ``--latency``) is the client, pinned to ``--client-cpus`` (default: the last
CPU), so on a 2-CPU machine it shares a CPU with the server in the 2-CPU configuration: its own
CPU per request is printed so the reader sees what it took. Rounds alternate the configurations
(1 CPU, 2 CPUs, 1 CPU, ...) so that other load on the machine drifts over both; the summary gives
medians over rounds, the 2-CPU/1-CPU ratio of the medians, and how many cores the server's tree
used (its CPU seconds over the wall-clock seconds). The load average is printed with every
round: others' work on the same cores bends these numbers most of all. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import gateway as gw  # noqa: E402  (bench/gateway.py: Target, the process-tree CPU, the floor)

RT: list[str] = []      # ["chrt", "-r", "10"] with --rt: the server's tree and wrk at a real-time priority
INVOKE = "/2015-03-31/functions/noop/invocations"
WRK_POST = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


# A target's start: (work, env, CPUs) -> (its processes: supervisors first; the URLs to load by name)
Start = Callable[[Path, dict[str, str], str], AbstractContextManager[tuple[list[int], dict[str, str]]]]


@dataclass
class Point:
    rps: float
    p50_ms: float
    p99_ms: float
    server_cores: float   # CPU seconds of the server's tree (all nodes, PostgreSQL) per wall-clock second
    server_us: float      # its CPU per request
    supervisor_us: float  # of that, the supervisors' own (the processes holding the event loops, every thread)
    client_us: float      # wrk's CPU per request


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def _tree_cpu(roots: list[int]) -> float:
    return sum(gw._tree_cpu_s(pid) for pid in roots)


def _own_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes themselves (all their threads), not their children."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, concurrency: int, seconds: float, client_cpus: str, roots: list[int],
         script: Path | None = None) -> Point:
    """``roots``: the servers' processes (their trees counted), the supervisors first, then others (PostgreSQL)."""
    supervisors = roots[:1] if len(roots) == 1 else [r for r in roots if not _is_postgres(r)]
    before, client = _tree_cpu(roots), resource.getrusage(resource.RUSAGE_CHILDREN)
    own = _own_cpu(supervisors)
    started = time.monotonic()
    cmd = [*RT, "taskset", "-c", client_cpus, "wrk", "-t", str(min(concurrency, 2)), "-c", str(concurrency),
           "-d", f"{seconds:g}s", "--timeout", "10s", "--latency", *(["-s", str(script)] if script else []), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.monotonic() - started
    after, client_after = _tree_cpu(roots), resource.getrusage(resource.RUSAGE_CHILDREN)
    own = _own_cpu(supervisors) - own
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"errors from {url}:\n{out}")
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    found = [re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE) for p in ("50", "99")]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)
    if rps is None or done is None or found[0] is None or found[1] is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    n = max(int(done.group(1)), 1)
    p50, p99 = (float(m.group(1)) * unit[m.group(2)] for m in (found[0], found[1]))
    client_s = client_after.ru_utime + client_after.ru_stime - client.ru_utime - client.ru_stime
    return Point(float(rps.group(1)), p50, p99, (after - before) / wall, (after - before) * 1e6 / n,
                 own * 1e6 / n, client_s * 1e6 / n)


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


@contextmanager
def _floor(work: Path, env: dict[str, str], cpus: str) -> Iterator[tuple[list[int], dict[str, str]]]:
    (work / "edge_floor.py").write_text(gw.FLOOR)
    target = gw.Target("floor", [*RT, "taskset", "-c", cpus, sys.executable, "edge_floor.py"], work, env,
                       r"running on (\S+)", 60)
    try:
        yield [target.proc.pid], {"gateway GET": target.match + "/noop"}
    finally:
        target.stop()


def _up(work: Path, env: dict[str, str], cpus: str, home: Path, extra: list[str], name: str) -> gw.Target:
    cmd = [*RT, "taskset", "-c", cpus, sys.executable, "-m", "cumulo", "--home", str(home), "up",
           str(work / "template.yaml"), "--no-auth", "--console-port", "-1", *extra]
    return gw.Target(name, cmd, work, env, r"deployed\s+api \S+ \(\S+\): GET /noop -> .* at (\S+)", 180, home)


def _create_noop(home: Path, work: Path, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), "function", "create", "noop",
                    "--code", str(work / "noop"), "--handler", "app.handler"], check=True, env=env,
                   capture_output=True)


@contextmanager
def _cumulo(work: Path, env: dict[str, str], cpus: str) -> Iterator[tuple[list[int], dict[str, str]]]:
    home = Path(tempfile.mkdtemp(dir=work, prefix="home-"))
    _create_noop(home, work, env)
    target = _up(work, env, cpus, home, ["--port", "0", "--gateway-port", "0"], "cumulo")
    try:
        api = next(re.search(r"API at (\S+)", line).group(1)    # type: ignore[union-attr]
                   for line in target.lines if re.search(r"API at (\S+)", line))
        yield [target.proc.pid], {"gateway GET": target.match, "Invoke API": api + INVOKE}
    finally:
        target.stop()


def _nodes(count: int) -> Start:
    @contextmanager
    def start(work: Path, env: dict[str, str], cpus: str) -> Iterator[tuple[list[int], dict[str, str]]]:
        from tests.postgres import Cluster

        cluster = Cluster()
        targets: list[gw.Target] = []
        try:
            for pid in _pids_of(cluster):
                _pin_tree(pid, cpus)
            url = cluster.fresh_database()
            port, gateway_port = gw._free_port(), gw._free_port()
            homes = [Path(tempfile.mkdtemp(dir=work, prefix=f"node{i}-")) for i in range(count)]
            for i, home in enumerate(homes):
                # one master key for the cluster: the first node's (docs/scale-out.md)
                node_env = {**env, "CUMULO_STORE": url, "CUMULO_MASTER_KEY_FILE": str(homes[0] / "master.key")}
                if i == 0:
                    _create_noop(home, work, node_env)
                targets.append(_up(work, node_env, cpus, home, ["--port", str(port), "--gateway-port",
                                                                str(gateway_port), "--reuse-port"], f"node{i}"))
            yield ([t.proc.pid for t in targets] + _pids_of(cluster),
                   {"gateway GET": targets[0].match, "Invoke API": f"http://127.0.0.1:{port}{INVOKE}"})
        finally:
            for t in targets:
                t.stop()
            cluster.stop()
    return start


def _pids_of(cluster: Any) -> list[int]:
    """The PostgreSQL server's postmaster (its backends are its children)."""
    return [int((cluster.data / "postmaster.pid").read_text().split()[0])]


def _pin_tree(root: int, cpus: str) -> None:
    """``cpus`` for ``root`` and every process under it, each thread (backends forked later inherit it)."""
    todo = [root]
    while todo:
        pid = todo.pop()
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=False, capture_output=True)
        if RT:
            subprocess.run(["chrt", "-a", "-r", "-p", RT[-1], str(pid)], check=False, capture_output=True)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            todo.extend(int(x) for x in task.read_text().split())


def _terminated(*_: object) -> None:
    """SIGTERM: end the servers started (each leads a session of its own, ``gw.Target``), also one
    still starting, whose ``Target`` the context managers' clean-up never got; then unwind."""
    for task in Path("/proc/self/task").glob("*/children"):
        for pid in task.read_text().split():
            try:
                os.killpg(int(pid), signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass    # not a session leader of ours (wrk, taskset's exec'd child already gone)
    sys.exit(143)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--cpus", nargs="+", default=["0", "0,1"], help="CPU lists, taskset's form (default: 0 0,1)")
    parser.add_argument("--client-cpus", default=None, help="wrk's CPUs (default: the last one allowed)")
    parser.add_argument("--concurrency", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--targets", nargs="+", default=["floor", "cumulo", "nodes-2"])
    parser.add_argument("--rt", action="store_true",
                        help="run the servers' trees and wrk under chrt -r 10 (SCHED_RR): on a machine others load, "
                             "what the cores can do rather than what others leave; it takes the CPUs from them")
    args = parser.parse_args()
    if args.rt:
        RT[:] = ["chrt", "-r", "10"]
    signal.signal(signal.SIGTERM, _terminated)
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("needs wrk and taskset (apt-get install -y wrk util-linux)")
    client_cpus = args.client_cpus or str(max(os.sched_getaffinity(0)))
    starts: dict[str, Start] = {"floor": _floor, "cumulo": _cumulo}
    for name in args.targets:
        if name.startswith("nodes-"):
            if not shutil.which("pg_ctl") and not Path("/usr/lib/postgresql").exists():
                print(f"{name} SKIPPED: no PostgreSQL server binaries", flush=True)
                continue
            starts[name] = _nodes(int(name.split("-", 1)[1]))
    print(f"{os.cpu_count()} cores; wrk on CPU {client_cpus}; {args.seconds:g} s per point; {args.rounds} rounds; "
          f"load average at start {_load()}{'; SCHED_RR 10 (--rt)' if RT else ''}", flush=True)
    points: dict[tuple[str, str, int, str], list[Point]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "fn").mkdir()
        (work / "fn" / "app.py").write_text(gw.HANDLER)
        (work / "noop").mkdir()
        (work / "noop" / "app.py").write_text("def handler(event, context):\n    return {}\n")
        (work / "template.yaml").write_text(gw.TEMPLATE)   # the same no-op GET as bench/gateway.py
        script = work / "post.lua"
        script.write_text(WRK_POST)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for r in range(args.rounds):
            for name in args.targets:
                if name not in starts:
                    continue
                for cpus in (args.cpus if r % 2 == 0 else list(reversed(args.cpus))):
                    with starts[name](work, env, cpus) as (roots, urls):
                        for what, url in urls.items():
                            post = script if what == "Invoke API" else None
                            for c in args.concurrency:
                                for _ in range(3):      # warm: pools grow to this concurrency
                                    _wrk(url, c, 1, client_cpus, roots, post)
                                p = _wrk(url, c, args.seconds, client_cpus, roots, post)
                                points.setdefault((name, what, c, cpus), []).append(p)
                                print(f"round {r + 1} {name:<8} {what:<11} c={c:<3} cpus {cpus:<4} {p.rps:8.0f} req/s"
                                      f"  p50 {p.p50_ms:6.3f} ms  p99 {p.p99_ms:7.3f} ms  server {p.server_cores:4.2f}"
                                      f" cores, {p.server_us:5.0f} us/req (supervisor {p.supervisor_us:4.0f})  wrk {p.client_us:4.0f} us/req"
                                      f"  load {_load()}", flush=True)
    print(f"\nload average at the end {_load()}\n")
    print("| target | request | conc | " + " | ".join(f"req/s on CPUs {c} (median)" for c in args.cpus)
          + " | ratio | server cores used | server us/req | of which supervisors' |")
    print("|---|---|---|" + "---|" * len(args.cpus) + "---|---|---|---|")
    for (name, what, c) in dict.fromkeys((k[0], k[1], k[2]) for k in points):
        med = [statistics.median(p.rps for p in points[(name, what, c, cpus)]) for cpus in args.cpus]
        cores = " / ".join(f"{statistics.median(p.server_cores for p in points[(name, what, c, cpus)]):.2f}"
                           for cpus in args.cpus)
        us = " / ".join(f"{statistics.median(p.server_us for p in points[(name, what, c, cpus)]):.0f}"
                        for cpus in args.cpus)
        sup = " / ".join(f"{statistics.median(p.supervisor_us for p in points[(name, what, c, cpus)]):.0f}"
                         for cpus in args.cpus)
        print(f"| {name} | {what} | {c} | " + " | ".join(f"{m:.0f}" for m in med)
              + f" | {med[-1] / med[0]:.2f}x | {cores} | {us} | {sup} |")


if __name__ == "__main__":
    main()
