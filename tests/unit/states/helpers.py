"""Small builders shared by the interpreter tests."""

from __future__ import annotations

from typing import Any

from cumulo.stepfunctions.asl import Execution, FakeClock, InvokeTask, StartTimer

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:work"
INVOKE = "arn:aws:states:::lambda:invoke"


def machine(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"StartAt": states[0][0], "States": dict(states), **top}


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


def types(history: list[Any]) -> list[str]:
    return [event.type for event in history]


def invokes(commands: list[Any]) -> list[InvokeTask]:
    return [c for c in commands if isinstance(c, InvokeTask)]


def timers(commands: list[Any]) -> list[StartTimer]:
    return [c for c in commands if isinstance(c, StartTimer)]


def started(definition: dict[str, Any], data: Any = None, **kwargs: Any) -> tuple[Execution, FakeClock, list[Any]]:
    clock = kwargs.pop("clock", None) or FakeClock()
    execution = Execution(definition, data, clock=clock, **kwargs)
    return execution, clock, execution.start().commands


class Draws:
    """Entropy that answers a fixed sequence (for jitter tests)."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def random(self, draw: int) -> float:
        return self.values[(draw - 1) % len(self.values)]

    def uuid(self, draw: int) -> str:
        return f"00000000-0000-4000-8000-{draw:012d}"
