"""The interpreter's seam: what the shell feeds in, what it is asked to do, and what it records.

The core (``cumulo.stepfunctions.asl.interpreter.Execution``) is deterministic: given the definition, the
execution input, the ``ExecutionContext``, the injected ``Clock`` and ``Entropy``, and the sequence
of ``Event``s, it produces the same ``Command``s and history every time. It never performs I/O and
never raises for anything a state machine can do: a failing state becomes Retry/Catch or a
``Fail`` command.

    shell ── Event ─────────────► Execution.advance ──► Step(commands, history events)
      ▲   TaskSucceeded/TaskFailed/TaskHeartbeat/TimerFired/StopExecution        │
      └──── InvokeTask / StartTimer / CancelTimer / CancelTask / Succeed / Fail ◄┘

Ids (``task_id``, ``timer_id``) are minted by the core and unique within an execution. A task's
TimeoutSeconds and HeartbeatSeconds are enforced by the core with its own timers: the shell only
reports heartbeats and results, and drops a task when told ``CancelTask``. An event for an id the
core no longer waits for (a late result after a timeout) is ignored.

What ``InvokeTask`` asks depends on ``resource.pattern``: REQUEST_RESPONSE answers with the call's
result; RUN_JOB (``.sync``) answers when the job (e.g. the child execution) has ended;
WAIT_FOR_TASK_TOKEN makes the call, then answers only when someone presents ``task_token``
(``decode_task_token`` names the execution and task). For a plain Lambda ARN or ``lambda:invoke``
the output is the function's payload (the core shapes ``lambda:invoke``'s Invoke-API wrapper);
a function error is ``TaskFailed(error=errorType or "Lambda.Unknown", cause=the error document
as JSON)``, see ``resources.lambda_error``.
"""

from __future__ import annotations

import hashlib
import uuid as _uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, Union

from cumulo.stepfunctions.asl.resources import Resource

__all__ = [
    "Clock", "Entropy", "SeededEntropy", "ExecutionContext", "ExecutionStatus",
    "InvokeTask", "StartTimer", "CancelTimer", "CancelTask", "Succeed", "Fail", "Command",
    "TaskSucceeded", "TaskFailed", "TaskHeartbeat", "TimerFired", "StopExecution", "Event",
    "HistoryEvent", "Step", "event_to_json", "event_from_json",
]

Json = Any


class Clock(Protocol):
    """Wall time in seconds since the epoch (float). Tests inject a fake one."""

    def __call__(self) -> float: ...


class Entropy(Protocol):
    """The execution's source of randomness, addressed by draw number so that a restored snapshot
    (which remembers how many draws were made) continues the same sequence."""

    def random(self, draw: int) -> float: ...        # uniform in [0, 1)

    def uuid(self, draw: int) -> str: ...            # a version-4 UUID


@dataclass(frozen=True)
class SeededEntropy:
    """Entropy derived from a seed by SHA-256: deterministic for a seed, unguessable without it."""

    seed: str

    def _bytes(self, draw: int) -> bytes:
        return hashlib.sha256(f"{self.seed}:{draw}".encode()).digest()

    def random(self, draw: int) -> float:
        return int.from_bytes(self._bytes(draw)[:7], "big") / float(1 << 56)

    def uuid(self, draw: int) -> str:
        return str(_uuid.UUID(bytes=self._bytes(draw)[:16], version=4))


@dataclass(frozen=True)
class ExecutionContext:
    """What the context object (``$$``) says about the execution and its state machine."""

    execution_arn: str = "arn:aws:states:us-east-1:000000000000:execution:StateMachine:execution"
    state_machine_arn: str = "arn:aws:states:us-east-1:000000000000:stateMachine:StateMachine"
    role_arn: str = "arn:aws:iam::000000000000:role/StepFunctionsRole"
    region: str = "us-east-1"
    redrive_count: int = 0

    @property
    def name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]


class ExecutionStatus(str, Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


# ---- commands: what the shell is asked to do ------------------------------------------------

@dataclass(frozen=True)
class InvokeTask:
    """Run a Task state's resource with ``parameters``. For ``.waitForTaskToken`` the task ends
    when the token's owner calls back (SendTaskSuccess/Failure → TaskSucceeded/TaskFailed)."""

    task_id: str
    resource: Resource
    parameters: Json
    state_name: str
    timeout_seconds: int | None
    heartbeat_seconds: int | None
    task_token: str | None = None


@dataclass(frozen=True)
class StartTimer:
    timer_id: str
    fire_at: float                 # epoch seconds
    purpose: str                   # "wait", "retry", "timeout", "heartbeat", "execution-timeout"


@dataclass(frozen=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True)
class CancelTask:
    """Stop waiting for a task (its state timed out, or a sibling branch failed)."""

    task_id: str


@dataclass(frozen=True)
class Succeed:
    output: Json


@dataclass(frozen=True)
class Fail:
    error: str | None
    cause: str | None
    status: ExecutionStatus = ExecutionStatus.FAILED


Command = Union[InvokeTask, StartTimer, CancelTimer, CancelTask, Succeed, Fail]


# ---- events: what happened outside ---------------------------------------------------------

@dataclass(frozen=True)
class TaskSucceeded:
    """``output`` is the resource's answer: for Lambda the function's payload. ``metadata`` may
    add what the Invoke API said (``request_id``, ``executed_version``, ``status_code``,
    ``headers``) for ``lambda:invoke``'s result."""

    task_id: str
    output: Json
    metadata: dict[str, Json] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskFailed:
    task_id: str
    error: str | None
    cause: str | None = None


@dataclass(frozen=True)
class TaskHeartbeat:
    task_id: str


@dataclass(frozen=True)
class TimerFired:
    timer_id: str


@dataclass(frozen=True)
class StopExecution:
    error: str | None = None
    cause: str | None = None


Event = Union[TaskSucceeded, TaskFailed, TaskHeartbeat, TimerFired, StopExecution]

_EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in
                                 (TaskSucceeded, TaskFailed, TaskHeartbeat, TimerFired, StopExecution)}


def event_to_json(event: Event) -> dict[str, Json]:
    return {"type": type(event).__name__, **event.__dict__}


def event_from_json(data: dict[str, Json]) -> Event:
    fields = dict(data)
    event: Event = _EVENT_TYPES[fields.pop("type")](**fields)
    return event


# ---- what the core records -------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryEvent:
    """One GetExecutionHistory event. ``details`` is the ``<type>EventDetails`` member."""

    id: int
    previous_event_id: int
    timestamp: float
    type: str
    details: dict[str, Json] | None

    def to_aws(self) -> dict[str, Json]:
        out: dict[str, Json] = {"timestamp": self.timestamp, "type": self.type, "id": self.id,
                                "previousEventId": self.previous_event_id}
        if self.details is not None:
            out[_details_key(self.type)] = self.details
        return out


def _details_key(event_type: str) -> str:
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@dataclass(frozen=True)
class Step:
    """The result of one ``start``/``advance``: commands for the shell, events for the history."""

    commands: list[Command]
    events: list[HistoryEvent]
