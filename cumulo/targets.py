"""The target router: the one table from what a target ARN names to how a delivery reaches it.

Everything that sends to a target goes through ``TargetRouter.send``: an event-bus rule's
targets, an asynchronous invocation's destinations and dead-letter queue, a stream mapping's
on-failure destination, a schedule's target, a state machine's tasks. The ARN is parsed once
(``ports.Target``); its kind picks the handler registered for it (``app.py`` registers one per
kind, built by the functions below from the service that does the work):

    FUNCTION         invoke it: asynchronously (Event, the default) or, for a task, synchronously
    QUEUE            SendMessage: a platform-made message gets a FIFO group of its own
    BUS              forward an event (loop protection by the buses it passed) or PutEvents
    API_DESTINATION  one HTTP request (``events/destinations.py``)
    STATE_MACHINE    StartExecution
    TOPIC            Publish (``Send.subject``; ``attributes`` as message attributes)

A new kind of target is one ``Kind``, one handler and one ``register`` call.

Push deliveries (``Send.source_service``: a rule, a topic, a bucket delivering as its AWS service)
are first asked of ``guard`` (``app.py``: the target's resource policy, when it has one, must allow
that service principal for ``source_arn``, as on AWS); a refusal is ``TargetFailed`` with
``AccessDeniedException``, not retried.

Failures: every error a handler raises reaches the caller as ``TargetFailed``, whose
``retryable`` alone says whether to try again: a target that answered for itself (an API
destination's 4xx, a missing API destination) says so; any other failure (a queue, function, bus
or state machine that does not exist, a target that refused the payload, a throttle) counts as
an unavailable target, which may come back — EventBridge retries those until its retry policy
runs out. ``dead_letter`` is the one place an undeliverable payload goes to its dead-letter queue.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from cumulo.errors import CumuloError, ValidationException
from cumulo.model.queue import QueueAttributes
from cumulo.ports import Invoke, Kind, Send, Target, TargetFailed

__all__ = ["TargetRouter", "Handler", "function_delivery", "queue_delivery", "bus_delivery",
           "api_destination_delivery", "state_machine_delivery", "topic_delivery"]

log = logging.getLogger("cumulo.targets")

Handler = Callable[[Target, Send], Any]


class TargetRouter:
    """``ports.Targets``: the table, and the one place failures and dead letters are decided."""

    def __init__(self, guard: Callable[[Target, Send], str | None] | None = None) -> None:
        self._handlers: dict[Kind, Handler] = {}
        self.guard = guard      # a push delivery's refusal (AWS's message), or None when allowed

    def register(self, kind: Kind, handler: Handler) -> None:
        self._handlers[kind] = handler

    def send(self, target: Target | str, message: Send) -> Any:
        """Deliver ``message``; answers what the target's service answered. Raises ``TargetFailed``."""
        parsed = target if isinstance(target, Target) else Target.parse(target)
        try:
            handler = self._handlers.get(parsed.kind) if parsed.kind is not None else None
            if handler is None:
                raise ValidationException(f"Target {parsed.arn} is not available in this build.")
            if message.source_service is not None and self.guard is not None:
                refused = self.guard(parsed, message)
                if refused is not None:
                    raise TargetFailed(refused, retryable=False, code="AccessDeniedException")
            return handler(parsed, message)
        except TargetFailed:
            raise
        except CumuloError as err:
            raise TargetFailed(err.message, retryable=True, code=err.type) from err

    def dead_letter(self, queue_arn: str, payload: str, attributes: dict[str, str], subject: str,
                    numbers: tuple[str, ...] = ()) -> None:
        """Send an undeliverable ``payload`` (``subject`` names it in logs) to its dead-letter queue,
        with ``attributes`` as message attributes (strings; those named in ``numbers``, numbers).
        Failures are logged, never raised: there is nowhere further to send it."""
        target = Target.parse(queue_arn)
        if target.kind not in (Kind.QUEUE, Kind.TOPIC):
            log.warning("dead-letter target %s is not a queue or a topic; %s dropped", queue_arn, subject)
            return
        message_attributes = {name: {"DataType": "Number" if name in numbers else "String", "StringValue": value}
                              for name, value in attributes.items()}
        try:
            self.send(target, Send(payload, attributes=message_attributes, platform=True))
        except CumuloError as err:
            log.warning("could not send %s to its dead-letter queue %s: %s", subject, queue_arn, err)


# -- the handlers ----------------------------------------------------------------------------------
class Queues(Protocol):
    def attributes(self, ref: str) -> tuple[str, QueueAttributes]: ...
    def send_message(self, ref: str, body: Any, delay_seconds: int | None = None,
                     message_attributes: dict[str, Any] | None = None, system_attributes: dict[str, Any] | None = None,
                     group_id: str | None = None, dedup_id: str | None = None,
                     trace_header: str | None = None) -> dict[str, Any]: ...
    def send_raw(self, ref: str, body: str, message_attributes: dict[str, Any] | None = None) -> dict[str, Any]: ...


class Buses(Protocol):
    def forward(self, bus_ref: str, event: str, hops: tuple[str, ...], event_id: str) -> None: ...
    def put_events(self, entries: Any, trace_header: str | None = None) -> dict[str, Any]: ...


class ApiDestinations(Protocol):
    def invoke(self, arn: str, payload: str, http_parameters: dict[str, Any] | None) -> None: ...


class StateMachines(Protocol):
    def start_execution(self, machine_arn: Any, name: Any = None, input: Any = None,
                        parent: dict[str, Any] | None = None, trace_header: str | None = None) -> dict[str, Any]: ...


class Topics(Protocol):
    def publish(self, topic_arn: Any, message: Any, subject: Any = None, attributes: dict[str, Any] | None = None,
                structure: Any = None, group_id: Any = None, dedup_id: Any = None,
                trace_header: str | None = None) -> dict[str, str]: ...


def topic_delivery(topics: Topics) -> Handler:
    """Answers Publish's answer (MessageId)."""
    return lambda target, m: topics.publish(target.arn, m.payload, m.subject, m.attributes,
                                            group_id=m.group_id, dedup_id=m.dedup_id, **_traced(m))


def function_delivery(invoke: Invoke) -> Handler:
    """Answers the invocation's result (202 and its request id for an Event). An Event with a
    ``once_id`` is committed once per id within the deduplication window (a schedule's fire)."""
    return lambda target, m: invoke(target.arn, m.payload.encode(), qualifier=m.qualifier,
                                    invocation_type=m.invocation_type, dedup_id=m.once_id, **_traced(m))


def _traced(m: Send) -> dict[str, Any]:
    """The delivery's trace header as a keyword, when it carries one (docs/traces.md)."""
    return {"trace_header": m.trace_header} if m.trace_header else {}


def queue_delivery(queues: Queues) -> Handler:
    """Answers SendMessage's answer."""

    def send(target: Target, m: Send) -> Any:
        if m.platform:
            return queues.send_raw(target.arn, m.payload, m.attributes)
        if m.sqs_parameters is not None:        # an event-bus target: its group, for a FIFO queue only
            _, attrs = queues.attributes(target.arn)
            if not attrs.fifo:
                return queues.send_message(target.arn, m.payload, **_traced(m))
            group = m.sqs_parameters.get("MessageGroupId")
            if not group:
                raise ValidationException("A FIFO queue target needs SqsParameters.MessageGroupId.")
            return queues.send_message(target.arn, m.payload, group_id=group, dedup_id=m.dedup_id)
        return queues.send_message(target.arn, m.payload, m.delay_seconds, m.attributes, None, m.group_id,
                                   m.dedup_id, **_traced(m))

    return send


def bus_delivery(buses: Buses) -> Handler:
    """With ``entries``: PutEvents (each entry on the target's bus unless it names one; an empty
    target ARN leaves them to the default bus), answering its result; otherwise the payload is an
    event forwarded from another bus."""

    def send(target: Target, m: Send) -> Any:
        if m.entries is not None:
            bus = {"EventBusName": target.arn} if target.arn else {}
            return buses.put_events([{**bus, **e} if isinstance(e, dict) else e for e in m.entries])
        return buses.forward(target.arn, m.payload, m.hops, m.event_id)

    return send


def api_destination_delivery(destinations: ApiDestinations) -> Handler:
    return lambda target, m: destinations.invoke(target.arn, m.payload, m.http_parameters)


def state_machine_delivery(machines: StateMachines) -> Handler:
    """Answers StartExecution's answer (executionArn, startDate)."""
    return lambda target, m: machines.start_execution(target.arn, m.name, m.payload, parent=m.parent, **_traced(m))
