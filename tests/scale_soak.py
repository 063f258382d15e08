"""The kill soak of a cluster (issue 26, docs/scale-out.md): ``nodes`` real ``cumulo up`` on one
PostgreSQL database under steady load, one of them killed with ``kill -9`` in the middle of it.

The load, through every live node in turn:
- asynchronous invokes (``InvocationType=Event``) of a function that works a little and whose
  OnSuccess destination is a queue: an event is *acknowledged* when Invoke answered 202, and
  *finished* when its success record is in that queue;
- queue messages: producers send to a work queue (acknowledged: SendMessage answered), consumers
  (one per node, through that node) receive, work and delete; a consumer whose node is killed
  dies with it, and what it had received comes back to the others when its visibility runs out;
- Standard executions of a state machine (a Task invoking the function, a 1 s Wait, Succeed):
  *acknowledged* when StartExecution answered, *finished* when DescribeExecution (through a live
  node) says SUCCEEDED. The state-machine engine runs on the node holding its lease; when that
  node is the one killed, another takes the lease over (10 s) and resumes the executions from their
  last committed step.

After the kill the load goes on through the survivors for a while, then stops; the soak waits
until every acknowledged event has a success record and every acknowledged message was deleted
by a consumer (or a deadline passes), and reports what was lost (acknowledged, never finished),
what ran more than once (at-least-once delivery: reported, allowed), the rates before and after
the kill, and the takeover time: from the kill until every async event and queue message that was
leased at that moment is either finished or leased again (a dead node's leases run out and a
survivor takes them).

``tests/integration/test_scale_out.py`` runs it briefly and asserts nothing lost;
``bench/scale_out.py --soak`` runs it longer and prints the numbers.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.test_server import CumuloServer, zip_of

WORK = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0.05))
    return {"n": event["n"]}
"""
VISIBILITY_S = 5        # the work queue's visibility timeout: a dead consumer's messages come back after it


@dataclass
class Report:
    events_acked: int = 0
    events_finished: int = 0
    events_lost: list[int] = field(default_factory=list)
    events_duplicated: int = 0
    messages_acked: int = 0
    messages_done: int = 0
    messages_lost: list[str] = field(default_factory=list)
    messages_duplicated: int = 0
    messages_deleted_unanswered: int = 0   # deleted by the killed node's consumer, the answer lost with it
    executions_acked: int = 0
    executions_succeeded: int = 0
    executions_lost: list[str] = field(default_factory=list)     # acknowledged, not SUCCEEDED at the end
    executions_failed: dict[str, str] = field(default_factory=dict)   # arn -> status, among the lost
    rate_before: float = 0.0       # events + messages finished per second, before the kill
    rate_after: float = 0.0        # … and after it (survivors only)
    takeover_s: float | None = None
    drain_s: float = 0.0           # from the end of the load until all acknowledged work finished
    killed: str = ""
    engine_killed: bool = False    # the killed node held the state-machine engine's lease
    log: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"killed {self.killed}" + (", the state-machine engine's node" if self.engine_killed else ""),
                f"async events: {self.events_acked} acknowledged, {self.events_finished} finished, "
                f"{len(self.events_lost)} lost, {self.events_duplicated} ran more than once",
                f"queue messages: {self.messages_acked} acknowledged, {self.messages_done} done, "
                f"{len(self.messages_lost)} lost, {self.messages_duplicated} received more than once"
                + (f", {self.messages_deleted_unanswered} deleted by the killed node's consumer as it died "
                   "(the delete committed, its answer lost)" if self.messages_deleted_unanswered else ""),
                f"Standard executions: {self.executions_acked} acknowledged, {self.executions_succeeded} "
                f"succeeded, {len(self.executions_lost)} not" + (
                    f" ({', '.join(sorted(set(self.executions_failed.values())))})" if self.executions_failed else ""),
                f"finished per second: {self.rate_before:.1f} before the kill, {self.rate_after:.1f} after",
                f"takeover (every lease the dead node held taken over or finished): "
                + (f"{self.takeover_s:.1f} s" if self.takeover_s is not None else "not seen"),
                f"drain after the load stopped: {self.drain_s:.1f} s"]


def start_nodes(url: str, folder: Path, count: int) -> list[CumuloServer]:
    nodes: list[CumuloServer] = []
    try:
        for i in range(count):
            env = {"CUMULO_MASTER_KEY_FILE": str(folder / "n0" / "master.key")} if i else {}
            nodes.append(CumuloServer(folder / f"n{i}", "--store", url, timeout=180, env=env))
    except BaseException:
        for n in nodes:
            n.close()
        raise
    return nodes


def soak(url: str, nodes: list[CumuloServer], load_s: float = 20.0, kill_after_s: float = 8.0,
         deadline_s: float = 240.0, seed: int | None = None) -> Report:
    """Run the load on ``nodes`` (on the database ``url``) for ``load_s``, kill one at random after
    ``kill_after_s``, and wait for the acknowledged work to finish (up to ``deadline_s``)."""
    import psycopg

    rng = random.Random(seed)
    report = Report()
    first = nodes[0]
    lam, sqs = first.client(), first.aws("sqs")
    name = f"soak{int(time.time() * 1000) % 10**6}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/soak",
                        Handler="app.handler", Code={"ZipFile": zip_of(**{"app.py": WORK})}, Timeout=5)
    done_url = sqs.create_queue(QueueName=f"{name}-done")["QueueUrl"]
    done_arn = sqs.get_queue_attributes(QueueUrl=done_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2,
                                         DestinationConfig={"OnSuccess": {"Destination": done_arn}})
    jobs_url = sqs.create_queue(QueueName=f"{name}-jobs",
                                Attributes={"VisibilityTimeout": str(VISIBILITY_S)})["QueueUrl"]
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    iam = first.aws("iam")
    role = iam.create_role(RoleName=f"{name}-flow", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{name}-flow", PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                "Resource": "*"}]}))
    machine_arn = first.aws("stepfunctions").create_state_machine(
        name=f"{name}-flow", roleArn=role, type="STANDARD",
        definition=json.dumps({"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": fn_arn, "Parameters": {"n.$": "$.n"}, "TimeoutSeconds": 30,
                     "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    for node in nodes:                                   # warm: every node has run it once
        node.client().invoke(FunctionName=name, Payload=json.dumps({"n": -1}))

    lock = threading.Lock()
    alive = list(range(len(nodes)))
    acked_events: set[int] = set()
    acked_messages: set[str] = set()
    acked_executions: set[str] = set()
    done_messages: dict[str, int] = {}
    deleting: dict[str, int] = {}        # body -> the consumer that last sent its delete (work done)
    finished_at: list[float] = []        # when each message was done (events: counted from records)
    stop = threading.Event()
    victim = rng.randrange(len(nodes))
    clients = [(n.client(read_timeout=30, connect_timeout=5), n.aws("sqs", read_timeout=30, connect_timeout=5))
               for n in nodes]
    flows = [n.aws("stepfunctions", read_timeout=30, connect_timeout=5) for n in nodes]

    def pick(k: int) -> int:
        with lock:
            return alive[k % len(alive)]

    def send_events(offset: int) -> None:
        k = offset
        while not stop.is_set():
            n = k * 4 + offset
            k += 1
            try:
                status = clients[pick(k)][0].invoke(FunctionName=name, InvocationType="Event",
                                                    Payload=json.dumps({"n": n}))["StatusCode"]
            except Exception:
                continue        # not acknowledged (the node died under it): not counted
            if status == 202:
                with lock:
                    acked_events.add(n)
            time.sleep(0.02)

    def send_messages(offset: int) -> None:
        k = 0
        while not stop.is_set():
            body = f"m{offset}-{k}"
            k += 1
            try:
                clients[pick(k)][1].send_message(QueueUrl=jobs_url, MessageBody=body)
            except Exception:
                continue
            with lock:
                acked_messages.add(body)
            time.sleep(0.02)

    def start_executions() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            try:
                arn = flows[pick(k)].start_execution(stateMachineArn=machine_arn,
                                                     input=json.dumps({"n": 10**6 + k}))["executionArn"]
            except Exception:
                continue
            with lock:
                acked_executions.add(arn)
            time.sleep(0.1)

    def unfinished_executions() -> dict[str, str]:
        """Acknowledged executions not SUCCEEDED (asked through a live node): arn -> status."""
        with lock:
            arns = sorted(acked_executions)
        out: dict[str, str] = {}
        client = flows[pick(0)]
        for arn in arns:
            try:
                status = client.describe_execution(executionArn=arn)["status"]
            except Exception as exc:
                status = type(exc).__name__
            if status != "SUCCEEDED":
                out[arn] = status
        return out

    consumers_stop = threading.Event()

    def consume(i: int) -> None:
        client = clients[i][1]
        while not consumers_stop.is_set():
            with lock:
                if i not in alive:
                    return                      # it died with its node
            try:
                got = client.receive_message(QueueUrl=jobs_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:
                continue
            for m in got.get("Messages", []):
                time.sleep(0.01)                # the work
                with lock:
                    deleting[m["Body"]] = i
                try:
                    client.delete_message(QueueUrl=jobs_url, ReceiptHandle=m["ReceiptHandle"])
                except Exception:
                    continue                    # not deleted: it comes back, to be done again
                with lock:
                    done_messages[m["Body"]] = done_messages.get(m["Body"], 0) + 1
                    finished_at.append(time.monotonic())

    records: dict[int, int] = {}
    record_times: list[float] = []

    def collect(timeout: float) -> None:
        """Drain the success records (through a live node) for up to ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            client = clients[pick(0)][1]
            try:
                got = client.receive_message(QueueUrl=done_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:
                continue
            msgs = got.get("Messages", [])
            for m in msgs:
                n = json.loads(m["Body"])["requestPayload"]["n"]
                records[n] = records.get(n, 0) + 1
                record_times.append(time.monotonic())
                try:
                    client.delete_message(QueueUrl=done_url, ReceiptHandle=m["ReceiptHandle"])
                except Exception:
                    pass
            if not msgs:
                return

    collector_stop = threading.Event()

    def collector() -> None:
        while not collector_stop.is_set():
            collect(1.0)
            collector_stop.wait(0.2)

    threads = [threading.Thread(target=send_events, args=(k,), daemon=True) for k in range(4)]
    threads += [threading.Thread(target=send_messages, args=(k,), daemon=True) for k in range(2)]
    threads += [threading.Thread(target=start_executions, daemon=True)]
    consumers = [threading.Thread(target=consume, args=(i,), daemon=True) for i in range(len(nodes))]
    gather = threading.Thread(target=collector, daemon=True)
    started = time.monotonic()
    for t in threads + consumers + [gather]:
        t.start()

    time.sleep(kill_after_s)
    with psycopg.connect(url) as db:           # what is leased at the kill, and how often received
        kill_ms = int(time.time() * 1000)
        leased = dict(db.execute("SELECT seq, receives FROM messages WHERE visible_ms > %s AND receives > 0 "
                                 "AND queue IN ('~async', %s)", (kill_ms, f"{name}-jobs")).fetchall())
        engine = db.execute("SELECT owner FROM leases WHERE name = 'states-engine'").fetchone()
    report.engine_killed = engine is not None and engine[0].split("|")[1] == str(nodes[victim].proc.pid)
    with lock:
        alive.remove(victim)
    killed_at = time.monotonic()
    nodes[victim].stop(signal.SIGKILL)
    report.killed = f"node {victim} ({nodes[victim].endpoint}) after {kill_after_s:.0f} s"

    def taken_over() -> bool:
        with psycopg.connect(url) as db:
            rows = db.execute("SELECT seq, receives FROM messages WHERE seq = ANY(%s)",
                              (list(leased),)).fetchall()
        return all(receives > leased[seq] for seq, receives in rows)     # gone: finished

    while time.monotonic() - started < load_s:
        if report.takeover_s is None and taken_over():
            report.takeover_s = time.monotonic() - killed_at
        time.sleep(0.25)
    stop.set()
    for t in threads:
        t.join(60)
    load_end = time.monotonic()

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if report.takeover_s is None and taken_over():
            report.takeover_s = time.monotonic() - killed_at
        with lock:
            finished = acked_events <= set(records) and acked_messages <= set(done_messages) | {
                b for b, by in deleting.items() if by == victim}
        if finished and report.takeover_s is not None and not unfinished_executions():
            break
        time.sleep(0.5)
    consumers_stop.set()
    collector_stop.set()
    for t in consumers + [gather]:
        t.join(60)
    collect(3.0)                               # the last records, and any duplicate late ones
    report.drain_s = time.monotonic() - load_end
    unfinished = unfinished_executions()

    with lock:
        report.events_acked, report.messages_acked = len(acked_events), len(acked_messages)
        report.events_finished = len(acked_events & set(records))
        report.events_lost = sorted(acked_events - set(records))
        report.events_duplicated = sum(1 for n, c in records.items() if c > 1)
        report.messages_done = len(acked_messages & set(done_messages))
        unanswered = sorted(b for b in acked_messages - set(done_messages) if deleting.get(b) == victim)
    sentinel = f"sentinel-{name}"           # a message left in the queue: the check below must find it
    clients[pick(0)][1].send_message(QueueUrl=jobs_url, MessageBody=sentinel)
    with psycopg.connect(url) as db:        # a delete the dead node committed: its row is gone
        still = {bytes(r[0]).decode() for r in db.execute(
            "SELECT body FROM messages WHERE queue = %s AND body = ANY(%s)",
            (f"{name}-jobs", [b.encode() for b in [*unanswered, sentinel]])).fetchall()}
    with lock:
        gone = [b for b in unanswered if b not in still] if sentinel in still else []
        report.messages_deleted_unanswered = len(gone)
        report.messages_lost = sorted(acked_messages - set(done_messages) - set(gone))
        report.messages_duplicated = sum(1 for c in done_messages.values() if c > 1)
        report.executions_acked = len(acked_executions)
        report.executions_lost = sorted(unfinished)
        report.executions_succeeded = report.executions_acked - len(unfinished)
        report.executions_failed = {a: s for a, s in unfinished.items() if s not in ("RUNNING",)}
        times = sorted(record_times + finished_at)
    before = [t for t in times if started + 2 <= t < killed_at]
    after = [t for t in times if killed_at <= t < load_end]
    report.rate_before = len(before) / max(killed_at - started - 2, 1e-9)
    report.rate_after = len(after) / max(load_end - killed_at, 1e-9)
    return report
