"""The core promise: nothing accepted is lost when the server dies with SIGKILL.

A real ``cumulo up`` is killed mid-stream, restarted on the same home and ports,
and every event it acknowledged (an async invoke's 202, a SendMessage's
MessageId, a PutRecord's sequence number, a PutEvents entry's EventId) must be processed at least once afterwards; every message must be
accounted for (processed and deleted, none left behind).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from tests.integration.test_server import CumuloServer, create, unique, zip_of
from tests.integration.test_sqs import sqs_client
from tests.integration.test_stepfunctions import states_role

pytestmark = pytest.mark.slow

SLOW_RECORDER = """
import json, os, time, boto3
from botocore.config import Config
sqs = boto3.client("sqs", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"],
                   config=Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=5))
def handler(event, context):
    records = event.get("Records", [])
    # a stream's records go one at a time per shard, a second each: work sent before the kill is
    # still in flight then, however slowly the sends go on a loaded machine
    time.sleep(1.0 if any("kinesis" in r for r in records) else 0.2)
    import base64
    items = ([r["body"] if "body" in r else base64.b64decode(r["kinesis"]["data"]).decode() for r in records]
             if "Records" in event else [event["id"]])
    sqs.send_message_batch(QueueUrl=os.environ["SEEN"], Entries=[
        {"Id": str(i), "MessageBody": item} for i, item in enumerate(items)])
    return {"ok": True}
"""


def kinesis_client(server: CumuloServer) -> BaseClient:
    return server.aws("kinesis", connect_timeout=2)


def events_client(server: CumuloServer) -> BaseClient:
    return server.aws("events", connect_timeout=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(home: Path, port: int, gateway: int) -> CumuloServer:
    return CumuloServer(home, "--port", str(port), "--gateway-port", str(gateway))


def seen_ids(sqs: BaseClient, url: str, wanted: set[str], timeout: float) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            seen.add(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return seen


def test_kill_9_loses_no_accepted_event_or_message(tmp_path: Path) -> None:
    home, port, gateway = tmp_path / "home", free_port(), free_port()
    srv = start(home, port, gateway)
    try:
        lam, sqs = srv.client(), sqs_client(srv)
        seen = sqs.create_queue(QueueName=unique("seen"))["QueueUrl"]
        source = sqs.create_queue(QueueName=unique("src"), Attributes={"VisibilityTimeout": "3"})["QueueUrl"]
        source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        name = unique("durable")
        create(lam, name, zip_of(**{"app.py": SLOW_RECORDER}), Timeout=3, Environment={"Variables": {
            "ENDPOINT": srv.endpoint, "KEY": srv.key_id, "SECRET": srv.secret, "SEEN": seen}})
        lam.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=5)
        bus = events_client(srv)
        bus.put_rule(Name="to-seen", EventPattern=json.dumps({"source": ["durable"]}))
        bus.put_targets(Rule="to-seen", Targets=[{"Id": "seen", "Arn": sqs.get_queue_attributes(
            QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"], "InputPath": "$.detail.id"}])
        kinesis = kinesis_client(srv)
        kinesis.create_stream(StreamName="durable", ShardCount=2)
        stream_arn = kinesis.describe_stream(StreamName="durable")["StreamDescription"]["StreamARN"]
        lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name, BatchSize=1,
                                        StartingPosition="TRIM_HORIZON")

        accepted: set[str] = set()

        def send(i: int, client: BaseClient, queue_client: BaseClient, stream_client: BaseClient,
                 bus_client: BaseClient) -> None:
            try:
                result = bus_client.put_events(Entries=[{"Source": "durable", "DetailType": "t",
                                                         "Detail": json.dumps({"id": f"bus-{i}"})}])
                if result["FailedEntryCount"] == 0:
                    accepted.add(f'"bus-{i}"')       # InputPath delivers the JSON string
            except (BotoCoreError, ClientError):
                pass
            try:
                client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"id": f"event-{i}"}))
                accepted.add(f"event-{i}")
            except (BotoCoreError, ClientError):
                pass         # not acknowledged: not promised
            try:
                queue_client.send_message(QueueUrl=source, MessageBody=f"message-{i}")
                accepted.add(f"message-{i}")
            except (BotoCoreError, ClientError):
                pass
            try:
                stream_client.put_record(StreamName="durable", Data=f"record-{i}".encode(), PartitionKey=str(i))
                accepted.add(f"record-{i}")
            except (BotoCoreError, ClientError):
                pass

        for i in range(60):
            send(i, lam, sqs, kinesis, bus)
        srv.proc.send_signal(signal.SIGKILL)      # mid-stream: events and batches are in flight
        srv.proc.wait(10)
        assert len(accepted) == 240
        for i in range(60, 70):                 # the server is down: nothing is acknowledged
            send(i, lam, sqs, kinesis, bus)
        assert len(accepted) == 240
        srv.close()

        srv = start(home, port, gateway)
        lam, sqs, kinesis, bus = srv.client(), sqs_client(srv), kinesis_client(srv), events_client(srv)
        done_before = int(sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
        assert done_before < 240, "the kill came too late to catch work in flight"
        for i in range(70, 100):
            send(i, lam, sqs, kinesis, bus)
        assert len(accepted) == 360
        processed = seen_ids(sqs, seen, accepted, timeout=120)
        assert accepted - processed == set(), f"lost: {sorted(accepted - processed)[:10]}"
        # every message is accounted for: processed and deleted from the source queue
        deadline = time.monotonic() + 15
        counts: dict[str, Any] = {}
        while time.monotonic() < deadline:
            counts = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            if counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}:
                break
            time.sleep(0.2)
        assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    finally:
        srv.close()


SLEEPER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"slept": event.get("sleep", 0), "n": event.get("n")}
"""


def test_standard_executions_resume_after_kill_9(tmp_path: Path) -> None:
    home, port, gateway = tmp_path / "home", free_port(), free_port()
    srv = start(home, port, gateway)
    try:
        lam = srv.client()
        fn_arn = create(lam, unique("sleeper"), zip_of(**{"app.py": SLEEPER}), Timeout=10)["FunctionArn"]
        sfn = srv.aws("stepfunctions")
        role = states_role(sfn)
        machine = sfn.create_state_machine(name="durable", roleArn=role,
                                           definition=json.dumps({"StartAt": "Wait", "States": {
                                               "Wait": {"Type": "Wait", "Seconds": 10, "Next": "Work"},
                                               "Work": {"Type": "Task", "Resource": fn_arn, "End": True}}}))
        waiting = [sfn.start_execution(stateMachineArn=machine["stateMachineArn"],
                                       input=json.dumps({"n": i}))["executionArn"] for i in range(5)]
        started = time.monotonic()
        working = sfn.create_state_machine(name="working", roleArn=role,
                                           definition=json.dumps({"StartAt": "Work", "States": {
                                               "Work": {"Type": "Task", "Resource": fn_arn, "End": True}}}))
        in_flight = sfn.start_execution(stateMachineArn=working["stateMachineArn"],
                                        input=json.dumps({"sleep": 3, "n": "x"}))["executionArn"]
        time.sleep(3.0)                               # the waits are under way, the task is running
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        srv.close()
        srv = start(home, port, gateway)
        restarted = datetime.now(timezone.utc)
        sfn = srv.aws("stepfunctions")
        results = {}
        deadline = time.monotonic() + 60
        for arn in waiting + [in_flight]:
            while time.monotonic() < deadline:
                desc = sfn.describe_execution(executionArn=arn)
                if desc["status"] != "RUNNING":
                    results[arn] = desc
                    break
                time.sleep(0.1)
        assert [results[a]["status"] for a in waiting + [in_flight]] == ["SUCCEEDED"] * 6
        assert sorted(json.loads(results[a]["output"])["n"] for a in waiting) == [0, 1, 2, 3, 4]
        # the waits kept their deadline, 10 s after they started, not 10 s after the restart (at least
        # 3 s later): each left its Wait state before the restart's 10 s were over
        for arn in waiting:
            events = sfn.get_execution_history(executionArn=arn)["events"]
            exited = next(e["timestamp"] for e in events if e["type"] == "WaitStateExited")
            assert exited < restarted + timedelta(seconds=9.5), (exited, restarted)
        assert time.monotonic() - started >= 10
        assert json.loads(results[in_flight]["output"]) == {"slept": 3, "n": "x"}   # the task ran again
        history = sfn.get_execution_history(executionArn=waiting[0])["events"]
        assert [e["type"] for e in history][0] == "ExecutionStarted" and history[-1]["type"] == "ExecutionSucceeded"
    finally:
        srv.close()


def test_a_standard_map_killed_midway_resumes_keeping_every_acknowledged_iteration(tmp_path: Path) -> None:
    """A Map over 40 items of function tasks, the server killed once some iterations are in the
    history: what DescribeExecution and GetExecutionHistory had shown (the execution, each
    iteration that had succeeded) is there after the restart, and the execution ends with every
    task's result in its place (the snapshot a step stores holds the Map's items and results)."""
    home, port, gateway = tmp_path / "home", free_port(), free_port()
    srv = start(home, port, gateway)
    try:
        lam = srv.client()
        fn_arn = create(lam, unique("sleeper"), zip_of(**{"app.py": SLEEPER}), Timeout=10)["FunctionArn"]
        sfn = srv.aws("stepfunctions")
        machine = sfn.create_state_machine(name="mapped", roleArn=states_role(sfn), definition=json.dumps({
            "StartAt": "Fan", "States": {"Fan": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3, "End": True,
                "ItemSelector": {"sleep": 0.3, "n.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "Work", "States": {
                    "Work": {"Type": "Task", "Resource": fn_arn, "ResultPath": "$.result", "End": True}}}}}}))
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"],
                                  input=json.dumps({"items": [f"item-{i}" for i in range(40)]}))["executionArn"]
        deadline = time.monotonic() + 60
        while True:                                   # some iterations acknowledged, most still to run
            done_before = {e["id"] for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                           if e["type"] == "MapIterationSucceeded"}
            if len(done_before) >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        srv.close()
        assert 4 <= len(done_before) < 30, "the kill came too late to catch the Map midway"
        srv = start(home, port, gateway)
        sfn = srv.aws("stepfunctions")
        deadline = time.monotonic() + 120
        while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING" and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert desc["status"] == "SUCCEEDED", desc
        # each result beside its own iteration's input (an iteration running at the kill is restored
        # with its input, then its task runs again)
        assert json.loads(desc["output"]) == [{"sleep": 0.3, "n": f"item-{i}", "result": {"slept": 0.3, "n": f"item-{i}"}}
                                              for i in range(40)]
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        assert done_before <= {e["id"] for e in events if e["type"] == "MapIterationSucceeded"}
        assert sorted(e["mapIterationSucceededEventDetails"]["index"] for e in events
                      if e["type"] == "MapIterationSucceeded") == list(range(40))
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    finally:
        srv.close()


def test_kill_9_keeps_every_table_write_with_exactly_its_stream_record(tmp_path: Path) -> None:
    """Items and their stream records commit together: killed while writers are busy, the restarted
    server holds each acknowledged item, and for every item (acknowledged or caught in flight) exactly
    one INSERT record, and no record without its item."""
    import threading

    home, port, gateway = tmp_path / "home", free_port(), free_port()
    srv = start(home, port, gateway)
    ddb = srv.aws("dynamodb", connect_timeout=2)
    ddb.create_table(TableName="ledger", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    acknowledged: set[str] = set()
    stop = threading.Event()

    def writer(w: int) -> None:
        client = srv.aws("dynamodb", connect_timeout=2)
        i = 0
        while not stop.is_set():
            try:
                client.put_item(TableName="ledger", Item={"id": {"S": f"{w}-{i}"}})
                acknowledged.add(f"{w}-{i}")
            except (BotoCoreError, ClientError):
                return
            i += 1

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in writers:
        t.start()
    while len(acknowledged) < 300:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    stop.set()
    for t in writers:
        t.join(30)
    srv.close()
    srv = start(home, port, gateway)
    try:
        ddb = srv.aws("dynamodb", connect_timeout=2)
        items, start_key = set(), None
        while True:
            page = ddb.scan(TableName="ledger", **({"ExclusiveStartKey": start_key} if start_key else {}))
            items |= {i["id"]["S"] for i in page["Items"]}
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                break
        assert acknowledged <= items
        streams = srv.aws("dynamodbstreams", connect_timeout=2)
        arn = ddb.describe_table(TableName="ledger")["Table"]["LatestStreamArn"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardIteratorType="TRIM_HORIZON", ShardId=streams.describe_stream(
            StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"])["ShardIterator"]
        keys: list[str] = []
        while True:
            got = streams.get_records(ShardIterator=iterator, Limit=1000)
            keys += [r["dynamodb"]["Keys"]["id"]["S"] for r in got["Records"]]
            if not got["Records"]:
                break
            iterator = got["NextShardIterator"]
        assert sorted(keys) == sorted(items)          # one record per item, none without its item
    finally:
        srv.close()
