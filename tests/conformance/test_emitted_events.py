"""Every event Cumulo hands a function, against AWS's sample of its kind, field by field.

The events are the ones functions really receive: a Cumulo runs its workers (event-source mappings,
the event bus, schedules) and a function prints each event it gets. Each is compared with AWS's
sample (shared conformance data, Powertools' test events) for its *shape* — the same keys at every
level, the same JSON types — and for its *values* wherever they follow from what was sent. Where
a sample differs from what AWS documents or sends, the difference is named next to it with its
source; the samples themselves stay untouched. API Gateway's events are compared in
test_apigw_events.py.

AWS's samples of events Cumulo has no source for (ALB)
are listed at the end, skipped as not emitted yet.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from cumulo import Cumulo
from tests.conformance.data import CONFORMANCE

EVENTS = CONFORMANCE / "events"
PRINTER = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
"""


def sample(name: str) -> Any:
    return json.loads((EVENTS / f"{name}.json").read_text())


def shape_differences(ours: Any, theirs: Any, maps: frozenset[str] = frozenset(), path: str = "$") -> list[str]:
    """Where ``ours`` differs from ``theirs`` in keys or JSON types. ``maps``: paths whose keys are data
    (attribute names): there each of our values is compared with the sample's first."""
    if path in maps and isinstance(ours, dict) and isinstance(theirs, dict):
        if not theirs:
            return []
        model = next(iter(theirs.values()))
        return [p for key, value in ours.items() for p in shape_differences(value, model, maps, f"{path}.{key}")]
    if type(ours) is not type(theirs) and not (isinstance(ours, float) and isinstance(theirs, int)):
        return [f"{path}: {type(ours).__name__} where AWS has {type(theirs).__name__}"]
    if isinstance(theirs, dict):
        problems = [f"{path}: missing {k}" for k in sorted(theirs.keys() - ours.keys())]
        problems += [f"{path}: extra {k}" for k in sorted(ours.keys() - theirs.keys())]
        for key in sorted(theirs.keys() & ours.keys()):
            problems += shape_differences(ours[key], theirs[key], maps, f"{path}.{key}")
        return problems
    if isinstance(theirs, list) and theirs:
        return [p for item in ours for p in shape_differences(item, theirs[0], maps, f"{path}[]")]
    return []


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cumulo]:
    folder = tmp_path_factory.mktemp("printer")
    (folder / "app.py").write_text(PRINTER)
    with Cumulo(home=tmp_path_factory.mktemp("emitted") / "home") as c:
        c.create_function("printer", folder, "app.handler")
        c.start_workers()
        yield c


def received(c: Cumulo, count: int, since_ms: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The events the printer function got since ``since_ms``, once there are ``count``."""
    deadline = time.monotonic() + timeout
    while True:
        events = [json.loads(r.message[len("EVENT "):]) for r in c.get_logs("printer", since_ms=since_ms)
                  if r.message.startswith("EVENT ")]
        if len(events) >= count or time.monotonic() > deadline:
            assert len(events) == count, events
            return events
        time.sleep(0.05)


def now_ms() -> int:
    return int(time.time() * 1000)


# -- SQS ------------------------------------------------------------------------------------------
def test_sqs_event_has_the_shape_and_values_of_aws_sample(platform: Cumulo) -> None:
    c, aws = platform, sample("powertools_sqsEvent")
    c.queues.create_queue("orders")
    since = now_ms()
    plain = aws["Records"][1]
    c.queues.send_message("orders", plain["body"])
    c.queues.send_message("orders", "with attributes", message_attributes={
        "testAttr": {"DataType": "Number", "StringValue": "100"}})
    mapping = c.mappings.create(EventSourceArn=c.queues.arn("orders"), FunctionName="printer", BatchSize=10,
                                MaximumBatchingWindowInSeconds=1)
    try:
        events = received(c, 1, since)
    finally:
        c.mappings.delete(mapping["UUID"])
    assert events[0].keys() == aws.keys()
    ours_plain, ours_attrs = events[0]["Records"]

    # A message without attributes: exactly the sample's keys and types.
    assert shape_differences(ours_plain, plain) == []
    assert ours_plain["body"] == plain["body"] and ours_plain["md5OfBody"] == hashlib.md5(plain["body"].encode()).hexdigest()
    assert ours_plain["messageAttributes"] == {} and ours_plain["eventSource"] == "aws:sqs"
    assert ours_plain["eventSourceARN"] == c.queues.arn("orders") and ours_plain["awsRegion"] == c.arns.region
    attributes = ours_plain["attributes"]
    assert attributes["ApproximateReceiveCount"] == "1" and attributes["SenderId"] == c.arns.account
    assert since <= int(attributes["SentTimestamp"]) <= int(attributes["ApproximateFirstReceiveTimestamp"]) <= now_ms()

    # With attributes. The sample's attribute has both stringValue and binaryValue and no list values;
    # AWS's own sample in the Lambda developer guide ("Using Lambda with Amazon SQS") has one value and
    # stringListValues/binaryListValues, as SQS sends: compared against that. A record with attributes
    # also carries md5OfMessageAttributes, as SQS's ReceiveMessage answers it.
    documented = copy.deepcopy(aws["Records"][0])
    documented["messageAttributes"] = {"testAttr": {"stringValue": "100", "stringListValues": [],
                                                    "binaryListValues": [], "dataType": "Number"}}
    documented["md5OfMessageAttributes"] = "md5"
    assert shape_differences(ours_attrs, documented, frozenset({"$.messageAttributes"})) == []
    assert ours_attrs["messageAttributes"] == documented["messageAttributes"]


# -- Kinesis --------------------------------------------------------------------------------------
def test_kinesis_event_has_the_shape_and_values_of_aws_sample(platform: Cumulo) -> None:
    c, aws = platform, sample("powertools_kinesisStreamEvent")
    c.streams.create_stream("clicks", 1)
    since = now_ms()
    texts = [base64.b64decode(r["kinesis"]["data"]) for r in aws["Records"]]
    for text in texts:
        c.streams.put_record(name="clicks", data=text, partition_key="1")
    mapping = c.mappings.create(EventSourceArn=c.streams.arn("clicks"), FunctionName="printer", BatchSize=10,
                                StartingPosition="TRIM_HORIZON", MaximumBatchingWindowInSeconds=1)
    try:
        (event,) = received(c, 1, since)
    finally:
        c.mappings.delete(mapping["UUID"])
    assert event.keys() == aws.keys() and len(event["Records"]) == 2
    for ours, theirs, text in zip(event["Records"], aws["Records"], texts):
        assert shape_differences(ours, theirs) == []
        assert base64.b64decode(ours["kinesis"]["data"]) == text
        assert ours["kinesis"]["partitionKey"] == "1" and ours["kinesis"]["kinesisSchemaVersion"] == "1.0"
        assert since / 1000 - 1 <= ours["kinesis"]["approximateArrivalTimestamp"] <= time.time()
        assert ours["eventID"] == f"shardId-000000000000:{ours['kinesis']['sequenceNumber']}"
        assert {k: ours[k] for k in ("eventSource", "eventVersion", "eventName")} == \
            {k: theirs[k] for k in ("eventSource", "eventVersion", "eventName")}
        assert ours["eventSourceARN"] == c.streams.arn("clicks") and ours["awsRegion"] == c.arns.region
    numbers = [int(r["kinesis"]["sequenceNumber"]) for r in event["Records"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 2


# -- EventBridge ----------------------------------------------------------------------------------
def _to_printer(c: Cumulo, rule: str, pattern: dict[str, Any]) -> None:
    arn = c.event_bus.put_rule(rule, event_pattern=json.dumps(pattern))
    c.event_bus.put_targets(rule, None, [{"Id": "printer", "Arn": c.arns.function("printer")}])
    # The bus routes by an index of its rules that it refreshes within 0.2 s of a change (as AWS's
    # rules take effect shortly after they are put): wait until it has this one.
    deadline = time.monotonic() + 5
    while arn not in c.event_bus.index("default")[1]:
        assert time.monotonic() < deadline, f"rule {rule} never reached the bus's index"
        time.sleep(0.02)


def _entry(aws: dict[str, Any], source: str) -> dict[str, Any]:
    return {"Source": source, "DetailType": aws["detail-type"], "Detail": json.dumps(aws["detail"]),
            "Resources": aws["resources"], "Time": datetime.fromisoformat(aws["time"].replace("Z", "+00:00"))}


def test_eventbridge_event_has_the_shape_and_values_of_aws_sample(platform: Cumulo) -> None:
    """The sample is a replayed event ("replay-name"); events put once do not have it (EventBridge's
    guide, "Replaying archived events": replayed events carry replay-name). The replayed one is
    compared with it whole below."""
    c, aws = platform, sample("powertools_eventBridgeEvent")
    _to_printer(c, "ec2-states", {"source": ["test.ec2"]})
    since = now_ms()
    result = c.event_bus.put_events([_entry(aws, "test.ec2")])
    assert result["FailedEntryCount"] == 0
    (event,) = received(c, 1, since)
    expected = {k: v for k, v in aws.items() if k != "replay-name"}
    assert shape_differences(event, expected) == []
    assert event["id"] == result["Entries"][0]["EventId"]
    assert {**expected, "id": event["id"], "source": "test.ec2", "account": c.arns.account,
            "region": c.arns.region} == event


def test_replayed_eventbridge_event_has_the_shape_and_values_of_aws_sample(platform: Cumulo) -> None:
    c, aws = platform, sample("powertools_eventBridgeEvent")
    archive = c.event_bus.create_archive("everything", c.event_bus.bus_arn("default"))["ArchiveArn"]
    _to_printer(c, "ec2-replays", {"source": ["replayed.ec2"]})
    since = now_ms()
    c.event_bus.put_events([_entry(aws, "replayed.ec2")])
    received(c, 1, since)
    stamp = datetime.fromisoformat(aws["time"].replace("Z", "+00:00"))
    since = now_ms()
    c.event_bus.start_replay(aws["replay-name"], archive, stamp - timedelta(seconds=1), stamp + timedelta(seconds=1),
                             {"Arn": c.event_bus.bus_arn("default")})
    (event,) = received(c, 1, since)
    assert shape_differences(event, aws) == []
    assert {**aws, "id": event["id"], "source": "replayed.ec2", "account": c.arns.account,
            "region": c.arns.region} == event


def test_scheduled_event_has_the_shape_of_aws_sample(platform: Cumulo) -> None:
    """EventBridge Scheduler's and scheduled rules' "Scheduled Event": the EventBridge envelope, an
    empty detail (the sample's detail fields are the EC2 event's own)."""
    c, aws = platform, sample("powertools_eventBridgeEvent")
    from cumulo.sources.schedules import scheduled_event
    event = scheduled_event(c.arns, "nightly", datetime(2017, 12, 22, 18, 43, 48, tzinfo=timezone.utc))
    expected = {k: v for k, v in aws.items() if k != "replay-name"}
    assert shape_differences({**event, "detail": aws["detail"]}, expected) == []
    assert event["time"] == aws["time"] and event["detail"] == {} and event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events" and event["resources"][0].endswith(":schedule/default/nightly")


def test_s3_event_has_the_shape_of_aws_sample() -> None:
    """S3's "Event message structure": the record an object write sends (``model/s3events.py``, as the
    service fills it), key for key and type for type, and the same values where they are the sample's."""
    from cumulo.model.s3events import record
    aws = sample("powertools_s3Event")
    theirs = aws["Records"][0]
    ours = record("ObjectCreated:Put", bucket=theirs["s3"]["bucket"]["name"], key=theirs["s3"]["object"]["key"],
                  region="us-east-2", time=theirs["eventTime"], sequencer="0C0F6F405D6ED209E1", size=1305107,
                  etag='"b21b84d653bb07b05b1e6b33684dc11b"', configuration_id=theirs["s3"]["configurationId"],
                  principal_id="AWS:AIDAINPONIXQXHT3IKHL2", source_ip="205.255.255.255",
                  request_id="D82B88E5F771F645", host_id=theirs["responseElements"]["x-amz-id-2"])
    assert shape_differences({"Records": [ours]}, aws) == []
    assert ours == {**theirs, "s3": {**theirs["s3"], "bucket": {**theirs["s3"]["bucket"],
                                                                "ownerIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"}}}}


def test_sns_event_has_the_shape_of_aws_sample() -> None:
    """What a function subscribed to a topic receives (``model/sns.py``), key for key and type for type."""
    from cumulo.model.sns import lambda_event
    aws = sample("powertools_snsEvent")
    theirs = aws["Records"][0]["Sns"]
    ours = lambda_event(subscription_arn=aws["Records"][0]["EventSubscriptionArn"], topic_arn=theirs["TopicArn"],
                        message_id=theirs["MessageId"], message=theirs["Message"], subject=theirs["Subject"],
                        timestamp=theirs["Timestamp"], region="us-east-2", endpoint="https://sns.us-east-2.amazonaws.com",
                        attributes={"Test": {"DataType": "String", "StringValue": "TestString"},
                                    "TestBinary": {"DataType": "Binary", "BinaryValue": "TestBinary"}})
    assert shape_differences(ours, aws) == []
    mine = ours["Records"][0]["Sns"]
    assert {k: mine[k] for k in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                                 "SignatureVersion", "MessageAttributes")} == \
        {k: theirs[k] for k in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                                "SignatureVersion", "MessageAttributes")}


def test_dynamodb_stream_event_has_the_shape_of_aws_sample(tmp_path: Any) -> None:
    """The records a table's stream gives a function (written by ``tables/service.py``, shaped by
    ``model/table_stream.py``) for the sample's INSERT and MODIFY, key for key and type for type."""
    from cumulo.model.table_stream import event_record
    from cumulo.store.sqlite_messages import SQLiteMessageStore
    from cumulo.tables.service import TableService

    aws = sample("powertools_dynamoStreamEvent")
    store = SQLiteMessageStore(tmp_path / "q.db")
    tables = TableService(store.tables, store.streams, "us-west-2", "123456789012")
    tables.call("CreateTable", {"TableName": "notes", "BillingMode": "PAY_PER_REQUEST",
                                "KeySchema": [{"AttributeName": "Id", "KeyType": "HASH"}],
                                "AttributeDefinitions": [{"AttributeName": "Id", "AttributeType": "N"}],
                                "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}})
    for record in aws["Records"]:
        tables.call("PutItem", {"TableName": "notes", "Item": record["dynamodb"]["NewImage"]})
    arn = tables.call("DescribeTable", {"TableName": "notes"})["Table"]["LatestStreamArn"]
    rows = store.streams.read_records(arn.split(":", 5)[5], 0, 0, 10)
    ours = {"Records": [event_record(data, seq, arn) for seq, _, data, _ in rows]}
    store.close()
    images = frozenset({"$.dynamodb.Keys", "$.dynamodb.NewImage", "$.dynamodb.OldImage"})
    assert len(ours["Records"]) == len(aws["Records"])
    def bare(record: dict[str, Any]) -> dict[str, Any]:     # attribute maps: compared exactly below
        out = copy.deepcopy(record)
        out["dynamodb"].update({k: {} for k in ("Keys", "NewImage", "OldImage") if k in out["dynamodb"]})
        return out

    # The sample's MODIFY record has no ApproximateCreationDateTime; DynamoDB Streams' StreamRecord
    # (API reference) gives it on every record, as the sample's INSERT has it.
    documented = {"$.dynamodb: extra ApproximateCreationDateTime"}
    for mine, theirs in zip(ours["Records"], aws["Records"]):
        assert set(shape_differences(bare(mine), bare(theirs), images)) - documented == set()
        assert mine["eventName"] == theirs["eventName"] and mine["eventSource"] == theirs["eventSource"]
        assert {k: mine["dynamodb"][k] for k in ("Keys", "NewImage", "StreamViewType")} == \
            {k: theirs["dynamodb"][k] for k in ("Keys", "NewImage", "StreamViewType")}
        assert mine["dynamodb"].get("OldImage") == theirs["dynamodb"].get("OldImage")


# -- function URLs -----------------------------------------------------------------------------------
def test_function_url_event_has_the_shape_and_values_of_aws_sample(platform: Cumulo) -> None:
    """A GET through the gateway to the printer's function URL (``NONE``), with the sample's headers."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from cumulo.edge.gateway import Gateway
    from cumulo.edge.server import Request

    aws = sample("powertools_lambdaFunctionUrlEvent")
    url = platform.function_urls.create("printer", None, "NONE")
    host = f"{url.url_id}.lambda-url.{platform.arns.region}.localhost"
    sent = [(k, v) for k, v in aws["headers"].items()
            if not k.startswith("x-forwarded-") and k != "host"] + [("Host", host)]
    since = int(time.time() * 1000)
    with ThreadPoolExecutor(4) as pool:
        gateway = Gateway(platform, pool)
        try:
            answer = asyncio.run(gateway.handle(Request("GET", "/", "", sent, b"", ("123.123.123.123", 50000), 443)))
        finally:
            gateway.close()
    assert answer.status == 200, answer.body
    (ours,) = received(platform, 1, since)
    assert shape_differences(ours, aws, frozenset({"$.headers"})) == []
    assert {k: v for k, v in ours["headers"].items() if k in aws["headers"] and k != "host"} == \
        {k: v for k, v in aws["headers"].items() if k != "host"} | {"x-forwarded-proto": "http"}   # plain HTTP
    context = ours["requestContext"]
    assert (context["accountId"], context["apiId"], context["domainPrefix"]) == ("anonymous", url.url_id, url.url_id)
    assert (context["routeKey"], context["stage"], ours["routeKey"], ours["rawPath"]) == ("$default", "$default",
                                                                                          "$default", "/")
    assert context["http"] == {**aws["requestContext"]["http"], "userAgent": aws["headers"]["user-agent"]}


# -- kinds Cumulo does not emit -------------------------------------------------------------------
NOT_EMITTED = {
    "powertools_albEvent": "Cumulo has no Application Load Balancer targets",
}


@pytest.mark.parametrize("name", sorted(NOT_EMITTED))
def test_sample_of_an_event_not_emitted_yet(name: str) -> None:
    assert (EVENTS / f"{name}.json").is_file()
    pytest.skip(f"not emitted yet: {NOT_EMITTED[name]}")


def test_every_sample_event_is_compared_or_listed_as_not_emitted() -> None:
    """A new sample in the shared data needs a comparison here (or in test_apigw_events.py)."""
    compared = {"powertools_sqsEvent", "powertools_kinesisStreamEvent", "powertools_eventBridgeEvent",
                "powertools_s3Event", "powertools_snsEvent", "powertools_dynamoStreamEvent",
                "powertools_lambdaFunctionUrlEvent"}
    api_gateway = {"apigw_http_api_payload_v1_docs", "apigw_http_api_payload_v2_docs",
                   "lambda_proxy_response_format_docs", "powertools_apiGatewayProxyEvent",
                   "powertools_apiGatewayProxyV2Event", "powertools_apiGatewayProxyV2Event_GET"}
    assert {p.stem for p in EVENTS.glob("*.json")} == compared | api_gateway | set(NOT_EMITTED)
