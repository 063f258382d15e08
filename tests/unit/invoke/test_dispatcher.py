"""The asynchronous dispatcher on its own: a fake clock, a fake runtime, a fake target router.

No function runs and nothing waits: each test leases the event from a real message store at the
time it names, hands it to ``AsyncDispatcher.process`` (what a worker thread does), and reads when
the store would hand it out again, and what the router was asked to send."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cumulo.config import Settings
from cumulo.errors import RequestTooLargeException, ServiceException, TooManyRequestsException
from cumulo.functions.asynchronous import AsyncDispatcher, AsyncEvents, EventInvokeConfigs
from cumulo.invoke.invoker import InvocationRequest, InvocationResult
from cumulo.model.function import Arns, FunctionConfiguration
from cumulo.model.queue import ASYNC_QUEUE
from cumulo.ports import Kind
from cumulo.store.ports import StoredMessage
from cumulo.store.sqlite_messages import SQLiteMessageStore

from ..fakes import FakeClock, FakeDocuments, FakeTargets

ARNS = Arns("us-east-1", "000000000000")
FAILURES = "arn:aws:sqs:us-east-1:000000000000:failures"
DLQ = "arn:aws:sqs:us-east-1:000000000000:dead"
MINUTE_MS = 60_000


class Functions:
    """``ports.Functions``: one function, ``work``, with a dead-letter queue."""

    config = FunctionConfiguration("work", "app.handler", "", 0, dead_letter_arn=DLQ)

    def get(self, ref: str, qualifier: str | None = None) -> FunctionConfiguration:
        return self.config

    def resolve_for_invoke(self, ref: str, qualifier: str | None = None) -> tuple[FunctionConfiguration, str]:
        return self.config, ARNS.function("work", qualifier)


class Runtime:
    """``ports.RunInvocation``: each run answers (or raises) the next of ``outcomes``."""

    def __init__(self, *outcomes: InvocationResult | Exception) -> None:
        self.outcomes = list(outcomes)
        self.runs: list[InvocationRequest] = []

    def __call__(self, config: FunctionConfiguration, request: InvocationRequest, invoked_arn: str) -> InvocationResult:
        self.runs.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


FAILED = InvocationResult(200, b'{"errorMessage": "asked to fail", "errorType": "ValueError"}', "$LATEST", "r",
                          function_error="Unhandled")
SUCCEEDED = InvocationResult(200, b'{"ok": true}', "$LATEST", "r")


@pytest.fixture
def messages(tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    store = SQLiteMessageStore(tmp_path / "queues.db")
    yield store
    store.close()


class Platform:
    def __init__(self, messages: SQLiteMessageStore, runtime: Runtime, **destinations: str) -> None:
        self.clock, self.targets, self.messages, self.runtime = FakeClock(), FakeTargets(), messages, runtime
        functions = Functions()
        self.configs = EventInvokeConfigs(FakeDocuments(), functions, ARNS, self.clock)
        self.configs.put("work", destination_config={key: {"Destination": arn} for key, arn in destinations.items()})
        self.dispatcher = AsyncDispatcher(messages.queues, messages.wakeups, functions, self.configs, runtime,
                                          self.targets, ARNS, Settings(), self.clock, workers=1)
        self.events = AsyncEvents(functions, messages.queues, 256 * 1024, self.clock)

    def leased(self, at_ms: int) -> list[StoredMessage]:
        return self.messages.queues.receive(ASYNC_QUEUE, 10, 30_000, at_ms)

    def next_attempt(self) -> int:
        """In how many ms (on the dispatcher's clock) the store hands the event out again."""
        with self.messages.database.tx() as db:
            (visible_ms,) = db.execute("SELECT visible_ms FROM messages WHERE queue = ?", (ASYNC_QUEUE,)).fetchone()
        return int(visible_ms) - self.clock.ms()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for t, m in self.targets.sent if t.arn == FAILURES]


def test_a_function_error_is_retried_after_one_minute_then_two_then_goes_to_its_destination_and_dlq(
        messages: SQLiteMessageStore) -> None:
    p = Platform(messages, Runtime(FAILED), OnFailure=FAILURES)
    request_id, _ = p.events.enqueue("work", None, b'{"n": 1}')
    for wait_ms in (MINUTE_MS, 2 * MINUTE_MS):
        (event,) = p.leased(p.clock.ms())
        p.dispatcher.process(event)
        assert p.next_attempt() == wait_ms
        p.clock.advance(wait_ms / 1000)
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)
    assert len(p.runtime.runs) == 3 and {r.request_id for r in p.runtime.runs} == {request_id}
    assert p.leased(p.clock.ms() + 600 * MINUTE_MS) == []                 # done with
    (record,) = p.records()
    assert record["requestContext"] == {"requestId": request_id, "functionArn": ARNS.function("work", "$LATEST"),
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["responsePayload"]["errorMessage"] == "asked to fail"
    ((target, message),) = p.targets.sent
    assert target.kind is Kind.QUEUE and message.platform                # the record is the platform's message
    (dead,) = p.targets.dead
    assert (dead.queue_arn, dead.payload, dead.subject) == (DLQ, '{"n": 1}', f"event {request_id}")
    assert dead.attributes == {"RequestID": request_id, "ErrorCode": "200", "ErrorMessage": "asked to fail"}
    assert dead.numbers == ("ErrorCode",)


def test_a_retry_past_the_maximum_age_is_not_made(messages: SQLiteMessageStore) -> None:
    p = Platform(messages, Runtime(FAILED), OnFailure=FAILURES)
    p.configs.put("work", maximum_event_age_in_seconds=100, update=True)
    p.events.enqueue("work", None, b"{}")
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)                    # retried at 60 s: within 100 s
    p.clock.advance(60)
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)                    # the next would be at 180 s
    assert p.leased(p.clock.ms() + 600 * MINUTE_MS) == []
    (record,) = p.records()
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2


@pytest.mark.parametrize("fault", [TooManyRequestsException("Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"),
                                   ServiceException("the platform failed")])
def test_a_retryable_failure_backs_off_doubling_to_five_minutes_and_is_no_attempt(
        messages: SQLiteMessageStore, fault: Exception) -> None:
    p = Platform(messages, Runtime(fault), OnFailure=FAILURES)
    p.events.enqueue("work", None, b"{}")
    waits = []
    for _ in range(11):
        (event,) = p.leased(p.clock.ms())
        p.dispatcher.process(event)
        waits.append(p.next_attempt() // 1000)
        p.clock.advance(waits[-1])
        assert event.sys is not None and event.sys["n"] == 0               # not an attempt
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert p.records() == [] and p.targets.dead == []


def test_a_retryable_failure_ends_at_the_maximum_age(messages: SQLiteMessageStore) -> None:
    p = Platform(messages, Runtime(TooManyRequestsException("Rate Exceeded.", "x")), OnFailure=FAILURES)
    p.configs.put("work", maximum_event_age_in_seconds=60, update=True)
    p.events.enqueue("work", None, b"{}")
    for wait_s in (1, 2, 4, 8, 16):                 # 31 s; the next (32 s) would end past 60 s
        (event,) = p.leased(p.clock.ms())
        p.dispatcher.process(event)
        p.clock.advance(wait_s)
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)
    assert p.leased(p.clock.ms() + 600 * MINUTE_MS) == []
    (record,) = p.records()
    assert record["requestContext"]["condition"] == "EventAgeExceeded" and "responsePayload" not in record
    (dead,) = p.targets.dead
    assert dead.attributes["ErrorCode"] == "TooManyRequestsException" and dead.numbers == ()


def test_a_failure_that_is_not_retryable_ends_the_event_at_once(messages: SQLiteMessageStore) -> None:
    p = Platform(messages, Runtime(RequestTooLargeException("Request must be smaller than 262144 bytes")),
                 OnFailure=FAILURES)
    p.events.enqueue("work", None, b"{}")
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)
    assert len(p.runtime.runs) == 1 and p.leased(p.clock.ms() + 600 * MINUTE_MS) == []
    (record,) = p.records()
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    (dead,) = p.targets.dead
    assert dead.attributes["ErrorCode"] == "RequestTooLargeException"


def test_an_event_older_than_its_maximum_age_is_not_run(messages: SQLiteMessageStore) -> None:
    p = Platform(messages, Runtime(SUCCEEDED), OnFailure=FAILURES)
    p.configs.put("work", maximum_event_age_in_seconds=60, update=True)
    p.events.enqueue("work", None, b"{}")
    p.clock.advance(61)
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)
    assert p.runtime.runs == []
    (record,) = p.records()
    assert record["requestContext"]["condition"] == "EventAgeExceeded"


@pytest.mark.parametrize(("destination", "sent"), [
    ("arn:aws:sqs:us-east-1:000000000000:done", lambda m: m.platform and json.loads(m.payload)["requestContext"]),
    ("arn:aws:lambda:us-east-1:000000000000:function:next", lambda m: m.invocation_type == "Event"),
    ("arn:aws:events:us-east-1:000000000000:event-bus/default", lambda m: m.entries and m.entries[0]["DetailType"]
     == "Lambda Function Invocation Result - Success" and m.entries[0]["Source"] == "lambda"),
])
def test_a_success_record_goes_to_its_destination_through_the_router(
        messages: SQLiteMessageStore, destination: str, sent: Callable[[Any], Any]) -> None:
    p = Platform(messages, Runtime(SUCCEEDED), OnSuccess=destination)
    p.targets.answer = lambda target, m: {"FailedEntryCount": 0, "Entries": []}
    p.events.enqueue("work", None, b"{}")
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)
    ((target, message),) = p.targets.sent
    assert target.arn == destination and sent(message)
    assert p.leased(p.clock.ms() + 600 * MINUTE_MS) == [] and p.targets.dead == []


def test_records_and_configurations_carry_the_clock_s_time(messages: SQLiteMessageStore) -> None:
    p = Platform(messages, Runtime(FAILED), OnFailure=FAILURES)
    p.clock.advance(0.25)
    assert p.configs.put("work", maximum_retry_attempts=0, update=True)["LastModified"] == p.clock.now()
    p.events.enqueue("work", None, b"{}")
    p.clock.advance(61.5)
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)
    (record,) = p.records()
    assert record["timestamp"] == datetime.fromtimestamp(p.clock.now(), timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def test_a_changed_configuration_applies_to_the_next_attempt(messages: SQLiteMessageStore) -> None:
    p = Platform(messages, Runtime(FAILED), OnFailure=FAILURES)
    p.events.enqueue("work", None, b"{}")
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)                    # retried in a minute, as configured then
    assert p.next_attempt() == MINUTE_MS and p.records() == []
    p.configs.put("work", maximum_retry_attempts=0, update=True)
    p.clock.advance(60)
    (event,) = p.leased(p.clock.ms())
    p.dispatcher.process(event)                    # the configuration read for each event is the new one
    (record,) = p.records()
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
