"""S3 event notifications as their users meet them: a bucket's configuration set with unchanged
boto3, events reaching a queue and a function deployed from a SAM template (``Events: {Type: S3}``
and ``AWS::S3::Bucket``'s ``NotificationConfiguration``), the event document compared field by
field with the S3 User Guide's "Event message structure", and nothing acknowledged lost to kill -9."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.integration.test_server import CumuloServer

FORWARD = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["RESULTS"], MessageBody=json.dumps(event))
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: uploads-e2e
      VersioningConfiguration: {Status: Enabled}
      NotificationConfiguration:
        QueueConfigurations:
          - Event: s3:ObjectRemoved:*
            Queue: !GetAtt Removed.Arn
  Removed:
    Type: AWS::SQS::Queue
    Properties: {QueueName: removed-e2e}
  Results:
    Type: AWS::SQS::Queue
    Properties: {QueueName: results-e2e}
  OnUpload:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Environment: {Variables: {RESULTS: !Ref Results}}
      Policies:
        - SQSSendMessagePolicy: {QueueName: !GetAtt Results.QueueName}
      Events:
        TextIn:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: in/}, {Name: suffix, Value: .txt}]}}
Outputs:
  BucketArn: {Value: !GetAtt Uploads.Arn}
"""


def receive(sqs: Any, url: str, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """``n`` message bodies (JSON), waiting for them; deleted once read."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    folder = tmp_path_factory.mktemp("s3app")
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text(FORWARD)
    (folder / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    # --iam off: functions' Policies are not yet turned into their role's (the identity issue's work)
    s = CumuloServer(folder / "home", "--iam", "off", str(folder / "template.yaml"))
    s.wait_for_output("Stop with Ctrl-C", 60)
    yield s
    s.close()


def check_record(record: dict[str, Any], event_name: str, bucket: str, key: str, size: int | None = None,
                 etag: str | None = None, configuration_id: str | None = None) -> None:
    """Field by field, as the S3 User Guide's example event has them."""
    assert set(record) == {"eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
                           "requestParameters", "responseElements", "s3"}
    assert (record["eventVersion"], record["eventSource"], record["awsRegion"], record["eventName"]) == (
        "2.1", "aws:s3", "us-east-1", event_name)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["eventTime"])
    assert set(record["userIdentity"]) == {"principalId"} and set(record["requestParameters"]) == {"sourceIPAddress"}
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    if configuration_id is not None:
        assert s3["configurationId"] == configuration_id
    assert s3["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": s3["bucket"]["ownerIdentity"]["principalId"]},
                            "arn": f"arn:aws:s3:::{bucket}"}
    obj = s3["object"]
    assert obj["key"] == key
    assert re.fullmatch(r"[0-9A-F]+", obj["sequencer"])
    if size is None:
        assert set(obj) == {"key", "sequencer"}
    else:
        assert (obj["size"], obj["eTag"]) == (size, etag)


def test_a_queue_gets_the_test_event_then_the_records_its_filter_selects(server: CumuloServer) -> None:
    s3, sqs = server.aws("s3"), server.aws("sqs")
    url = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="photos")
    config = {"QueueConfigurations": [{"Id": "jpegs", "QueueArn": arn, "Events": ["s3:ObjectCreated:*",
                                                                                  "s3:ObjectRemoved:*"],
                                       "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}}]}
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket="photos")
    assert got["QueueConfigurations"] == config["QueueConfigurations"]
    test_event = receive(sqs, url, 1)[0]
    assert {k: test_event[k] for k in ("Service", "Event", "Bucket")} == {
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "photos"}
    body = b"\xff\xd8 a photo"
    s3.put_object(Bucket="photos", Key="2026/red flower.jpg", Body=body)
    s3.put_object(Bucket="photos", Key="2026/notes.txt", Body=b"not selected")
    s3.delete_object(Bucket="photos", Key="2026/red flower.jpg")
    events = receive(sqs, url, 2)
    assert [len(e["Records"]) for e in events] == [1, 1]
    created, removed = sorted((e["Records"][0] for e in events), key=lambda r: r["eventName"])
    check_record(created, "ObjectCreated:Put", "photos", "2026/red+flower.jpg", len(body), hashlib.md5(body).hexdigest(),
                 "jpegs")
    check_record(removed, "ObjectRemoved:Delete", "photos", "2026/red+flower.jpg")
    assert created["s3"]["object"]["sequencer"] < removed["s3"]["object"]["sequencer"]
    assert receive(sqs, url, 1, timeout=1.5) == []        # the .txt object matched no filter


def test_bad_configurations_are_refused_as_s3_does(server: CumuloServer) -> None:
    from botocore.exceptions import ClientError
    s3 = server.aws("s3")
    s3.create_bucket(Bucket="refusing")
    arn = "arn:aws:sqs:us-east-1:000000000000:whatever"
    for config, message in [
        ({"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:Get"]}]},
         "The event is not supported for notifications"),
        ({"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]},
                                  {"QueueArn": arn, "Events": ["s3:ObjectCreated:Put"]}]},
         "Configurations overlap. Configurations on the same bucket cannot share a common event type.")]:
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_notification_configuration(Bucket="refusing", NotificationConfiguration=config)
        assert (caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]) == (
            "InvalidArgument", message)


def test_the_sam_template_wires_a_function_and_a_queue_to_the_bucket(server: CumuloServer) -> None:
    assert "BucketArn = arn:aws:s3:::uploads-e2e" in server.output
    s3, sqs = server.aws("s3"), server.aws("sqs")
    results = sqs.get_queue_url(QueueName="results-e2e")["QueueUrl"]
    removed = sqs.get_queue_url(QueueName="removed-e2e")["QueueUrl"]
    s3.put_object(Bucket="uploads-e2e", Key="in/a b.txt", Body=b"12345")
    s3.put_object(Bucket="uploads-e2e", Key="in/skip.csv", Body=b"no")       # suffix filter
    s3.put_object(Bucket="uploads-e2e", Key="out/skip.txt", Body=b"no")      # prefix filter
    [event] = receive(sqs, results, 1, timeout=60)
    check_record(event["Records"][0], "ObjectCreated:Put", "uploads-e2e", "in/a+b.txt", 5,
                 hashlib.md5(b"12345").hexdigest(), "OnUploadTextIn")
    s3.delete_object(Bucket="uploads-e2e", Key="in/a b.txt")
    test_event, gone = receive(sqs, removed, 2)      # S3 tests the queue when the configuration is set
    # the template's VersioningConfiguration: deleting puts a delete marker on top
    assert (test_event["Event"], gone["Records"][0]["eventName"]) == ("s3:TestEvent",
                                                                     "ObjectRemoved:DeleteMarkerCreated")
    assert gone["Records"][0]["s3"]["object"]["versionId"]
    assert receive(sqs, results, 1, timeout=1.5) == []
    assert s3.get_bucket_versioning(Bucket="uploads-e2e")["Status"] == "Enabled"
    assert "VersioningConfiguration" not in server.output


def test_notifications_survive_kill_9(tmp_path: Path) -> None:
    """Every write acknowledged before the server dies has its event delivered after it restarts."""
    home = tmp_path / "home"
    server = CumuloServer(home)
    try:
        s3, sqs = server.aws("s3"), server.aws("sqs")
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket="durable")
        s3.put_bucket_notification_configuration(Bucket="durable", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        for i in range(40):
            s3.put_object(Bucket="durable", Key=f"k{i}", Body=b"x")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
    finally:
        server.close()
    server = CumuloServer(home)
    try:
        sqs = server.aws("sqs")
        url = sqs.get_queue_url(QueueName="kept")["QueueUrl"]
        bodies = receive(sqs, url, 41, timeout=90)      # one the killed server had in hand: after its lease
        keys = {b["Records"][0]["s3"]["object"]["key"] for b in bodies if "Records" in b}
        assert keys == {f"k{i}" for i in range(40)}
        assert [o["Key"] for o in server.aws("s3").list_objects_v2(Bucket="durable")["Contents"]] == sorted(
            f"k{i}" for i in range(40))
    finally:
        server.close()
