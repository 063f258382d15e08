"""The interpreter core: tasks, data flow, history, persistence and determinism."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cumulo.stepfunctions.asl import (CancelTask, InvokeTask, Delayed, Execution, ExecutionStatus, Fail, FakeClock, SeededEntropy,
                           StopExecution, Succeed, TaskError, TaskFailed, TaskSucceeded, TimerFired, decode_task_token,
                           event_from_json, event_to_json, run_to_completion)
from cumulo.stepfunctions.asl.interpreter import MAX_PAYLOAD
from cumulo.stepfunctions.asl.resources import Integration, Pattern

from .helpers import INVOKE, LAMBDA, Draws, invokes, machine, started, task, timers, types


def echo(resource: str, parameters: Any) -> Any:
    return {"got": parameters}


def test_a_lambda_task_runs_its_function_and_records_lambda_events() -> None:
    calls = []

    def handler(resource: str, parameters: Any) -> Any:
        calls.append((resource, parameters))
        return {"ok": True}
    result = run_to_completion(machine(("T", task())), {"in": 1}, handler)
    assert result.status is ExecutionStatus.SUCCEEDED and result.output == {"ok": True}
    assert calls == [(LAMBDA, {"in": 1})]
    assert types(result.history) == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                                     "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                                     "ExecutionSucceeded"]
    scheduled = result.history[2].to_aws()
    assert scheduled["lambdaFunctionScheduledEventDetails"] == {"resource": LAMBDA, "input": '{"in":1}',
                                                                "inputDetails": {"truncated": False}}
    assert [e.id for e in result.history] == list(range(1, 8))
    assert [e.previous_event_id for e in result.history] == list(range(0, 7))


def test_lambda_invoke_wraps_the_payload_as_the_invoke_api_answers() -> None:
    execution, _, commands = started(machine(("T", task(Resource=INVOKE, Parameters={
        "FunctionName": "work", "Payload.$": "$"}))), {"x": 1})
    (command,) = invokes(commands)
    assert command.resource.integration is Integration.LAMBDA_INVOKE
    assert command.parameters == {"FunctionName": "work", "Payload": {"x": 1}}
    step = execution.advance(TaskSucceeded(command.task_id, {"answer": 42},
                                           {"request_id": "req-1", "executed_version": "3"}))
    (succeed,) = step.commands
    assert isinstance(succeed, Succeed)
    output = succeed.output
    assert output["Payload"] == {"answer": 42} and output["StatusCode"] == 200
    assert output["ExecutedVersion"] == "3" and output["SdkResponseMetadata"] == {"RequestId": "req-1"}
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert output["SdkHttpMetadata"]["AllHttpHeaders"]["x-amzn-RequestId"] == ["req-1"]
    events = {e.type: e.to_aws() for e in execution.history}
    assert events["TaskScheduled"]["taskScheduledEventDetails"] == {
        "resourceType": "lambda", "resource": "invoke", "region": "us-east-1",
        "parameters": '{"FunctionName":"work","Payload":{"x":1}}'}
    assert "TaskSucceeded" in events and "TaskStarted" in events


def test_jsonpath_data_flow_around_a_task() -> None:
    definition = machine(("T", task(InputPath="$.order", Parameters={"id.$": "$.id", "static": 1},
                                    ResultSelector={"total.$": "$.got.id"}, ResultPath="$.result",
                                    OutputPath="$.result")))
    result = run_to_completion(definition, {"order": {"id": 7}, "other": True}, echo)
    assert result.output == {"total": 7}


@pytest.mark.parametrize("fields, expected", [
    ({"ResultPath": None}, {"keep": 1}),
    ({"OutputPath": None}, {}),
    ({"InputPath": None, "ResultPath": "$.r"}, {"keep": 1, "r": {"got": {}}}),
    ({"ResultPath": "$.deep.er"}, {"keep": 1, "deep": {"er": {"got": {"keep": 1}}}}),
])
def test_null_paths_discard(fields: dict[str, Any], expected: Any) -> None:
    assert run_to_completion(machine(("T", task(**fields))), {"keep": 1}, echo).output == expected


def test_a_parameters_path_that_matches_nothing_fails_with_states_runtime() -> None:
    result = run_to_completion(machine(("T", task(Parameters={"x.$": "$.nope"}))), {"other": 1}, echo)
    assert result.status is ExecutionStatus.FAILED and result.error == "States.Runtime"
    assert result.cause == ("An error occurred while executing the state 'T' (entered at the event id #2). The "
                            "JSONPath '$.nope' specified for the field 'x.$' could not be found in the input "
                            "'{\"other\":1}'")


def test_an_input_path_that_matches_nothing() -> None:
    result = run_to_completion(machine(("P", {"Type": "Pass", "InputPath": "$.a.b", "End": True})), {"a": {}})
    assert result.error == "States.Runtime"
    assert result.cause is not None and result.cause.endswith("Invalid path '$.a.b' : No results for path: "
                                                              "$['a']['b']")


def test_result_path_onto_a_non_object_is_a_result_path_match_failure_and_catchable() -> None:
    definition = machine(("T", task(ResultPath="$.x.y", Catch=[{"ErrorEquals": ["States.ResultPathMatchFailure"],
                                                                "Next": "C"}])),
                         ("C", {"Type": "Pass", "End": True}))
    result = run_to_completion(definition, {"x": 5}, echo)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output["Error"] == "States.ResultPathMatchFailure"


def test_context_object_in_parameters() -> None:
    definition = machine(("T", task(Parameters={"id.$": "$$.Execution.Id", "name.$": "$$.State.Name",
                                                "input.$": "$$.Execution.Input", "sm.$": "$$.StateMachine.Name",
                                                "start.$": "$$.Execution.StartTime"})))
    result = run_to_completion(definition, {"a": 1}, echo, FakeClock(0.0))
    assert result.output["got"] == {"id": "arn:aws:states:us-east-1:000000000000:execution:StateMachine:execution",
                                    "name": "T", "input": {"a": 1}, "sm": "StateMachine",
                                    "start": "1970-01-01T00:00:00.000Z"}


def test_wait_for_task_token_carries_the_token_and_waits_for_the_callback() -> None:
    definition = machine(("T", task(Resource="arn:aws:states:::sqs:sendMessage.waitForTaskToken", Parameters={
        "QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}})))
    execution, _, commands = started(definition, {})
    (command,) = invokes(commands)
    assert command.resource.pattern is Pattern.WAIT_FOR_TASK_TOKEN
    assert command.task_token and command.parameters["MessageBody"]["token"] == command.task_token
    assert decode_task_token(command.task_token) == (execution.context.execution_arn, command.task_id)
    step = execution.advance(TaskSucceeded(command.task_id, {"approved": True}))
    assert step.commands == [Succeed({"approved": True})]
    with pytest.raises(ValueError):
        decode_task_token("garbage")


def test_a_task_failure_fails_the_execution_with_the_functions_error() -> None:
    def boom(resource: str, parameters: Any) -> Any:
        raise TaskError("ValueError", '{"errorMessage":"bad"}')
    result = run_to_completion(machine(("T", task())), {}, boom)
    assert (result.status, result.error, result.cause) == (ExecutionStatus.FAILED, "ValueError",
                                                           '{"errorMessage":"bad"}')
    assert result.history[-1].to_aws()["executionFailedEventDetails"] == {"error": "ValueError",
                                                                          "cause": '{"errorMessage":"bad"}'}
    assert "LambdaFunctionFailed" in types(result.history)


def test_pass_result_and_parameters() -> None:
    result = run_to_completion(machine(
        ("A", {"Type": "Pass", "Result": {"x.$": "literal"}, "ResultPath": "$.r", "Next": "B"}),
        ("B", {"Type": "Pass", "Parameters": {"copy.$": "$.r", "n.$": "States.MathAdd(1, 2)"}, "End": True})), {})
    assert result.output == {"copy": {"x.$": "literal"}, "n": 3}


def test_fail_state_error_and_cause_from_paths_and_intrinsics() -> None:
    definition = machine(("F", {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('bad {}', $.n)"}))
    result = run_to_completion(definition, {"e": "Custom", "n": 3})
    assert (result.error, result.cause) == ("Custom", "bad 3")
    bare = run_to_completion(machine(("F", {"Type": "Fail"})), {})
    assert (bare.status, bare.error, bare.cause) == (ExecutionStatus.FAILED, None, None)
    assert "executionFailedEventDetails" not in bare.history[-1].to_aws() or \
        bare.history[-1].to_aws()["executionFailedEventDetails"] == {}


def test_choice_default_and_no_match() -> None:
    rules = [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}]
    definition = machine(("C", {"Type": "Choice", "Choices": rules, "Default": "Small"}),
                         ("Big", {"Type": "Pass", "Result": "big", "End": True}),
                         ("Small", {"Type": "Pass", "Result": "small", "End": True}))
    assert run_to_completion(definition, {"n": 5}).output == "big"
    assert run_to_completion(definition, {"n": 0}).output == "small"
    definition["States"]["C"].pop("Default")
    definition["States"].pop("Small")
    result = run_to_completion(definition, {"n": 0})
    assert result.error == "States.NoChoiceMatched"
    assert types(result.history)[-2:] == ["ChoiceStateEntered", "ExecutionFailed"]


@pytest.mark.parametrize("wait, data, fire_at", [
    ({"Seconds": 10}, {}, 110.0),
    ({"SecondsPath": "$.s"}, {"s": 3}, 103.0),
    ({"Timestamp": "1970-01-01T00:05:00Z"}, {}, 300.0),
    ({"TimestampPath": "$.t"}, {"t": "1970-01-01T00:03:00+00:01"}, 120.0),
])
def test_wait_states_start_a_timer_and_go_on_when_it_fires(wait: dict[str, Any], data: Any, fire_at: float) -> None:
    execution, clock, commands = started(machine(("W", {"Type": "Wait", "End": True, **wait})), data,
                                         clock=FakeClock(100.0))
    (timer,) = timers(commands)
    assert (timer.fire_at, timer.purpose) == (fire_at, "wait")
    clock.advance_to(fire_at)
    assert execution.advance(TimerFired(timer.timer_id)).commands == [Succeed(data)]
    assert types(execution.history)[1:4] == ["WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"]


def test_a_wait_for_zero_seconds_or_a_past_timestamp_does_not_wait() -> None:
    for wait in ({"Seconds": 0}, {"Timestamp": "1970-01-01T00:00:01Z"}):
        execution, _, commands = started(machine(("W", {"Type": "Wait", "End": True, **wait})), {},
                                         clock=FakeClock(100.0))
        assert commands == [Succeed({})]


@pytest.mark.parametrize("data, message", [
    ({"s": -2}, "The SecondsPath parameter references a negative value: $.s == -2"),
    ({"s": "3"}, "The SecondsPath parameter cannot be parsed as a long value: $.s == \"3\""),
])
def test_wait_seconds_path_checks(data: Any, message: str) -> None:
    result = run_to_completion(machine(("W", {"Type": "Wait", "End": True, "SecondsPath": "$.s"})), data)
    assert result.error == "States.Runtime" and result.cause is not None and result.cause.endswith(message)


def test_variables_assigned_by_a_state_are_seen_by_the_next_ones() -> None:
    definition = machine(
        ("A", {"Type": "Pass", "Result": {"v": 5}, "Assign": {"fromResult.$": "$.v", "literal": "x"}, "Next": "B"}),
        ("B", {"Type": "Pass", "Parameters": {"a.$": "$fromResult", "b.$": "$literal"},
               "Assign": {"fromResult.$": "States.MathAdd($fromResult, 1)", "old.$": "$fromResult"}, "Next": "C"}),
        ("C", {"Type": "Pass", "Parameters": {"new.$": "$fromResult", "old.$": "$old"}, "End": True}))
    result = run_to_completion(definition, {})
    assert result.output == {"new": 6, "old": 5}
    exited = [e.to_aws() for e in result.history if e.type == "PassStateExited"][0]
    assert exited["stateExitedEventDetails"]["assignedVariables"] == {"fromResult": "5", "literal": '"x"'}


def test_a_task_result_over_256_kib_fails_the_task_and_states_all_catches_it() -> None:
    # As AWS records it (LocalStack's AWS-validated snapshot test_task_lambda_catch_state_all_data_limit_
    # exceeded_on_large_utf8_response): LambdaFunctionFailed naming the function, then the catcher.
    big = "x" * MAX_PAYLOAD
    result = run_to_completion(machine(("T", task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "C"}])),
                                       ("C", {"Type": "Pass", "End": True})), {}, lambda r, p: big)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == {"Error": "States.DataLimitExceeded", "Cause": f"The state/task '{LAMBDA}' returned a "
                             "result with a size exceeding the maximum number of bytes service limit."}
    assert types(result.history)[:5] == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                                         "LambdaFunctionStarted", "LambdaFunctionFailed"]


def test_a_state_output_over_256_kib_is_terminal() -> None:
    big = "x" * MAX_PAYLOAD
    result = run_to_completion(machine(("T", task(ResultPath="$.r", Catch=[{"ErrorEquals": ["States.ALL"],
                                                                            "Next": "C"}])),
                                       ("C", {"Type": "Pass", "End": True})), {"pad": big[:200_000]},
                               lambda r, p: big[:100_000])
    assert (result.status, result.error) == (ExecutionStatus.FAILED, "States.DataLimitExceeded")
    assert result.cause == "The state/task 'T' returned a result with a size exceeding the maximum number of bytes " \
                           "service limit."


def test_stop_execution_aborts_and_cancels_the_task() -> None:
    execution, _, commands = started(machine(("T", task())), {})
    (command,) = invokes(commands)
    step = execution.advance(StopExecution("Why", "Because"))
    assert CancelTask(command.task_id) in step.commands
    assert step.commands[-1] == Fail("Why", "Because", ExecutionStatus.ABORTED)
    assert types(execution.history)[-2:] == ["TaskStateAborted", "ExecutionAborted"]
    assert execution.advance(TaskSucceeded(command.task_id, 1)).commands == []


def test_execution_timeout() -> None:
    result = run_to_completion(machine(("W", {"Type": "Wait", "Seconds": 100, "End": True}), TimeoutSeconds=10), {})
    assert (result.status, result.error) == (ExecutionStatus.TIMED_OUT, "States.Timeout")
    assert types(result.history)[-2:] == ["WaitStateAborted", "ExecutionTimedOut"]


def test_events_for_unknown_ids_are_ignored() -> None:
    execution, _, _ = started(machine(("T", task())), {})
    assert execution.advance(TaskSucceeded("nope", 1)).commands == []
    assert execution.advance(TimerFired("nope")).commands == []
    assert execution.status is ExecutionStatus.RUNNING


# ---- persistence and determinism ---------------------------------------------------------------

FLOW = machine(
    ("Prepare", {"Type": "Pass", "Parameters": {"items.$": "States.ArrayRange(1, 4, 1)", "id.$": "States.UUID()"},
                 "Next": "Fan"}),
    ("Fan", {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ItemProcessor": {"StartAt": "Work", "States": {
        "Work": task(Retry=[{"ErrorEquals": ["Flaky"], "JitterStrategy": "FULL"}], Next="Nap", End=None),
        "Nap": {"Type": "Wait", "Seconds": 5, "End": True}}}, "ResultPath": "$.done", "Next": "Done"}),
    ("Done", {"Type": "Succeed"}))
FLOW["States"]["Fan"]["ItemProcessor"]["States"]["Work"].pop("End")


def drive(execution: Execution, clock: FakeClock, commands: list[Any], *, restore_every: int = 0,
          log: list[Any] | None = None) -> Execution:
    """Deliver every command's answer (tasks fail once as Flaky, then succeed); optionally snapshot and
    restore the execution between events, re-issuing what it has outstanding."""
    attempts: dict[int, int] = {}
    pending: list[Any] = list(commands)
    timers_: dict[str, float] = {}
    pending_events: list[Any] = []
    delivered = 0
    while execution.status is ExecutionStatus.RUNNING:
        for command in pending:
            if hasattr(command, "task_id") and hasattr(command, "resource"):
                key = command.parameters
                attempts[key] = attempts.get(key, 0) + 1
                event: Any = (TaskFailed(command.task_id, "Flaky") if attempts[key] == 1
                              else TaskSucceeded(command.task_id, key * 10))
                timers_[command.task_id] = -1.0
                pending_events.append(event)
            elif hasattr(command, "fire_at"):
                timers_[command.timer_id] = command.fire_at
            elif hasattr(command, "timer_id"):
                timers_.pop(command.timer_id, None)
        pending = []
        if pending_events:
            event = pending_events.pop(0)
        else:
            timer_id, moment = min(((k, v) for k, v in timers_.items() if v >= 0), key=lambda kv: (kv[1], kv[0]))
            clock.advance_to(moment)
            event = TimerFired(timer_id)
        timers_.pop(getattr(event, "timer_id", getattr(event, "task_id", "")), None)
        if log is not None:
            log.append(event_to_json(event))
        pending = execution.advance(event).commands
        delivered += 1
        if restore_every and delivered % restore_every == 0 and execution.status is ExecutionStatus.RUNNING:
            snapshot = json.loads(json.dumps(execution.snapshot()))
            history = execution.history
            execution = Execution.restore(FLOW, snapshot, clock=clock, entropy=SeededEntropy("seed"))
            execution.history = history
            assert {type(c).__name__ for c in execution.outstanding()} <= {"InvokeTask", "StartTimer"}
    return execution


def run_flow(restore_every: int = 0, log: list[Any] | None = None) -> Execution:
    clock = FakeClock(1000.0)
    execution = Execution(FLOW, {}, clock=clock, entropy=SeededEntropy("seed"))
    return drive(execution, clock, execution.start().commands, restore_every=restore_every, log=log)


def test_a_snapshot_restored_after_every_event_ends_exactly_as_an_uninterrupted_run() -> None:
    straight = run_flow()
    assert straight.status is ExecutionStatus.SUCCEEDED
    assert straight.output["done"] == [10, 20, 30, 40]
    for every in (1, 2, 3):
        restored = run_flow(restore_every=every)
        assert restored.output == straight.output
        assert [e.to_aws() for e in restored.history] == [e.to_aws() for e in straight.history]


def test_the_same_events_replay_to_the_same_history() -> None:
    log: list[Any] = []
    first = run_flow(log=log)
    clock = FakeClock(1000.0)
    replay = Execution(FLOW, {}, clock=clock, entropy=SeededEntropy("seed"))
    replay.start()
    for data in log:
        event = event_from_json(data)
        if isinstance(event, TimerFired):
            fire = next(c.fire_at for e in [replay] for c in e.outstanding() if getattr(c, "timer_id", "") ==
                        event.timer_id)
            clock.advance_to(fire)
        replay.advance(event)
    assert [e.to_aws() for e in replay.history] == [e.to_aws() for e in first.history]
    assert replay.output == first.output


def test_randomness_comes_from_the_injected_entropy() -> None:
    definition = machine(("P", {"Type": "Pass", "Parameters": {"id.$": "States.UUID()"}, "End": True}))
    one = run_to_completion(definition, {}, entropy=SeededEntropy("a")).output
    assert one == run_to_completion(definition, {}, entropy=SeededEntropy("a")).output
    assert one != run_to_completion(definition, {}, entropy=SeededEntropy("b")).output
    assert run_to_completion(definition, {}, entropy=Draws(0.5)).output == {"id": "00000000-0000-4000-8000-000000000001"}


def test_a_snapshot_is_plain_json() -> None:
    execution, _, _ = started(FLOW, {}, entropy=SeededEntropy("s"))
    snapshot = execution.snapshot()
    assert json.loads(json.dumps(snapshot)) == json.loads(json.dumps(snapshot, sort_keys=True))
    restored = Execution.restore(FLOW, snapshot, clock=FakeClock(), entropy=SeededEntropy("s"))
    assert [type(c).__name__ for c in restored.outstanding()] == ["InvokeTask", "InvokeTask"]


def test_delayed_answers_move_the_fake_clock() -> None:
    result = run_to_completion(machine(("T", task())), {}, lambda r, p: Delayed(30, "late"), FakeClock(0.0))
    assert result.output == "late" and result.history[-1].timestamp == 30.0


def test_a_defect_inside_the_core_ends_the_execution_instead_of_raising() -> None:
    class Broken:
        def random(self, draw: int) -> float:
            raise ZeroDivisionError("boom")

        def uuid(self, draw: int) -> str:
            raise ZeroDivisionError("boom")
    definition = machine(("P", {"Type": "Pass", "Parameters": {"id.$": "States.UUID()"}, "End": True}))
    execution = Execution(definition, {}, clock=FakeClock(), entropy=Broken())
    step = execution.start()
    assert execution.status is ExecutionStatus.FAILED and execution.error == "States.Runtime"
    assert isinstance(step.commands[-1], Fail) and "ZeroDivisionError" in (execution.cause or "")


def test_a_machine_that_loops_forever_hits_the_history_quota() -> None:
    from cumulo.stepfunctions.asl.interpreter import MAX_HISTORY
    definition = machine(("A", {"Type": "Pass", "Next": "B"}),
                         ("B", {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "E"}],
                                "Default": "A"}), ("E", {"Type": "Succeed"}))
    result = run_to_completion(definition, {})
    assert result.error == "States.Runtime" and str(MAX_HISTORY) in (result.cause or "")
    assert len(result.history) == MAX_HISTORY + 1


def test_the_execution_timeout_timer_is_cancelled_when_the_execution_ends_in_time() -> None:
    execution, _, commands = started(machine(("T", task()), TimeoutSeconds=60), {}, clock=FakeClock(0.0))
    assert [(t.purpose, t.fire_at) for t in timers(commands)] == [("execution-timeout", 60.0)]
    assert [type(c).__name__ for c in execution.outstanding()] == ["InvokeTask", "StartTimer"]
    step = execution.advance(TaskSucceeded(invokes(commands)[0].task_id, "ok"))
    assert [type(c).__name__ for c in step.commands] == ["CancelTimer", "Succeed"]


def test_a_wait_whose_output_path_fails_after_the_timer() -> None:
    result = run_to_completion(machine(("W", {"Type": "Wait", "Seconds": 1, "OutputPath": "$.gone", "End": True})), {})
    assert result.error == "States.Runtime" and "Invalid path '$.gone'" in (result.cause or "")


def test_a_catcher_that_fails_itself_fails_the_execution() -> None:
    def boom(resource: str, parameters: Any) -> Any:
        raise TaskError("E", "c")
    definition = machine(("T", task(QueryLanguage="JSONata", Catch=[
        {"ErrorEquals": ["States.ALL"], "Next": "H", "Output": "{% $states.errorOutput.nope %}"}])),
        ("H", {"Type": "Pass", "End": True}))
    result = run_to_completion(definition, {}, boom)
    assert result.error == "States.QueryEvaluationError" and "Catch/Output" in (result.cause or "")


TWO_MAPS = machine(
    ("First", {"Type": "Map", "ItemsPath": "$.a", "MaxConcurrency": 3, "ItemProcessor": {"StartAt": "W", "States": {
        "W": task()}}, "ResultPath": "$.b", "Next": "Second"}),
    ("Second", {"Type": "Map", "ItemsPath": "$.b", "MaxConcurrency": 5, "ItemProcessor": {"StartAt": "W", "States": {
        "W": task()}}, "ResultPath": "$.c", "End": True}))


def _finish(execution: Execution, pending: list[InvokeTask]) -> Execution:
    """Answer every task (its number × 10 + 1), in order, to the end."""
    while pending:
        command = pending.pop(0)
        pending += invokes(execution.advance(TaskSucceeded(command.task_id, command.parameters * 10 + 1)).commands)
    return execution


def test_what_each_step_stores_restores_to_the_same_end_across_two_maps_over_many_items() -> None:
    """The text the server stores after every step (``snapshot_text``, which keeps the texts of large
    values it has encoded while they are the same objects) restores, at any step, to the run's own end:
    the second Map's items are new values of the first one's length."""
    clock = FakeClock(1000.0)
    execution = Execution(TWO_MAPS, {"a": list(range(40))}, clock=clock, entropy=SeededEntropy("s"))
    pending = invokes(execution.start().commands)
    forks, steps = [], 0
    while pending:
        command = pending.pop(0)
        pending += invokes(execution.advance(TaskSucceeded(command.task_id, command.parameters * 10 + 1)).commands)
        steps += 1
        if steps % 3 == 0 and execution.status is ExecutionStatus.RUNNING:     # in both Maps
            fork = Execution.restore(TWO_MAPS, json.loads(execution.snapshot_text()), clock=clock,
                                     entropy=SeededEntropy("s"))
            forks.append(_finish(fork, invokes(fork.outstanding())))
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.output["c"] == [(i * 10 + 1) * 10 + 1 for i in range(40)]
    assert len(forks) == 26
    for fork in forks:
        assert (fork.status, fork.output) == (ExecutionStatus.SUCCEEDED, execution.output)
