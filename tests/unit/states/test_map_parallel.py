"""Map and Parallel: concurrency in the model, results, tolerance, failure propagation, retries."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.stepfunctions.asl import (CancelTask, ExecutionStatus, FakeClock, TaskError, TaskFailed, TaskSucceeded,
                           run_to_completion)

from .helpers import LAMBDA, invokes, machine, started, task, types


def map_state(processor_states: dict[str, Any], **fields: Any) -> dict[str, Any]:
    start = next(iter(processor_states))
    return {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": start, "States": processor_states}, **fields}


WORK = {"Work": task()}


def doubling(resource: str, parameters: Any) -> Any:
    if parameters == "bad" or parameters == {"bad": True}:
        raise TaskError("ItemError", f"bad item {parameters}")
    return parameters * 2 if isinstance(parameters, int) else parameters


def test_map_runs_every_item_and_keeps_order() -> None:
    result = run_to_completion(machine(("M", map_state(WORK))), [1, 2, 3], doubling)
    assert result.output == [2, 4, 6]
    assert types(result.history)[:4] == ["ExecutionStarted", "MapStateEntered", "MapStateStarted",
                                         "MapIterationStarted"]
    started_ = [e.details for e in result.history if e.type == "MapIterationStarted"]
    assert started_ == [{"name": "M", "index": i} for i in range(3)]
    assert result.history[2].details == {"length": 3}
    assert types(result.history)[-3:] == ["MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


@pytest.mark.parametrize("limit, expected", [(0, 5), (1, 1), (2, 2), (10, 5)])
def test_max_concurrency_bounds_the_outstanding_tasks(limit: int, expected: int) -> None:
    execution, _, commands = started(machine(("M", map_state(WORK, MaxConcurrency=limit))), [1, 2, 3, 4, 5])
    assert len(invokes(commands)) == expected
    in_flight = invokes(commands)
    peak = len(in_flight)
    while execution.status is ExecutionStatus.RUNNING:
        command = in_flight.pop(0)
        in_flight += invokes(execution.advance(TaskSucceeded(command.task_id, command.parameters)).commands)
        peak = max(peak, len(in_flight))
    assert peak == expected and execution.output == [1, 2, 3, 4, 5]


def test_items_path_item_selector_and_the_map_context() -> None:
    definition = machine(("M", map_state({"P": {"Type": "Pass", "End": True}}, ItemsPath="$.list",
                                         ItemSelector={"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index",
                                                       "shared.$": "$.shared"})))
    result = run_to_completion(definition, {"list": ["a", "b"], "shared": 1})
    assert result.output == [{"value": "a", "index": 0, "shared": 1}, {"value": "b", "index": 1, "shared": 1}]


def test_an_empty_map_succeeds_with_an_empty_list() -> None:
    assert run_to_completion(machine(("M", map_state(WORK))), []).output == []


def test_items_that_are_not_an_array() -> None:
    result = run_to_completion(machine(("M", map_state(WORK, ItemsPath="$.x"))), {"x": {"a": 1}})
    assert result.error == "States.Runtime"
    assert (result.cause or "").endswith("Map state input must be an array but was: {\"a\":1}")


def test_without_tolerance_one_failed_item_fails_the_map_with_its_error_and_aborts_the_rest() -> None:
    execution, _, commands = started(machine(("M", map_state(WORK))), [1, "bad", 3])
    tasks = invokes(commands)
    step = execution.advance(TaskFailed(tasks[1].task_id, "ItemError", "bad item"))
    cancelled = {c.task_id for c in step.commands if isinstance(c, CancelTask)}
    assert cancelled == {tasks[0].task_id, tasks[2].task_id}
    assert (execution.error, execution.cause) == ("ItemError", "bad item")
    assert "MapIterationFailed" in types(execution.history) and "MapIterationAborted" in types(execution.history)
    assert types(execution.history)[-2:] == ["MapStateFailed", "ExecutionFailed"]


@pytest.mark.parametrize("tolerance, succeeds", [
    ({"ToleratedFailureCount": 2}, True), ({"ToleratedFailureCount": 1}, False),
    ({"ToleratedFailurePercentage": 50}, True), ({"ToleratedFailurePercentage": 49.9}, False),
    ({"ToleratedFailureCount": 0}, False),
])
def test_tolerated_failures(tolerance: dict[str, Any], succeeds: bool) -> None:
    result = run_to_completion(machine(("M", map_state(WORK, **tolerance))), [1, "bad", 3, "bad"], doubling)
    if succeeds:
        assert result.output == [2, {"Error": "ItemError", "Cause": "bad item bad"}, 6,
                                 {"Error": "ItemError", "Cause": "bad item bad"}]
    else:
        assert result.error == "States.ExceedToleratedFailureThreshold"


def test_item_batcher_groups_items() -> None:
    definition = machine(("M", map_state({"P": {"Type": "Pass", "End": True}},
                                         ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"job.$": "$.job"}},
                                         ItemsPath="$.items")))
    result = run_to_completion(definition, {"items": [1, 2, 3], "job": "j"})
    assert result.output == [{"Items": [1, 2], "BatchInput": {"job": "j"}}, {"Items": [3], "BatchInput": {"job": "j"}}]


def test_item_batcher_by_bytes() -> None:
    definition = machine(("M", map_state({"P": {"Type": "Pass", "End": True}},
                                         ItemBatcher={"MaxInputBytesPerBatch": 25})))
    result = run_to_completion(definition, ["aaaa", "bbbb", "cccc"])
    assert result.output == [{"Items": ["aaaa", "bbbb"]}, {"Items": ["cccc"]}]


def test_variables_flow_into_iterations_but_not_out() -> None:
    definition = machine(
        ("Set", {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "M"}),
        ("M", map_state({"In": {"Type": "Pass", "Parameters": {"seen.$": "$outer"}, "Assign": {"outer": "changed",
                                                                                              "inner": 1},
                                "End": True}}, ItemsPath="$.items", ResultPath="$.r", Next="After",
                                End=None)),
        ("After", {"Type": "Pass", "Parameters": {"outer.$": "$outer"}, "End": True}))
    definition["States"]["M"].pop("End")
    result = run_to_completion(definition, {"items": [1, 2]})
    assert result.output == {"outer": "o"}
    assert [e.details["output"] for e in result.history if e.type == "PassStateExited" and
            e.details["name"] == "In"] == ['{"seen":"o"}', '{"seen":"o"}']


def test_map_state_retry_reruns_every_iteration() -> None:
    calls: list[Any] = []

    def flaky(resource: str, parameters: Any) -> Any:
        calls.append(parameters)
        if len(calls) == 2:
            raise TaskError("Flaky")
        return parameters
    definition = machine(("M", map_state(WORK, MaxConcurrency=1, Retry=[{"ErrorEquals": ["Flaky"]}])))
    result = run_to_completion(definition, [1, 2], flaky)
    assert result.output == [1, 2] and calls == [1, 2, 1, 2]
    assert types(result.history).count("MapStateStarted") == 2


def test_parallel_gives_every_branch_the_input_and_collects_outputs_in_order() -> None:
    definition = machine(("P", {"Type": "Parallel", "End": True, "Parameters": {"v.$": "$.v"}, "Branches": [
        {"StartAt": "A", "States": {"A": task()}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": True}}}],
        "ResultSelector": {"first.$": "$[0].v", "second.$": "$[1]"}}))
    execution, _, commands = started(definition, {"v": 3, "ignored": True})
    (command,) = invokes(commands)
    assert command.parameters == {"v": 3}
    execution.advance(TaskSucceeded(command.task_id, {"v": 30}))
    assert execution.output == {"first": 30, "second": "b"}
    assert types(execution.history)[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types(execution.history)[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]


def test_a_failed_branch_fails_the_parallel_with_its_error_and_stops_the_others() -> None:
    definition = machine(("P", {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Slow", "States": {"Slow": task()}},
        {"StartAt": "Bad", "States": {"Bad": {"Type": "Fail", "Error": "BranchError", "Cause": "why"}}}]}))
    execution, _, commands = started(definition, {})
    (slow,) = invokes(commands)
    assert execution.status is ExecutionStatus.FAILED
    assert (execution.error, execution.cause) == ("BranchError", "why")
    assert CancelTask(slow.task_id) in commands
    assert ["TaskStateAborted", "ParallelStateFailed", "ExecutionFailed"] == types(execution.history)[-3:]


def test_parallel_catch_and_retry() -> None:
    attempts: list[int] = []

    def handler(resource: str, parameters: Any) -> Any:
        attempts.append(1)
        raise TaskError("Boom", "c")
    definition = machine(
        ("P", {"Type": "Parallel", "Next": "Done", "Branches": [{"StartAt": "A", "States": {"A": task()}}],
               "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 1}],
               "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]}),
        ("Done", {"Type": "Pass", "End": True}))
    result = run_to_completion(definition, {"in": 1}, handler, FakeClock(0.0))
    assert result.output == {"in": 1, "error": {"Error": "Boom", "Cause": "c"}}
    assert len(attempts) == 3 and result.history[-1].timestamp == 3.0


def test_nested_parallel_inside_map() -> None:
    definition = machine(("M", map_state({"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": task()}}]}})))
    result = run_to_completion(definition, [1, 2], doubling)
    assert result.output == [[1, 2], [2, 4]]
    assert LAMBDA in {c.resource.arn for c in result.commands if hasattr(c, "resource")}


def test_map_concurrency_path_and_tolerance_paths() -> None:
    definition = machine(("M", map_state(WORK, ItemsPath="$.items", MaxConcurrencyPath="$.c",
                                         ToleratedFailureCountPath="$.n")))
    result = run_to_completion(definition, {"items": [1, "bad"], "c": 1, "n": 1}, doubling)
    assert result.output == [2, {"Error": "ItemError", "Cause": "bad item bad"}]
    negative = run_to_completion(definition, {"items": [1], "c": -1, "n": 1}, doubling)
    assert negative.error == "States.Runtime" and (negative.cause or "").endswith("MaxConcurrency cannot be negative.")


@pytest.mark.parametrize("concurrency", [0, 1])
def test_an_item_selector_failing_on_a_later_item_fails_the_map_and_stops_the_rest(concurrency: int) -> None:
    definition = machine(("M", map_state(WORK, MaxConcurrency=concurrency,
                                         ItemSelector={"k.$": "$$.Map.Item.Value.k"})))
    execution, _, commands = started(definition, [{"k": 1}, {"nope": 2}])
    if concurrency == 1:
        (first,) = invokes(commands)
        commands = execution.advance(TaskSucceeded(first.task_id, 1)).commands
    else:
        assert not invokes(commands)                    # the first iteration was stopped before its task started
        assert "MapIterationAborted" in types(execution.history)
    assert execution.status is ExecutionStatus.FAILED and execution.error == "States.Runtime"
    assert "specified for the field 'k.$' could not be found" in (execution.cause or "")
