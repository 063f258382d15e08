"""Amazon States Language: definitions, data flow, intrinsic functions and a deterministic interpreter.

The pure core of Cumulo's Step Functions. ``parse_definition`` checks and compiles a definition;
``Execution`` runs one (events in, commands out, see ``interfaces``); ``run_to_completion`` is a
synchronous shell for tests. Nothing here performs I/O.

A shell drives an execution like this (a Standard execution persists after every step)::

    machine = parse_definition(definition_text)          # InvalidDefinition: CreateStateMachine's 400
    execution = Execution(machine, input, ExecutionContext(execution_arn=..., state_machine_arn=...),
                          clock=time.time, entropy=SeededEntropy(secrets.token_hex(16)))
    step = execution.start()
    store(execution.snapshot(), step.events); obey(step.commands)
    ...                                                  # later, per result or timer:
    step = execution.advance(TaskSucceeded(task_id, payload))
    store(execution.snapshot(), step.events); obey(step.commands)
    # after a crash:
    execution = Execution.restore(machine, snapshot, context, clock=time.time, entropy=same_entropy)
    obey(execution.outstanding())
"""

from cumulo.stepfunctions.asl.definition import parse_definition, validate_definition
from cumulo.stepfunctions.asl.driver import Delayed, FakeClock, RunResult, TaskError, run_to_completion
from cumulo.stepfunctions.asl.errors import Diagnostic, InvalidDefinition, StatesFailure
from cumulo.stepfunctions.asl.interfaces import (CancelTask, CancelTimer, Clock, Command, Entropy, Event, ExecutionContext,
                                      ExecutionStatus, Fail, HistoryEvent, InvokeTask, SeededEntropy, StartTimer,
                                      Step, StopExecution, Succeed, TaskFailed, TaskHeartbeat, TaskSucceeded,
                                      TimerFired, event_from_json, event_to_json)
from cumulo.stepfunctions.asl.interpreter import Execution, decode_task_token, retry_delay
from cumulo.stepfunctions.asl.model import StateMachine
from cumulo.stepfunctions.asl.resources import Integration, Pattern, Resource, classify, lambda_error, lambda_invoke_result

__all__ = [
    "parse_definition", "validate_definition", "StateMachine", "Diagnostic", "InvalidDefinition", "StatesFailure",
    "Execution", "ExecutionContext", "ExecutionStatus", "Clock", "Entropy", "SeededEntropy",
    "Command", "InvokeTask", "StartTimer", "CancelTimer", "CancelTask", "Succeed", "Fail",
    "Event", "TaskSucceeded", "TaskFailed", "TaskHeartbeat", "TimerFired", "StopExecution",
    "HistoryEvent", "Step", "event_to_json", "event_from_json", "decode_task_token", "retry_delay",
    "Resource", "Integration", "Pattern", "classify", "lambda_invoke_result", "lambda_error",
    "run_to_completion", "FakeClock", "TaskError", "Delayed", "RunResult",
]
