"""Properties over arbitrary definitions: validation only ever answers with findings, and a
definition it accepts runs to an end without the core raising."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.stepfunctions.asl import ExecutionStatus, TaskError, parse_definition, run_to_completion, validate_definition

NAMES = ["A", "B", "C"]
leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(
    ["$", "$.a", "$.a[0]", "$$.Execution.Id", "$v", "$.b[*]", "x", "States.Array($.a)", "States.Format('{}', $.a)",
     "{% $states.input %}", "{% $states.input.a %}", "2016-03-14T01:59:00Z", "arn:aws:states:::lambda:invoke",
     "States.ALL", "E", "A", "B", "C", "JSONata", "JSONPath"]))
values = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["a", "b", "x.$", "y.$"]), inner, max_size=3), max_leaves=6)

FIELDS = ["Type", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Result",
          "Assign", "Output", "Arguments", "Resource", "TimeoutSeconds", "Seconds", "SecondsPath", "Timestamp",
          "Choices", "Default", "Error", "Cause", "ErrorPath", "Branches", "ItemsPath", "ItemProcessor",
          "MaxConcurrency", "Retry", "Catch", "QueryLanguage", "Items", "ItemSelector", "ToleratedFailureCount"]
TYPES = ["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Nope"]


OPTIONAL = {
    "Pass": ["InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign"],
    "Task": ["InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Assign", "TimeoutSeconds",
             "Retry", "Catch"],
    "Wait": ["InputPath", "OutputPath", "Assign"],
    "Succeed": ["InputPath", "OutputPath"],
    "Fail": ["Error", "Cause"],
    "Choice": ["InputPath", "OutputPath", "Assign"],
    "Parallel": ["InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch"],
    "Map": ["InputPath", "OutputPath", "ResultPath", "ItemsPath", "ItemSelector", "MaxConcurrency", "Retry", "Catch",
            "ToleratedFailureCount"],
}
PATHS = st.sampled_from(["$", "$.a", "$.a[0]", "$.b", "$$.Execution.Input", "$.a[*]", None])
REFERENCE = st.sampled_from(["$", "$.a", "$.r", "$.a.b", None])


def field_value(draw: Any, key: str, names: list[str]) -> Any:
    if key in ("InputPath", "OutputPath"):
        return draw(PATHS)
    if key in ("ResultPath", "ItemsPath"):
        return draw(REFERENCE)
    if key in ("Parameters", "ResultSelector", "ItemSelector", "Assign"):
        return draw(st.dictionaries(st.sampled_from(["a", "b", "c.$", "d.$"]), values, max_size=3).map(
            lambda d: {k: (v if not k.endswith(".$") else "$") for k, v in d.items()}))
    if key in ("TimeoutSeconds", "MaxConcurrency", "ToleratedFailureCount"):
        return draw(st.integers(0, 3))
    if key == "Retry":
        return [{"ErrorEquals": [draw(st.sampled_from(["E", "States.ALL", "States.TaskFailed"]))],
                 "MaxAttempts": draw(st.integers(0, 2)), "IntervalSeconds": 1}]
    if key == "Catch":
        return [{"ErrorEquals": ["States.ALL"], "Next": draw(st.sampled_from(names)), "ResultPath": draw(REFERENCE)}]
    return draw(values)


@st.composite
def states(draw: Any, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    out = {}
    for position, name in enumerate(names):
        kind = draw(st.sampled_from(TYPES[:-1]))
        body: dict[str, Any] = {"Type": kind}
        if kind in ("Pass", "Task", "Wait", "Parallel", "Map"):
            if position == len(names) - 1 or draw(st.booleans()):
                body["End"] = True
            else:
                body["Next"] = names[position + 1]
        if kind == "Task":
            body["Resource"] = draw(st.sampled_from(["arn:aws:lambda:us-east-1:123456789012:function:f",
                                                     "arn:aws:states:::lambda:invoke"]))
        elif kind == "Wait":
            body["Seconds"] = draw(st.integers(0, 2))
        elif kind == "Choice":
            body["Choices"] = [{"Variable": "$.a", draw(st.sampled_from(["IsPresent", "IsNull", "IsNumeric"])):
                                draw(st.booleans()), "Next": draw(st.sampled_from(names))}]
            if draw(st.booleans()):
                body["Default"] = draw(st.sampled_from(names))
        elif kind in ("Parallel", "Map"):
            inner = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
            if depth < 1 and draw(st.booleans()):
                inner_states = draw(states(depth + 1))
                inner = {"StartAt": next(iter(inner_states)), "States": inner_states}
            if kind == "Parallel":
                body["Branches"] = [inner]
            else:
                body["ItemProcessor"] = inner
        for key in draw(st.lists(st.sampled_from(OPTIONAL[kind]), max_size=3, unique=True)):
            body[key] = field_value(draw, key, names)
        if draw(st.integers(0, 9)) == 0:                      # noise: any field, any value
            body[draw(st.sampled_from(FIELDS))] = draw(values)
        out[name] = body
    return out


def handler(resource: str, parameters: Any) -> Any:
    if isinstance(parameters, dict) and parameters.get("a") == 1:
        raise TaskError("E", "boom")
    return parameters


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), st.sampled_from([None, "JSONata"]),
       st.sampled_from([{}, {"a": 1}, {"a": [1, 2]}, [1, 2], "s"]))
def test_validation_answers_with_findings_and_accepted_machines_run_to_an_end(
        machine_states: dict[str, Any], language: str | None, data: Any) -> None:
    definition: dict[str, Any] = {"StartAt": next(iter(machine_states)), "States": machine_states}
    if language:
        definition["QueryLanguage"] = language
    findings = validate_definition(definition)
    assert all(d.code and d.message for d in findings)
    if findings:
        return
    result = run_to_completion(parse_definition(definition), data, handler, max_events=20_000)
    assert result.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)
    if result.status is ExecutionStatus.FAILED:
        assert "Internal error" not in (result.cause or ""), result.cause


@settings(max_examples=200, deadline=None)
@given(values)
def test_validation_of_arbitrary_json_never_raises(value: Any) -> None:
    assert isinstance(validate_definition({"StartAt": "A", "States": {"A": value}}), list)
    assert isinstance(validate_definition(value if isinstance(value, (dict, str)) else {"x": value}), list)
