"""boto3's ``sqs`` client against ``cumulo up``: the SQS JSON protocol, end to end.

The timing of queues (delays, visibility timeouts, long polls, retention, deduplication windows, the
purge interval) is tested to the millisecond on a fake clock in tests/unit/sources/test_queue_service.py;
here real time passes only in one test of each path: a message visible again after its timeout, a long
poll woken by a send."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any, Callable, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer, unique

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("sqs") / "home", store=new_store())
    try:
        yield srv
    finally:
        srv.close()


def sqs_client(server: CumuloServer) -> BaseClient:
    return server.aws("sqs", read_timeout=60)


@pytest.fixture(scope="module")
def sqs(server: CumuloServer) -> Iterator[BaseClient]:
    client = sqs_client(server)
    yield client
    client.close()


def code_of(info: pytest.ExceptionInfo[ClientError]) -> str:
    return info.value.response["Error"]["Code"]


def test_create_get_list_delete_queue(sqs: BaseClient, server: CumuloServer) -> None:
    name = unique("q")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    assert url == f"{server.endpoint}/000000000000/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name[:6])["QueueUrls"]
    # the same attributes again: the same queue; different ones: QueueAlreadyExists
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"] == url
    with pytest.raises(ClientError) as info:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "6"})
    assert code_of(info) == "QueueAlreadyExists"
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "5" and attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{name}"
    assert attrs["MaximumMessageSize"] == "262144" and attrs["ApproximateNumberOfMessages"] == "0"
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as info:
        sqs.get_queue_url(QueueName=name)
    assert code_of(info) == "AWS.SimpleQueueService.NonExistentQueue"
    assert isinstance(info.value, sqs.exceptions.QueueDoesNotExist)


def test_send_receive_delete_with_attributes(sqs: BaseClient) -> None:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello",
                            MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"},
                                               "n": {"DataType": "Number", "StringValue": "42"},
                                               "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["Body"] == "hello" and m["MessageId"] == sent["MessageId"]
    assert m["MessageAttributes"]["kind"] == {"DataType": "String", "StringValue": "greeting"}
    assert m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    # in flight: not visible to others
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                   "ApproximateNumberOfMessagesNotVisible"])
    assert attrs["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_visibility_timeout_returns_an_undeleted_message(sqs: BaseClient) -> None:
    url = sqs.create_queue(QueueName=unique("q"), Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    time.sleep(1.2)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"] and second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # the old receipt can no longer change the message
    with pytest.raises(ClientError) as info:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    assert code_of(info) == "ReceiptHandleIsInvalid"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["MessageId"] == first["MessageId"]


def test_long_polling_wakes_on_send(sqs: BaseClient, server: CumuloServer) -> None:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    other = sqs_client(server)
    timer = threading.Timer(0.5, lambda: other.send_message(QueueUrl=url, MessageBody="late"))
    started = time.monotonic()
    timer.start()
    try:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    finally:
        timer.join()
        other.close()
    waited = time.monotonic() - started
    assert got["Messages"][0]["Body"] == "late"
    assert 0.4 < waited < 5


def test_batches_report_per_entry(sqs: BaseClient) -> None:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"},
        {"Id": "c", "MessageBody": "bad", "DelaySeconds": 901}])
    assert sorted(e["Id"] for e in result["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in result["Failed"]] == [("c", "InvalidParameterValue", True)]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)] +
        [{"Id": "junk", "ReceiptHandle": "not-a-handle"}])
    assert len(deleted["Successful"]) == 2 and deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    for entries, code in (([], "AWS.SimpleQueueService.EmptyBatchRequest"),
                          ([{"Id": str(i), "MessageBody": "x"} for i in range(11)],
                           "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
                          ([{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}],
                           "AWS.SimpleQueueService.BatchEntryIdsNotDistinct")):
        with pytest.raises(ClientError) as info:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert code_of(info) == code


def test_bad_input_gets_sqs_errors_and_changes_nothing(sqs: BaseClient) -> None:
    url = sqs.create_queue(QueueName=unique("q"), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    cases: list[tuple[Any, str]] = [
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="x" * 1025), "InvalidParameterValue"),
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="bad \x01 char"), "InvalidMessageContents"),
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="x",
                                  MessageAttributes={"AWS.x": {"DataType": "String", "StringValue": "v"}}),
         "InvalidParameterValue"),
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="x",
                                  MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}),
         "InvalidParameterValue"),
        (lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11), "InvalidParameterValue"),
        (lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21), "InvalidParameterValue"),
        (lambda: sqs.create_queue(QueueName="bad name!"), "InvalidParameterValue"),
        (lambda: sqs.create_queue(QueueName=unique("q"), Attributes={"VisibilityTimeout": "43201"}),
         "InvalidAttributeValue"),
        (lambda: sqs.create_queue(QueueName=unique("q"), Attributes={"Nonsense": "1"}), "InvalidAttributeName"),
        (lambda: sqs.send_message(QueueUrl=url + "-missing", MessageBody="x"),
         "AWS.SimpleQueueService.NonExistentQueue"),
        (lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"), "ReceiptHandleIsInvalid"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as info:
            call()
        assert code_of(info) == code, info.value.response
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_fifo_groups_in_order_and_deduplicated(sqs: BaseClient) -> None:
    url = sqs.create_queue(QueueName=unique("q") + ".fifo",
                           Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    seqs = []
    for group, body in (("a", "a1"), ("b", "b1"), ("a", "a2"), ("a", "a3"), ("b", "b2")):
        seqs.append(sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)["SequenceNumber"])
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    # the same body within five minutes is a duplicate: the original's id, nothing stored
    dup = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    assert dup["SequenceNumber"] == seqs[0]
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["MessageGroupId"])["Messages"]
    assert [m["Body"] for m in first] == ["a1", "b1"]
    # both groups are in flight: nothing else may be delivered
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    nxt = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in nxt] == ["a2", "a3"]
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert code_of(info) == "MissingParameter"
    explicit = sqs.create_queue(QueueName=unique("q") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=explicit, MessageBody="x", MessageGroupId="g")
    assert code_of(info) == "InvalidParameterValue"
    one = sqs.send_message(QueueUrl=explicit, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    two = sqs.send_message(QueueUrl=explicit, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="d1")
    assert one["MessageId"] == two["MessageId"]


def test_redrive_to_dead_letter_queue_and_back(sqs: BaseClient) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName=unique("src"), Attributes={
        "VisibilityTimeout": "0", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    })["QueueUrl"]
    src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    assert len(sqs.receive_message(QueueUrl=src)["Messages"]) == 1
    assert len(sqs.receive_message(QueueUrl=src)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=src)     # third receive: moved instead
    dead = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert dead["Body"] == "poison" and dead["Attributes"]["DeadLetterQueueSourceArn"] == src_arn
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=dead["ReceiptHandle"], VisibilityTimeout=0)
    task = sqs.start_message_move_task(SourceArn=dlq_arn)
    assert task["TaskHandle"]
    moved = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert moved["Status"] == "COMPLETED" and moved["ApproximateNumberOfMessagesMoved"] == 1
    assert sqs.receive_message(QueueUrl=src)["Messages"][0]["Body"] == "poison"


def test_purge_and_set_attributes(sqs: BaseClient) -> None:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(5)])
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(ClientError) as info:
        sqs.purge_queue(QueueUrl=url)
    assert code_of(info) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "3"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]["DelaySeconds"] == "3"
    sqs.tag_queue(QueueUrl=url, Tags={"team": "core"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core"}
