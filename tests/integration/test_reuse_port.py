"""Several nodes of one PostgreSQL database on one machine, on the same ports (issue 27, ``cumulo up
--reuse-port``, docs/server.md): real ``cumulo up`` processes on the session's throw-away server,
driven with boto3 through the one endpoint they share.

What a user checks: every request to the shared port is answered, by both nodes (each has its own
event loop and environments); when one node dies with ``kill -9``, the port keeps answering and
no asynchronous invocation either node acknowledged is lost.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.test_scale_out import _received
from tests.integration.test_server import CumuloServer, create, invoke, lambda_client, unique, zip_of

# An id made at Init: one per execution environment, and environments are per node.
PER_ENVIRONMENT = """
import time, uuid

ENVIRONMENT = uuid.uuid4().hex

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"n": event.get("n"), "environment": ENVIRONMENT}
"""


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def shared(postgres: Any, tmp_path: Path) -> Iterator[tuple[CumuloServer, CumuloServer]]:
    """Nodes A and B on one database, both on the same API and gateway ports."""
    url = postgres.fresh_database()
    port, gateway_port = _free_ports(2)
    ports = ("--port", str(port), "--gateway-port", str(gateway_port), "--reuse-port")
    a = CumuloServer(tmp_path / "a", "--store", url, *ports)
    try:
        b = CumuloServer(tmp_path / "b", "--store", url, *ports,
                         env={"CUMULO_MASTER_KEY_FILE": str(tmp_path / "a" / "master.key")})
    except BaseException:
        a.close()
        raise
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_both_nodes_answer_on_the_shared_port(shared: tuple[CumuloServer, CumuloServer]) -> None:
    a, b = shared
    assert a.endpoint == b.endpoint
    name = unique("shared-port")
    create(a.client(), name, zip_of(**{"app.py": PER_ENVIRONMENT}))
    seen = set()
    for n in range(40):     # one request per connection: the kernel picks a node for each connection
        resp, payload = invoke(lambda_client(a.endpoint, a.key_id, a.secret), name, {"n": n})
        assert resp["StatusCode"] == 200 and payload["n"] == n
        seen.add(payload["environment"])
    # One at a time, a node reuses its one warm environment: two ids mean both nodes served.
    assert len(seen) >= 2, seen


def test_reuse_port_wants_a_shared_database(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(tmp_path / "h"), "up", "--port", "0",
                           "--gateway-port", "0", "--console-port", "-1", "--reuse-port"],
                          capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "CUMULO_STORE"})
    assert done.returncode == 2 and "--reuse-port" in done.stderr and "--store" in done.stderr, done.stderr


@pytest.mark.slow       # kill -9, and waits for the dead node's leases to run out (30 s)
def test_a_node_killed_on_the_shared_port_loses_no_acknowledged_event(
        shared: tuple[CumuloServer, CumuloServer]) -> None:
    a, b = shared
    lam, sqs = a.client(), a.aws("sqs")
    name = unique("killed")
    create(lam, name, zip_of(**{"app.py": PER_ENVIRONMENT}), Timeout=20)
    done = sqs.create_queue(QueueName=unique("done"))["QueueUrl"]
    done_arn = sqs.get_queue_attributes(QueueUrl=done, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": done_arn}})

    def send(n: int) -> bool:
        """One Event invoke on a connection of its own; True when acknowledged (202)."""
        try:
            status = lambda_client(a.endpoint, a.key_id, a.secret).invoke(
                FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n, "sleep": 1}))["StatusCode"]
        except Exception:
            return False    # in flight on the node killed: not acknowledged, the client's to retry
        assert status == 202
        return True

    acknowledged = [n for n in range(24) if send(n)]
    assert len(acknowledged) == 24
    deadline = time.monotonic() + 60            # the nodes are at work
    while int(sqs.get_queue_attributes(QueueUrl=done, AttributeNames=["ApproximateNumberOfMessages"])
              ["Attributes"]["ApproximateNumberOfMessages"]) == 0:
        assert time.monotonic() < deadline, a.output + b.output
        time.sleep(0.1)
    assert a.stop(signal.SIGKILL) == -signal.SIGKILL
    # The port keeps answering (B alone listens on it now), every new event acknowledged …
    after = [n for n in range(24, 36) if send(n)]
    assert after == list(range(24, 36))
    # … and every acknowledged event finishes, those A held included once their leases ran out.
    sqs_b = b.aws("sqs")
    records = _received(sqs_b, done, 36, timeout=150)
    finished = {json.loads(m["Body"])["requestPayload"]["n"] for m in records}
    assert finished == set(acknowledged + after), f"lost: {sorted(set(acknowledged + after) - finished)}\n{b.output}"
