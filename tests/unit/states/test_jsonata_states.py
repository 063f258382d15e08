"""QueryLanguage JSONata: Arguments, Output, Assign, Condition, Items, $states, errors."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.stepfunctions.asl import ExecutionStatus, FakeClock, TaskError, run_to_completion
from cumulo.stepfunctions.asl.errors import QUERY_EVALUATION_ERROR, StatesFailure
from cumulo.stepfunctions.asl.jsonata import compile_expression, evaluate, is_expression

from .helpers import LAMBDA, Draws, machine, task


def jsonata(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return machine(*states, QueryLanguage="JSONata")


class Fixed:
    def random(self) -> float:
        return 0.5

    def uuid(self) -> str:
        return "u-1"


def value(text: str, states: dict[str, Any] | None = None, variables: dict[str, Any] | None = None) -> Any:
    return evaluate(compile_expression("{% " + text + " %}"), "Output", states or {}, variables or {}, 0.0, Fixed())


def test_task_arguments_output_and_assign() -> None:
    seen = []

    def handler(resource: str, arguments: Any) -> Any:
        seen.append(arguments)
        return {"sum": arguments["a"] + arguments["b"]}
    definition = jsonata(
        ("T", task(Arguments={"a": "{% $states.input.x %}", "b": 2, "s": "not {% an %} expression"},
                   Output={"total": "{% $states.result.sum %}", "was": "{% $states.input.x %}"},
                   Assign={"kept": "{% $states.result.sum * 10 %}"}, Next="P", End=None)),
        ("P", {"Type": "Pass", "Output": "{% $kept %}", "End": True}))
    definition["States"]["T"].pop("End")
    result = run_to_completion(definition, {"x": 1}, handler)
    assert seen == [{"a": 1, "b": 2, "s": "not {% an %} expression"}]
    assert result.output == 30


def test_output_and_assign_see_the_variables_from_before_the_state() -> None:
    definition = jsonata(("A", {"Type": "Pass", "Assign": {"n": 1}, "Next": "B"}),
                         ("B", {"Type": "Pass", "Assign": {"n": "{% $n + 1 %}"}, "Output": "{% $n %}", "Next": "C"}),
                         ("C", {"Type": "Pass", "Output": "{% [$n, $states.input] %}", "End": True}))
    assert run_to_completion(definition, {}).output == [2, 1]


def test_without_output_a_task_returns_its_result_and_a_pass_its_input() -> None:
    definition = jsonata(("T", task(Next="P", End=None)), ("P", {"Type": "Pass", "End": True}))
    definition["States"]["T"].pop("End")
    assert run_to_completion(definition, {"in": 1}, lambda r, a: {"result": a}).output == {"result": {"in": 1}}


def test_choice_conditions_with_output_and_assign() -> None:
    definition = jsonata(
        ("C", {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Output": {"size": "big"},
             "Assign": {"kind": "big"}}],
            "Default": "Small", "Assign": {"kind": "small"}}),
        ("Big", {"Type": "Pass", "Output": "{% [$states.input, $kind] %}", "End": True}),
        ("Small", {"Type": "Pass", "Output": "{% [$states.input, $kind] %}", "End": True}))
    assert run_to_completion(definition, {"n": 11}).output == [{"size": "big"}, "big"]
    assert run_to_completion(definition, {"n": 1}).output == [{"n": 1}, "small"]


def test_the_choice_state_assign_applies_whichever_rule_matches() -> None:
    definition = jsonata(
        ("C", {"Type": "Choice", "Assign": {"seen": True, "kind": "state"}, "Output": {"from": "state"}, "Choices": [
            {"Condition": "{% $states.input.n > 10 %}", "Next": "D", "Assign": {"kind": "rule"}},
            {"Condition": "{% $states.input.n > 5 %}", "Next": "D", "Output": {"from": "rule"}}], "Default": "D"}),
        ("D", {"Type": "Pass", "Output": "{% [$states.input, $seen, $kind] %}", "End": True}))
    assert run_to_completion(definition, {"n": 11}).output == [{"from": "state"}, True, "rule"]
    assert run_to_completion(definition, {"n": 7}).output == [{"from": "rule"}, True, "state"]
    assert run_to_completion(definition, {"n": 1}).output == [{"from": "state"}, True, "state"]


def test_a_condition_that_is_not_boolean() -> None:
    definition = jsonata(("C", {"Type": "Choice", "Choices": [{"Condition": "{% 'yes' %}", "Next": "D"}],
                                "Default": "D"}), ("D", {"Type": "Succeed"}))
    result = run_to_completion(definition, {})
    assert result.error == QUERY_EVALUATION_ERROR and "must evaluate to a boolean" in (result.cause or "")


def test_map_items_and_item_selector_with_the_map_context() -> None:
    definition = jsonata(("M", {"Type": "Map", "End": True, "Items": "{% $states.input.list %}",
                                "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}",
                                                 "i": "{% $states.context.Map.Item.Index %}"},
                                "MaxConcurrency": "{% 1 %}",
                                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}))
    assert run_to_completion(definition, {"list": ["a", "b"]}).output == [{"v": "a", "i": 0}, {"v": "b", "i": 1}]


def test_catch_output_with_error_output() -> None:
    def boom(resource: str, arguments: Any) -> Any:
        raise TaskError("Bad", "really")
    definition = jsonata(("T", task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H",
                                            "Output": {"e": "{% $states.errorOutput.Error %}",
                                                       "in": "{% $states.input %}"},
                                            "Assign": {"cause": "{% $states.errorOutput.Cause %}"}}])),
                         ("H", {"Type": "Pass", "Output": "{% [$states.input, $cause] %}", "End": True}))
    assert run_to_completion(definition, {"x": 1}, boom).output == [{"e": "Bad", "in": {"x": 1}}, "really"]


def test_an_expression_returning_nothing_fails_with_the_field_named() -> None:
    definition = jsonata(("P", {"Type": "Pass", "Output": {"v": "{% $states.input.missing %}"}, "End": True}))
    result = run_to_completion(definition, {})
    assert result.error == QUERY_EVALUATION_ERROR
    assert result.cause == ("An error occurred while executing the state 'P' (entered at the event id #2). The JSONata "
                            "expression '$states.input.missing' specified for the field 'Output/v' returned nothing "
                            "(undefined).")


def test_an_expression_that_throws_is_catchable() -> None:
    definition = jsonata(("T", task(Arguments={"x": "{% 'a' + 1 %}"}, Catch=[
        {"ErrorEquals": ["States.QueryEvaluationError"], "Next": "H"}])), ("H", {"Type": "Pass", "End": True}))
    result = run_to_completion(definition, {})
    assert result.status is ExecutionStatus.SUCCEEDED
    assert "threw an error during evaluation. T2001" in result.output["Cause"]


def test_wait_seconds_timestamp_and_fail_fields() -> None:
    wait = jsonata(("W", {"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": True}))
    result = run_to_completion(wait, {"s": 7}, clock=FakeClock(0.0))
    assert result.history[-1].timestamp == 7.0
    until = jsonata(("W", {"Type": "Wait", "Timestamp": "{% $states.input.t %}", "End": True}))
    assert run_to_completion(until, {"t": "1970-01-01T00:00:09Z"}, clock=FakeClock(0.0)).history[-1].timestamp == 9.0
    bad = run_to_completion(wait, {"s": -1})
    assert bad.error == QUERY_EVALUATION_ERROR
    fail = jsonata(("F", {"Type": "Fail", "Error": "{% $states.input.e %}", "Cause": "{% $string(1+1) %}"}))
    assert (lambda r: (r.error, r.cause))(run_to_completion(fail, {"e": "E"})) == ("E", "2")


def test_task_timeout_as_an_expression() -> None:
    definition = jsonata(("T", task(TimeoutSeconds="{% $states.input.t %}", Arguments={})))
    from cumulo.stepfunctions.asl import Delayed
    result = run_to_completion(definition, {"t": 2}, lambda r, a: Delayed(5, "late"), FakeClock(0.0))
    assert result.error == "States.Timeout"


def test_parallel_arguments_reach_every_branch() -> None:
    definition = jsonata(("P", {"Type": "Parallel", "End": True, "Arguments": {"v": "{% $states.input.v * 2 %}"},
                                "Output": "{% $states.result[1].v %}", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]}))
    assert run_to_completion(definition, {"v": 2}).output == 4


@pytest.mark.parametrize("text, expected", [
    ("$partition([1,2,3,4,5], 2)", [[1, 2], [3, 4], [5]]),
    ("$range(0, 10, 5)", [0, 5, 10]),
    ("$hash('input data', 'SHA-256')", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ("$random()", 0.5),
    ("$uuid()", "u-1"),
    ("$parse('{\"a\": [1, null]}')", {"a": [1, None]}),
    ("$now()", "1970-01-01T00:00:00.000Z"),
    ("$millis()", 0),
    ("$count($states.input)", 3),
    ("$states.input[1]", 2),
    ("$sum($states.input) / 2", 3),
    ("{'a': null}", {"a": None}),
])
def test_step_functions_functions_and_plain_jsonata(text: str, expected: Any) -> None:
    assert value(text, {"input": [1, 2, 3]}) == expected


def test_random_with_a_seed_is_repeatable() -> None:
    assert value("$random(7)") == value("$random(7)") and 0 <= value("$random(7)") < 1


@pytest.mark.parametrize("text, message", [
    ("$eval('1')", "T1006"),
    ("$partition([1], 0)", "positive integer"),
    ("$range(1, 2, 0)", "non-zero step"),
    ("$hash('x', 'SHA-3')", "algorithm"),
    ("$parse('{')", "could not parse"),
    ("function($x) { $x }", "function"),
])
def test_function_errors(text: str, message: str) -> None:
    with pytest.raises(StatesFailure) as info:
        value(text)
    assert info.value.error == QUERY_EVALUATION_ERROR and message in (info.value.cause or "")


def test_the_injected_clock_and_entropy_reach_jsonata() -> None:
    definition = jsonata(("P", {"Type": "Pass", "Output": {"t": "{% $now() %}", "u": "{% $uuid() %}"}, "End": True}))
    result = run_to_completion(definition, {}, clock=FakeClock(86400.0), entropy=Draws(0.1))
    assert result.output == {"t": "1970-01-02T00:00:00.000Z", "u": "00000000-0000-4000-8000-000000000001"}


def test_is_expression() -> None:
    assert is_expression("{% x %}") and not is_expression(" {% x %}") and not is_expression("{%") \
        and not is_expression(1)


def test_mixed_machine_states_can_opt_into_jsonata() -> None:
    definition = machine(("A", {"Type": "Pass", "Result": {"x": 1}, "Next": "B"}),
                         ("B", {"Type": "Task", "Resource": LAMBDA, "QueryLanguage": "JSONata",
                                "Arguments": "{% $states.input.x %}", "End": True}))
    assert run_to_completion(definition, {}, lambda r, a: a + 1).output == 2


def test_a_json_null_in_a_variable_or_the_input_is_null_not_undefined() -> None:
    definition = jsonata(("A", {"Type": "Pass", "Assign": {"v": None}, "Next": "B"}),
                         ("B", {"Type": "Pass", "Output": {"v": "{% $v %}", "in": "{% $states.input %}",
                                                           "deep": "{% $states.context.Execution.Input %}"},
                                "End": True}))
    assert run_to_completion(definition, None).output == {"v": None, "in": {}, "deep": {}}
    assert value("$states.input", {"input": None}) is None
