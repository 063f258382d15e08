"""RedriveExecution in the core: an unsuccessful execution continues from the state it stopped in."""

from __future__ import annotations

from typing import Any

from cumulo.stepfunctions.asl import (Execution, ExecutionStatus, FakeClock, StopExecution, TaskFailed, TaskSucceeded,
                                      TimerFired)

from .helpers import invokes, machine, started, task, timers, types

DEFINITION = machine(("Prepare", {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.prepared", "Next": "Work"}),
                     ("Work", task(Parameters={"input.$": "$", "redrives.$": "$$.Execution.RedriveCount"},
                                   End=False, Next="Done")),
                     ("Done", {"Type": "Succeed"}))


def _failed() -> tuple[Execution, FakeClock, Any]:
    execution, clock, commands = started(DEFINITION, {"x": 1})
    [work] = invokes(commands)
    execution.advance(TaskFailed(work.task_id, "Boom", "the function failed"))
    assert execution.status is ExecutionStatus.FAILED
    return execution, clock, work


def test_a_failed_execution_continues_from_the_failed_state_with_its_input() -> None:
    execution, clock, first = _failed()
    restored = Execution.restore(DEFINITION, execution.snapshot(), clock=clock)   # as the server reloads it
    assert restored.redrivable
    step = restored.redrive(1)
    assert restored.status is ExecutionStatus.RUNNING and restored.error is None
    [again] = invokes(step.commands)
    assert again.parameters == {"input": first.parameters["input"], "redrives": 1}
    assert first.parameters["redrives"] == 0
    assert types(step.events) == ["ExecutionRedriven", "TaskStateEntered", "LambdaFunctionScheduled",
                                  "LambdaFunctionStarted"]
    redriven = step.events[0].to_aws()
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert step.events[0].id == execution.snapshot()["next_event"]
    done = restored.advance(TaskSucceeded(again.task_id, {"ok": True}))
    assert restored.status is ExecutionStatus.SUCCEEDED and restored.output == {"ok": True}
    assert "PassStateEntered" not in types(done.events)          # what succeeded before is not run again


def test_only_unsuccessful_executions_are_redrivable() -> None:
    execution, _, commands = started(DEFINITION, {})
    assert not execution.redrivable                              # running
    assert execution.redrive(1).commands == []
    [work] = invokes(commands)
    execution.advance(TaskSucceeded(work.task_id, {}))
    assert execution.status is ExecutionStatus.SUCCEEDED and not execution.redrivable
    assert execution.redrive(1).events == []


def test_aborted_and_timed_out_executions_redrive_and_the_timeout_counts_again() -> None:
    definition = {**DEFINITION, "TimeoutSeconds": 60}
    execution, clock, commands = started(definition, {})
    execution.advance(StopExecution("Stopped", "by hand"))
    assert execution.status is ExecutionStatus.ABORTED and execution.redrivable
    clock.advance_to(clock.now + 600)
    step = execution.redrive(1)
    [timeout] = [t for t in timers(step.commands) if t.purpose == "execution-timeout"]
    assert timeout.fire_at == clock.now + 60
    execution.advance(TimerFired(timeout.timer_id))
    assert execution.status is ExecutionStatus.TIMED_OUT and execution.redrivable
    step = execution.redrive(2)
    assert types(step.events)[:2] == ["ExecutionRedriven", "TaskStateEntered"]
    assert execution.context.redrive_count == 2


def test_a_failed_parallel_state_runs_only_its_failed_branches_again() -> None:
    definition = machine(("Both", {"Type": "Parallel", "End": True, "Branches": [
        machine(("A", task())), machine(("B", task()))]}))
    execution, _, commands = started(definition, {"v": 2})
    a, b = invokes(commands)
    execution.advance(TaskSucceeded(a.task_id, "a"))
    execution.advance(TaskFailed(b.task_id, "Boom", None))
    assert execution.status is ExecutionStatus.FAILED
    restored = Execution.restore(definition, execution.snapshot(), clock=FakeClock())
    step = restored.redrive(1)
    [again] = invokes(step.commands)                          # only B
    assert again.parameters == b.parameters
    restored.advance(TaskSucceeded(again.task_id, "b"))
    assert restored.status is ExecutionStatus.SUCCEEDED and restored.output == ["a", "b"]


def test_a_map_state_reruns_only_its_failed_and_aborted_iterations() -> None:
    definition = machine(("Each", {"Type": "Map", "End": True, "MaxConcurrency": 2, "ItemProcessor": machine(
        ("Work", task()))}))
    execution, _, commands = started(definition, [1, 2, 3, 4])
    first, second = invokes(commands)
    step = execution.advance(TaskSucceeded(first.task_id, "one"))
    [third] = invokes(step.commands)
    execution.advance(TaskFailed(second.task_id, "Boom", None))       # 2 fails, 3 is aborted, 4 never ran
    assert execution.status is ExecutionStatus.FAILED
    step = execution.redrive(1)
    rerun = invokes(step.commands)
    assert [c.parameters for c in rerun] == [2, 3]                     # 1 kept; two at a time again
    assert [e.to_aws()["mapIterationStartedEventDetails"]["index"] for e in step.events
            if e.type == "MapIterationStarted"] == [1, 2]
    step = execution.advance(TaskSucceeded(rerun[0].task_id, "two"))
    [fourth] = invokes(step.commands)
    assert fourth.parameters == 4
    execution.advance(TaskSucceeded(rerun[1].task_id, "three"))
    execution.advance(TaskSucceeded(fourth.task_id, "four"))
    assert execution.status is ExecutionStatus.SUCCEEDED and execution.output == ["one", "two", "three", "four"]
    assert third.parameters == 3


def test_a_retried_parallel_state_runs_every_branch_again() -> None:
    definition = machine(("Both", {"Type": "Parallel", "End": True, "Retry": [
        {"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 1}], "Branches": [
        machine(("A", task())), machine(("B", task()))]}))
    execution, clock, commands = started(definition, {})
    a, b = invokes(commands)
    execution.advance(TaskSucceeded(a.task_id, "a"))
    step = execution.advance(TaskFailed(b.task_id, "Boom", None))
    [retry] = timers(step.commands)
    clock.advance_to(retry.fire_at)
    step = execution.advance(TimerFired(retry.timer_id))
    assert len(invokes(step.commands)) == 2                   # a retry is not a redrive
