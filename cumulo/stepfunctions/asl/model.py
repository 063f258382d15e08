"""The parsed state machine: what ``definition.parse_definition`` builds and the interpreter runs.

Everything is checked and compiled once (paths parsed, intrinsic calls and JSONata expressions
parsed, Choice rules built); the interpreter never looks at raw definition text. Field values keep
AWS's meaning: an absent ``InputPath``/``ResultPath``/``OutputPath`` is ``$``; an explicit ``null``
is ``None`` (discard).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cumulo.stepfunctions.asl.choice import Rule
from cumulo.stepfunctions.asl.intrinsics import Call
from cumulo.stepfunctions.asl.jsonata import Expression
from cumulo.stepfunctions.asl.paths import Path, parse_path
from cumulo.stepfunctions.asl.resources import Resource
from cumulo.stepfunctions.asl.templates import Template

__all__ = ["QueryLanguage", "Retrier", "Catcher", "State", "PassState", "TaskState", "ChoiceBranch",
           "ChoiceState", "WaitState", "SucceedState", "FailState", "ParallelState", "MapState",
           "ItemBatcher", "StateMachine", "DOLLAR", "Jsonish"]

Json = Any
Jsonish = Any         # a JSONata template: JSON whose strings may be Expression objects
DOLLAR = parse_path("$")


class QueryLanguage(str, Enum):
    JSONPATH = "JSONPath"
    JSONATA = "JSONata"


@dataclass(frozen=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: int = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    jitter_strategy: str = "NONE"


@dataclass(frozen=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: Path | None = DOLLAR
    assign: Template | Jsonish | None = None
    output: Jsonish = None
    has_output: bool = False


@dataclass(frozen=True)
class State:
    name: str
    query_language: QueryLanguage
    next: str | None = None
    end: bool = False
    input_path: Path | None = DOLLAR
    output_path: Path | None = DOLLAR
    assign: Template | Jsonish | None = None        # Template in JSONPath, Jsonish in JSONata
    output: Jsonish = None
    has_output: bool = False
    comment: str | None = None

    @property
    def type(self) -> str:
        return type(self).__name__[:-len("State")]

    @property
    def jsonata(self) -> bool:
        return self.query_language is QueryLanguage.JSONATA


@dataclass(frozen=True)
class _ResultState(State):
    """States that produce a result: Pass, Task, Parallel, Map."""

    result_path: Path | None = DOLLAR
    parameters: Template | None = None
    result_selector: Template | None = None
    arguments: Jsonish = None
    has_arguments: bool = False


@dataclass(frozen=True)
class _RecoverableState(_ResultState):
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


@dataclass(frozen=True)
class PassState(_ResultState):
    result: Json = None
    has_result: bool = False


@dataclass(frozen=True)
class TaskState(_RecoverableState):
    resource: Resource | None = None
    timeout_seconds: int | Expression | None = None
    timeout_seconds_path: Path | None = None
    heartbeat_seconds: int | Expression | None = None
    heartbeat_seconds_path: Path | None = None
    credentials: Json = None


@dataclass(frozen=True)
class ChoiceBranch:
    next: str
    rule: Rule | None = None                  # JSONPath
    condition: Expression | bool | None = None  # JSONata
    assign: Template | Jsonish | None = None
    output: Jsonish = None
    has_output: bool = False


@dataclass(frozen=True)
class ChoiceState(State):
    choices: tuple[ChoiceBranch, ...] = ()
    default: str | None = None


@dataclass(frozen=True)
class WaitState(State):
    seconds: int | Expression | None = None
    timestamp: str | Expression | None = None
    seconds_path: Path | None = None
    timestamp_path: Path | None = None


@dataclass(frozen=True)
class SucceedState(State):
    pass


@dataclass(frozen=True)
class FailState(State):
    error: str | Expression | None = None
    cause: str | Expression | None = None
    error_path: Path | Call | None = None
    cause_path: Path | Call | None = None


@dataclass(frozen=True)
class ParallelState(_RecoverableState):
    branches: tuple["StateMachine", ...] = ()


@dataclass(frozen=True)
class ItemBatcher:
    max_items_per_batch: int | Expression | None = None
    max_items_per_batch_path: Path | None = None
    max_input_bytes_per_batch: int | Expression | None = None
    max_input_bytes_per_batch_path: Path | None = None
    batch_input: Template | Jsonish | None = None


@dataclass(frozen=True)
class MapState(_RecoverableState):
    processor: "StateMachine | None" = None
    mode: str = "INLINE"                        # INLINE or DISTRIBUTED (run inline here too)
    execution_type: str | None = None
    items_path: Path = DOLLAR
    items: Jsonish = None                       # JSONata: an array or an expression
    has_items: bool = False
    item_selector: Template | Jsonish | None = None
    max_concurrency: int | Expression = 0
    max_concurrency_path: Path | None = None
    tolerated_failure_count: int | Expression | None = None
    tolerated_failure_count_path: Path | None = None
    tolerated_failure_percentage: float | Expression | None = None
    tolerated_failure_percentage_path: Path | None = None
    item_batcher: ItemBatcher | None = None
    label: str | None = None


@dataclass(frozen=True)
class StateMachine:
    """A graph of states: the whole machine, or a Parallel branch / Map item processor."""

    start_at: str
    states: dict[str, State] = field(default_factory=dict)
    query_language: QueryLanguage = QueryLanguage.JSONPATH
    timeout_seconds: int | None = None
    comment: str | None = None
    version: str | None = None
