"""The target router (``cumulo/targets.py``): ARNs parsed once into kinds, one handler per kind,
failures as ``TargetFailed`` whose ``retryable`` alone says whether to try again, and dead letters
sent in one place. Handlers here are fakes; the real ones run in the integration tests."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cumulo.errors import ResourceNotFoundException, ValidationException
from cumulo.ports import Kind, Send, Target, TargetFailed
from cumulo.targets import TargetRouter, bus_delivery, queue_delivery
from cumulo.model.queue import QueueAttributes

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:work:live"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:jobs"
BUS = "arn:aws:events:us-east-1:000000000000:event-bus/orders"
API = "arn:aws:events:us-east-1:000000000000:api-destination/hook/0d7e"
MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:flow"


@pytest.mark.parametrize(("arn", "kind", "service"), [
    (FUNCTION, Kind.FUNCTION, "lambda"), (QUEUE, Kind.QUEUE, "sqs"), (BUS, Kind.BUS, "events"),
    (API, Kind.API_DESTINATION, "events"), (MACHINE, Kind.STATE_MACHINE, "states"),
    ("arn:aws:events:us-east-1:000000000000:rule/nightly", Kind.BUS, "events"),   # delivered as a bus would be
    ("arn:aws:sns:us-east-1:000000000000:topic", Kind.TOPIC, "sns"),
    ("arn:aws:s3:::bucket", None, "s3"),
    ("work", None, ""), ("arn:aws:sqs", None, ""),
])
def test_an_arn_is_parsed_once_into_its_kind(arn: str, kind: Kind | None, service: str) -> None:
    target = Target.parse(arn)
    assert (target.arn, target.kind, target.service) == (arn, kind, service)


class Recorder:
    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[Target, Send]] = []
        self.answer, self.error = answer, error

    def __call__(self, target: Target, message: Send) -> Any:
        self.calls.append((target, message))
        if self.error is not None:
            raise self.error
        return self.answer


def test_each_kind_goes_to_its_handler_and_answers_what_it_answered() -> None:
    router, functions, queues = TargetRouter(), Recorder("invoked"), Recorder({"MessageId": "m"})
    router.register(Kind.FUNCTION, functions)
    router.register(Kind.QUEUE, queues)
    assert router.send(FUNCTION, Send("{}")) == "invoked"
    assert router.send(Target.of(Kind.QUEUE, "https://queue.example/jobs"), Send("x")) == {"MessageId": "m"}
    assert [t.arn for t, _ in functions.calls] == [FUNCTION]
    assert [t.arn for t, _ in queues.calls] == ["https://queue.example/jobs"]


def test_a_kind_without_a_handler_fails_as_an_unavailable_target() -> None:
    with pytest.raises(TargetFailed) as info:
        TargetRouter().send("arn:aws:sns:us-east-1:000000000000:topic", Send("{}"))
    assert (info.value.type, info.value.retryable) == ("ValidationException", True)
    assert info.value.message == "Target arn:aws:sns:us-east-1:000000000000:topic is not available in this build."


def test_a_failing_service_is_an_unavailable_target_it_keeps_its_error_type() -> None:
    """A queue, function or state machine that is not there may be there later: retryable."""
    router = TargetRouter()
    router.register(Kind.QUEUE, Recorder(error=ResourceNotFoundException("no such queue")))
    with pytest.raises(TargetFailed) as info:
        router.send(QUEUE, Send("x"))
    assert (info.value.type, info.value.message, info.value.retryable) == (
        "ResourceNotFoundException", "no such queue", True)
    assert isinstance(info.value.__cause__, ResourceNotFoundException)


@pytest.mark.parametrize("retryable", [True, False])
def test_a_target_that_answered_for_itself_decides_whether_to_retry(retryable: bool) -> None:
    router = TargetRouter()
    refusal = TargetFailed("POST https://hook answered 400", retryable=retryable)
    router.register(Kind.API_DESTINATION, Recorder(error=refusal))
    with pytest.raises(TargetFailed) as info:
        router.send(API, Send("{}"))
    assert info.value is refusal and info.value.type == "TargetFailed"


def test_dead_letters_go_to_the_queue_as_platform_messages_with_their_attributes() -> None:
    router, queues = TargetRouter(), Recorder()
    router.register(Kind.QUEUE, queues)
    router.dead_letter(QUEUE, '{"n": 1}', {"RequestID": "r-1", "ErrorCode": "200", "ErrorMessage": "boom"},
                       "event r-1", numbers=("ErrorCode",))
    ((target, message),) = queues.calls
    assert target.arn == QUEUE and message.payload == '{"n": 1}' and message.platform
    assert message.attributes == {"RequestID": {"DataType": "String", "StringValue": "r-1"},
                                  "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                                  "ErrorMessage": {"DataType": "String", "StringValue": "boom"}}


def test_a_dead_letter_target_that_is_no_queue_drops_the_payload_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    router, anything = TargetRouter(), Recorder()
    for kind in Kind:
        router.register(kind, anything)
    with caplog.at_level(logging.WARNING, logger="cumulo.targets"):
        router.dead_letter("arn:aws:s3:::bucket", "{}", {}, "event e-1")
        router.dead_letter(FUNCTION, "{}", {}, "event e-2")
    assert anything.calls == []
    assert [r.getMessage() for r in caplog.records] == [
        "dead-letter target arn:aws:s3:::bucket is not a queue or a topic; event e-1 dropped",
        f"dead-letter target {FUNCTION} is not a queue or a topic; event e-2 dropped"]


def test_a_dead_letter_that_cannot_be_sent_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    router = TargetRouter()
    router.register(Kind.QUEUE, Recorder(error=ResourceNotFoundException("The specified queue does not exist.")))
    with caplog.at_level(logging.WARNING, logger="cumulo.targets"):
        router.dead_letter(QUEUE, "{}", {"RULE_ARN": "r"}, "event e-3")
    assert [r.getMessage() for r in caplog.records] == [
        f"could not send event e-3 to its dead-letter queue {QUEUE}: ResourceNotFoundException: The specified "
        "queue does not exist."]


class FakeQueues:
    def __init__(self, fifo: bool) -> None:
        self.fifo = fifo
        self.sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def attributes(self, ref: str) -> tuple[str, QueueAttributes]:
        return ref, QueueAttributes({"FifoQueue": "true"} if self.fifo else {})

    def send_message(self, ref: str, body: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.sent.append(("send_message", (ref, body, *args), kwargs))
        return {}

    def send_raw(self, ref: str, body: str, message_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        self.sent.append(("send_raw", (ref, body, message_attributes), {}))
        return {}


def test_a_queue_takes_an_event_bus_targets_group_when_fifo_and_refuses_fifo_without_one() -> None:
    fifo, standard = FakeQueues(fifo=True), FakeQueues(fifo=False)
    bus_target = Send("{}", sqs_parameters={"MessageGroupId": "g"}, dedup_id="event-1")
    queue_delivery(fifo)(Target.parse(QUEUE), bus_target)
    queue_delivery(standard)(Target.parse(QUEUE), bus_target)
    assert fifo.sent == [("send_message", (QUEUE, "{}"), {"group_id": "g", "dedup_id": "event-1"})]
    assert standard.sent == [("send_message", (QUEUE, "{}"), {})]          # the group is for FIFO queues
    with pytest.raises(ValidationException, match="needs SqsParameters.MessageGroupId"):
        queue_delivery(fifo)(Target.parse(QUEUE), Send("{}", sqs_parameters={}, dedup_id="event-2"))


def test_a_queue_gets_sendmessage_parameters_as_given_and_platform_messages_raw() -> None:
    queues = FakeQueues(fifo=False)
    deliver = queue_delivery(queues)
    deliver(Target.of(Kind.QUEUE, "https://q/jobs"), Send("a", delay_seconds=5, group_id="g", dedup_id="d",
                                                         attributes={"k": {"DataType": "String", "StringValue": "v"}}))
    deliver(Target.parse(QUEUE), Send("b", attributes={"x": {}}, platform=True))
    assert queues.sent == [
        ("send_message", ("https://q/jobs", "a", 5, {"k": {"DataType": "String", "StringValue": "v"}}, None, "g", "d"),
         {}),
        ("send_raw", (QUEUE, "b", {"x": {}}), {})]


class FakeBuses:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def forward(self, bus_ref: str, event: str, hops: tuple[str, ...], event_id: str) -> None:
        self.calls.append(("forward", (bus_ref, event, hops, event_id)))

    def put_events(self, entries: Any) -> dict[str, Any]:
        self.calls.append(("put_events", entries))
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}


def test_a_bus_forwards_an_event_or_puts_new_entries_on_itself_unless_they_name_a_bus() -> None:
    buses = FakeBuses()
    deliver = bus_delivery(buses)
    deliver(Target.parse(BUS), Send('{"id": "e-1"}', hops=("default",), event_id="e-1"))
    deliver(Target.parse(BUS), Send(entries=[{"Source": "lambda"}, {"Source": "x", "EventBusName": "other"}]))
    deliver(Target.of(Kind.BUS, ""), Send(entries=[{"Source": "task"}]))
    assert buses.calls == [
        ("forward", (BUS, '{"id": "e-1"}', ("default",), "e-1")),
        ("put_events", [{"EventBusName": BUS, "Source": "lambda"}, {"Source": "x", "EventBusName": "other"}]),
        ("put_events", [{"Source": "task"}])]


def test_a_topic_target_publishes_with_the_deliverys_trace() -> None:
    """A rule's or a destination's delivery to a topic carries its trace on, as a Publish's does."""
    from cumulo.targets import topic_delivery

    calls: list[dict[str, Any]] = []

    class Topics:
        def publish(self, *args: Any, **kwargs: Any) -> dict[str, str]:
            calls.append({"args": args, **kwargs})
            return {"MessageId": "m"}
    arn = "arn:aws:sns:us-east-1:000000000000:t"
    send = topic_delivery(Topics())   # type: ignore[arg-type]
    send(Target(arn, Kind.TOPIC), Send("hi", trace_header="Root=1-5f000000-000000000000000000000001"))
    send(Target(arn, Kind.TOPIC), Send("plain"))
    assert calls[0]["trace_header"] == "Root=1-5f000000-000000000000000000000001"
    assert "trace_header" not in calls[1]
