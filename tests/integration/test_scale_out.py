"""Two nodes on one PostgreSQL database (issue 26, docs/scale-out.md): real ``cumulo up`` processes
started with ``--store postgresql://…`` on the session's throw-away server, driven with boto3.

What a user of a cluster checks: what one node was given is seen and served by the other (the
function, its code, the queue, the keys); and when a node dies with ``kill -9`` in the middle of
its work, nothing acknowledged is lost — the other node takes the dead node's leases over once
they run out, and finishes every asynchronous event and hands back every leased message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.client import BaseClient

from tests.integration.test_server import CumuloServer, create, invoke, unique, zip_of

SLOW_HANDLER = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"n": event["n"]}
"""


@pytest.fixture
def nodes(postgres: Any, tmp_path: Path) -> Iterator[tuple[CumuloServer, CumuloServer]]:
    """Node A, then node B on the same database with A's master key (what a cluster's nodes share)."""
    url = postgres.fresh_database()
    a = CumuloServer(tmp_path / "a", "--store", url)
    try:
        b = CumuloServer(tmp_path / "b", "--store", url,
                         env={"CUMULO_MASTER_KEY_FILE": str(tmp_path / "a" / "master.key")})
    except BaseException:
        a.close()
        raise
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _received(sqs: BaseClient, url: str, want: int, timeout: float) -> list[dict[str, Any]]:
    """Receive (and delete) until ``want`` distinct bodies came, or the timeout passed."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len({m["Body"] for m in out}) < want and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        out.extend(got)
    return out


def test_what_one_node_was_given_the_other_serves(nodes: tuple[CumuloServer, CumuloServer]) -> None:
    a, b = nodes
    assert (a.key_id, a.secret) == (b.key_id, b.secret)           # one set of keys for the cluster
    name = unique("shared")
    create(a.client(), name, zip_of(**{"app.py": SLOW_HANDLER}))
    resp, payload = invoke(b.client(), name, {"n": 7})              # B fetched the code from the store
    assert resp["StatusCode"] == 200 and payload == {"n": 7}
    assert [f["FunctionName"] for f in b.client().list_functions()["Functions"]] == [name]
    url = a.aws("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    a.aws("sqs").send_message(QueueUrl=url, MessageBody="from a")
    got = b.aws("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in got] == ["from a"]


def test_objects_sessions_and_metrics_made_on_one_node_are_served_by_the_other(
        nodes: tuple[CumuloServer, CumuloServer]) -> None:
    """What a single server keeps in files of its home (objects' bodies, the STS key, metrics.db)
    is kept in the database on a cluster: nothing one node was given is missing on another."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    a, b = nodes
    s3_a, s3_b = a.aws("s3"), b.aws("s3")
    bucket = unique("bucket")
    s3_a.create_bucket(Bucket=bucket)
    big = os.urandom(3 * (1 << 20) + 12345)     # several of the database's chunks
    s3_a.put_object(Bucket=bucket, Key="big.bin", Body=big)
    got = s3_b.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == big and got["ContentLength"] == len(big)
    ranged = s3_b.get_object(Bucket=bucket, Key="big.bin", Range="bytes=1048570-1048585")["Body"].read()
    assert ranged == big[1048570:1048586]
    s3_b.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "big.bin"})
    assert s3_a.get_object(Bucket=bucket, Key="copy.bin")["Body"].read() == big
    s3_b.delete_object(Bucket=bucket, Key="big.bin")
    with pytest.raises(ClientError) as info:
        s3_a.get_object(Bucket=bucket, Key="big.bin")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"

    creds = a.aws("sts").get_session_token(DurationSeconds=900)["Credentials"]   # minted by A …
    sqs_b = boto3.session.Session().client(
        "sqs", endpoint_url=b.endpoint, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 0}))
    url = sqs_b.create_queue(QueueName=unique("by-session"))["QueueUrl"]        # … accepted by B
    assert a.aws("sqs").get_queue_url(QueueName=url.rsplit("/", 1)[1])["QueueUrl"].endswith(url.rsplit("/", 1)[1])
    forged = {**creds, "SessionToken": creds["SessionToken"][:-4] + ("AAAA" if not creds["SessionToken"].endswith(
        "AAAA") else "BBBB")}
    with pytest.raises(ClientError):
        boto3.session.Session().client(
            "sqs", endpoint_url=b.endpoint, region_name="us-east-1", aws_access_key_id=forged["AccessKeyId"],
            aws_secret_access_key=forged["SecretAccessKey"], aws_session_token=forged["SessionToken"],
            config=Config(retries={"max_attempts": 0})).list_queues()

    cw_a, cw_b = a.aws("cloudwatch"), b.aws("cloudwatch")
    namespace = unique("Shop")
    now = time.time()
    cw_a.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Orders", "Value": 3.0},
                                                          {"MetricName": "Orders", "Value": 4.0}])
    cw_b.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Orders", "Value": 5.0}])
    assert [m["MetricName"] for m in cw_b.list_metrics(Namespace=namespace)["Metrics"]] == ["Orders"]
    points = cw_a.get_metric_statistics(Namespace=namespace, MetricName="Orders", StartTime=now - 120,
                                        EndTime=now + 120, Period=60, Statistics=["Sum", "SampleCount"])["Datapoints"]
    assert (sum(p["Sum"] for p in points), sum(p["SampleCount"] for p in points)) == (12.0, 3.0)


def test_every_node_answers_the_health_probe_unsigned(nodes: tuple[CumuloServer, CumuloServer]) -> None:
    for node in nodes:                  # what load balancers and Kubernetes' probes ask (deploy/)
        with urllib.request.urlopen(node.endpoint + "/_cumulo/health", timeout=30) as resp:
            assert (resp.status, json.loads(resp.read())) == (200, {"status": "ok"})
    with pytest.raises(urllib.error.HTTPError) as info:       # the rest still wants a signature
        urllib.request.urlopen(nodes[0].endpoint + "/2015-03-31/functions/", timeout=30)
    info.value.close()
    assert info.value.code == 403


def test_cumulo_nodes_lists_the_live_nodes(nodes: tuple[CumuloServer, CumuloServer], tmp_path: Path) -> None:
    a, b = nodes
    store = next(arg for arg in a.proc.args[a.proc.args.index("--store") + 1:])   # type: ignore[union-attr]

    def listed() -> list[list[str]]:
        done = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(tmp_path / "cli"), "nodes"],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "CUMULO_STORE": store,
                                   "CUMULO_MASTER_KEY_FILE": str(tmp_path / "a" / "master.key")})
        assert done.returncode == 0, done.stderr
        header, *rows = done.stdout.splitlines()
        assert header.split("\t")[:2] == ["NODE", "ENDPOINT"]
        return [row.split("\t") for row in rows]

    assert sorted(row[1] for row in listed()) == sorted([a.endpoint, b.endpoint])
    a.stop()                                    # a node leaving (SIGTERM) takes its row away
    assert [row[1] for row in listed()] == [b.endpoint]


def test_a_reservation_holds_across_the_nodes(nodes: tuple[CumuloServer, CumuloServer], postgres: Any) -> None:
    """ReservedConcurrentExecutions 2 on a cluster of two: at most 2 run at once in all, whichever
    nodes the requests reach (each node holds a share of the limit; the rest are throttled)."""
    import psycopg
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    a, b = nodes
    url = a.proc.args[a.proc.args.index("--store") + 1]                  # type: ignore[union-attr]
    deadline = time.monotonic() + 60
    while True:     # until A has beaten since B joined: both count two nodes
        with psycopg.connect(url) as db:
            rows = db.execute("SELECT endpoint, started_ms, seen_ms FROM nodes").fetchall()
        seen = {r[0]: (r[1], r[2]) for r in rows}
        if len(seen) == 2 and seen[a.endpoint][1] > seen[b.endpoint][0] + 100:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)
    name = unique("reserved")
    create(a.client(), name, zip_of(**{"app.py": SLOW_HANDLER}), Timeout=30)
    a.client().put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    clients = [a.client(), b.client()] * 3

    def call(i: int) -> str:
        try:
            clients[i].invoke(FunctionName=name, Payload=json.dumps({"n": i, "sleep": 8}))
            return "ran"
        except ClientError as err:
            return err.response["Error"]["Code"]

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(call, range(6)))
    assert outcomes.count("ran") <= 2 and "ran" in outcomes, outcomes
    assert outcomes.count("TooManyRequestsException") == 6 - outcomes.count("ran"), outcomes


TIMED_HANDLER = """
import time

def handler(event, context):
    start = time.time()
    time.sleep(event.get("sleep", 0))
    return {"n": event["n"], "start": start, "end": time.time()}
"""


def test_a_busy_node_leases_most_of_a_reservation_and_the_sum_never_exceeds_it(
        nodes: tuple[CumuloServer, CumuloServer]) -> None:
    """ReservedConcurrentExecutions 10 on two nodes, all the load on node A and none on B: within
    a few heartbeats A holds most of the reservation (B keeps its minimum, 1), the shares held in
    the database never add up to more than 10, and no more than 10 invocations ever ran at once."""
    import psycopg
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    a, b = nodes
    url = a.proc.args[a.proc.args.index("--store") + 1]                  # type: ignore[union-attr]
    name = unique("demand")
    create(a.client(), name, zip_of(**{"app.py": TIMED_HANDLER}), Timeout=30)
    a.client().put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=10)
    stop = threading.Event()
    samples: list[dict[str, int]] = []
    ran: list[tuple[float, float]] = []

    def watch() -> None:
        with psycopg.connect(url, autocommit=True) as db:
            while not stop.is_set():
                rows = db.execute("SELECT n.endpoint, s.held FROM concurrency_shares s JOIN nodes n ON n.id = s.node "
                                  "WHERE s.pool = %s AND s.lim = 10", (name,)).fetchall()
                samples.append({r[0]: int(r[1]) for r in rows})
                time.sleep(0.1)

    def busy(i: int) -> None:
        client = a.client()
        while not stop.is_set():
            try:
                out = json.loads(client.invoke(FunctionName=name, Payload=json.dumps({"n": i, "sleep": 0.5}))
                                 ["Payload"].read())
                ran.append((out["start"], out["end"]))
            except ClientError as err:
                assert err.response["Error"]["Code"] == "TooManyRequestsException"
                time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    took = None
    with ThreadPoolExecutor(14) as pool:
        for i in range(14):
            pool.submit(busy, i)
        while time.monotonic() - started < 30:
            time.sleep(0.2)
            if samples and samples[-1].get(a.endpoint, 0) >= 9:
                took = time.monotonic() - started
                break
        time.sleep(3)                                   # A keeps its lease while busy
        held_busy = samples[-1]
        quiet = b.client().invoke(FunctionName=name, Payload=json.dumps({"n": -1}))    # B's minimum serves at once
        stop.set()
    watcher.join()
    assert took is not None, samples[-5:]
    assert took < 12, took                              # a few beats (2 s each)
    assert held_busy.get(a.endpoint) == 9 and held_busy.get(b.endpoint) == 1, held_busy
    assert quiet["StatusCode"] == 200
    assert max(sum(s.values()) for s in samples) <= 10, max(samples, key=lambda s: sum(s.values()))
    edges = sorted([(s, 1) for s, _ in ran] + [(e, -1) for _, e in ran])
    at_once, most = 0, 0
    for _, step in edges:
        at_once += step
        most = max(most, at_once)
    print(f"A held 9 of 10 after {took:.1f} s; at most {most} ran at once; most held in all "
          f"{max(sum(s.values()) for s in samples)}")
    assert 9 <= most <= 10, most                        # ran on A: more than its even half, never over the limit


def test_provisioned_concurrency_is_placed_across_the_nodes_and_handed_over_when_one_leaves(
        nodes: tuple[CumuloServer, CumuloServer]) -> None:
    """ProvisionedConcurrentExecutions 3 on a version, set through node A: the nodes together keep
    exactly 3 initialised environments (2 on one, 1 on the other, as their heartbeats report), any
    node answers READY with 3 allocated; node B stops (SIGTERM) and A takes B's part over (3 on A)."""
    import psycopg

    a, b = nodes
    url = a.proc.args[a.proc.args.index("--store") + 1]                  # type: ignore[union-attr]
    name = unique("placed")
    create(a.client(), name, zip_of(**{"app.py": SLOW_HANDLER}), Timeout=30)
    version = a.client().publish_version(FunctionName=name)["Version"]
    a.client().put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                                  ProvisionedConcurrentExecutions=3)

    def placed() -> dict[str, int]:
        with psycopg.connect(url) as db:
            rows = db.execute("SELECT endpoint, load FROM nodes").fetchall()
        return {r[0]: int(json.loads(r[1]).get("provisioned", {}).get(f"{name}:{version}", 0)) for r in rows}

    def until(want: dict[str, int], timeout: float) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while (got := placed()) != want and time.monotonic() < deadline:
            time.sleep(0.25)
        return got

    both = until({a.endpoint: 2, b.endpoint: 1}, 60)
    if both != {a.endpoint: 2, b.endpoint: 1}:
        both = until({a.endpoint: 1, b.endpoint: 2}, 5)
    assert sorted(both.values()) == [1, 2], both                         # 3 in all, split over the nodes
    time.sleep(4)                                                        # two beats more: still 3, not 6
    assert sum(placed().values()) == 3, placed()
    for node in (a, b):
        doc = node.client().get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
        assert (doc["Status"], doc["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 3), doc
    assert json.loads(b.client().invoke(FunctionName=f"{name}:{version}",
                                        Payload=json.dumps({"n": 1}))["Payload"].read()) == {"n": 1}
    left = time.monotonic()
    b.stop()                                                             # leaving: its part goes to A
    assert until({a.endpoint: 3}, 60) == {a.endpoint: 3}
    print(f"provisioned 3 placed {both}; from B's SIGTERM, A held 3 in {time.monotonic() - left:.1f} s")


@pytest.mark.slow       # kill -9, and waits for the dead node's leases to run out
def test_a_node_killed_mid_work_loses_nothing(nodes: tuple[CumuloServer, CumuloServer]) -> None:
    a, b = nodes
    lam, sqs_a, sqs_b = a.client(), a.aws("sqs"), b.aws("sqs")
    name = unique("work")
    create(lam, name, zip_of(**{"app.py": SLOW_HANDLER}), Timeout=20)
    done = sqs_a.create_queue(QueueName=unique("done"))["QueueUrl"]
    done_arn = sqs_a.get_queue_attributes(QueueUrl=done, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": done_arn}})
    work = sqs_a.create_queue(QueueName=unique("work"), Attributes={"VisibilityTimeout": "3"})["QueueUrl"]

    events = 24
    for n in range(events):                     # every event acknowledged by node A (202)
        assert lam.invoke(FunctionName=name, InvocationType="Event",
                          Payload=json.dumps({"n": n, "sleep": 2}))["StatusCode"] == 202
    bodies = {f"m{i}" for i in range(10)}
    for body in sorted(bodies):
        sqs_a.send_message(QueueUrl=work, MessageBody=body)
    leased = sqs_a.receive_message(QueueUrl=work, MaxNumberOfMessages=10)["Messages"]   # a consumer on A
    assert {m["Body"] for m in leased} == bodies

    deadline = time.monotonic() + 60            # A is at work: events are running on the nodes
    while int(sqs_b.get_queue_attributes(QueueUrl=done, AttributeNames=["ApproximateNumberOfMessages"])
              ["Attributes"]["ApproximateNumberOfMessages"]) == 0:
        assert time.monotonic() < deadline, a.output + b.output
        time.sleep(0.1)
    assert a.stop(signal.SIGKILL) == -signal.SIGKILL

    # B finishes every event, those A held included once their leases ran out (30 s) …
    records = _received(sqs_b, done, events, timeout=150)
    finished = [json.loads(m["Body"])["requestPayload"]["n"] for m in records]
    assert set(finished) == set(range(events)), f"lost: {sorted(set(range(events)) - set(finished))}\n{b.output}"
    # … and hands back every message A's consumer had leased, received a second time
    again = _received(sqs_b, work, len(bodies), timeout=30)
    assert {m["Body"] for m in again} == bodies
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= 2 for m in again)


class _Stalling:
    """A node's target router whose next send first waits until ``go`` is set: a scheduler that
    stalls in the middle of a fire (a long GC pause, a frozen VM) past its lease."""

    def __init__(self, targets: Any) -> None:
        self._targets, self.stalled, self.go = targets, threading.Event(), threading.Event()

    def send(self, target: Any, message: Any) -> Any:
        if not self.go.is_set():
            self.stalled.set()
            self.go.wait(60)
        return self._targets.send(target, message)


def test_a_schedule_fires_once_per_period_on_three_nodes(postgres: Any, tmp_path: Path) -> None:
    """rate(1 minute) on three nodes sharing one database, on an injected clock: each period's fire
    is committed exactly once — also when the leader stalls mid-fire past its lease and the next
    leader fires the same period, and for a scheduled rule's targets."""
    from cumulo import Cumulo
    from cumulo.events.bus import DELIVERIES_QUEUE
    from cumulo.model.queue import ASYNC_QUEUE
    from cumulo.sources.schedules import Scheduler

    from tests.unit.fakes import FakeClock

    url = postgres.fresh_database()
    clock = FakeClock(1_800_000_000.0)
    key = str(tmp_path / "n0" / "master.key")
    nodes = [Cumulo(home=tmp_path / "n0", store=url, clock=clock)]
    try:
        nodes += [Cumulo(home=tmp_path / f"n{i}", store=url, master_key_file=key, clock=clock) for i in (1, 2)]
        code = tmp_path / "code"
        code.mkdir()
        (code / "app.py").write_text("def handler(event, context):\n    return event\n")
        nodes[0].create_function("tick", code, "app.handler")
        fn = nodes[0].arns.function("tick")
        nodes[0].schedules_service.create("every-minute", "rate(1 minute)", fn)
        nodes[0].event_bus.put_rule("minutely", schedule_expression="rate(1 minute)")
        nodes[0].event_bus.put_targets("minutely", None, [{"Id": "t", "Arn": fn}])
        stalling = _Stalling(nodes[0].targets)
        schedulers = [Scheduler(c.schedules_service, c.store, c.messages.leases, stalling if i == 0 else c.targets,
                                c.event_bus.fire_rule, c.arns, clock) for i, c in enumerate(nodes)]
        stalling.go.set()

        def committed() -> tuple[int, int]:
            """(async events, rule deliveries) committed so far (no worker runs: they stay)."""
            queues = nodes[1].messages.queues
            return queues.counts(ASYNC_QUEUE, clock.ms())[0], queues.counts(DELIVERIES_QUEUE, clock.ms())[0]

        def all_tick() -> None:
            """Every node's scheduler looks at once, twice (as their threads do each TICK_S)."""
            start = threading.Barrier(len(schedulers))

            def run(s: Scheduler) -> None:
                start.wait(30)
                s.tick()
                s.tick()
            threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)

        for period in range(1, 6):
            clock.advance(60)
            all_tick()
            assert committed() == (period, period)

        # the leader stalls inside period 6's fire; the lease runs out, another node takes it and fires
        clock.advance(60)
        stalling.go.clear()
        leader = threading.Thread(target=schedulers[0].tick)
        schedulers[0]._leader = False               # it asks for the lease again, and gets it (expired)
        clock.advance(Scheduler.LEASE_MS / 1000 + 1)
        leader.start()
        assert stalling.stalled.wait(30)
        clock.advance(Scheduler.LEASE_MS / 1000 + 1)
        for s in schedulers[1:]:
            s.tick()
        assert committed() == (6, 6)
        stalling.go.set()                            # the stalled leader wakes and sends the same fire
        leader.join(60)
        assert committed() == (6, 6)
        clock.advance(60)
        all_tick()
        assert committed() == (7, 7)
    finally:
        for c in nodes:
            c.close()


@pytest.mark.slow       # three nodes, 20 s of load, then waits for the dead node's leases to run out
def test_three_nodes_under_load_lose_nothing_when_one_is_killed(postgres: Any, tmp_path: Path) -> None:
    """The kill soak (tests/scale_soak.py): async invokes, queue messages and Standard executions
    through three nodes, one killed with kill -9 mid-load; every acknowledged event finishes, every
    acknowledged message is done by the survivors, and every started execution succeeds. Rates and the takeover time are bench/scale_out.py's."""
    from tests.scale_soak import soak, start_nodes

    url = postgres.fresh_database()
    nodes = start_nodes(url, tmp_path, 3)
    try:
        report = soak(url, nodes, load_s=20.0, kill_after_s=8.0)
    finally:
        for node in nodes:
            node.close()
    summary = "\n".join(report.lines())
    print(summary)
    assert report.events_acked > 0 and report.messages_acked > 0, summary
    assert report.events_lost == [] and report.messages_lost == [], summary
    assert report.executions_acked > 0 and report.executions_lost == [], summary     # Standard ones resumed
