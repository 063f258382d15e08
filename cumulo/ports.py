"""Ports: the protocols by which Cumulo's capabilities meet, and the values that cross them.

A service or worker below the composition root (``cumulo/app.py``) never reaches into the root
or into another service: its constructor takes the store objects it works on, the settings it
reads, and these ports for everything else. Only ``app.py`` builds the real implementations and
wires them together; a unit test gives fakes instead (a clock that moves when told, a router that
records what it was asked to send).

- ``Clock``: the time a service reads and sleeps on (``SYSTEM_CLOCK`` is the machine's).
- ``Worker``: what runs without a caller, started and stopped by the root.
- ``Documents``: the store's documents by kind and id, and the generation that says when they
  changed.
- ``Functions``: what a function name resolves to; ``Invoke``: invoking one (synchronously, or
  ``invocation_type="Event"`` to commit it to the asynchronous queue); ``RunInvocation``: running a
  resolved configuration on the runtime (the asynchronous dispatcher's way in).
- ``Queues``, ``Streams``: what a queue's or stream's consumers (event-source mappings and their
  pollers) use of the queue and stream services.
- ``ServiceCalls``: an API action of a service Cumulo serves, called as the AWS SDK calls it, as a
  role (a state machine's DynamoDB and SDK tasks).
- ``Targets``: delivery to a target ARN (``Target``, parsed once) and dead-lettering, through one
  table from the ARN's kind to its delivery (``cumulo/targets.py``). A delivery that fails raises
  ``TargetFailed``; whether trying again may help is its ``retryable``, and nothing else.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cumulo.errors import CumuloError

if TYPE_CHECKING:
    from cumulo.invoke.invoker import InvocationRequest, InvocationResult
    from cumulo.model.function import FunctionConfiguration
    from cumulo.model.queue import QueueAttributes
    from cumulo.store.ports import StoredMessage

__all__ = ["Clock", "SystemClock", "SYSTEM_CLOCK", "now_ms", "Worker", "Documents", "Functions",
           "Invoke", "RunInvocation", "RuleSchedules", "Queues", "Streams", "ServiceCalls", "EventPattern",
           "CompilePattern", "Kind", "Target", "Send", "TargetFailed",
           "Targets"]


# -- time ---------------------------------------------------------------------------------------
class Clock(Protocol):
    def now(self) -> float: ...                 # wall clock: seconds since the epoch
    def monotonic(self) -> float: ...           # for intervals
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


def now_ms(clock: Clock) -> int:
    """The clock's wall time in milliseconds (the message store's unit)."""
    return int(clock.now() * 1000)


# -- workers and the store -------------------------------------------------------------------------
class Worker(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Documents(Protocol):
    """The store's documents (``store.base.Store``'s part that services use)."""

    # bumped whenever something others may have cached changed (this process's writes or another's)
    @property
    def generation(self) -> int: ...

    def put_document(self, kind: str, doc_id: str, doc: dict[str, Any]) -> None: ...
    def get_document(self, kind: str, doc_id: str) -> dict[str, Any] | None: ...
    def list_documents(self, kind: str) -> list[dict[str, Any]]: ...
    def delete_document(self, kind: str, doc_id: str) -> bool: ...


# -- functions -----------------------------------------------------------------------------------
class Functions(Protocol):
    """What a FunctionName (name, partial or full ARN, with a qualifier) names."""

    def get(self, ref: str, qualifier: str | None = None) -> FunctionConfiguration: ...
    def resolve_for_invoke(self, ref: str, qualifier: str | None = None) -> tuple[FunctionConfiguration, str]: ...


class Invoke(Protocol):
    """Invoke a function as Lambda's Invoke does (``Cumulo.invoke``): function errors are results;
    ``invocation_type="Event"`` commits the event and answers 202."""

    def __call__(self, name: str, payload: bytes | str | None = None, qualifier: str | None = None,
                 invocation_type: str = "RequestResponse", *,
                 trace_header: str | None = None, dedup_id: str | None = None) -> InvocationResult: ...


class RunInvocation(Protocol):
    """Run one invocation of a resolved configuration, synchronously, on the runtime."""

    def __call__(self, config: FunctionConfiguration, request: InvocationRequest,
                 invoked_arn: str) -> InvocationResult: ...


class RuleSchedules(Protocol):
    """The schedules an event bus keeps for its scheduled rules (``sources.schedules.Schedules``)."""

    def create(self, name: str, expression: str, target_arn: str, *, state: str = "ENABLED",
               update: bool = False) -> dict[str, Any]: ...
    def delete(self, name: str) -> None: ...


# -- queues and streams, as their consumers see them ------------------------------------------------
class Queues(Protocol):
    """What event-source mappings and their pollers use of the queue service (``sources.queues.QueueService``)."""

    def exists(self, ref: str) -> bool: ...
    def attributes(self, ref: str) -> tuple[str, QueueAttributes]: ...       # (name, attributes); raises if none
    def lease(self, name: str, attrs: QueueAttributes, limit: int, visibility_s: int, wait_s: float,
              stop: Any = None) -> list[StoredMessage]: ...
    def system_attributes(self, m: StoredMessage) -> dict[str, str]: ...


class Streams(Protocol):
    """What event-source mappings and their pollers use of the stream service (``sources.streams.StreamService``)."""

    def require(self, arn: str) -> None: ...                                 # raises unless the stream exists
    def shard_count(self, name: str) -> int: ...
    def position(self, name: str, shard: int, kind: str, sequence: Any = None, timestamp: Any = None) -> int: ...


# -- event patterns (EventBridge's language), for those who filter with them ------------------------
class EventPattern(Protocol):
    def matches(self, event: Any) -> bool: ...


class CompilePattern(Protocol):
    """An event pattern's JSON text compiled (``events.pattern.compile_pattern``); a bad pattern raises
    its ``InvalidEventPatternException``."""

    def __call__(self, pattern: str) -> EventPattern: ...


# -- services' APIs, called directly ----------------------------------------------------------------
class ServiceCalls(Protocol):
    """An API action (``PutItem``) of a service Cumulo serves (botocore's name: ``dynamodb``), with the
    API's request document; its answer's document back. ``role``: the caller's role ARN, whose
    policies decide the call (None: the platform's own call). A refusal raises the service's error
    (a ``CumuloError``: its ``type`` is the API's error name), an unserved action ``UnknownOperation``."""

    def call(self, service: str, action: str, params: dict[str, Any], role: str | None = None) -> Any: ...

    def refusal(self, role: str | None, service: str, action: str, params: dict[str, Any]) -> str | None:
        """AWS's access denied message when ``role`` may not make the API call ``action`` with the
        request document ``params`` (decided as the control plane decides a role session's request:
        the role's policies and the resource's own); None when allowed, for the platform's own call
        (``role`` None), under ``Settings.iam`` off, and under audit (which logs instead)."""
        ...

    def assumable(self, role_arn: str, service: str) -> bool:
        """Whether ``role_arn`` is a stored role whose trust policy lets the service principal
        ``service`` (``states.amazonaws.com``; its regional name counts too) assume it."""
        ...


# -- targets ---------------------------------------------------------------------------------------
class Kind(enum.Enum):
    """What a target ARN names, so what delivering to it means."""

    FUNCTION = "function"                 # arn:aws:lambda:…:function:name[:qualifier]
    QUEUE = "queue"                       # arn:aws:sqs:…:name (or a queue's URL or name)
    BUS = "bus"                           # arn:aws:events:…:event-bus/name
    API_DESTINATION = "api-destination"   # arn:aws:events:…:api-destination/name/id
    STATE_MACHINE = "state-machine"       # arn:aws:states:…:stateMachine:name
    TOPIC = "topic"                       # arn:aws:sns:…:name


@dataclass(frozen=True)
class Target:
    """A target, parsed once: ``kind`` is None for an ARN of a service Cumulo does not deliver to."""

    arn: str            # as given (for a function or a queue, possibly its name or URL: see ``of``)
    kind: Kind | None
    service: str = ""   # the ARN's service (lambda, sqs, events, states, sns …)

    @classmethod
    def parse(cls, arn: str) -> "Target":
        parts = arn.split(":", 5) if isinstance(arn, str) else []
        if len(parts) < 6 or parts[0] != "arn":
            return cls(str(arn), None)
        service, resource = parts[2], parts[5]
        if service == "lambda":
            kind: Kind | None = Kind.FUNCTION
        elif service == "sqs":
            kind = Kind.QUEUE
        elif service == "states":
            kind = Kind.STATE_MACHINE
        elif service == "sns":
            kind = Kind.TOPIC
        elif service == "events":
            kind = Kind.API_DESTINATION if resource.startswith("api-destination/") else Kind.BUS
        else:
            kind = None
        return cls(arn, kind, service)

    @classmethod
    def of(cls, kind: Kind, ref: str) -> "Target":
        """A target named otherwise than by its ARN: a function's name, a queue's URL."""
        return cls(ref, kind)


@dataclass(frozen=True)
class Send:
    """One delivery: ``payload`` (text, usually JSON) and what its target's kind reads of the rest."""

    payload: str = ""
    # a function
    qualifier: str | None = None
    invocation_type: str = "Event"                    # or RequestResponse: answers the result
    once_id: str | None = None                        # an Event committed once per id in 5 min (a schedule's fire)
    # a queue: SendMessage's own parameters, or …
    attributes: dict[str, Any] | None = None          # message attributes
    delay_seconds: int | None = None
    group_id: str | None = None
    dedup_id: str | None = None
    sqs_parameters: dict[str, Any] | None = None      # … an event-bus target's SqsParameters (and dedup_id)
    platform: bool = False                            # … a message the platform makes (destinations, DLQs)
    # an API destination
    http_parameters: dict[str, Any] | None = None
    # an event bus: an event forwarded from ``hops`` (the buses it passed through), or new ``entries``
    hops: tuple[str, ...] = ()
    event_id: str = ""
    entries: list[Any] | None = None                  # PutEvents' entries (the target's bus unless named)
    # a topic: Publish's Subject (the message's attributes are ``attributes``)
    subject: str | None = None
    # a state machine
    name: str | None = None                           # the execution's name
    parent: dict[str, Any] | None = None              # startExecution.sync: the task waiting for it
    # any kind that carries a trace on: a function's invocation, a queue's AWSTraceHeader (docs/traces.md)
    trace_header: str | None = None
    # a push delivery by an AWS service (events.amazonaws.com for a rule, sns.amazonaws.com, s3.amazonaws.com)
    # on behalf of ``source_arn`` (the rule, topic, bucket): a target with a resource policy must allow it
    source_service: str | None = None
    source_arn: str | None = None


class TargetFailed(CumuloError):
    """A delivery failed. ``retryable``: whether trying again may help (an unavailable target
    may come back; a target that refused the delivery will refuse it again); ``type`` is the
    failure's own AWS error type (``TargetFailed`` when the target itself answered)."""

    status = 502

    def __init__(self, message: str, retryable: bool, code: str = "TargetFailed") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code

    @property
    def type(self) -> str:
        return self.code


class Targets(Protocol):
    """The target router (``cumulo.targets.TargetRouter``)."""

    def send(self, target: Target | str, message: Send) -> Any: ...
    def dead_letter(self, queue_arn: str, payload: str, attributes: dict[str, str], subject: str,
                    numbers: tuple[str, ...] = ()) -> None: ...
