"""A tiny synchronous shell for tests: runs an execution to its end on a fake clock.

``run_to_completion`` loops the core: each ``InvokeTask`` calls ``task_handler(resource_arn,
parameters)`` (its return value is the task's output; raising ``TaskError`` fails the task; returning
``Delayed`` completes it later on the fake clock, so timeouts and heartbeats can be exercised),
and timers fire in time order by moving the clock forward, without sleeping.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cumulo.stepfunctions.asl.interfaces import (CancelTask, CancelTimer, Command, Entropy, Event, ExecutionContext,
                                      ExecutionStatus, HistoryEvent, InvokeTask, StartTimer, TaskFailed, TaskSucceeded, TimerFired)
from cumulo.stepfunctions.asl.interpreter import Execution
from cumulo.stepfunctions.asl.model import StateMachine

__all__ = ["FakeClock", "TaskError", "Delayed", "RunResult", "run_to_completion"]

Json = Any
TaskHandler = Callable[[str, Json], Json]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance_to(self, moment: float) -> None:
        self.now = max(self.now, moment)


class TaskError(Exception):
    """Raised by a task handler: the task fails with this error name and cause."""

    def __init__(self, error: str | None, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


@dataclass(frozen=True)
class Delayed:
    """A handler's answer that arrives ``seconds`` later: ``value``, or ``error`` (a TaskError)."""

    seconds: float
    value: Json = None
    error: TaskError | None = None
    heartbeats: tuple[float, ...] = ()      # seconds after the start at which the task heartbeats


@dataclass
class RunResult:
    status: ExecutionStatus
    output: Json
    error: str | None
    cause: str | None
    history: list[HistoryEvent]
    execution: Execution
    commands: list[Command] = field(default_factory=list)


def run_to_completion(definition: StateMachine | str | Mapping[str, Json], input: Json = None,
                      task_handler: TaskHandler | None = None, clock: FakeClock | None = None, *,
                      context: ExecutionContext | None = None, entropy: Entropy | None = None,
                      max_events: int = 100_000) -> RunResult:
    clock = clock or FakeClock()
    execution = Execution(definition, input, context, clock=clock, entropy=entropy)
    handler = task_handler or _no_tasks
    order = itertools.count()
    immediate: deque[Event] = deque()
    scheduled: list[tuple[float, int, Event]] = []
    cancelled: set[str] = set()
    seen: list[Command] = []

    def obey(commands: list[Command]) -> None:
        for command in commands:
            seen.append(command)
            if isinstance(command, InvokeTask):
                _invoke(command, handler, clock, immediate, scheduled, order)
            elif isinstance(command, StartTimer):
                heapq.heappush(scheduled, (command.fire_at, next(order), TimerFired(command.timer_id)))
            elif isinstance(command, (CancelTimer, CancelTask)):
                cancelled.add(command.timer_id if isinstance(command, CancelTimer) else command.task_id)

    obey(execution.start().commands)
    for _ in range(max_events):
        if execution.status is not ExecutionStatus.RUNNING:
            break
        if immediate:
            event = immediate.popleft()
        elif scheduled:
            moment, _, event = heapq.heappop(scheduled)
            if _key(event) in cancelled:
                continue
            clock.advance_to(moment)
        else:
            raise RuntimeError("the execution waits for nothing the driver can deliver")
        obey(execution.advance(event).commands)
    else:
        raise RuntimeError(f"the execution did not end within {max_events} events")
    return RunResult(execution.status, execution.output, execution.error, execution.cause, execution.history,
                     execution, seen)


def _key(event: Event) -> str:
    return event.timer_id if isinstance(event, TimerFired) else getattr(event, "task_id", "")


def _invoke(command: InvokeTask, handler: TaskHandler, clock: FakeClock, immediate: deque[Event],
            scheduled: list[tuple[float, int, Event]], order: "itertools.count[int]") -> None:
    from cumulo.stepfunctions.asl.interfaces import TaskHeartbeat
    try:
        answer = handler(command.resource.arn, command.parameters)
    except TaskError as exc:
        immediate.append(TaskFailed(command.task_id, exc.error, exc.cause))
        return
    if isinstance(answer, Delayed):
        for beat in answer.heartbeats:
            heapq.heappush(scheduled, (clock.now + beat, next(order), TaskHeartbeat(command.task_id)))
        done: Event = (TaskFailed(command.task_id, answer.error.error, answer.error.cause) if answer.error
                       else TaskSucceeded(command.task_id, answer.value))
        heapq.heappush(scheduled, (clock.now + answer.seconds, next(order), done))
        return
    immediate.append(TaskSucceeded(command.task_id, answer))


def _no_tasks(resource: str, parameters: Json) -> Json:
    raise TaskError("States.TaskFailed", f"no task handler for {resource}")



