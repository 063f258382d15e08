"""Errors of the States Language core: a definition AWS would refuse, and failures of a state.

    CumuloError (cumulo.errors)
    └── InvalidDefinition        400  CreateStateMachine/ValidateStateMachineDefinition refuse the definition;
                                      carries every ``Diagnostic`` (code, message, location) AWS would list
    StatesFailure                     not a platform error: a state failed with an ASL error name and cause.
                                      Raised by the pure evaluators (paths, intrinsics, JSONata, choice) and
                                      caught by the interpreter, which turns it into Retry/Catch or a failed
                                      execution: it never leaves ``Execution.advance``.

The error names are AWS's (States Language appendix A plus Step Functions' own). ``States.ALL``
matches every name except the terminal ``States.Runtime`` and ``States.DataLimitExceeded`` (but a
task's oversized *result* is a task failure that ``States.ALL`` catches, as AWS records it);
``States.TaskFailed`` also skips the timeouts; ``States.Timeout`` matches the heartbeat timeout too.
"""

from __future__ import annotations

from dataclasses import dataclass

from cumulo.errors import CumuloError

__all__ = [
    "Diagnostic", "InvalidDefinition", "StatesFailure",
    "ALL", "TIMEOUT", "HEARTBEAT_TIMEOUT", "TASK_FAILED", "PERMISSIONS", "RESULT_PATH_MATCH_FAILURE",
    "PARAMETER_PATH_FAILURE", "BRANCH_FAILED", "NO_CHOICE_MATCHED", "INTRINSIC_FAILURE",
    "EXCEED_TOLERATED_FAILURE_THRESHOLD", "RUNTIME", "DATA_LIMIT_EXCEEDED", "QUERY_EVALUATION_ERROR",
    "ITEM_READER_FAILED", "RESULT_WRITER_FAILED", "PREDEFINED", "error_matches",
]

ALL = "States.ALL"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
TASK_FAILED = "States.TaskFailed"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"

PREDEFINED = frozenset({
    ALL, TIMEOUT, HEARTBEAT_TIMEOUT, TASK_FAILED, PERMISSIONS, RESULT_PATH_MATCH_FAILURE,
    PARAMETER_PATH_FAILURE, BRANCH_FAILED, NO_CHOICE_MATCHED, INTRINSIC_FAILURE,
    EXCEED_TOLERATED_FAILURE_THRESHOLD, RUNTIME, DATA_LIMIT_EXCEEDED, QUERY_EVALUATION_ERROR,
    ITEM_READER_FAILED, RESULT_WRITER_FAILED, "States.Http.Socket",
})

_TERMINAL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})
_TIMEOUTS = frozenset({TIMEOUT, HEARTBEAT_TIMEOUT})


def error_matches(pattern: str, error: str | None, terminal: bool | None = None) -> bool:
    """Whether one ``ErrorEquals`` entry matches an error name (``None``: a Fail state without Error).

    ``terminal`` says whether the wildcards skip this error; by default they skip States.Runtime and
    States.DataLimitExceeded. A task whose *result* is over the payload quota fails like any task
    (AWS reports it as the task's failure, and ``States.ALL`` catches it there), so the interpreter
    passes ``terminal=False`` for that one case."""
    if error is not None and pattern == error:
        return True
    if error in _TERMINAL if terminal is None else terminal:
        return False
    if pattern == ALL:
        return True
    if pattern == TASK_FAILED:
        return error not in _TIMEOUTS
    if pattern == TIMEOUT:
        return error == HEARTBEAT_TIMEOUT
    return False


@dataclass(frozen=True)
class Diagnostic:
    """One finding of definition validation, shaped like ValidateStateMachineDefinition's diagnostics."""

    code: str                 # SCHEMA_VALIDATION_FAILED, MISSING_TRANSITION_TARGET, MISSING_END_STATE ...
    message: str
    location: str | None      # a JSON pointer into the definition ("/States/A/Next"), None for global findings

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" + (f" at {self.location}" if self.location is not None else "")


class InvalidDefinition(CumuloError):
    """The definition breaks the States Language; the message lists every finding as AWS does."""

    status = 400

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("Invalid State Machine Definition: '" + ", ".join(map(str, self.diagnostics)) + "'")


class StatesFailure(Exception):
    """A state failed: an ASL error name and a cause. ``in_state`` asks for AWS's cause prefix
    ("An error occurred while executing the state 'X' (entered at the event id #N). ")."""

    def __init__(self, error: str | None, cause: str | None = None, *, in_state: bool = True) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.in_state = in_state
