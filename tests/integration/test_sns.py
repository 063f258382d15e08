"""SNS as its users meet it: unchanged boto3 and ``aws sns`` against a real ``cumulo up``: topics,
subscriptions, Publish/PublishBatch fanning out to queues (the envelope, or raw) and a function
(SNS's event), filter policies on attributes and on the body, and SNS's errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_s3_notifications import receive
from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"
FORWARD = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps(event))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("sns") / "home", "--iam", "off", store=new_store())
    yield s
    s.close()


def queue(server: CumuloServer, name: str) -> tuple[str, str]:
    sqs = server.aws("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_topics_are_created_listed_described_and_deleted(server: CumuloServer) -> None:
    sns = server.aws("sns")
    arn = sns.create_topic(Name="orders")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:000000000000:orders"
    assert sns.create_topic(Name="orders")["TopicArn"] == arn                  # idempotent
    assert {"TopicArn": arn} in sns.list_topics()["Topics"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Orders")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (attrs["TopicArn"], attrs["DisplayName"], attrs["Owner"], attrs["SubscriptionsConfirmed"]) == (
        arn, "Orders", "000000000000", "0")
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(ClientError) as caught:
        sns.get_topic_attributes(TopicArn=arn)
    e = caught.value.response
    assert (e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotFound", "Topic does not exist", 404)
    with pytest.raises(ClientError) as caught:
        sns.create_topic(Name="bad name!")
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"


def test_a_publish_fans_out_to_queues_and_a_function_through_filter_policies(server: CumuloServer,
                                                                              tmp_path: Path) -> None:
    sns, sqs, lam = server.aws("sns"), server.aws("sqs"), server.aws("lambda")
    topic = sns.create_topic(Name="fanout")["TopicArn"]
    all_url, all_arn = queue(server, "all-orders")
    raw_url, raw_arn = queue(server, "big-orders-raw")
    seen_url, _ = queue(server, "function-saw")
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", FORWARD)
    fn = lam.create_function(FunctionName="on-order", Runtime="python3.11", Handler="app.handler",
                             Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": buf.getvalue()},
                             Environment={"Variables": {"SEEN": seen_url}})["FunctionArn"]
    sub_all = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=all_arn)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={
        "RawMessageDelivery": "true", "FilterPolicy": json.dumps({"amount": [{"numeric": [">=", 100]}]})})
    sub_fn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, Attributes={
        "FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"kind": ["refund"]})})["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=sub_fn)["Attributes"]["FilterPolicyScope"] == "MessageBody"
    assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 3
    small = sns.publish(TopicArn=topic, Message=json.dumps({"kind": "order"}), Subject="new order",
                        MessageAttributes={"amount": {"DataType": "Number", "StringValue": "5"}})
    big = sns.publish(TopicArn=topic, Message=json.dumps({"kind": "refund"}),
                      MessageAttributes={"amount": {"DataType": "Number", "StringValue": "250"},
                                         "region": {"DataType": "String", "StringValue": "eu"}})
    everything = sorted(receive(sqs, all_url, 2), key=lambda m: m["MessageId"] == big["MessageId"])
    first = everything[0]
    assert set(first) == {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                          "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"}
    assert (first["Type"], first["MessageId"], first["TopicArn"], first["Subject"], first["Message"]) == (
        "Notification", small["MessageId"], topic, "new order", json.dumps({"kind": "order"}))
    assert first["MessageAttributes"] == {"amount": {"Type": "Number", "Value": "5"}}
    assert "Subject" not in everything[1] and sub_all in everything[1]["UnsubscribeURL"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["Timestamp"])
    raw = sqs.receive_message(QueueUrl=raw_url, WaitTimeSeconds=5, MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in raw] == [json.dumps({"kind": "refund"})]          # only the big one, raw
    assert raw[0]["MessageAttributes"]["amount"] == {"StringValue": "250", "DataType": "Number"}
    [event] = receive(sqs, seen_url, 1, timeout=60)                              # only the refund
    record = event["Records"][0]
    assert (record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]) == (
        "aws:sns", "1.0", sub_fn)
    assert set(record["Sns"]) == {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                                  "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl",
                                  "MessageAttributes"}
    assert (record["Sns"]["MessageId"], record["Sns"]["Subject"], record["Sns"]["MessageAttributes"]["region"]) == (
        big["MessageId"], None, {"Type": "String", "Value": "eu"})
    assert receive(sqs, seen_url, 1, timeout=1.5) == []


def test_publish_batch_and_its_errors(server: CumuloServer) -> None:
    sns, sqs = server.aws("sns"), server.aws("sqs")
    topic = sns.create_topic(Name="batch")["TopicArn"]
    url, arn = queue(server, "batch-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    out = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"}, {"Id": "b", "Message": "two", "Subject": "x" * 101}])
    assert [s["Id"] for s in out["Successful"]] == ["a"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in out["Failed"]] == [("b", "InvalidParameter", True)]
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]] == ["one"]
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=topic + "-missing", Message="m")
    assert caught.value.response["Error"]["Code"] == "NotFound"
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=topic, Message="x" * 262_145)
    assert caught.value.response["Error"]["Message"] == "Invalid parameter: Message too long"


def test_the_aws_cli_publishes(server: CumuloServer) -> None:
    sns = server.aws("sns")
    topic = sns.create_topic(Name="cli")["TopicArn"]
    url, arn = queue(server, "cli-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "sns", "publish", "--topic-arn", topic,
                          "--message", "from the cli"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    message_id = json.loads(out.stdout)["MessageId"]
    [got] = receive(server.aws("sqs"), url, 1)
    assert (got["MessageId"], got["Message"]) == (message_id, "from the cli")


PIPELINE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: orders-sam
      Subscription:
        - {Protocol: sqs, Endpoint: !GetAtt Audit.Arn}
  OrdersPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Orders]
      PolicyDocument: {Statement: [{Effect: Allow, Principal: "*", Action: sns:Publish, Resource: !Ref Orders}]}
  Audit:
    Type: AWS::SQS::Queue
    Properties: {QueueName: audit-sam}
  Shipping:
    Type: AWS::SQS::Queue
    Properties: {QueueName: shipping-sam}
  Seen:
    Type: AWS::SQS::Queue
    Properties: {QueueName: seen-sam}
  ShippingSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Orders
      Protocol: sqs
      Endpoint: !GetAtt Shipping.Arn
      RawMessageDelivery: true
  OnRefund:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Environment: {Variables: {SEEN: !Ref Seen}}
      Events:
        Refunds:
          Type: SNS
          Properties:
            Topic: !Ref Orders
            FilterPolicy: {kind: [refund]}
Outputs:
  TopicArn: {Value: !Ref Orders}
"""


def test_a_sam_template_fans_a_topic_out_to_two_queues_and_a_filtered_function(
        tmp_path: Path, new_store: Callable[[], str]) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(FORWARD)
    (tmp_path / "template.yaml").write_text(PIPELINE)
    server = CumuloServer(tmp_path / "home", "--iam", "off", str(tmp_path / "template.yaml"), store=new_store())
    try:
        server.wait_for_output("Stop with Ctrl-C", 60)
        assert "TopicArn = arn:aws:sns:us-east-1:000000000000:orders-sam" in server.output, server.output
        sns, sqs = server.aws("sns"), server.aws("sqs")
        topic = "arn:aws:sns:us-east-1:000000000000:orders-sam"
        sns.publish(TopicArn=topic, Message="a new order", MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"}})
        refund = sns.publish(TopicArn=topic, Message="a refund", MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "refund"}})["MessageId"]
        audit = receive(sqs, sqs.get_queue_url(QueueName="audit-sam")["QueueUrl"], 2)
        assert sorted(m["Message"] for m in audit) == ["a new order", "a refund"]
        shipping = sqs.get_queue_url(QueueName="shipping-sam")["QueueUrl"]
        raw = []
        deadline = time.monotonic() + 20
        while len(raw) < 2 and time.monotonic() < deadline:
            raw += [m["Body"] for m in sqs.receive_message(QueueUrl=shipping, MaxNumberOfMessages=10,
                                                            WaitTimeSeconds=1).get("Messages", [])]
        assert sorted(raw) == ["a new order", "a refund"]
        [event] = receive(sqs, sqs.get_queue_url(QueueName="seen-sam")["QueueUrl"], 1, timeout=60)
        assert (event["Records"][0]["Sns"]["MessageId"], event["Records"][0]["Sns"]["Message"]) == (refund, "a refund")
    finally:
        server.close()


SQS_SUBSCRIPTION = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SNS::Topic
    Properties: {TopicName: orders-buffered}
  Seen:
    Type: AWS::SQS::Queue
    Properties: {QueueName: seen-buffered}
  OnRefund:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Environment: {Variables: {SEEN: !Ref Seen}}
      Events:
        Refunds:
          Type: SNS
          Properties:
            Topic: !Ref Orders
            FilterPolicy: {kind: [refund]}
            SqsSubscription: true
Outputs:
  Buffer: {Value: !GetAtt OnRefundRefundsQueue.Arn}
"""


def test_a_sam_sns_event_with_sqs_subscription_goes_through_a_queue_of_its_own(
        tmp_path: Path, new_store: Callable[[], str]) -> None:
    """SAM's ``SqsSubscription: true``: a queue, its policy for the topic, an ``sqs`` subscription with
    the event's filter policy, and the function fed from that queue (an SQS event whose body is the
    SNS envelope)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(FORWARD)
    (tmp_path / "template.yaml").write_text(SQS_SUBSCRIPTION)
    server = CumuloServer(tmp_path / "home", "--iam", "off", str(tmp_path / "template.yaml"), store=new_store())
    try:
        server.wait_for_output("Stop with Ctrl-C", 60)
        sns, sqs = server.aws("sns"), server.aws("sqs")
        topic = "arn:aws:sns:us-east-1:000000000000:orders-buffered"
        [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        buffer_arn = sub["Endpoint"]
        assert sub["Protocol"] == "sqs" and f"Buffer = {buffer_arn}" in server.output
        buffer_url = sqs.get_queue_url(QueueName=buffer_arn.rsplit(":", 1)[-1])["QueueUrl"]
        policy = json.loads(sqs.get_queue_attributes(QueueUrl=buffer_url, AttributeNames=["Policy"])
                            ["Attributes"]["Policy"])
        assert policy["Statement"] == [{"Action": "sqs:SendMessage", "Effect": "Allow", "Principal": "*",
                                        "Resource": buffer_arn,
                                        "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]
        sns.publish(TopicArn=topic, Message="an order", MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"}})
        refund = sns.publish(TopicArn=topic, Message="a refund", MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "refund"}})["MessageId"]
        [event] = receive(sqs, sqs.get_queue_url(QueueName="seen-buffered")["QueueUrl"], 1, timeout=60)
        [record] = event["Records"]
        assert (record["eventSource"], record["eventSourceARN"]) == ("aws:sqs", buffer_arn)
        envelope = json.loads(record["body"])
        assert (envelope["Type"], envelope["MessageId"], envelope["Message"]) == ("Notification", refund, "a refund")
    finally:
        server.close()


def test_a_fan_out_acknowledged_survives_kill_9(tmp_path: Path, new_store: Callable[[], str]) -> None:
    """Every publish answered before the server dies is in each subscribed queue after it restarts
    (standard queues get their copies in the publish's own transaction)."""
    import signal
    import threading

    home, store = tmp_path / "home", new_store()
    server = CumuloServer(home, "--iam", "off", store=store)
    acknowledged: list[str] = []
    names = ["fan-a", "fan-b", "fan-c"]
    try:
        sns = server.aws("sns")
        topic = sns.create_topic(Name="kept")["TopicArn"]
        for name in names:
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue(server, name)[1],
                          Attributes={"RawMessageDelivery": "true"})
        stop = threading.Event()

        def publish() -> None:
            client = server.aws("sns")
            i = 0
            while not stop.is_set():
                try:
                    client.publish(TopicArn=topic, Message=f"m{i}")
                except Exception:   # the server died under this request: not acknowledged
                    return
                acknowledged.append(f"m{i}")
                i += 1

        writer = threading.Thread(target=publish)
        writer.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.proc.send_signal(signal.SIGKILL)        # while publishes are in flight
        server.proc.wait()
        stop.set()
        writer.join(60)
    finally:
        server.close()
    assert len(acknowledged) >= 30
    server = CumuloServer(home, "--iam", "off", store=store)
    try:
        sqs = server.aws("sqs")
        for name in names:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            got: set[str] = set()
            deadline = time.monotonic() + 30
            while not set(acknowledged) <= got and time.monotonic() < deadline:
                for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=1).get("Messages", []):
                    got.add(m["Body"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            assert set(acknowledged) <= got, (name, sorted(set(acknowledged) - got)[:5])
            assert got <= set(acknowledged) | {f"m{len(acknowledged)}"}    # at most the one in flight
    finally:
        server.close()


class Endpoint:
    """An HTTP subscriber on the loopback: records each POST (headers, body); answers the status
    codes queued in ``answers`` first, then 200."""

    def __init__(self) -> None:
        import http.server
        import queue as queues
        import threading

        self.posts: queues.Queue[tuple[dict[str, str], bytes]] = queues.Queue()
        self.answers: list[int] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.posts.put(({k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.answers.pop(0) if outer.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sns/in"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout: float = 30) -> tuple[dict[str, str], dict[str, Any] | bytes]:
        headers, body = self.posts.get(timeout=timeout)
        try:
            return headers, json.loads(body)
        except ValueError:
            return headers, body

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(doc: dict[str, Any]) -> None:
    """Check a message's signature as the SNS Developer Guide describes, with the certificate
    fetched from its SigningCertURL (unsigned GET); raises if it does not verify."""
    import base64
    import urllib.request

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    with urllib.request.urlopen(doc["SigningCertURL"], timeout=10) as answer:
        cert = x509.load_pem_x509_certificate(answer.read())
    fields = {"Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]}.get(
        doc["Type"], ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"])
    text = "".join(f"{k}\n{doc[k]}\n" for k in fields if k in doc)
    digest = hashes.SHA256() if doc["SignatureVersion"] == "2" else hashes.SHA1()
    cert.public_key().verify(base64.b64decode(doc["Signature"]), text.encode(),  # type: ignore[union-attr,call-arg]
                             padding.PKCS1v15(), digest)  # type: ignore[arg-type]


def test_an_http_subscription_is_confirmed_then_gets_signed_notifications(server: CumuloServer) -> None:
    import urllib.request

    sns = server.aws("sns")
    topic = sns.create_topic(Name="web")["TopicArn"]
    endpoint = Endpoint()
    try:
        assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)["SubscriptionArn"] == \
            "pending confirmation"
        headers, confirmation = endpoint.next()
        assert isinstance(confirmation, dict)
        assert (headers["x-amz-sns-message-type"], headers["x-amz-sns-topic-arn"], headers["content-type"],
                headers["user-agent"]) == ("SubscriptionConfirmation", topic, "text/plain; charset=UTF-8",
                                           "Amazon Simple Notification Service Agent")
        assert headers["x-amz-sns-message-id"] == confirmation["MessageId"]
        assert set(confirmation) == {"Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL",
                                     "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"}
        assert confirmation["Message"] == (f"You have chosen to subscribe to the topic {topic}.\nTo confirm the "
                                           "subscription, visit the SubscribeURL included in this message.")
        verify(confirmation)
        tampered = dict(confirmation, Token=confirmation["Token"][:-1] + ("1" if confirmation["Token"][-1] == "0"
                                                                              else "0"))   # always a change
        with pytest.raises(Exception):
            verify(tampered)                       # the check can fail
        [pending] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert pending["SubscriptionArn"] == "PendingConfirmation"
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
        sns.publish(TopicArn=topic, Message="before confirming")            # not delivered: pending
        # visiting the SubscribeURL, unsigned, confirms it
        with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as answer:
            page = answer.read().decode()
        arn = re.search(r"<SubscriptionArn>(.*)</SubscriptionArn>", page).group(1)  # type: ignore[union-attr]
        assert arn.startswith(topic + ":")
        attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert (attrs["PendingConfirmation"], attrs["ConfirmationWasAuthenticated"]) == ("false", "false")
        out = sns.publish(TopicArn=topic, Message="hello", Subject="greeting",
                          MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
        headers, note = endpoint.next()
        assert isinstance(note, dict)
        assert (headers["x-amz-sns-message-type"], headers["x-amz-sns-message-id"],
                headers["x-amz-sns-subscription-arn"]) == ("Notification", out["MessageId"], arn)
        assert (note["Type"], note["MessageId"], note["Message"], note["Subject"], note["TopicArn"]) == (
            "Notification", out["MessageId"], "hello", "greeting", topic)
        assert note["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
        assert note["UnsubscribeURL"].endswith("SubscriptionArn=" + arn)
        verify(note)
        # SignatureVersion 2 (SHA256withRSA) and raw delivery
        sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
        sns.publish(TopicArn=topic, Message="v2")
        _, v2 = endpoint.next()
        assert isinstance(v2, dict) and v2["SignatureVersion"] == "2"
        verify(v2)
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery",
                                        AttributeValue="true")
        sns.publish(TopicArn=topic, Message="just this")
        headers, raw = endpoint.next()
        assert (raw, headers["x-amz-sns-rawdelivery"]) == (b"just this", "true")
        assert endpoint.posts.empty()               # "before confirming" never came
        sns.unsubscribe(SubscriptionArn=arn)
        headers, bye = endpoint.next()
        assert isinstance(bye, dict)
        assert (headers["x-amz-sns-message-type"], bye["Type"]) == ("UnsubscribeConfirmation",
                                                                    "UnsubscribeConfirmation")
        verify(bye)
    finally:
        endpoint.close()


def test_confirm_subscription_by_token_and_its_errors(server: CumuloServer) -> None:
    sns = server.aws("sns")
    topic = sns.create_topic(Name="web-token")["TopicArn"]
    endpoint = Endpoint()
    try:
        arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url,
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        _, confirmation = endpoint.next()
        assert isinstance(confirmation, dict)
        with pytest.raises(ClientError) as caught:
            sns.confirm_subscription(TopicArn=topic, Token="0" * 128)
        assert caught.value.response["Error"]["Code"] == "InvalidParameter"
        assert sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"] == arn
        attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert (attrs["PendingConfirmation"], attrs["ConfirmationWasAuthenticated"]) == ("false", "true")
        for bad in ("ftp://x", "http://"):
            with pytest.raises(ClientError) as caught:
                sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=bad)
            assert caught.value.response["Error"]["Code"] == "InvalidParameter"
        with pytest.raises(ClientError) as caught:
            sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="DeliveryPolicy",
                                            AttributeValue=json.dumps({"healthyRetryPolicy": {"numRetries": 101}}))
        assert caught.value.response["Error"]["Code"] == "InvalidParameter"
    finally:
        endpoint.close()


def test_http_deliveries_are_retried_by_the_delivery_policy_then_dead_lettered(server: CumuloServer) -> None:
    sns, sqs = server.aws("sns"), server.aws("sqs")
    topic = sns.create_topic(Name="web-retry")["TopicArn"]
    dlq_url, dlq_arn = queue(server, "web-dlq")
    endpoint = Endpoint()
    try:
        policy = {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2}}
        arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url, ReturnSubscriptionArn=True,
                            Attributes={"DeliveryPolicy": json.dumps(policy),
                                        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})}
                            )["SubscriptionArn"]
        _, confirmation = endpoint.next()
        assert isinstance(confirmation, dict)
        sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
        endpoint.answers[:] = [500, 503]               # two server errors, then it takes it
        out = sns.publish(TopicArn=topic, Message="third time")
        seen = [endpoint.next() for _ in range(3)]
        assert [h["x-amz-sns-message-id"] for h, _ in seen] == [out["MessageId"]] * 3
        endpoint.answers[:] = [500, 500, 500]          # more than the policy's two retries
        sns.publish(TopicArn=topic, Message="never taken")
        assert len([endpoint.next() for _ in range(3)]) == 3
        [dead] = receive(sqs, dlq_url, 1, timeout=30)
        assert (dead["Type"], dead["Message"]) == ("Notification", "never taken")
        endpoint.answers[:] = [404]                    # a client error is final: no retry
        sns.publish(TopicArn=topic, Message="not found")
        endpoint.next()
        [dead] = receive(sqs, dlq_url, 1, timeout=30)
        assert dead["Message"] == "not found"
        assert endpoint.posts.empty()
        assert arn
    finally:
        endpoint.close()
