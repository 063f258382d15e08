"""Scale-out (issue 26): asynchronous events processed end to end per second, queue messages
delivered per second, and CPU per event and per message, on SQLite (one node) and on PostgreSQL
with 1, 2 and 3 nodes, in the same run.

    python bench/scale_out.py [--events N] [--messages N] [--nodes 1,2,3] [--no-pin]
    python bench/scale_out.py --soak ROUNDS [--load S]

Each configuration is real ``cumulo up`` processes (``--no-auth``, loopback) started on a fresh
store: SQLite under a home, or a fresh database on a throw-away PostgreSQL server (``tests/postgres.py``).
A no-op function is created and warmed on every node; then N Event invokes are sent through the
nodes in turn by 4 client threads, and the clock stops when the async queue is empty (every event
dispatched, run and deleted). CPU is counted per process tree from /proc: the nodes (supervisor,
zygote, environments) and the PostgreSQL server's processes, before and after; per event it is the
machine-independent figure (the wall-clock rate depends on what else the machine runs).

The nodes share the cores fairly: each is started pinned (``sched_setaffinity``, what ``taskset``
does; its environments stay within) to its own slice of this process's CPUs, node i of n to every
n-th CPU from the i-th, so 1 node has them all and 2 nodes on 2 cores one each. With more nodes
than CPUs they go round in turn (3 nodes on 2 cores: nodes 1 and 3 share the first), which the
output says. The PostgreSQL server and the clients are not pinned. ``--no-pin`` leaves the nodes
to the scheduler as before.

Queue messages: one standard queue; 4 producer threads send batches of 10 through the nodes in
turn while 2 consumer threads per node receive (10 at a time, long polling) and delete (in
batches) through their own node; the clock stops when every message sent was deleted.

``--soak``: the kill soak instead (``tests/scale_soak.py``): per round, three nodes on a fresh
database under steady async invokes, queue messages and Standard executions for ``--load`` seconds, one killed with
``kill -9`` at a random moment; printed per round: acknowledged work lost (must be 0) and done
twice, finished work per second before and after the kill, and the takeover time (until every
lease the dead node held was taken over).
Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.test_server import CumuloServer, zip_of  # noqa: E402
from tests.postgres import Cluster  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
TICKS = os.sysconf("SC_CLK_TCK")


def node_cpus(i: int, n: int, cpus: list[int]) -> list[int]:
    """The CPUs node ``i`` of ``n`` is pinned to: every n-th of ``cpus`` from the i-th, or (more
    nodes than CPUs) one CPU in turn."""
    return cpus[i::n] if n <= len(cpus) else [cpus[i % len(cpus)]]


@contextlib.contextmanager
def pinned(cpus: list[int] | None) -> Iterator[None]:
    """Processes started in the block inherit this CPU set (the calling thread's, put back after)."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _tree_cpu(roots: set[int]) -> float:
    """CPU seconds (user + system) of the live processes under ``roots`` (them included)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS)
    total = 0.0
    for pid, (ppid, cpu) in stats.items():
        p = pid
        while p > 1 and p not in roots:
            p = stats.get(p, (1, 0.0))[0]
        if p in roots:
            total += cpu
    return total


def _postgres_pids(cluster: Cluster | None) -> set[int]:
    if cluster is None:
        return set()
    return {int((cluster.data / "postmaster.pid").read_text().split()[0])}


def run(label: str, nodes: list[CumuloServer], events: int, pending: Callable[[], int],
        cluster: Cluster | None) -> tuple[float, float, float]:
    name = f"noop{int(time.time() * 1000) % 100000}"
    nodes[0].client().create_function(FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
                                      Handler="app.handler", Code={"ZipFile": zip_of(**{"app.py": NOOP})})
    for node in nodes:                                     # a warm environment on every node
        node.client().invoke(FunctionName=name, Payload=b"{}")
    clients = [node.client() for node in nodes]
    roots = {n.proc.pid for n in nodes}
    pg_roots = _postgres_pids(cluster)
    cpu_nodes, cpu_db = _tree_cpu(roots), _tree_cpu(pg_roots) if pg_roots else 0.0
    started = time.perf_counter()

    def send(share: int, offset: int) -> None:
        for i in range(share):
            clients[(offset + i) % len(clients)].invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")

    threads = [threading.Thread(target=send, args=(events // 4, k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while pending() > 0:
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    nodes_cpu = _tree_cpu(roots) - cpu_nodes
    db_cpu = (_tree_cpu(pg_roots) - cpu_db) if pg_roots else 0.0
    n = events // 4 * 4
    rate = n / seconds
    print(f"{label:<28} {rate:8.0f} events/s   CPU/event: nodes {nodes_cpu / n * 1e3:6.2f} ms, "
          f"database {db_cpu / n * 1e3:6.2f} ms", flush=True)
    return rate, nodes_cpu / n, db_cpu / n


def run_queue(label: str, nodes: list[CumuloServer], messages: int, cluster: Cluster | None) -> tuple[float, float, float]:
    sqs = [node.aws("sqs", read_timeout=30) for node in nodes]
    url = sqs[0].create_queue(QueueName=f"bench{int(time.time() * 1000) % 100000}",
                              Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    batches = messages // 10 // 4 * 4
    total = batches * 10
    deleted = [0]
    lock = threading.Lock()
    done = threading.Event()
    roots = {n.proc.pid for n in nodes}
    pg_roots = _postgres_pids(cluster)
    cpu_nodes, cpu_db = _tree_cpu(roots), _tree_cpu(pg_roots) if pg_roots else 0.0
    started = time.perf_counter()

    def produce(k: int) -> None:
        client = [node.aws("sqs", read_timeout=30) for node in nodes]
        for i in range(batches // 4):
            client[(k + i) % len(client)].send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": f"{k}-{i}-{j}"} for j in range(10)])

    def consume(node: CumuloServer) -> None:
        client = node.aws("sqs", read_timeout=30)
        while not done.is_set():
            got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if got:
                client.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(got)])
                with lock:
                    deleted[0] += len(got)
                    if deleted[0] >= total:
                        done.set()

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=consume, args=(node,)) for node in nodes for _ in range(2)]
    for t in threads:
        t.start()
    done.wait(600)
    seconds = time.perf_counter() - started
    done.set()
    for t in threads:
        t.join()
    nodes_cpu = _tree_cpu(roots) - cpu_nodes
    db_cpu = (_tree_cpu(pg_roots) - cpu_db) if pg_roots else 0.0
    rate = total / seconds
    print(f"{label:<28} {rate:8.0f} messages/s CPU/message: nodes {nodes_cpu / total * 1e3:6.2f} ms, "
          f"database {db_cpu / total * 1e3:6.2f} ms", flush=True)
    return rate, nodes_cpu / total, db_cpu / total


def soak_rounds(rounds: int, load_s: float) -> None:
    import random

    from tests.scale_soak import soak, start_nodes

    folder = Path(tempfile.mkdtemp(prefix="cumulo-bench-soak-"))
    cluster = Cluster()
    totals = {"lost": 0, "twice": 0}
    takeovers: list[float] = []
    try:
        for r in range(rounds):
            url = cluster.fresh_database()
            nodes = start_nodes(url, folder / f"round{r}", 3)
            try:
                kill_after = random.uniform(4.0, load_s - 6.0)
                report = soak(url, nodes, load_s=load_s, kill_after_s=kill_after)
            finally:
                for n in nodes:
                    n.close()
            print(f"round {r + 1}: " + "\n    ".join(report.lines()), flush=True)
            totals["lost"] += len(report.events_lost) + len(report.messages_lost) + len(report.executions_lost)
            totals["twice"] += report.events_duplicated + report.messages_duplicated
            if report.takeover_s is not None:
                takeovers.append(report.takeover_s)
    finally:
        cluster.stop()
    takeovers.sort()
    print(f"{rounds} rounds: {totals['lost']} acknowledged lost, {totals['twice']} done more than once; takeover "
          + (f"median {takeovers[len(takeovers) // 2]:.1f} s, max {takeovers[-1]:.1f} s" if takeovers else "not seen"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--nodes", default="1,2,3", help="PostgreSQL cluster sizes, e.g. 1,2,3")
    parser.add_argument("--no-pin", action="store_true", help="leave the nodes unpinned (the scheduler's choice)")
    parser.add_argument("--soak", type=int, default=0, metavar="ROUNDS", help="the kill soak, this many rounds")
    parser.add_argument("--load", type=float, default=30.0, help="seconds of load per soak round")
    args = parser.parse_args()
    if args.soak:
        soak_rounds(args.soak, args.load)
        return
    folder = Path(tempfile.mkdtemp(prefix="cumulo-bench-scale-"))
    cpus = sorted(os.sched_getaffinity(0))

    def pins(i: int, n: int) -> list[int] | None:
        return None if args.no_pin else node_cpus(i, n, cpus)
    results: dict[str, Any] = {}
    queue_results: dict[str, Any] = {}

    home = folder / "sqlite"
    with pinned(pins(0, 1)):
        node = CumuloServer(home, "--no-auth", timeout=180)
    try:
        def sqlite_pending() -> int:
            with sqlite3.connect(f"file:{home / 'queues.db'}?mode=ro", uri=True) as db:
                return int(db.execute("SELECT COUNT(*) FROM messages WHERE queue = '~async'").fetchone()[0])
        results["sqlite, 1 node"] = run("SQLite, 1 node", [node], args.events, sqlite_pending, None)
        queue_results["sqlite, 1 node"] = run_queue("SQLite, 1 node", [node], args.messages, None)
    finally:
        node.close()

    cluster = Cluster()
    try:
        import psycopg

        for count in [int(c) for c in args.nodes.split(",")]:
            url = cluster.fresh_database()
            nodes: list[CumuloServer] = []
            try:
                for i in range(count):
                    env = {"CUMULO_MASTER_KEY_FILE": str(folder / f"pg{count}-0" / "master.key")} if i else {}
                    with pinned(pins(i, count)):
                        nodes.append(CumuloServer(folder / f"pg{count}-{i}", "--no-auth", "--store", url,
                                                  timeout=180, env=env))
                if not args.no_pin:
                    print(f"{count} node(s) pinned to CPUs " + ", ".join(
                        "+".join(map(str, node_cpus(i, count, cpus))) for i in range(count))
                        + (" (more nodes than CPUs: some share one)" if count > len(cpus) else ""), flush=True)

                def pg_pending() -> int:
                    with psycopg.connect(url) as db:
                        row = db.execute("SELECT COUNT(*) FROM messages WHERE queue = '~async'").fetchone()
                        return int(row[0]) if row else 0
                label = f"PostgreSQL, {count} node{'s' if count > 1 else ''}"
                results[label] = run(label, nodes, args.events, pg_pending, cluster)
                queue_results[label] = run_queue(label, nodes, args.messages, cluster)
            finally:
                for n in nodes:
                    n.close()
    finally:
        cluster.stop()
    for what, table in (("events", results), ("messages", queue_results)):
        base = table["sqlite, 1 node"][0]
        for label, (rate, nodes_cpu, db_cpu) in table.items():
            print(f"{what:<9} {label:<28} {rate / base:5.2f}x SQLite's rate; "
                  f"projected {1 / (nodes_cpu + db_cpu):6.0f}/s per core")


if __name__ == "__main__":
    main()
