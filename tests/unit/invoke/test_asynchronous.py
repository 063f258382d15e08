"""Asynchronous invocation's schedule: when retries come, and when an event is too old to run.

AWS's times (one minute before the second attempt, two before the third; MaximumEventAgeInSeconds at
least 60) are checked as they are, without waiting for them: the dispatcher runs one leased event at
a time (``AsyncDispatcher.process``, what its worker threads run), and the store is asked what it
would hand out at a given time. Functions run for real; only the clock the dispatcher reads is moved,
where a test says so (a fake clock, given to the dispatcher the platform builds).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest

from cumulo import Cumulo
from cumulo.model.queue import ASYNC_QUEUE
from cumulo.store.ports import StoredMessage, now_ms

from ..fakes import FakeClock

FAILS = """
def handler(event, context):
    print("attempt", context.aws_request_id)
    raise ValueError("asked to fail")
"""
MINUTE_MS = 60_000


@pytest.fixture
def failures(cumulo: Cumulo) -> str:
    """A queue for invocation records of failed events: its ARN."""
    cumulo.queues.create_queue("failures")
    return cumulo.queues.arn("failures")


def records(cumulo: Cumulo) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in cumulo.queues.receive_message("failures", max_messages=10)]


def leased(cumulo: Cumulo, at_ms: int) -> list[StoredMessage]:
    """What the store hands the dispatcher at ``at_ms`` (leasing it, as a worker would)."""
    return cumulo.messages.queues.receive(ASYNC_QUEUE, 10, 30_000, at_ms)


def attempts(cumulo: Cumulo, name: str) -> int:
    return sum(1 for r in cumulo.get_logs(name) if r.message.startswith("attempt "))


def test_a_failed_event_is_retried_after_one_minute_then_two(cumulo: Cumulo, deploy: Callable[..., str],
                                                             failures: str) -> None:
    name = deploy(FAILS)
    cumulo.event_invoke_configs.put(name, destination_config={"OnFailure": {"Destination": failures}})
    dispatcher = cumulo.async_dispatcher(workers=1)
    request_id, _ = cumulo.async_events.enqueue(name, None, b'{"n": 1}')

    (first,) = leased(cumulo, now_ms())
    dispatcher.process(first)
    failed_at = now_ms()
    assert attempts(cumulo, name) == 1
    assert leased(cumulo, failed_at + MINUTE_MS - 1_000) == []            # not before a minute
    (second,) = leased(cumulo, failed_at + MINUTE_MS + 1_000)
    assert second.id == request_id and second.sys is not None and second.sys["n"] == 1

    dispatcher.process(second)
    failed_again = now_ms()
    assert attempts(cumulo, name) == 2
    assert leased(cumulo, failed_again + 2 * MINUTE_MS - 1_000) == []     # two minutes this time
    (third,) = leased(cumulo, failed_again + 2 * MINUTE_MS + 1_000)

    dispatcher.process(third)
    assert attempts(cumulo, name) == 3                                   # MaximumRetryAttempts 2 by default
    assert leased(cumulo, now_ms() + 60 * MINUTE_MS) == []               # done with: no fourth attempt
    (record,) = records(cumulo)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["requestId"] == request_id


def test_a_retry_that_would_come_after_the_maximum_age_is_not_made(cumulo: Cumulo, deploy: Callable[..., str],
                                                                   failures: str) -> None:
    """MaximumEventAgeInSeconds 100: the first retry (at 1 minute) is within it, the second (3 minutes
    after the event) is not, so the second failure is the last attempt: EventAgeExceeded."""
    name = deploy(FAILS)
    cumulo.event_invoke_configs.put(name, maximum_event_age_in_seconds=100,
                                    destination_config={"OnFailure": {"Destination": failures}})
    dispatcher = cumulo.async_dispatcher(workers=1)
    cumulo.async_events.enqueue(name, None, b"{}")
    (first,) = leased(cumulo, now_ms())
    dispatcher.process(first)
    (second,) = leased(cumulo, now_ms() + MINUTE_MS + 1_000)
    dispatcher.process(second)
    assert attempts(cumulo, name) == 2
    assert leased(cumulo, now_ms() + 60 * MINUTE_MS) == []
    (record,) = records(cumulo)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorMessage"] == "asked to fail"


def test_an_event_older_than_its_maximum_age_is_not_delivered(cumulo: Cumulo, deploy: Callable[..., str],
                                                              failures: str) -> None:
    """An event that waited past MaximumEventAgeInSeconds (a server that was down, say) goes to the
    on-failure destination without running."""
    name = deploy("def handler(event, context):\n    print('attempt', context.aws_request_id)\n    return 1\n")
    cumulo.event_invoke_configs.put(name, maximum_event_age_in_seconds=60,
                                    destination_config={"OnFailure": {"Destination": failures}})
    request_id, _ = cumulo.async_events.enqueue(name, None, b'{"late": true}')
    (event,) = leased(cumulo, now_ms())
    dispatcher = cumulo.async_dispatcher(workers=1, clock=FakeClock(time.time() + 61))   # the dispatcher's clock
    dispatcher.process(event)
    assert attempts(cumulo, name) == 0
    assert leased(cumulo, now_ms() + 60 * MINUTE_MS) == []
    (record,) = records(cumulo)
    assert record["requestContext"] == {"requestId": request_id, "functionArn": cumulo.arns.function(name, "$LATEST"),
                                        "condition": "EventAgeExceeded", "approximateInvokeCount": 0}
    assert record["requestPayload"] == {"late": True} and "responsePayload" not in record


def test_an_event_within_its_maximum_age_is_delivered(cumulo: Cumulo, deploy: Callable[..., str],
                                                      failures: str) -> None:
    """The control for the test above: 59 s old under a 60 s maximum, it runs."""
    name = deploy("def handler(event, context):\n    print('attempt', context.aws_request_id)\n    return 1\n")
    cumulo.event_invoke_configs.put(name, maximum_event_age_in_seconds=60,
                                    destination_config={"OnFailure": {"Destination": failures}})
    cumulo.async_events.enqueue(name, None, b"{}")
    (event,) = leased(cumulo, now_ms())
    dispatcher = cumulo.async_dispatcher(workers=1, clock=FakeClock(time.time() + 59))
    dispatcher.process(event)
    assert attempts(cumulo, name) == 1 and records(cumulo) == []


def test_throttled_events_back_off_doubling_and_stop_at_the_maximum_age(
        cumulo: Cumulo, deploy: Callable[..., str], failures: str) -> None:
    """A throttle is not an attempt: the event comes back after 1 s, then 2 s, ... and once the next
    try would be past MaximumEventAgeInSeconds it goes to the on-failure destination instead."""
    name = deploy("def handler(event, context):\n    return 1\n")
    cumulo.put_function_concurrency(name, 0)            # every invocation is throttled
    cumulo.event_invoke_configs.put(name, maximum_event_age_in_seconds=60,
                                    destination_config={"OnFailure": {"Destination": failures}})
    clock = FakeClock(time.time())
    dispatcher = cumulo.async_dispatcher(workers=1, clock=clock)
    cumulo.async_events.enqueue(name, None, b"{}")
    for backoff_ms in (1_000, 2_000, 4_000):
        (event,) = leased(cumulo, clock.ms() + 10 * MINUTE_MS)
        dispatcher.process(event)
        thrown_at = clock.ms()
        assert leased(cumulo, thrown_at + backoff_ms - 300) == []
        assert leased(cumulo, thrown_at + backoff_ms + 300) != []
        assert records(cumulo) == []
    # 59.5 s old: the next backoff (8 s) would end past the 60 s maximum
    (event,) = leased(cumulo, clock.ms() + 10 * MINUTE_MS)
    clock.advance(59.5)
    dispatcher.process(event)
    assert leased(cumulo, now_ms() + 60 * MINUTE_MS) == []
    (record,) = records(cumulo)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
