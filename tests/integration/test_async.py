"""Asynchronous invocation and queue event-source mappings through ``cumulo up`` with boto3.

The server runs with short retry delays (``CUMULO_ASYNC_RETRY_DELAY_S``) so AWS's
one- and two-minute waits take a fraction of a second here. How long each retry and backoff waits,
and the maximum event age, are tested on a fake clock in tests/unit/invoke/test_dispatcher.py.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer, create, unique, zip_of
from tests.integration.test_sqs import sqs_client

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

# A function that records every event it sees in a queue named by its environment, and
# fails when the event says so (or as many times as it says).
RECORDER = """
import json, os, boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"])
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps({"event": event,
                     "request_id": context.aws_request_id}))
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("asked to fail")
    if isinstance(event, dict) and "Records" in event:
        bad = [r["messageId"] for r in event["Records"] if "bad" in r["body"]]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("async") / "home", env={
        "CUMULO_ASYNC_RETRY_DELAY_S": "0.3", "CUMULO_ASYNC_THROTTLE_BACKOFF_S": "0.05"}, store=new_store())
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def lam(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def sqs(server: CumuloServer) -> Iterator[BaseClient]:
    client = sqs_client(server)
    yield client
    client.close()


@pytest.fixture
def recorder(lam: BaseClient, sqs: BaseClient, server: CumuloServer) -> Callable[..., tuple[str, str]]:
    """A new recording function and the queue it records into: (function name, queue URL)."""
    def make(**options: Any) -> tuple[str, str]:
        seen = sqs.create_queue(QueueName=unique("seen"))["QueueUrl"]
        name = unique("rec")
        create(lam, name, zip_of(**{"app.py": RECORDER}), Environment={"Variables": {
            "ENDPOINT": server.endpoint, "KEY": server.key_id, "SECRET": server.secret, "SEEN": seen}}, **options)
        return name, seen
    return make


def drain(sqs: BaseClient, url: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Receive (and delete) until ``count`` messages arrived or the timeout passed."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  MessageAttributeNames=["All"], AttributeNames=["SentTimestamp"]
                                  ).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        out.extend(got)
    return out


def queue_arn(sqs: BaseClient, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_event_invoke_runs_under_the_returned_request_id(lam: BaseClient, sqs: BaseClient,
                                                         recorder: Callable[..., tuple[str, str]]) -> None:
    name, seen = recorder()
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))
    assert resp["StatusCode"] == 202
    got = drain(sqs, seen, 1)
    assert [json.loads(m["Body"]) for m in got] == [{"event": {"n": 1},
                                                     "request_id": resp["ResponseMetadata"]["RequestId"]}]


def test_failed_event_retried_then_sent_to_failure_destination_and_dlq(
        lam: BaseClient, sqs: BaseClient, recorder: Callable[..., tuple[str, str]]) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    failures = sqs.create_queue(QueueName=unique("onfail"))["QueueUrl"]
    name, seen = recorder(DeadLetterConfig={"TargetArn": queue_arn(sqs, dlq)})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={
        "OnFailure": {"Destination": queue_arn(sqs, failures)}})
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True}))
    request_id = resp["ResponseMetadata"]["RequestId"]
    attempts = drain(sqs, seen, 2)
    assert len(attempts) == 2     # the first try and one retry
    record = json.loads(drain(sqs, failures, 1)[0]["Body"])
    assert record["requestContext"] == {"requestId": request_id, "functionArn": f"{lam_arn(lam, name)}:$LATEST",
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 2}
    assert record["requestPayload"] == {"fail": True}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    dead = drain(sqs, dlq, 1)[0]
    assert json.loads(dead["Body"]) == {"fail": True}
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == request_id
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "asked to fail"
    assert drain(sqs, seen, 1, timeout=1.5) == []      # no third attempt


def lam_arn(lam: BaseClient, name: str) -> str:
    return lam.get_function_configuration(FunctionName=name)["FunctionArn"]


def test_success_destination_gets_the_invocation_record(lam: BaseClient, sqs: BaseClient,
                                                        recorder: Callable[..., tuple[str, str]]) -> None:
    done = sqs.create_queue(QueueName=unique("ok"))["QueueUrl"]
    name, _ = recorder()
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
        "OnSuccess": {"Destination": queue_arn(sqs, done)}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"x": 1}')
    record = json.loads(drain(sqs, done, 1)[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"ok": True} and record["requestPayload"] == {"x": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_event_invoke_config_api(lam: BaseClient, server: CumuloServer,
                                 recorder: Callable[..., tuple[str, str]]) -> None:
    name, _ = recorder()
    raw = server.client(parameter_validation=False)    # boto3 would refuse the bad values itself
    with pytest.raises(ClientError) as info:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                               MaximumEventAgeInSeconds=120)
    assert put["MaximumRetryAttempts"] == 0 and put["MaximumEventAgeInSeconds"] == 120
    updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert updated["MaximumRetryAttempts"] == 1 and updated["MaximumEventAgeInSeconds"] == 120
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["FunctionArn"].endswith(f"{name}:$LATEST")
    assert len(lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]) == 1
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 59},
                {"DestinationConfig": {"OnSuccess": {"Destination": "not-an-arn"}}}):
        with pytest.raises(ClientError) as info:
            raw.put_function_event_invoke_config(FunctionName=name, **bad)
        assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_oversized_async_payload_is_refused(lam: BaseClient, recorder: Callable[..., tuple[str, str]]) -> None:
    name, _ = recorder()
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps("x" * 300_000))
    assert info.value.response["Error"]["Code"] == "RequestEntityTooLargeException"   # AWS's name on the wire
    assert info.value.response["Error"]["Message"] == ("300002 byte payload is too large for the Event invocation "
                                                       "type (limit 262144 bytes)")


def test_queue_mapping_batches_and_reports_item_failures(lam: BaseClient, sqs: BaseClient,
                                                         recorder: Callable[..., tuple[str, str]]) -> None:
    # A visibility timeout longer than a loaded machine's cold start and send: shorter, the whole batch
    # comes back before the poller deletes it (as on AWS when a function outlasts it).
    source = sqs.create_queue(QueueName=unique("src"), Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    name, seen = recorder()
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn(sqs, source), FunctionName=name,
                                              BatchSize=5, MaximumBatchingWindowInSeconds=1,
                                              FunctionResponseTypes=["ReportBatchItemFailures"])
    assert mapping["State"] == "Creating" and mapping["BatchSize"] == 5
    sqs.send_message_batch(QueueUrl=source, Entries=[
        {"Id": str(i), "MessageBody": "bad" if i == 2 else f"good-{i}",
         "MessageAttributes": {"i": {"DataType": "Number", "StringValue": str(i)}}} for i in range(4)])
    events = [json.loads(m["Body"])["event"] for m in drain(sqs, seen, 1)]
    SqsModel.model_validate(events[0])             # AWS's own SQS event shape
    first = sorted(r["body"] for e in events for r in e["Records"])
    assert first == ["bad", "good-0", "good-1", "good-3"]
    assert events[0]["Records"][0]["eventSourceARN"] == queue_arn(sqs, source)
    # only the failed message comes back, after the visibility timeout
    again = [json.loads(m["Body"])["event"] for m in drain(sqs, seen, 1, timeout=20)]
    assert [r["body"] for e in again for r in e["Records"]] == ["bad"]
    assert again[0]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with pytest.raises(ClientError) as info:
        lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_mapping_validation(server: CumuloServer, sqs: BaseClient,
                            recorder: Callable[..., tuple[str, str]]) -> None:
    lam = server.client(parameter_validation=False)
    source = queue_arn(sqs, sqs.create_queue(QueueName=unique("src"))["QueueUrl"])
    name, _ = recorder()
    for bad in ({"BatchSize": 0}, {"BatchSize": 10_001}, {"BatchSize": 100},
                {"MaximumBatchingWindowInSeconds": 301}, {"ScalingConfig": {"MaximumConcurrency": 1}},
                {"FunctionResponseTypes": ["Nope"]}):
        with pytest.raises(ClientError) as info:
            lam.create_event_source_mapping(EventSourceArn=source, FunctionName=name, **bad)
        assert info.value.response["Error"]["Code"] == "InvalidParameterValueException", bad
    with pytest.raises(ClientError) as info:
        lam.create_event_source_mapping(EventSourceArn=source + "-missing", FunctionName=name)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []


SLOW_RECORDER = RECORDER.replace("def handler(event, context):", "import time\ndef handler(event, context):\n    time.sleep(0.4)")


def test_throttled_events_wait_and_all_run(lam: BaseClient, sqs: BaseClient, server: CumuloServer) -> None:
    seen = sqs.create_queue(QueueName=unique("seen"))["QueueUrl"]
    name = unique("slow")
    create(lam, name, zip_of(**{"app.py": SLOW_RECORDER}), Environment={"Variables": {
        "ENDPOINT": server.endpoint, "KEY": server.key_id, "SECRET": server.secret, "SEEN": seen}})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    ids = [lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": i}))
           ["ResponseMetadata"]["RequestId"] for i in range(4)]
    got = drain(sqs, seen, 4, timeout=30)
    assert sorted(json.loads(m["Body"])["request_id"] for m in got) == sorted(ids)   # each once, none dropped


def test_success_destination_can_be_another_function(lam: BaseClient, sqs: BaseClient,
                                                     recorder: Callable[..., tuple[str, str]]) -> None:
    first, _ = recorder()
    second, second_seen = recorder()
    lam.put_function_event_invoke_config(FunctionName=first, DestinationConfig={
        "OnSuccess": {"Destination": lam_arn(lam, second)}})
    lam.invoke(FunctionName=first, InvocationType="Event", Payload=b'{"chain": 1}')
    (doc,) = [json.loads(m["Body"]) for m in drain(sqs, second_seen, 1)]
    assert doc["event"]["requestContext"]["condition"] == "Success"
    assert doc["event"]["requestPayload"] == {"chain": 1}


def test_destinations_are_sent_with_the_execution_role_and_topics_deliver(
        server: CumuloServer, lam: BaseClient, sqs: BaseClient, recorder: Callable[..., tuple[str, str]]) -> None:
    """A topic as a destination publishes the invocation record (its queue subscriber gets it). Lambda
    sends records with the function's execution role: a role Cumulo keeps that may not publish to
    the topic gets nothing delivered and a DestinationDeliveryFailures count; the grant fixes it."""
    sns, iam, cloudwatch = server.aws("sns"), server.aws("iam"), server.aws("cloudwatch")
    inbox = sqs.create_queue(QueueName=unique("records"))["QueueUrl"]
    topic = sns.create_topic(Name=unique("results"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, inbox),
                  Attributes={"RawMessageDelivery": "true"})
    role_name = unique("sender")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="record", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}))
    name, seen = recorder(Role=role)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
        "OnSuccess": {"Destination": topic}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    assert len(drain(sqs, seen, 1)) == 1                       # it ran …
    assert drain(sqs, inbox, 1, timeout=2.0) == []             # … and its record was not sent
    deadline = time.monotonic() + 20
    while True:   # metrics are flushed in batches
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="DestinationDeliveryFailures", Statistics=["Sum"], Period=60,
            Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=datetime.now(timezone.utc) - timedelta(minutes=5), EndTime=datetime.now(timezone.utc))
        if points["Datapoints"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sum(p["Sum"] for p in points["Datapoints"]) == 1
    iam.put_role_policy(RoleName=role_name, PolicyName="publish", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}]}))
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 2}')
    record = json.loads(drain(sqs, inbox, 1)[0]["Body"])
    assert record["requestContext"]["condition"] == "Success" and record["requestPayload"] == {"n": 2}
    for client in (sns, iam, cloudwatch):
        client.close()
