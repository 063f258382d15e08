"""Streams through ``cumulo up``: boto3's ``kinesis`` client and stream event-source mappings."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Callable, Iterator

import pytest
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_async import drain, queue_arn
from tests.integration.test_server import CumuloServer, create, unique, zip_of
from tests.integration.test_sqs import sqs_client

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

# Records what it sees (decoded data, in order) and fails on any record whose data is "poison".
STREAM_RECORDER = """
import base64, json, os, boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"])
def handler(event, context):
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    sqs.send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps({"data": data, "event": event}))
    if "poison" in data:
        raise RuntimeError("poison record")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("streams") / "home", store=new_store())
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def kinesis(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.aws("kinesis")
    yield client
    client.close()


@pytest.fixture(scope="module")
def sqs(server: CumuloServer) -> Iterator[BaseClient]:
    client = sqs_client(server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def lam(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.client()
    yield client
    client.close()


def recorder(lam: BaseClient, sqs: BaseClient, server: CumuloServer) -> tuple[str, str]:
    seen = sqs.create_queue(QueueName=unique("seen"))["QueueUrl"]
    name = unique("srec")
    create(lam, name, zip_of(**{"app.py": STREAM_RECORDER}), Environment={"Variables": {
        "ENDPOINT": server.endpoint, "KEY": server.key_id, "SECRET": server.secret, "SEEN": seen}})
    return name, seen


def test_put_and_read_records_in_shard_order(kinesis: BaseClient) -> None:
    name = unique("s")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert desc["StreamStatus"] == "ACTIVE" and [s["ShardId"] for s in desc["Shards"]] == [
        "shardId-000000000000", "shardId-000000000001"]
    put = [kinesis.put_record(StreamName=name, Data=f"r{i}".encode(), PartitionKey="same-key") for i in range(5)]
    assert len({p["ShardId"] for p in put}) == 1                  # one key, one shard
    assert [int(p["SequenceNumber"]) for p in put] == sorted(int(p["SequenceNumber"]) for p in put)
    batch = kinesis.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(20)]
                                + [{"Data": b"y", "PartitionKey": "k", "ExplicitHashKey": "9" * 39}])  # past 2^128
    assert batch["FailedRecordCount"] == 1 and batch["Records"][-1]["ErrorCode"] == "InvalidArgumentException"
    assert len({r["ShardId"] for r in batch["Records"][:-1]}) == 2  # keys spread over both shards
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=put[0]["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it, Limit=5)
    assert [r["Data"] for r in got["Records"]] == [f"r{i}".encode() for i in range(5)]
    assert got["Records"][0]["PartitionKey"] == "same-key"
    after = kinesis.get_shard_iterator(StreamName=name, ShardId=put[0]["ShardId"],
                                       ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=put[2]["SequenceNumber"])["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=after, Limit=2)["Records"]] == [b"r3", b"r4"]
    latest = kinesis.get_shard_iterator(StreamName=name, ShardId=put[0]["ShardId"],
                                        ShardIteratorType="LATEST")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=latest)["Records"] == []
    with pytest.raises(ClientError) as info:
        kinesis.put_record(StreamName=unique("missing"), Data=b"x", PartitionKey="k")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    assert info.value.response["Error"]["Code"] == "ResourceInUseException"


def _seen(sqs: BaseClient, url: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in drain(sqs, url, count, timeout)]


def test_mapping_delivers_in_order_and_validates(lam: BaseClient, sqs: BaseClient, kinesis: BaseClient,
                                                 server: CumuloServer) -> None:
    name = unique("s")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="k")     # LATEST skips it
    fn, seen = recorder(lam, sqs, server)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST",
                                              BatchSize=4)
    assert mapping["StartingPosition"] == "LATEST" and mapping["BatchSize"] == 4
    time.sleep(0.7)
    for i in range(10):
        kinesis.put_record(StreamName=name, Data=f"m{i}".encode(), PartitionKey="k")
    seen_data: list[str] = []
    events = []
    deadline = time.monotonic() + 20
    while len(seen_data) < 10 and time.monotonic() < deadline:
        for doc in _seen(sqs, seen, 1, timeout=2):
            seen_data += doc["data"]
            events.append(doc["event"])
    assert seen_data == [f"m{i}" for i in range(10)]
    assert all(len(e["Records"]) <= 4 for e in events)
    KinesisDataStreamModel.model_validate(events[0])
    record = events[0]["Records"][0]
    assert record["eventSourceARN"] == arn and record["eventID"].startswith("shardId-000000000000:")


def test_poison_record_retried_then_sent_to_destination(lam: BaseClient, sqs: BaseClient, kinesis: BaseClient,
                                                        server: CumuloServer) -> None:
    name = unique("s")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    failures = sqs.create_queue(QueueName=unique("sfail"))["QueueUrl"]
    fn, seen = recorder(lam, sqs, server)
    for data in (b"a", b"poison", b"b"):
        kinesis.put_record(StreamName=name, Data=data, PartitionKey="k")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=10, MaximumRetryAttempts=1, BisectBatchOnFunctionError=True,
                                    DestinationConfig={"OnFailure": {"Destination": queue_arn(sqs, failures)}})
    record = json.loads(drain(sqs, failures, 1, timeout=30)[0]["Body"])
    info = record["KinesisBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["streamArn"] == arn and info["shardId"] == "shardId-000000000000"
    # bisection isolated the poison record; the good ones were processed
    assert info["batchSize"] == 1
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it, Limit=1)["Records"][0]["Data"] == b"poison"
    processed: list[str] = []
    deadline = time.monotonic() + 20
    while "b" not in processed and time.monotonic() < deadline:
        for doc in _seen(sqs, seen, 1, timeout=2):
            if "poison" not in doc["data"]:
                processed += doc["data"]
    assert "a" in processed and "b" in processed
    assert base64  # (records are base64 in events; decoded by the function)


def test_stream_mapping_validation(server: CumuloServer, sqs: BaseClient, kinesis: BaseClient) -> None:
    lam = server.client(parameter_validation=False)
    name = unique("s")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    fn, _ = recorder(lam, sqs, server)
    for bad in ({}, {"StartingPosition": "SOMEWHERE"}, {"StartingPosition": "LATEST", "ParallelizationFactor": 11},
                {"StartingPosition": "LATEST", "MaximumRetryAttempts": -2},
                {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
                {"StartingPosition": "LATEST", "BatchSize": 10_001}):
        with pytest.raises(ClientError) as info:
            lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, **bad)
        assert info.value.response["Error"]["Code"] == "InvalidParameterValueException", bad
    with pytest.raises(ClientError) as info:
        lam.create_event_source_mapping(EventSourceArn=arn + "x", FunctionName=fn, StartingPosition="LATEST")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"] == []
