"""A publish enqueues its standard-queue subscribers' copies in its own transaction (nothing waits
for the outbox worker, which is not running here), and sends through the outbox whatever cannot go
that way: FIFO queues (their deduplication), a queue not there yet, a copy the queue refuses."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from cumulo import Cumulo
from cumulo.outbox import OUTBOX_QUEUE


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Cumulo]:
    with Cumulo(home=tmp_path / "home") as c:
        yield c


def now() -> int:
    return int(time.time() * 1000)


def arn(c: Cumulo, name: str) -> str:
    return f"arn:aws:sqs:{c.arns.region}:{c.arns.account}:{name}"


def bodies(c: Cumulo, name: str) -> list[str]:
    return [b.decode() for b in c.messages.queues.scan(name)]


def test_standard_queues_hold_their_copies_when_publish_answers(c: Cumulo) -> None:
    topic = c.topics.create_topic("t")
    for name in ("a", "b", "raw"):
        c.queues.create_queue(name, None, None, "http://x")
    subs = {name: c.topics.subscribe(topic, "sqs", arn(c, name)) for name in ("a", "b")}
    c.topics.subscribe(topic, "sqs", arn(c, "raw"), {"RawMessageDelivery": "true"})
    out = c.topics.publish(topic, 'say "hi"\n', attributes={"n": {"DataType": "Number", "StringValue": "3"}})
    assert c.messages.queues.counts(OUTBOX_QUEUE, now())[:2] == (0, 0)
    for name in ("a", "b"):
        [body] = bodies(c, name)
        doc = json.loads(body)
        assert (doc["MessageId"], doc["Message"], doc["MessageAttributes"]) == (
            out["MessageId"], 'say "hi"\n', {"n": {"Type": "Number", "Value": "3"}})
        assert doc["UnsubscribeURL"].endswith("SubscriptionArn=" + subs[name])   # each its own subscription
    assert bodies(c, "raw") == ['say "hi"\n']
    [m] = c.queues.receive_message("raw", message_attribute_names=["All"])
    assert m["MessageAttributes"] == {"n": {"DataType": "Number", "StringValue": "3"}}


def test_a_queue_delay_still_applies(c: Cumulo) -> None:
    topic = c.topics.create_topic("t")
    c.queues.create_queue("late", {"DelaySeconds": "60"}, None, "http://x")
    c.topics.subscribe(topic, "sqs", arn(c, "late"))
    c.topics.publish(topic, "m")
    assert c.messages.queues.counts("late", now()) == (0, 0, 1)


def test_what_cannot_be_enqueued_directly_goes_through_the_outbox(c: Cumulo) -> None:
    topic = c.topics.create_topic("t")
    c.queues.create_queue("small", {"MaximumMessageSize": "1024"}, None, "http://x")
    c.queues.create_queue("ok", None, None, "http://x")
    for name in ("small", "not-yet", "ok"):
        c.topics.subscribe(topic, "sqs", arn(c, name))
    c.topics.publish(topic, "x" * 2000)         # its envelope is over the small queue's limit
    assert c.messages.queues.counts(OUTBOX_QUEUE, now())[0] == 2
    assert len(bodies(c, "ok")) == 1 and bodies(c, "small") == []
    c.queues.create_queue("not-yet", None, None, "http://x")
    c.start_workers()
    deadline = time.monotonic() + 30
    while not bodies(c, "not-yet") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert json.loads(bodies(c, "not-yet")[0])["Message"] == "x" * 2000


def test_fifo_topics_deliver_through_the_outbox_with_their_deduplication(c: Cumulo) -> None:
    topic = c.topics.create_topic("t.fifo", {"FifoTopic": "true", "ContentBasedDeduplication": "true"})
    c.queues.create_queue("q.fifo", {"FifoQueue": "true"}, None, "http://x")
    c.topics.subscribe(topic, "sqs", arn(c, "q.fifo"))
    c.topics.publish(topic, "same", group_id="g")
    c.topics.publish(topic, "same", group_id="g")
    assert c.messages.queues.counts(OUTBOX_QUEUE, now())[0] == 2
    c.start_workers()
    deadline = time.monotonic() + 30
    while c.messages.queues.counts(OUTBOX_QUEUE, now())[:2] != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(bodies(c, "q.fifo")) == 1
