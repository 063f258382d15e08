"""The event bus's delivery worker on its own: a fake clock and a fake target router.

A delivery whose failure is ``retryable`` comes back with the backoff (``events_retry_base_s``
doubling, at most 60 s) until the target's RetryPolicy runs out; one that is not goes to the
dead-letter queue at once; the dead letter carries EventBridge's attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from cumulo.events.bus import DELIVERIES_QUEUE, DeliveryWorker
from cumulo.ports import Send, Target, TargetFailed
from cumulo.store.ports import NewMessage
from cumulo.store.sqlite_messages import SQLiteMessageStore

from ..fakes import FakeClock, FakeTargets

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"
DLQ = "arn:aws:sqs:us-east-1:000000000000:dead"
RULE = "arn:aws:events:us-east-1:000000000000:rule/orders"


@pytest.fixture
def messages(tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    store = SQLiteMessageStore(tmp_path / "queues.db")
    yield store
    store.close()


def queue_delivery(messages: SQLiteMessageStore, clock: FakeClock, **target: Any) -> None:
    meta = {"rule": RULE, "target": {"Id": "t", "Arn": QUEUE, "DeadLetterConfig": {"Arn": DLQ}, **target},
            "at": clock.ms(), "n": 0, "event_id": "e-1", "hops": ["default"]}
    messages.queues.send(DELIVERIES_QUEUE, [NewMessage("d-1", b'{"id": "e-1"}', None, meta, None, 0, 60_000)],
                         clock.ms())


def failing(error: TargetFailed) -> Any:
    def answer(target: Target, message: Send) -> Any:
        raise error
    return answer


def run(messages: SQLiteMessageStore, worker: DeliveryWorker, clock: FakeClock) -> int | None:
    """Deliver what is due now; answers in how many ms it comes back (None: it is gone)."""
    for m in messages.queues.receive(DELIVERIES_QUEUE, 10, 60_000, clock.ms()):
        worker.deliver(m)
    with messages.database.tx() as db:
        row = db.execute("SELECT visible_ms FROM messages WHERE queue = ?", (DELIVERIES_QUEUE,)).fetchone()
    return None if row is None else int(row[0]) - clock.ms()


def backoff(messages: SQLiteMessageStore, worker: DeliveryWorker, clock: FakeClock) -> list[int]:
    """Deliver, wait as long as it says, again, until it is gone: the waits, in seconds."""
    waits = []
    while (wait := run(messages, worker, clock)) is not None:
        waits.append(wait // 1000)
        clock.advance(wait / 1000)
    return waits


def test_a_delivery_goes_through_the_router_with_the_targets_parameters(messages: SQLiteMessageStore) -> None:
    clock, targets = FakeClock(), FakeTargets()
    queue_delivery(messages, clock, SqsParameters={"MessageGroupId": "g"})
    assert run(messages, DeliveryWorker(messages.queues, messages.wakeups, targets, 1.0, clock), clock) is None
    ((target, message),) = targets.sent
    assert target.arn == QUEUE and message.payload == '{"id": "e-1"}'
    assert (message.sqs_parameters, message.dedup_id, message.hops, message.event_id) == (
        {"MessageGroupId": "g"}, "e-1", ("default",), "e-1")
    assert targets.dead == []


def test_a_retryable_failure_comes_back_doubling_until_the_retry_policy_runs_out(messages: SQLiteMessageStore) -> None:
    clock = FakeClock()
    targets = FakeTargets(failing(TargetFailed("no such queue", retryable=True, code="QueueDoesNotExist")))
    queue_delivery(messages, clock, RetryPolicy={"MaximumRetryAttempts": 8})
    waits = backoff(messages, DeliveryWorker(messages.queues, messages.wakeups, targets, 1.0, clock), clock)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]               # then the 9th failure: attempts exhausted
    assert len(targets.sent) == 9
    (dead,) = targets.dead
    assert (dead.queue_arn, dead.payload, dead.subject) == (DLQ, '{"id": "e-1"}', "event e-1")
    assert dead.attributes == {"RULE_ARN": RULE, "TARGET_ARN": QUEUE, "ERROR_CODE": "QueueDoesNotExist",
                               "ERROR_MESSAGE": "no such queue"}


def test_a_retryable_failure_ends_at_the_maximum_event_age(messages: SQLiteMessageStore) -> None:
    clock = FakeClock()
    targets = FakeTargets(failing(TargetFailed("down", retryable=True)))
    queue_delivery(messages, clock, RetryPolicy={"MaximumEventAgeInSeconds": 60})
    waits = backoff(messages, DeliveryWorker(messages.queues, messages.wakeups, targets, 1.0, clock), clock)
    assert waits == [1, 2, 4, 8, 16]                           # 31 s; the next (32 s) would end past 60 s
    assert len(targets.dead) == 1


def test_a_failure_that_is_not_retryable_goes_to_the_dead_letter_queue_at_once(messages: SQLiteMessageStore) -> None:
    clock = FakeClock()
    targets = FakeTargets(failing(TargetFailed("POST https://hook answered 400: no", retryable=False)))
    queue_delivery(messages, clock)
    assert run(messages, DeliveryWorker(messages.queues, messages.wakeups, targets, 1.0, clock), clock) is None
    assert len(targets.sent) == 1
    (dead,) = targets.dead
    assert dead.attributes["ERROR_CODE"] == "TargetFailed"
    assert dead.attributes["ERROR_MESSAGE"] == "POST https://hook answered 400: no"
