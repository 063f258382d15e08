"""Retry timing, Catch, the predefined error names, and task timeouts and heartbeats."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.stepfunctions.asl import (Delayed, Execution, ExecutionStatus, FakeClock, TaskError, TaskFailed, TaskHeartbeat,
                           TimerFired, retry_delay, run_to_completion)
from cumulo.stepfunctions.asl.errors import error_matches
from cumulo.stepfunctions.asl.model import Retrier

from .helpers import Draws, invokes, machine, started, task, timers, types


def failing(*errors: str, then: Any = "done") -> Any:
    queue = list(errors)

    def handler(resource: str, parameters: Any) -> Any:
        if queue:
            raise TaskError(queue.pop(0), "cause")
        return then
    return handler


def retry_timers(definition: dict[str, Any], errors: list[str], entropy: Any = None) -> list[float]:
    """Feed task failures one by one and collect each retry delay the core asks for."""
    execution, clock, commands = started(definition, {}, clock=FakeClock(0.0), entropy=entropy)
    delays = []
    for error in errors:
        (command,) = invokes(commands)
        commands = execution.advance(TaskFailed(command.task_id, error)).commands
        pending = [t for t in timers(commands) if t.purpose == "retry"]
        if not pending:
            break
        delays.append(pending[0].fire_at - clock.now)
        clock.advance_to(pending[0].fire_at)
        commands = execution.advance(TimerFired(pending[0].timer_id)).commands
    return delays


def test_backoff_defaults_interval_1_rate_2_three_attempts() -> None:
    definition = machine(("T", task(Retry=[{"ErrorEquals": ["E"]}])))
    assert retry_timers(definition, ["E"] * 5) == [1.0, 2.0, 4.0]


def test_interval_rate_and_max_delay() -> None:
    definition = machine(("T", task(Retry=[{"ErrorEquals": ["E"], "IntervalSeconds": 3, "BackoffRate": 1.5,
                                            "MaxAttempts": 5, "MaxDelaySeconds": 6}])))
    assert retry_timers(definition, ["E"] * 6) == [3.0, 4.5, 6.0, 6.0, 6.0]


def test_full_jitter_scales_each_delay_by_an_injected_draw() -> None:
    definition = machine(("T", task(Retry=[{"ErrorEquals": ["E"], "IntervalSeconds": 10, "JitterStrategy": "FULL"}])))
    assert retry_timers(definition, ["E"] * 4, Draws(0.5, 0.25, 0.1)) == [5.0, 5.0, 4.0]


def test_retry_delay_function() -> None:
    retrier = Retrier(("E",), interval_seconds=2, backoff_rate=3.0, max_delay_seconds=20, jitter_strategy="FULL")
    assert [retry_delay(retrier, n, 1.0) for n in (1, 2, 3, 4)] == [2.0, 6.0, 18.0, 20.0]
    assert retry_delay(retrier, 2, 0.5) == 3.0


def test_max_attempts_zero_never_retries() -> None:
    definition = machine(("T", task(Retry=[{"ErrorEquals": ["E"], "MaxAttempts": 0},
                                           {"ErrorEquals": ["States.ALL"]}])))
    assert retry_timers(definition, ["E", "E"]) == []


def test_each_retrier_counts_its_own_attempts_as_in_the_aws_guide() -> None:
    """AWS Step Functions developer guide, "Handling errors in Step Functions workflows", Example 4 -
    Complex retry scenario (docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html,
    as it reads now): the task fails with ErrorA, ErrorB, ErrorC and ErrorB; the first two wait one and
    two seconds (first retrier), the third five (second retrier), and the fourth, whose retrier already
    made its two retries (MaxAttempts), goes to Z through the catcher."""
    definition = machine(
        ("X", task(Retry=[{"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0,
                           "MaxAttempts": 2}, {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
                   Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Z"}])),
        ("Z", {"Type": "Pass", "End": True}))
    assert retry_timers(definition, ["ErrorA", "ErrorB", "ErrorC", "ErrorB"]) == [1.0, 2.0, 5.0]
    result = run_to_completion(definition, {}, failing("ErrorA", "ErrorB", "ErrorC", "ErrorB"))
    assert result.output == {"Error": "ErrorB", "Cause": "cause"}
    assert types(result.history).count("LambdaFunctionScheduled") == 4


def test_a_retry_reschedules_the_task_and_counts_in_the_context_object() -> None:
    seen = []

    def handler(resource: str, parameters: Any) -> Any:
        seen.append(parameters["retry"])
        if len(seen) < 3:
            raise TaskError("E")
        return "ok"
    definition = machine(("T", task(Parameters={"retry.$": "$$.State.RetryCount"},
                                    Retry=[{"ErrorEquals": ["E"]}])))
    result = run_to_completion(definition, {}, handler)
    assert result.output == "ok" and seen == [0, 1, 2]
    assert types(result.history).count("LambdaFunctionScheduled") == 3
    assert types(result.history).count("TaskStateEntered") == 1


def test_catch_puts_the_error_output_at_result_path_and_goes_to_next() -> None:
    definition = machine(
        ("T", task(Catch=[{"ErrorEquals": ["Other"], "Next": "Wrong"},
                          {"ErrorEquals": ["Mine", "Also"], "ResultPath": "$.err", "Next": "Handler"}])),
        ("Wrong", {"Type": "Fail"}), ("Handler", {"Type": "Pass", "End": True}))
    result = run_to_completion(definition, {"keep": 1}, failing("Mine"))
    assert result.output == {"keep": 1, "err": {"Error": "Mine", "Cause": "cause"}}
    assert types(result.history)[-4:] == ["TaskStateExited", "PassStateEntered", "PassStateExited",
                                          "ExecutionSucceeded"]


def test_retry_comes_before_catch() -> None:
    definition = machine(("T", task(Retry=[{"ErrorEquals": ["E"], "MaxAttempts": 1}],
                                    Catch=[{"ErrorEquals": ["E"], "Next": "C"}])), ("C", {"Type": "Pass", "End": True}))
    assert run_to_completion(definition, {}, failing("E")).output == "done"
    assert run_to_completion(definition, {}, failing("E", "E")).output == {"Error": "E", "Cause": "cause"}


@pytest.mark.parametrize("pattern, error, matched", [
    ("States.ALL", "Anything", True), ("States.ALL", "States.Timeout", True), ("States.ALL", None, True),
    ("States.ALL", "States.Runtime", False), ("States.ALL", "States.DataLimitExceeded", False),
    ("States.TaskFailed", "Lambda.Unknown", True), ("States.TaskFailed", "States.Timeout", False),
    ("States.TaskFailed", "States.HeartbeatTimeout", False), ("States.Timeout", "States.HeartbeatTimeout", True),
    ("States.HeartbeatTimeout", "States.Timeout", False), ("States.Runtime", "States.Runtime", True),
    ("Custom", "Custom", True), ("Custom", "custom", False), ("Custom", None, False),
])
def test_predefined_error_names(pattern: str, error: str | None, matched: bool) -> None:
    assert error_matches(pattern, error) is matched


def test_states_all_does_not_catch_a_runtime_error() -> None:
    definition = machine(("T", task(Parameters={"x.$": "$.missing"}, Catch=[{"ErrorEquals": ["States.ALL"],
                                                                           "Next": "C"}])),
                         ("C", {"Type": "Pass", "End": True}))
    result = run_to_completion(definition, {}, failing())
    assert (result.status, result.error) == (ExecutionStatus.FAILED, "States.Runtime")


def test_an_intrinsic_failure_is_catchable() -> None:
    definition = machine(("T", task(Parameters={"x.$": "States.ArrayGetItem($.a, 9)"},
                                    Catch=[{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "C"}])),
                         ("C", {"Type": "Pass", "End": True}))
    result = run_to_completion(definition, {"a": [1]}, failing())
    assert result.output["Error"] == "States.IntrinsicFailure"
    assert "out of bounds" in result.output["Cause"]


def test_timeout_seconds() -> None:
    definition = machine(("T", task(TimeoutSeconds=5, Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "C"}])),
                         ("C", {"Type": "Pass", "End": True}))
    slow = run_to_completion(definition, {}, lambda r, p: Delayed(10, "late"), FakeClock(0.0))
    assert slow.output == {"Error": "States.Timeout"}
    assert "LambdaFunctionTimedOut" in types(slow.history)
    assert slow.history[-1].timestamp == 5.0
    assert any(type(c).__name__ == "CancelTask" for c in slow.commands)
    quick = run_to_completion(definition, {}, lambda r, p: Delayed(4, "fast"), FakeClock(0.0))
    assert quick.output == "fast"


def test_timeout_seconds_path_and_the_scheduled_event() -> None:
    definition = machine(("T", task(Resource="arn:aws:states:::sqs:sendMessage", TimeoutSecondsPath="$.t",
                                    HeartbeatSecondsPath="$.h")))
    execution, clock, commands = started(definition, {"t": 30, "h": 10}, clock=FakeClock(0.0))
    (command,) = invokes(commands)
    assert (command.timeout_seconds, command.heartbeat_seconds) == (30, 10)
    assert sorted((t.purpose, t.fire_at) for t in timers(commands)) == [("heartbeat", 10.0), ("timeout", 30.0)]
    scheduled = next(e for e in execution.history if e.type == "TaskScheduled").to_aws()
    assert scheduled["taskScheduledEventDetails"]["timeoutInSeconds"] == 30
    assert scheduled["taskScheduledEventDetails"]["heartbeatInSeconds"] == 10
    bad = run_to_completion(definition, {"t": "x", "h": 1})
    assert bad.error == "States.Runtime" and "TimeoutSecondsPath field refers to value" in (bad.cause or "")


def test_heartbeats_keep_a_task_alive_until_they_stop() -> None:
    definition = machine(("T", task(HeartbeatSeconds=10, TimeoutSeconds=100)))
    alive = run_to_completion(definition, {}, lambda r, p: Delayed(25, "ok", heartbeats=(8, 16, 24)), FakeClock(0.0))
    assert alive.output == "ok"
    dead = run_to_completion(definition, {}, lambda r, p: Delayed(25, "ok", heartbeats=(8,)), FakeClock(0.0))
    assert (dead.error, dead.history[-1].timestamp) == ("States.HeartbeatTimeout", 18.0)


def test_a_heartbeat_restarts_the_heartbeat_timer() -> None:
    execution, clock, commands = started(machine(("T", task(HeartbeatSeconds=10))), {}, clock=FakeClock(0.0))
    (command,) = invokes(commands)
    (first,) = timers(commands)
    clock.advance_to(6)
    commands = execution.advance(TaskHeartbeat(command.task_id)).commands
    (second,) = timers(commands)
    assert second.fire_at == 16 and any(getattr(c, "timer_id", None) == first.timer_id for c in commands)
    assert execution.advance(TimerFired(first.timer_id)).commands == []      # cancelled: ignored


def test_a_late_result_after_a_timeout_is_ignored() -> None:
    execution, clock, commands = started(machine(("T", task(TimeoutSeconds=1))), {}, clock=FakeClock(0.0))
    (command,) = invokes(commands)
    (timer,) = timers(commands)
    clock.advance_to(1)
    execution.advance(TimerFired(timer.timer_id))
    assert execution.status is ExecutionStatus.FAILED and execution.error == "States.Timeout"
    from cumulo.stepfunctions.asl import TaskSucceeded
    assert execution.advance(TaskSucceeded(command.task_id, "late")).commands == []


def test_catcher_assign_sees_the_error_output() -> None:
    definition = machine(("T", task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "C", "ResultPath": None,
                                            "Assign": {"why.$": "$.Error"}}])),
                         ("C", {"Type": "Pass", "Parameters": {"why.$": "$why"}, "End": True}))
    assert run_to_completion(definition, {}, failing("Boom")).output == {"why": "Boom"}


def test_a_function_error_without_an_error_type_is_lambda_unknown() -> None:
    from cumulo.stepfunctions.asl import lambda_error
    assert lambda_error({"errorMessage": "oops", "errorType": "KeyError"}) == (
        "KeyError", '{"errorMessage":"oops","errorType":"KeyError"}')
    assert lambda_error({"errorMessage": "Task timed out after 3.00 seconds"})[0] == "Lambda.Unknown"


def test_no_retry_on_a_state_that_cannot_have_one() -> None:
    result = run_to_completion(machine(("P", {"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "End": True})), {})
    assert result.status is ExecutionStatus.FAILED and types(result.history)[-1] == "ExecutionFailed"
    assert isinstance(result.execution, Execution)
