"""HTTP API gateway benchmark: GET through Cumulo's gateway vs a no-op floor, serverless-offline, chalice local.

    python bench/gateway.py [--seconds S] [--markdown PATH] [--targets NAME ...]

Four targets, each a real process, started and measured one at a time (on a 2-core machine
an idle Node or Cumulo process next to the one under load would skew it):

  cumulo      ``cumulo up TEMPLATE`` with a SAM template: one python3.11 no-op function
              behind an HttpApi ``GET /noop`` event, returning {"statusCode": 200, "body": "ok"}.
  cumulo-split  the same with ``CUMULO_CPU_SPLIT=1``: the server's threads on one CPU,
              environments on the others (off by default: see docs/server.md).
  floor       a bare no-op handler on the same HTTP stack: Cumulo's HTTP edge (edge/server.py,
              httptools on uvloop) answering {} without any gateway or invocation work;
              nothing can be faster than this on that stack.
  sls-offline serverless-offline 13 (serverless 3) serving the same Python handler on an
              httpApi ``GET /noop`` event. npm installs it once into a cache
              (~/.cache/cumulo-bench/serverless-offline); if that fails it is skipped.
  chalice     ``chalice local`` (PyPI; installed once into ~/.cache/cumulo-bench/chalice) serving a
              Chalice route that returns "ok"; skipped if pip cannot install it.

wrk (``--latency``) drives keep-alive GETs at concurrency 1, 16 and 64 and gives requests/s
and p50/p99 (without wrk, a Python thread-pool client, client-bound at high concurrency, and
said so). Each target is checked for 200 + expected body, then warmed at each concurrency until
steady, so cold starts and pool growth are not measured. Cumulo's throughput is reported as a
ratio of the floor's, serverless-offline's and chalice's.

CPU per request is measured for every point: the target's whole process tree (server, zygote,
templates, environments; for serverless-offline npx, node and its python) from /proc, and wrk
from its rusage. "all-cores bound" is what that cost allows with every core busy (cores x 1e6 /
(server + client us)): no arrangement of the same work can exceed it. The notes say how much
CPU per request 5x serverless-offline's rate would leave, and the line starting ``TARGET`` gives
Cumulo's CPU per request as a share of serverless-offline's at 16 and 64 connections (issue 27 asks for
at most 0.5x) and its p50 at one connection (at most 0.15 ms). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = (1, 16, 64)
NPM_SPEC = ["serverless@3", "serverless-offline@13"]  # v4 of serverless needs a login
NOTES: list[str] = []  # repeated under the Markdown table
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cumulo-bench" / "serverless-offline"
HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'
TEMPLATE = textwrap.dedent("""\
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Noop:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.11
          Handler: app.handler
          CodeUri: fn/
          Events: {Get: {Type: HttpApi, Properties: {Path: /noop, Method: GET}}}
""")
SERVERLESS_YML = textwrap.dedent("""\
    service: cumulo-bench
    frameworkVersion: "3"
    provider: {name: aws, runtime: python3.11, region: us-east-1}
    functions:
      noop: {handler: app.handler, events: [{httpApi: {path: /noop, method: get}}]}
    plugins: [serverless-offline]
""")


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx responses plus socket errors: a nonzero count means the numbers lie
    error_kinds: str = ""             # which: "non-2xx N", "connect/read/write/timeout N" (wrk's split)
    server_us: float = float("nan")   # CPU per request of the target's whole process tree
    client_us: float = float("nan")   # CPU per request of the load generator (wrk only)

    def bound(self) -> float:
        """Requests/s if every core did nothing but this work at this CPU cost per request."""
        return (os.cpu_count() or 1) * 1e6 / (self.server_us + self.client_us)


_TICK = os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of ``root`` and every live descendant (environments are the
    server's grandchildren, in sessions of their own, so the tree is walked by parent pid)."""
    parent: dict[int, int] = {}
    spent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue   # ended meanwhile
        fields = stat[stat.rindex(b")") + 2:].split()
        pid = int(entry.name)
        parent[pid], spent[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += spent.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / _TICK


class Target:
    """A server process in its own session, so its whole tree (npx -> node -> sh -> python) can be ended."""

    def __init__(self, name: str, cmd: list[str], cwd: Path, env: dict[str, str], pattern: str, timeout: float,
                 store: Path | None = None) -> None:
        self.name = name
        self.store = store     # Cumulo's: its gateway's access log says what each request was answered
        self.lines: list[str] = []
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        ready, self.match = threading.Event(), ""

        def drain() -> None:  # keep reading after the match too, or a full pipe would block the server
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.rstrip())
                if not ready.is_set() and (m := re.search(pattern, line)):
                    self.match = m.group(1)
                    ready.set()
            ready.set()  # EOF: the process died before printing the pattern

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(timeout) or not self.match:
            self.stop()
            raise RuntimeError(f"{name} did not start: " + " | ".join(self.lines[-5:]))

    def stop(self) -> None:
        # SIGTERM to the leader first so Cumulo can shut its environments down itself;
        # then sweep the group for children the leader did not take with it.
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=20)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        self.proc.wait(timeout=10)


def _say(line: str) -> None:
    print(line, flush=True)
    NOTES.append(line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check(url: str, body: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as resp:
        got = resp.read().decode()
        if resp.status != 200 or got != body:
            raise RuntimeError(f"{url} answered {resp.status} {got!r}, expected 200 {body!r}")


def _wrk(url: str, concurrency: int, seconds: int, server: int | None = None) -> Result:
    # --timeout above wrk's 2 s default so slow requests count in the latency, not as errors.
    before, client = _tree_cpu_s(server) if server else 0.0, resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t", str(min(concurrency, 2)), "-c", str(concurrency), "-d", f"{seconds}s",
                          "--timeout", "10s", "--latency", url], capture_output=True, text=True, check=True).stdout
    after, client_after = _tree_cpu_s(server) if server else 0.0, resource.getrusage(resource.RUSAGE_CHILDREN)
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            raise RuntimeError(f"no {p}% in wrk output:\n{out}")
        return float(m.group(1)) * unit[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    kinds = {"non-2xx": sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))}
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        kinds.update(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    done = re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)
    n = int(done.group(1)) if done else 0
    result = Result(float(rps.group(1)), pct("50"), pct("99"), sum(kinds.values()),
                    ", ".join(f"{k} {v}" for k, v in kinds.items() if v))
    if n and server:
        result.server_us = (after - before) * 1e6 / n
        result.client_us = (client_after.ru_utime + client_after.ru_stime - client.ru_utime - client.ru_stime) * 1e6 / n
    return result


def _pyload(url: str, concurrency: int, seconds: int, server: int | None = None) -> Result:
    parts = urlsplit(url)
    latencies: list[list[int]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        while time.monotonic() < stop:
            t = time.perf_counter_ns()
            try:
                conn.request("GET", parts.path)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):  # count it like wrk's socket errors, and reconnect
                errors[i] += 1
                conn.close()
                continue
            latencies[i].append(time.perf_counter_ns() - t)
            errors[i] += resp.status != 200
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = sorted(x / 1e6 for lat in latencies for x in lat)
    if not ms:
        return Result(0.0, float("nan"), float("nan"), sum(errors))
    return Result(len(ms) / seconds, ms[len(ms) // 2], ms[int(len(ms) * 0.99)], sum(errors))


def _measure(target: Target, url: str, body: str, seconds: int, use_wrk: bool) -> dict[int, Result]:
    _check(url, body)
    _pyload(url, 1, 1)  # a few hundred sequential requests: first-request and import costs
    load = _wrk if use_wrk else _pyload
    results = {}
    for c in CONCURRENCY:
        # Warm at this concurrency until steady: pools grow while all slots are busy, and
        # serverless-offline needs several seconds to spawn a Python process per slot at c=64.
        prev, warm = load(url, c, 1), 1
        while warm < 15:
            cur, warm = load(url, c, 1), warm + 1
            if abs(cur.rps - prev.rps) < 0.1 * prev.rps and cur.p99_ms <= max(1.5 * prev.p99_ms, prev.p99_ms + 2):
                break
            prev = cur
        said, since_ms = len(target.lines), int(time.time() * 1000)
        r = results[c] = load(url, c, seconds, target.proc.pid)
        print(f"  {target.name:<12} c={c:<3} {r.rps:9.0f} req/s   p50 {r.p50_ms:8.3f} ms   p99 {r.p99_ms:8.3f} ms"
              f"   errors {r.errors}{f' ({r.error_kinds})' if r.error_kinds else ''}"
              f"   CPU/request {r.server_us:6.1f} us + client {r.client_us:5.1f} us   (warmed {warm} s)", flush=True)
        if r.errors:
            _explain_errors(target, since_ms, said)
    return results


def _explain_errors(target: Target, since_ms: int, said: int) -> None:
    """What the server says about a measurement with errors: the statuses its access log recorded
    (wrk's "non-2xx" does not say which) and what it printed meanwhile."""
    if target.store is not None and (target.store / "cumulo.db").exists():
        time.sleep(0.5)    # the log writer commits every 50 ms
        with contextlib.closing(sqlite3.connect(f"file:{target.store / 'cumulo.db'}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT json_extract(message, '$.status'), count(*) FROM logs WHERE function LIKE "
                              "'/aws/apigateway/%' AND ts >= ? GROUP BY 1 ORDER BY 2 DESC", (since_ms,)).fetchall()
        _say(f"  {target.name}: access log since the measurement began: "
             + ", ".join(f"{status} x{n}" for status, n in rows))
    for line in target.lines[said:][-20:]:
        _say(f"  {target.name} printed: {line}")


def _npm_install(scratch: Path) -> str:
    """Node modules dir for serverless-offline, installed once into CACHE; raises with the reason."""
    stamp = CACHE / "installed.txt"
    if stamp.exists() and stamp.read_text() == " ".join(NPM_SPEC) and (CACHE / "node_modules/.bin/serverless").exists():
        _say(f"serverless-offline: using the cached install in {CACHE}")
        return str(CACHE / "node_modules")
    if not shutil.which("npm"):
        raise RuntimeError("npm not found on PATH")
    # Install in a scratch dir and move it into the cache only once complete, so an
    # interrupted install never looks cached.
    scratch.mkdir(parents=True)
    (scratch / "package.json").write_text('{"private": true}\n')
    t = time.monotonic()
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", *NPM_SPEC], cwd=scratch, check=False,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError("npm install failed: " + " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:]))
    _say(f"serverless-offline: npm install {' '.join(NPM_SPEC)} took {time.monotonic() - t:.1f} s")
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(scratch, CACHE)
    stamp.write_text(" ".join(NPM_SPEC))
    return str(CACHE / "node_modules")


def _start_cumulo(work: Path, env: dict[str, str], home: str = "home", name: str = "cumulo") -> tuple[Target, str]:
    cmd = [sys.executable, "-m", "cumulo", "--home", str(work / home), "up", str(work / "template.yaml"),
           "--port", "0", "--gateway-port", "0", "--console-port", "-1", "--no-auth"]
    # The deploy line carries the API id, so the URL need not be assembled from the "HTTP APIs" line.
    target = Target(name, cmd, work, env, r"deployed\s+api \S+ \(\S+\): GET /noop -> .* at (\S+)", 120,
                    work / home)
    return target, target.match


FLOOR = textwrap.dedent("""\
    import asyncio, socket, uvloop
    from cumulo.edge.server import HttpEdge, Response

    ANSWER = Response(200, [("content-type", "application/json")], b"{}")

    async def noop(request):
        return ANSWER

    async def main():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        edge = HttpEdge(noop)
        await edge.start(sock)
        print(f"running on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())
""")


def _start_floor(work: Path, env: dict[str, str]) -> tuple[Target, str]:
    (work / "edge_floor.py").write_text(FLOOR)
    cmd = [sys.executable, "edge_floor.py"]
    target = Target("floor", cmd, work, env, r"running on (\S+)", 60)
    return target, target.match + "/noop"


def _start_sls(work: Path) -> tuple[Target, str]:
    sls = work / "sls"
    node_modules = _npm_install(work / "npm")
    sls.mkdir()
    (sls / "node_modules").symlink_to(node_modules)  # serverless resolves plugins from the service dir
    (sls / "app.py").write_text(HANDLER)
    (sls / "serverless.yml").write_text(SERVERLESS_YML)
    # Fake credentials and no telemetry/notifications: nothing may leave the machine.
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
           "AWS_ACCESS_KEY_ID": "AKIABENCH", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    # Every port explicit: the defaults (3000-3003) may be taken, and two runs must not collide.
    cmd = ["npx", "--no-install", "serverless", "offline", "--host", "127.0.0.1", "--httpPort", str(_free_port()),
           "--lambdaPort", str(_free_port()), "--websocketPort", str(_free_port()), "--albPort", str(_free_port()),
           "--noPrependStageInUrl"]
    # It runs handlers with whatever `python3` is on PATH, which may not be Cumulo's interpreter.
    py3 = subprocess.run("python3 --version", shell=True, check=False, env=env, capture_output=True,
                         text=True).stdout.strip()
    _say(f"serverless-offline ({py3 or 'no python3 on PATH'}): {' '.join(cmd)}")
    target = Target("sls-offline", cmd, sls, env, r"Server ready: (\S+)", 120)
    return target, target.match + "/noop"


CHALICE_APP = textwrap.dedent("""
    from chalice import Chalice
    app = Chalice(app_name="bench")

    @app.route("/noop")
    def noop():
        return "ok"
""")


def _chalice() -> Path:
    """``chalice`` installed once into its own venv in the bench cache; raises with the reason."""
    venv = CACHE.parent / "chalice"
    exe = venv / "bin" / "chalice"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "chalice"], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0 or not exe.exists():
        raise RuntimeError("pip install chalice failed: " + done.stderr.strip()[-200:])
    return exe


def _start_chalice(work: Path) -> tuple[Target, str]:
    project = work / "chalice-bench"
    (project / ".chalice").mkdir(parents=True)
    (project / ".chalice" / "config.json").write_text('{"version": "2.0", "app_name": "bench", '
                                                        '"stages": {"dev": {"api_gateway_stage": "api"}}}')
    (project / "app.py").write_text(CHALICE_APP)
    port = _free_port()
    cmd = [str(_chalice()), "local", "--host", "127.0.0.1", "--port", str(port)]
    target = Target("chalice-local", cmd, project, dict(os.environ), r"(Serving on \S+)", 60)
    return target, f"http://127.0.0.1:{port}/noop"


def _us(x: float) -> str:
    return "n/a" if x != x else f"{x:.0f}"


def _table(results: dict[str, dict[int, Result]], markdown: bool) -> str:
    head = ["conc", "target", "req/s", "p50 ms", "p99 ms", "errors", "server CPU us/req", "client CPU us/req",
            "all-cores bound req/s", "cumulo/floor", "cumulo/sls-offline", "cumulo/chalice"]
    rows = []
    for c in CONCURRENCY:
        for name, by_c in results.items():
            r = by_c[c]
            ratios = ["", "", ""]
            if name.startswith("cumulo"):
                ratios = [f"{r.rps / results[base][c].rps:.2f}x" if base in results and results[base][c].rps else "n/a"
                          for base in ("floor", "sls-offline", "chalice-local")]
            rows.append([str(c), name, f"{r.rps:.0f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}",
                         f"{r.errors} ({r.error_kinds})" if r.errors else "0",
                         _us(r.server_us), _us(r.client_us), _us(r.bound()), *ratios])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(x.rjust(w) for x, w in zip(row, widths)) for row in [head, *rows]) + "\n"


def _budget(results: dict[str, dict[int, Result]]) -> None:
    """What 5x serverless-offline's rate would leave in CPU per request, against what was spent."""
    sls = results.get("sls-offline")
    if sls is None or "cumulo" not in results:
        return
    cores = os.cpu_count() or 1
    for c in CONCURRENCY:
        if not sls[c].rps:      # it answered nothing in time (a loaded machine): no budget to state
            _say(f"c={c}: serverless-offline answered no request in time: no budget")
            continue
        need = cores * 1e6 / (5 * sls[c].rps)
        cu, floor = results["cumulo"][c], results.get("floor", {}).get(c)
        spent = f"Cumulo spent {_us(cu.server_us)} + {_us(cu.client_us)} (client) us"
        if floor is not None:
            spent += f"; the floor alone {_us(floor.server_us)} + {_us(floor.client_us)} us"
        _say(f"c={c}: 5x serverless-offline ({5 * sls[c].rps:.0f} req/s) leaves {need:.0f} us of CPU per request"
             f" on {cores} cores with every core busy; {spent}")


def _target(results: dict[str, dict[int, Result]]) -> None:
    """Issue 27's line: Cumulo's server CPU per request as a share of serverless-offline's at 16 and
    64 connections (the target is at most 0.5x), and Cumulo's p50 at one connection (at most 0.15 ms)."""
    cu, sls = results.get("cumulo"), results.get("sls-offline")
    if cu is None:
        return
    def ratio(c: int) -> str:
        if sls is None:
            return f"c={c} n/a (no sls-offline)"
        theirs = sls[c].server_us
        if not theirs == theirs or not sls[c].rps:       # nan: it answered nothing in time
            return f"c={c} n/a (sls-offline answered nothing)"
        return f"c={c} {cu[c].server_us / theirs:.2f}x ({_us(cu[c].server_us)} / {_us(theirs)} us)"

    ratios = ", ".join(ratio(c) for c in (16, 64))
    _say(f"TARGET CPU/request cumulo/sls-offline: {ratios} (target <= 0.50x); p50 at c=1 {cu[1].p50_ms:.3f} ms "
         f"(target <= 0.15 ms); load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each measurement (default 5)")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    parser.add_argument("--targets", nargs="+", metavar="NAME", help="measure only these targets (default: all of "
                        "cumulo, cumulo-split, floor, sls-offline, chalice-local)")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    client = "wrk --latency" if use_wrk else "Python http.client threads (wrk not found: apt-get install -y wrk)"
    _say(f"load generator: {client}; {args.seconds} s per point; {os.cpu_count()} cores; Cumulo on Python {sys.version.split()[0]}")
    results: dict[str, dict[int, Result]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "fn").mkdir()
        (work / "fn" / "app.py").write_text(HANDLER)
        (work / "template.yaml").write_text(TEMPLATE)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        starts: dict[str, Callable[[], tuple[Target, str]]] = {
            "cumulo": lambda: _start_cumulo(work, env),
            # The same with the server on one CPU and environments on the others (Settings.cpu_split).
            "cumulo-split": lambda: _start_cumulo(work, {**env, "CUMULO_CPU_SPLIT": "1"}, "home-split",
                                                  "cumulo-split"),
            "floor": lambda: _start_floor(work, env),
            "sls-offline": lambda: _start_sls(work),
            "chalice-local": lambda: _start_chalice(work),
        }
        bodies = {"cumulo": "ok", "cumulo-split": "ok", "floor": "{}", "sls-offline": "ok", "chalice-local": "ok"}
        if unknown := set(args.targets or ()) - set(starts):
            parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
        for name, start in starts.items():
            if args.targets and name not in args.targets:
                continue
            target: Target | None = None
            try:
                target, url = start()
                print(f"{name}: {url}", flush=True)
                results[name] = _measure(target, url, bodies[name], args.seconds, use_wrk)
            except Exception as exc:  # one broken target must not cost the others' numbers
                if name not in ("sls-offline", "chalice-local"):
                    raise
                _say(f"{name} SKIPPED: {exc}")
            finally:
                if target is not None:
                    target.stop()
    _budget(results)
    _target(results)
    table = _table(results, markdown=False)
    print("\n" + table, end="")
    if args.markdown:
        args.markdown.write_text("# HTTP API gateway benchmark\n\n" + _table(results, markdown=True) + "\n"
                                 + "".join(f"- {n}\n" for n in NOTES))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
