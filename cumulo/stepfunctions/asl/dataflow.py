"""What one state computes from its input: the pure half of every state type.

JSONPath states:  raw input → InputPath → Parameters → (the work) → ResultSelector → ResultPath
                  (into the raw input) → OutputPath; ``Assign`` sees the result as ``$``.
JSONata states:   ``$states.input`` is the raw input; Arguments → (the work) → Output, with
                  ``$states.result`` (and ``$states.errorOutput`` in a Catch); Assign alongside.

Every function here raises ``StatesFailure`` for a state that cannot proceed and returns values
otherwise; the interpreter decides what a failure means (Retry, Catch, a failed execution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from cumulo.stepfunctions.asl import jsonata as _jsonata
from cumulo.stepfunctions.asl.choice import matches, parse_timestamp
from cumulo.stepfunctions.asl.errors import DATA_LIMIT_EXCEEDED, NO_CHOICE_MATCHED, QUERY_EVALUATION_ERROR, RUNTIME, StatesFailure
from cumulo.stepfunctions.asl.intrinsics import Randomness
from cumulo.stepfunctions.asl.jsonata import Expression
from cumulo.stepfunctions.asl.limits import MAX_PAYLOAD, TooLarge, measure
from cumulo.stepfunctions.asl.model import (Catcher, ChoiceBranch, ChoiceState, FailState, MapState, State, TaskState,
                                 WaitState)
from cumulo.stepfunctions.asl.paths import NoMatch, Path, dumps, put
from cumulo.stepfunctions.asl.templates import Template, evaluate_template, select

__all__ = ["Scope", "Outcome", "MapLimits"]

Json = Any


@dataclass
class Outcome:
    """A state's output and the variables it assigns."""

    output: Json
    assigned: dict[str, Json] = field(default_factory=dict)


@dataclass(frozen=True)
class MapLimits:
    max_concurrency: int                 # 0: unlimited
    tolerated_count: int | None
    tolerated_percentage: float | None


@dataclass
class Scope:
    """One state's evaluation environment."""

    state: State
    raw_input: Json
    context: dict[str, Json]
    variables: Mapping[str, Json]
    now: float
    randomness: Randomness

    # ---- basic evaluation ------------------------------------------------------------------

    def path(self, path: Path | None, data: Json) -> Json:
        """InputPath/OutputPath/ItemsPath: ``None`` discards (``{}``); no match is States.Runtime."""
        if path is None:
            return {}
        try:
            return path.select(data, self.context, self.variables)
        except NoMatch:
            raise StatesFailure(RUNTIME, f"Invalid path '{path.source}' : No results for path: "
                                         f"{path.normalized()}") from None

    def payload(self, template: Template | None, data: Json) -> Json:
        return data if template is None else evaluate_template(template, data, self.context, self.variables,
                                                               self.randomness)

    def jsonata(self, template: Json, field_name: str, **states: Json) -> Json:
        bindings = {"input": self.raw_input, "context": self.context, **states}
        return _jsonata.evaluate_template(template, field_name, bindings, self.variables, self.now, self.randomness)

    def effective_input(self) -> Json:
        return self.raw_input if self.state.jsonata else self.path(self.state.input_path, self.raw_input)

    def assign(self, assign: Any, prefix: str, dollar: Json, **states: Json) -> dict[str, Json]:
        if assign is None:
            return {}
        if self.state.jsonata:
            values = self.jsonata(assign, prefix, **states)
        else:
            values = evaluate_template(assign, dollar, self.context, self.variables, self.randomness)
        if not isinstance(values, dict):
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"The field '{prefix}' must evaluate to an object")
        try:                          # AWS: one Assign field's variables together at most 256 KiB
            measure(values, MAX_PAYLOAD)
        except TooLarge as exc:
            raise StatesFailure(DATA_LIMIT_EXCEEDED, f"The variables assigned by the field '{prefix}' are "
                                                     f"{exc.reason}, more than the maximum number of bytes "
                                                     "service limit", in_state=False) from None
        return values

    def number(self, value: int | float | Expression | None, path: Path | None, field_name: str, *,
               integer: bool = True, minimum: float | None = None) -> Any:
        """A number field given literally, as a JSONata expression, or by a ``...Path``."""
        if isinstance(value, Expression):
            result = self.jsonata(value, field_name)
            if not _is_number(result) or integer and result != int(result) or minimum is not None and result < minimum:
                raise StatesFailure(QUERY_EVALUATION_ERROR,
                                    f"The value of the field '{field_name}' must be a valid "
                                    f"{'integer' if integer else 'number'} but was: {dumps(result)}")
            return int(result) if integer else result
        if path is None:
            return value
        found = self.path(path, self.effective_input())
        if not _is_number(found) or integer and found != int(found):
            shown = found if isinstance(found, str) else dumps(found)
            raise StatesFailure(RUNTIME, f"The {field_name}Path field refers to value \"{shown}\" which is not a valid "
                                         f"{'integer' if integer else 'float'}: {path.source}")
        return int(found) if integer else found

    # ---- the tail shared by Task, Parallel and Map --------------------------------------------

    def complete(self, result: Json) -> Outcome:
        state = self.state
        if state.jsonata:
            output = self.jsonata(state.output, "Output", result=result) if state.has_output else result
            return Outcome(output, self.assign(state.assign, "Assign", None, result=result))
        selector = getattr(state, "result_selector", None)
        selected = self.payload(selector, result) if selector is not None else result
        assigned = self.assign(state.assign, "Assign", selected)
        combined = self._result_path(getattr(state, "result_path", None), selected)
        return Outcome(self.path(state.output_path, combined), assigned)

    def _result_path(self, result_path: Path | None, result: Json) -> Json:
        return self.raw_input if result_path is None else put(self.raw_input, result_path, result)

    def caught(self, catcher: Catcher, error: str | None, cause: str | None) -> Outcome:
        error_output: dict[str, Json] = {}
        if error is not None:
            error_output["Error"] = error
        if cause is not None:
            error_output["Cause"] = cause
        if self.state.jsonata:
            output = (self.jsonata(catcher.output, "Catch/Output", errorOutput=error_output)
                      if catcher.has_output else error_output)
            return Outcome(output, self.assign(catcher.assign, "Catch/Assign", None, errorOutput=error_output))
        assigned = self.assign(catcher.assign, "Catch/Assign", error_output)
        return Outcome(self._result_path(catcher.result_path, error_output), assigned)

    # ---- per state type ----------------------------------------------------------------------

    def pass_(self) -> Outcome:
        state = self.state
        if state.jsonata:
            return self.plain()
        effective = self.effective_input()
        parameters = getattr(state, "parameters", None)
        if parameters is not None:
            result = self.payload(parameters, effective)
        else:
            result = state.result if getattr(state, "has_result", False) else effective  # type: ignore[attr-defined]
        assigned = self.assign(state.assign, "Assign", result)
        combined = self._result_path(getattr(state, "result_path", None), result)
        return Outcome(self.path(state.output_path, combined), assigned)

    def plain(self) -> Outcome:
        """Succeed, Wait and a JSONata Pass: the input filtered, or Output."""
        state = self.state
        if state.jsonata:
            output = self.jsonata(state.output, "Output") if state.has_output else self.raw_input
            return Outcome(output, self.assign(state.assign, "Assign", None))
        effective = self.effective_input()
        assigned = self.assign(state.assign, "Assign", effective)
        return Outcome(self.path(state.output_path, effective), assigned)

    def choose(self) -> tuple[str, Outcome]:
        state = self.state
        assert isinstance(state, ChoiceState)
        effective = self.effective_input()
        for index, branch in enumerate(state.choices):
            if self._branch_matches(branch, index, effective):
                return branch.next, self._choice_outcome(branch, f"Choices[{index}]", effective)
        if state.default is None:
            raise StatesFailure(NO_CHOICE_MATCHED, f"No Choice Rule matched in the Choice state '{state.name}' and no "
                                                   "Default is defined", in_state=False)
        return state.default, self._choice_outcome(None, "", effective)

    def _branch_matches(self, branch: ChoiceBranch, index: int, effective: Json) -> bool:
        if not self.state.jsonata:
            assert branch.rule is not None
            return matches(branch.rule, effective, self.context, self.variables)
        if isinstance(branch.condition, bool):
            return branch.condition
        value = self.jsonata(branch.condition, f"Choices[{index}]/Condition")
        if not isinstance(value, bool):
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"The Condition field of Choices[{index}] must evaluate to a "
                                                        f"boolean but was: {dumps(value)}")
        return value

    def _choice_outcome(self, branch: ChoiceBranch | None, prefix: str, effective: Json) -> Outcome:
        """The state-level Assign applies whichever way the Choice goes, and the matched rule's
        Assign on top of it (AWS: "applies regardless of which choice rule matches"); a rule's
        Output (JSONata) replaces the state's."""
        state = self.state
        assert isinstance(state, ChoiceState)
        where = f"{prefix}/" if prefix else ""
        dollar = None if state.jsonata else effective
        assigned = self.assign(state.assign, "Assign", dollar)
        if branch is not None and branch.assign is not None:
            assigned.update(self.assign(branch.assign, f"{where}Assign", dollar))
        if not state.jsonata:
            return Outcome(self.path(state.output_path, effective), assigned)
        if branch is not None and branch.has_output:
            return Outcome(self.jsonata(branch.output, f"{where}Output"), assigned)
        output = self.jsonata(state.output, "Output") if state.has_output else self.raw_input
        return Outcome(output, assigned)

    def wait_until(self) -> float:
        state = self.state
        assert isinstance(state, WaitState)
        if isinstance(state.seconds, (int, Expression)) and not isinstance(state.seconds, bool):
            seconds = self.number(state.seconds, None, "Seconds", minimum=0)
            return self.now + seconds
        if state.timestamp is not None:
            text = self.jsonata(state.timestamp, "Timestamp") if isinstance(state.timestamp, Expression) \
                else state.timestamp
            moment = parse_timestamp(text) if isinstance(text, str) else None
            if moment is None:
                raise StatesFailure(QUERY_EVALUATION_ERROR, f"The Timestamp field must be a valid ISO-8601 timestamp "
                                                            f"but was: {dumps(text)}")
            return moment.timestamp()
        effective = self.effective_input()
        if state.seconds_path is not None:
            value = self.path(state.seconds_path, effective)
            if not _is_number(value) or value != int(value):
                raise StatesFailure(RUNTIME, "The SecondsPath parameter cannot be parsed as a long value: "
                                             f"{state.seconds_path.source} == {dumps(value)}")
            if value < 0:
                raise StatesFailure(RUNTIME, "The SecondsPath parameter references a negative value: "
                                             f"{state.seconds_path.source} == {dumps(value)}")
            return self.now + int(value)
        assert state.timestamp_path is not None
        value = self.path(state.timestamp_path, effective)
        moment = parse_timestamp(value) if isinstance(value, str) else None
        if moment is None:
            raise StatesFailure(RUNTIME, "The TimestampPath parameter does not reference a valid ISO-8601 extended "
                                         f"offset date-time format string: {state.timestamp_path.source} == "
                                         f"{dumps(value)}")
        return moment.timestamp()

    def fail_values(self) -> tuple[str | None, str | None]:
        state = self.state
        assert isinstance(state, FailState)
        values = []
        for key, literal, selector in (("Error", state.error, state.error_path), ("Cause", state.cause, state.cause_path)):
            if isinstance(literal, Expression):
                value = self.jsonata(literal, key)
            elif selector is not None:
                value = select(selector, f"{key}Path", self.raw_input, self.context, self.variables, self.randomness)
            else:
                value = literal
            if value is not None and not isinstance(value, str):
                value = dumps(value)
            values.append(value)
        return values[0], values[1]

    def arguments(self) -> Json:
        """What a Task sends its resource, or a Parallel gives each branch."""
        state = self.state
        if state.jsonata:
            has = getattr(state, "has_arguments", False)
            return self.jsonata(getattr(state, "arguments", None), "Arguments") if has else self.raw_input
        return self.payload(getattr(state, "parameters", None), self.effective_input())

    def task_timeouts(self) -> tuple[int | None, int | None]:
        state = self.state
        assert isinstance(state, TaskState)
        timeout = self.number(state.timeout_seconds, state.timeout_seconds_path, "TimeoutSeconds", minimum=1)
        heartbeat = self.number(state.heartbeat_seconds, state.heartbeat_seconds_path, "HeartbeatSeconds",
                                minimum=1)
        for name, value in (("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)):
            if value is not None and value <= 0:
                raise StatesFailure(RUNTIME, f"{name} must be positive, but was {value}")
        return timeout, heartbeat

    def map_items(self) -> list[Json]:
        state = self.state
        assert isinstance(state, MapState)
        if state.jsonata:
            items = self.jsonata(state.items, "Items") if state.has_items else self.raw_input
            error = QUERY_EVALUATION_ERROR
        else:
            items = self.path(state.items_path, self.effective_input())
            error = RUNTIME
        if not isinstance(items, list):
            raise StatesFailure(error, f"Map state input must be an array but was: {dumps(items)}")
        return items

    def item_input(self, item: Json, index: int) -> Json:
        state = self.state
        assert isinstance(state, MapState)
        if state.item_selector is None:
            return item
        context = {**self.context, "Map": {"Item": {"Index": index, "Value": item}}}
        scope = Scope(state, self.raw_input, context, self.variables, self.now, self.randomness)
        if state.jsonata:
            return scope.jsonata(state.item_selector, "ItemSelector")
        return scope.payload(state.item_selector, self.effective_input())

    def map_limits(self) -> MapLimits:
        state = self.state
        assert isinstance(state, MapState)
        concurrency = self.number(state.max_concurrency, state.max_concurrency_path, "MaxConcurrency")
        count = self.number(state.tolerated_failure_count, state.tolerated_failure_count_path,
                            "ToleratedFailureCount")
        percentage = self.number(state.tolerated_failure_percentage, state.tolerated_failure_percentage_path,
                                 "ToleratedFailurePercentage", integer=False)
        if concurrency is not None and concurrency < 0:
            raise StatesFailure(RUNTIME, "MaxConcurrency cannot be negative.")
        if count is not None and count < 0:
            raise StatesFailure(RUNTIME, "ToleratedFailureCount cannot be negative.")
        if percentage is not None and not 0 <= percentage <= 100:
            raise StatesFailure(RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
        return MapLimits(int(concurrency or 0), count, percentage)

    def batches(self, inputs: list[Json], limit: int) -> list[Json]:
        """ItemBatcher: items grouped as ``{"Items": [...], "BatchInput": ...}``. Each item is written
        once (a group's size is the sum of its items'), and all batches together are at most ``limit``
        bytes (the BatchInput repeats in each), else States.DataLimitExceeded."""
        state = self.state
        assert isinstance(state, MapState) and state.item_batcher is not None
        batcher = state.item_batcher
        most = self.number(batcher.max_items_per_batch, batcher.max_items_per_batch_path, "MaxItemsPerBatch")
        size_limit = self.number(batcher.max_input_bytes_per_batch, batcher.max_input_bytes_per_batch_path,
                                 "MaxInputBytesPerBatch")
        extra: dict[str, Json] = {}
        if batcher.batch_input is not None:
            extra["BatchInput"] = (self.jsonata(batcher.batch_input, "ItemBatcher/BatchInput") if state.jsonata
                                   else self.payload(batcher.batch_input, self.effective_input()))
        left = limit

        def size_of(value: Json) -> int:
            nonlocal left
            try:
                measure(value, left)
            except TooLarge:
                raise StatesFailure(DATA_LIMIT_EXCEEDED, f"The batches of the Map state '{state.name}' would hold "
                                                         f"more than {limit} bytes", in_state=False) from None
            size = len(dumps(value).encode())
            left -= size
            return size

        base = size_of({"Items": [], **extra})
        groups: list[list[Json]] = []
        current_size = 0
        for item in inputs:
            size = size_of(item)
            current = groups[-1] if groups else None
            fits = current is not None and (most is None or len(current) < most) and (
                size_limit is None or current_size + 1 + size <= size_limit)
            if fits and current is not None:
                current.append(item)
                current_size += 1 + size
            else:
                if groups:
                    left -= base                  # each batch writes the wrapper (and BatchInput) again
                    if left < 0:
                        raise StatesFailure(DATA_LIMIT_EXCEEDED, f"The batches of the Map state '{state.name}' would "
                                                                 f"hold more than {limit} bytes", in_state=False)
                groups.append([item])
                current_size = base + size
        return [{"Items": group, **extra} for group in groups]


def _is_number(value: Json) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
