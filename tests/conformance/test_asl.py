"""Our interpreter against executions AWS Step Functions recorded (``asl_cases.json``,
``asl_choice_operator_cases.json``): the same definition and input must end the same way.

The output is compared exactly; so is the error name (``None``: a Fail state without Error). A
cause is compared exactly once AWS's event numbering ("entered at the event id #N") is taken out,
since only that part depends on how many history events came before.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cumulo.stepfunctions.asl import ExecutionStatus, TaskError, run_to_completion

from tests.conformance.data import CONFORMANCE  # noqa: E402
FILES = ("asl_cases.json", "asl_choice_operator_cases.json")

# Cases we knowingly do not pass, each with its reason (xfail is strict: a pass here is a failure).
KNOWN_GAPS: dict[str, str] = {}


def _cases() -> list[Any]:
    params = []
    for name in FILES:
        path = CONFORMANCE / name
        if not path.exists():
            continue
        for case in json.loads(path.read_text()):
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[case["name"]])] if case["name"] in KNOWN_GAPS \
                else []
            params.append(pytest.param(case, id=f"{name.split('.')[0]}::{case['name']}", marks=marks))
    return params


def _handler(case: dict[str, Any]) -> Any:
    stubs = case.get("lambda_stubs") or {}

    def handle(resource: str, parameters: Any) -> Any:
        for key, payload in stubs.items():
            if key in resource or (isinstance(parameters, dict) and key in str(parameters.get("FunctionName", ""))):
                if isinstance(payload, dict) and "errorType" in payload and "errorMessage" in payload:
                    raise TaskError(payload["errorType"], json.dumps(payload))
                return payload
        if len(stubs) == 1:
            return next(iter(stubs.values()))
        raise TaskError("States.TaskFailed", f"no stub for {resource}")
    return handle


def _loose(cause: str | None) -> str | None:
    return None if cause is None else re.sub(r"\(entered at the event id #\d+\)", "(entered at the event id #N)", cause)


@pytest.mark.parametrize("case", _cases())
def test_execution_ends_as_aws_recorded(case: dict[str, Any]) -> None:
    result = run_to_completion(case["definition"], case["input"], _handler(case))
    if "expected_output" in case:
        assert result.status is ExecutionStatus.SUCCEEDED, (result.error, result.cause)
        assert result.output == case["expected_output"]
        assert json.dumps(result.output, sort_keys=True) == json.dumps(case["expected_output"], sort_keys=True)
        return
    assert result.status is ExecutionStatus.FAILED, result.output
    assert result.error == case["expected_error"]
    if "expected_cause" in case:
        assert _loose(result.cause) == _loose(case["expected_cause"])
    if "expected_cause_parsed" in case:
        assert json.loads(result.cause or "null") == case["expected_cause_parsed"]


def test_the_conformance_files_are_there() -> None:
    found = {name: len(json.loads((CONFORMANCE / name).read_text())) for name in FILES if (CONFORMANCE / name).exists()}
    assert found == {"asl_cases.json": 68, "asl_choice_operator_cases.json": 204}
