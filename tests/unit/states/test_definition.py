"""Definition validation: what CreateStateMachine refuses, with AWS's codes, words and locations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cumulo.stepfunctions.asl import InvalidDefinition, parse_definition, validate_definition
from cumulo.stepfunctions.asl.model import ChoiceState, MapState, ParallelState, PassState, QueryLanguage, TaskState
from cumulo.stepfunctions.asl.resources import Integration

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def machine(*states: tuple[str, dict[str, Any]], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or states[0][0], "States": dict(states), **top}


def findings(definition: Any) -> list[str]:
    return [str(d) for d in validate_definition(definition)]


def refused(definition: Any, expected: str) -> None:
    problems = findings(definition)
    assert expected in problems, problems
    with pytest.raises(InvalidDefinition) as info:
        parse_definition(definition)
    assert info.value.message.startswith("Invalid State Machine Definition: '")
    assert expected in info.value.message
    assert info.value.status == 400 and info.value.type == "InvalidDefinition"


def test_a_valid_machine_parses_into_the_model() -> None:
    parsed = parse_definition(json.dumps(machine(
        ("A", {"Type": "Pass", "Result": 1, "Next": "B"}),
        ("B", {"Type": "Task", "Resource": LAMBDA, "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": True}))))
    assert isinstance(parsed.states["A"], PassState) and parsed.states["A"].has_result
    task = parsed.states["B"]
    assert isinstance(task, TaskState) and task.resource is not None
    assert task.resource.integration is Integration.LAMBDA_FUNCTION
    assert task.retry[0].max_attempts == 3 and task.retry[0].backoff_rate == 2.0


def test_dangling_next_and_unreachable_states() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "Nope"}), ("B", {"Type": "Succeed"}))
    problems = findings(definition)
    assert problems == ["MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /States/A/Next",
                        'MISSING_TRANSITION_TARGET: State "B" is not reachable. at /States/B']


def test_dangling_targets_of_choices_defaults_and_catchers_say_next() -> None:
    definition = machine(
        ("C", {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "X"}], "Default": "Y"}),
        ("T", {"Type": "Task", "Resource": LAMBDA, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
               "End": True}))
    problems = findings(definition)
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/C/Choices[0]/Next" in problems
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: Y at /States/C/Default" in problems
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/T/Catch[0]/Next" in problems


def test_a_loop_without_terminal_state() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "B"}), ("B", {"Type": "Pass", "Next": "A"}),
                         ("Lost", {"Type": "Pass", "Next": "A"}))
    assert findings(definition) == ["MISSING_END_STATE: Workflow has no terminal state"]


def test_start_at_must_name_a_state() -> None:
    refused(machine(("A", {"Type": "Succeed"}), start="B"),
            "MISSING_TRANSITION_TARGET: Missing 'StartAt' target: B at /StartAt")


@pytest.mark.parametrize("definition, expected", [
    ({"States": {"A": {"Type": "Succeed"}}}, "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /"),
    ({"StartAt": "A"}, "SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /"),
    ({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Coment": "typo"},
     "SCHEMA_VALIDATION_FAILED: Field 'Coment' is not supported at /"),
    ({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "TimeoutSeconds": 0},
     "SCHEMA_VALIDATION_FAILED: The value for the field 'TimeoutSeconds' must be a positive integer at /TimeoutSeconds"),
    ({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "QueryLanguage": "SQL"},
     "SCHEMA_VALIDATION_FAILED: The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata] at "
     "/QueryLanguage"),
])
def test_top_level_fields(definition: dict[str, Any], expected: str) -> None:
    refused(definition, expected)


@pytest.mark.parametrize("state, expected", [
    ({}, "These fields are required: [Type] at /States/A"),
    ({"Type": "Sleep"}, "The value for the field 'Type' must be one of [Pass, Task, Choice, Wait, Succeed, Fail, "
                        "Parallel, Map] at /States/A"),
    ({"Type": "Pass"}, "Exactly one of the fields [Next, End] must be set at /States/A"),
    ({"Type": "Pass", "End": True, "Next": "A"}, "Exactly one of the fields [Next, End] must be set at /States/A"),
    ({"Type": "Pass", "End": True, "TimeoutSeconds": 3}, "Field 'TimeoutSeconds' is not supported at /States/A"),
    ({"Type": "Pass", "End": True, "Retry": []}, "Field 'Retry' is not supported at /States/A"),
    ({"Type": "Wait", "End": True, "Catch": []}, "Field 'Catch' is not supported at /States/A"),
    ({"Type": "Succeed", "End": True}, "Field 'End' is not supported at /States/A"),
    ({"Type": "Fail", "InputPath": "$"}, "Field 'InputPath' is not supported at /States/A"),
    ({"Type": "Pass", "End": True, "InputPath": "$.a["}, "The value for the field 'InputPath' must be a valid "
                                                         "JSONPath at /States/A/InputPath"),
    ({"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}, "The value for the field 'ResultPath' must be a valid "
                                                            "ReferencePath at /States/A/ResultPath"),
    ({"Type": "Pass", "End": True, "ResultPath": "$$.Execution"}, "The value for the field 'ResultPath' must be a "
                                                                  "valid ReferencePath at /States/A/ResultPath"),
    ({"Type": "Pass", "End": True, "Parameters": {"x.$": "nope"}},
     "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call at "
     "/States/A/Parameters"),
    ({"Type": "Pass", "End": True, "Parameters": {"deep": [{"x.$": "States.Array(,)"}]}},
     "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call at "
     "/States/A/Parameters/deep[0]"),
    ({"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Unknown($)"}},
     "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call at "
     "/States/A/Parameters"),
    ({"Type": "Pass", "End": True, "Output": {}},
     "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage "
     "at /States/A"),
    ({"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "InputPath": "$"},
     "The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' "
     "QueryLanguage at /States/A"),
    ({"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "Output": "{% 1 + %}"},
     "The JSONata expression '1 +' is not valid: S0207: Unexpected end of expression at /States/A/Output"),
    ({"Type": "Pass", "End": True, "Assign": {"bad-name": 1}}, "The variable name 'bad-name' is not valid at "
                                                               "/States/A/Assign"),
    ({"Type": "Task", "End": True}, "These fields are required: [Resource] at /States/A"),
    ({"Type": "Task", "End": True, "Resource": "arn:aws:nope"},
     "INVALID_RESOURCE: The resource provided arn:aws:nope is not recognized. The value is not a valid resource ARN, "
     "or the resource is not available in this region. at /States/A/Resource"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "TimeoutSeconds": 0}, "Minimum value is 1 at "
                                                                            "/States/A/TimeoutSeconds"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"},
     "There should only be one of the following fields: [TimeoutSeconds, TimeoutSecondsPath] at /States/A"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "TimeoutSeconds": 5, "HeartbeatSeconds": 5},
     "HeartbeatSeconds must be smaller than TimeoutSeconds at /States/A/HeartbeatSeconds"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "TimeoutSecondsPath": "$$.Execution.Input.t"},
     "The value for the field 'TimeoutSecondsPath' must be a valid ReferencePath at /States/A/TimeoutSecondsPath"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]},
     "States.ALL must appear alone in ErrorEquals and in the last retrier or catcher at /States/A/Retry[0]/ErrorEquals"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "Retry": [{"ErrorEquals": []}]},
     "The field 'ErrorEquals' must be a non-empty array of strings at /States/A/Retry[0]"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]},
     "The value for the field 'BackoffRate' must be a number of at least 1.0 at /States/A/Retry[0]/BackoffRate"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]},
     "The value for the field 'MaxAttempts' must be a non-negative integer at /States/A/Retry[0]/MaxAttempts"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]},
     "The value for the field 'JitterStrategy' must be one of [FULL, NONE] at /States/A/Retry[0]/JitterStrategy"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]},
     "The value for the field 'MaxDelaySeconds' must be a positive integer at /States/A/Retry[0]/MaxDelaySeconds"),
    ({"Type": "Task", "End": True, "Resource": LAMBDA, "Catch": [{"ErrorEquals": ["X"]}]},
     "These fields are required: [Next] at /States/A/Catch[0]"),
    ({"Type": "Wait", "End": True}, "A Wait state needs exactly one of [Seconds, Timestamp, SecondsPath, "
                                    "TimestampPath] at /States/A"),
    ({"Type": "Wait", "End": True, "Seconds": -1}, "Minimum value is 0 at /States/A/Seconds"),
    ({"Type": "Wait", "End": True, "Timestamp": "tomorrow"}, "The value for the field 'Timestamp' must be a valid "
                                                             "timestamp at /States/A/Timestamp"),
    ({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}, "There should only be one of the following fields: [Error, "
                                                         "ErrorPath] at /States/A"),
    ({"Type": "Choice", "Choices": []}, "The field 'Choices' must be a non-empty array at /States/A"),
    ({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True}]}, "These fields are required: [Next] at "
                                                                          "/States/A/Choices[0]"),
    ({"Type": "Parallel", "End": True, "Branches": []}, "The field 'Branches' must be a non-empty array at /States/A"),
    ({"Type": "Map", "End": True}, "A Map state needs exactly one of [ItemProcessor, Iterator] at /States/A"),
    ({"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
      "MaxConcurrency": -1}, "Minimum value is 0 at /States/A/MaxConcurrency"),
    ({"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
      "ToleratedFailurePercentage": 101}, "Maximum value is 100.0 at /States/A/ToleratedFailurePercentage"),
    ({"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
      "MaxConcurrency": 1, "MaxConcurrencyPath": "$.m"},
     "There should only be one of the following fields: [MaxConcurrency, MaxConcurrencyPath] at /States/A"),
    ({"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}},
                                                    "QueryLanguage": "JSONata"}},
     "Field 'QueryLanguage' is not supported at /States/A/ItemProcessor"),
])
def test_state_fields(state: dict[str, Any], expected: str) -> None:
    problems = findings(machine(("A", state)))
    assert any(p.endswith(expected) for p in problems), problems


def test_nested_graphs_are_checked_with_their_locations() -> None:
    definition = machine(("P", {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Gone"}}}]}))
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone at /States/P/Branches[0]/States/X/Next" in \
        findings(definition)


def test_a_state_cannot_go_back_to_jsonpath_under_a_jsonata_machine() -> None:
    definition = machine(("A", {"Type": "Pass", "End": True, "QueryLanguage": "JSONPath"}), QueryLanguage="JSONata")
    assert findings(definition) == ["SCHEMA_VALIDATION_FAILED: 'QueryLanguage' can not be 'JSONPath' if set to "
                                    "'JSONata' for whole state machine at /States/A"]


def test_query_language_is_inherited_from_the_top_into_nested_graphs() -> None:
    parsed = parse_definition(machine(("M", {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "I", "States": {"I": {"Type": "Pass", "Output": "{% $states.input %}", "End": True}}}}),
        QueryLanguage="JSONata"))
    inner = parsed.states["M"]
    assert isinstance(inner, MapState) and inner.processor is not None
    assert inner.processor.states["I"].query_language is QueryLanguage.JSONATA


def test_every_finding_is_reported_at_once() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "B", "Bogus": 1, "InputPath": "x"}),
                         ("B", {"Type": "Task", "End": True}))
    assert len(findings(definition)) == 3


def test_invalid_json_text() -> None:
    assert findings("{not json")[0].startswith("INVALID_JSON_DESCRIPTION: Invalid JSON")


def test_unsupported_distributed_map_sources_are_refused_clearly() -> None:
    definition = machine(("M", {"Type": "Map", "End": True, "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
                                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}))
    assert any(p.startswith("UNSUPPORTED_FEATURE") for p in findings(definition))


def test_jsonata_choice_rules_and_model_shapes() -> None:
    parsed = parse_definition(machine(
        ("C", {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.x > 1 %}", "Next": "P",
                                              "Output": {"y": "{% $states.input.x %}"}}], "Default": "Q"}),
        ("P", {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]}),
        ("Q", {"Type": "Succeed"}), QueryLanguage="JSONata"))
    choice = parsed.states["C"]
    assert isinstance(choice, ChoiceState) and choice.choices[0].has_output
    assert isinstance(parsed.states["P"], ParallelState) and len(parsed.states["P"].branches) == 1
    problems = findings(machine(("C", {"Type": "Choice", "Choices": [{"Next": "D", "Variable": "$.x"}],
                                       "Default": "D"}), ("D", {"Type": "Succeed"}), QueryLanguage="JSONata"))
    assert "SCHEMA_VALIDATION_FAILED: Field 'Variable' is not supported at /States/C/Choices[0]" in problems
    assert "SCHEMA_VALIDATION_FAILED: These fields are required: [Condition] at /States/C/Choices[0]" in problems


def test_state_names_are_at_most_80_characters() -> None:
    name = "x" * 81
    assert any("longer than 80 characters" in p for p in findings(machine((name, {"Type": "Succeed"}))))


@pytest.mark.parametrize("state, expected", [
    ([], "A state must be a JSON object"),
    ({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "A"}], "Default": 1},
     "The value for the field 'Default' must be a string"),
    ({"Type": "Choice", "QueryLanguage": "JSONata", "Choices": [1]}, "Value must be an object"),
    ({"Type": "Choice", "QueryLanguage": "JSONata", "Choices": [{"Condition": 5, "Next": "A"}]},
     "The value for the field 'Condition' must be a JSONata expression or a boolean"),
    ({"Type": "Choice", "QueryLanguage": "JSONata", "Choices": [{"Condition": True}]},
     "These fields are required: [Next]"),
    ({"Type": "Map", "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "FAST"}, "StartAt": "I",
                                                    "States": {"I": {"Type": "Succeed"}}}},
     "The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED]"),
    ({"Type": "Map", "End": True, "ItemBatcher": 3, "ItemProcessor": {"StartAt": "I",
                                                                      "States": {"I": {"Type": "Succeed"}}}},
     "The field 'ItemBatcher' must be an object"),
    ({"Type": "Map", "End": True, "ItemProcessor": None}, "The field 'ItemProcessor' must be an object"),
    ({"Type": "Map", "End": True, "Iterator": "x"}, "The field 'Iterator' must be an object"),
    ({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, "Retry": {}},
     "The field 'Retry' must be an array"),
    ({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, "Retry": [1]},
     "A retrier must be an object"),
    ({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, "Catch": "x"},
     "The field 'Catch' must be an array"),
    ({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, "Catch": [None]},
     "A catcher must be an object"),
    ({"Type": "Pass", "End": "yes"}, "The value for the field 'End' must be a boolean"),
    ({"Type": "Pass", "Next": 3}, "The value for the field 'Next' must be a string"),
    ({"Type": "Pass", "End": True, "Parameters": [1]}, "The value must be a JSON object"),
    ({"Type": "Pass", "End": True, "Assign": [1]}, "The field 'Assign' must be an object"),
    ({"Type": "Wait", "End": True, "Seconds": "5"}, "The value for the field 'Seconds' must be an integer"),
    ({"Type": "Fail", "Error": 5}, "The value for the field 'Error' must be a string"),
])
def test_malformed_fields(state: Any, expected: str) -> None:
    problems = findings(machine(("A", state)))
    assert any(expected in p for p in problems), problems


def test_a_definition_that_is_not_an_object() -> None:
    assert findings("[1, 2]") == ["SCHEMA_VALIDATION_FAILED: The state machine definition must be a JSON object at /"]
