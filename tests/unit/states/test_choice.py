"""Choice rules: every comparison operator and its Path variant, type tests, combinators."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.stepfunctions.asl.choice import compile_rule, matches, parse_timestamp, string_matches
from cumulo.stepfunctions.asl.errors import RUNTIME, StatesFailure

T1, T2 = "2016-03-14T01:59:00Z", "2016-03-14T02:59:00+00:30"        # T2 is 30 minutes after T1


def rule(raw: dict[str, Any]) -> Any:
    problems: list[str] = []
    compiled = compile_rule(raw, "/States/C/Choices[0]", lambda m, loc: problems.append(m), top=False)
    assert not problems, problems
    return compiled


def check(operator: str, variable: Any, value: Any, *, path: bool = False) -> bool:
    raw = {"Variable": "$.v", operator + ("Path" if path else ""): "$.w" if path else value}
    return matches(rule(raw), {"v": variable, "w": value}, {}, {})


CASES = [
    # operator, variable, value, expected
    ("StringEquals", "a", "a", True), ("StringEquals", "a", "b", False), ("StringEquals", 1, "1", False),
    ("StringLessThan", "a", "b", True), ("StringLessThan", "b", "a", False), ("StringLessThan", "a", "a", False),
    ("StringGreaterThan", "b", "a", True), ("StringGreaterThan", "A", "A ", False),
    ("StringLessThanEquals", "a", "a", True), ("StringLessThanEquals", "b", "a", False),
    ("StringGreaterThanEquals", "a", "a", True), ("StringGreaterThanEquals", "a", "b", False),
    ("NumericEquals", 1, 1.0, True), ("NumericEquals", 1.1, 1, False), ("NumericEquals", "1", 1, False),
    ("NumericEquals", True, 1, False),
    ("NumericLessThan", 1, 2, True), ("NumericLessThan", 2, 2, False),
    ("NumericGreaterThan", 3, 2.5, True), ("NumericGreaterThan", 2, 2, False),
    ("NumericLessThanEquals", 2, 2, True), ("NumericLessThanEquals", 3, 2, False),
    ("NumericGreaterThanEquals", 2, 2, True), ("NumericGreaterThanEquals", 1, 2, False),
    ("BooleanEquals", True, True, True), ("BooleanEquals", False, True, False), ("BooleanEquals", 1, True, False),
    ("TimestampEquals", T1, T1, True), ("TimestampEquals", "2016-03-14T01:59:00.000Z", T1, True),
    ("TimestampEquals", "2016-03-14T02:29:00+00:30", T1, True), ("TimestampEquals", "nope", T1, False),
    ("TimestampLessThan", T1, T2, True), ("TimestampLessThan", T2, T1, False),
    ("TimestampGreaterThan", T2, T1, True), ("TimestampGreaterThan", T1, T1, False),
    ("TimestampLessThanEquals", T1, T1, True), ("TimestampLessThanEquals", T2, T1, False),
    ("TimestampGreaterThanEquals", T1, T1, True), ("TimestampGreaterThanEquals", T1, T2, False),
    ("TimestampEquals", 5, T1, False),
]


@pytest.mark.parametrize("operator, variable, value, expected", CASES)
def test_comparisons(operator: str, variable: Any, value: Any, expected: bool) -> None:
    assert check(operator, variable, value) is expected


@pytest.mark.parametrize("operator, variable, value, expected", CASES)
def test_path_variants_compare_against_the_selected_value(operator: str, variable: Any, value: Any,
                                                          expected: bool) -> None:
    assert check(operator, variable, value, path=True) is expected


@pytest.mark.parametrize("operator", ["StringEqualsPath", "NumericLessThanPath", "BooleanEqualsPath"])
def test_a_path_variant_whose_value_is_of_another_type_is_false(operator: str) -> None:
    assert matches(rule({"Variable": "$.v", operator: "$.w"}), {"v": "a", "w": {"x": 1}}, {}, {}) is False


@pytest.mark.parametrize("operator, value, truthy", [
    ("IsNull", None, True), ("IsNull", 0, False), ("IsNumeric", 1.5, True), ("IsNumeric", True, False),
    ("IsNumeric", "1", False), ("IsString", "", True), ("IsString", None, False), ("IsBoolean", False, True),
    ("IsBoolean", 0, False), ("IsTimestamp", T1, True), ("IsTimestamp", "2016-03-14T01:59:00", False),
    ("IsTimestamp", "2016-03-14t01:59:00z", False), ("IsTimestamp", "2016-03-14T01:59:00.123456789Z", True),
    ("IsPresent", None, True),
])
def test_type_tests(operator: str, value: Any, truthy: bool) -> None:
    for expected in (True, False):
        compiled = rule({"Variable": "$.v", operator: expected})
        assert matches(compiled, {"v": value}, {}, {}) is (truthy == expected)


def test_is_present_on_a_missing_variable() -> None:
    assert matches(rule({"Variable": "$.nope", "IsPresent": False}), {}, {}, {}) is True
    assert matches(rule({"Variable": "$.nope", "IsPresent": True}), {}, {}, {}) is False


@pytest.mark.parametrize("raw", [{"Variable": "$.nope", "IsNull": True},
                                 {"Variable": "$.nope", "StringEquals": "x"},
                                 {"Variable": "$.v", "NumericEqualsPath": "$.nope"}])
def test_a_missing_variable_is_a_runtime_failure(raw: dict[str, Any]) -> None:
    with pytest.raises(StatesFailure) as info:
        matches(rule(raw), {"v": 1}, {}, {})
    assert info.value.error == RUNTIME
    assert "The choice state's condition path references an invalid value." in (info.value.cause or "")


@pytest.mark.parametrize("pattern, value, expected", [
    ("log-*.txt", "log-2024.txt", True), ("log-*.txt", "log-.txt", True), ("log-*.txt", "log-1.csv", False),
    ("*", "", True), ("a*b*c", "aXXbYYc", True), ("a*b*c", "acb", False),
    ("a\\*b", "a*b", True), ("a\\*b", "aXb", False), ("a\\\\*", "a\\anything", True),
    ("exact", "exact", True), ("exact", "exactly", False), ("dots.(x)+", "dots.(x)+", True),
])
def test_string_matches_with_escapes(pattern: str, value: str, expected: bool) -> None:
    assert string_matches(value, pattern) is expected
    assert check("StringMatches", value, pattern) is expected


def test_and_or_not() -> None:
    data = {"a": 1, "b": "x"}
    one = {"Variable": "$.a", "NumericEquals": 1}
    two = {"Variable": "$.b", "StringEquals": "y"}
    assert matches(rule({"And": [one, {"Not": two}]}), data, {}, {}) is True
    assert matches(rule({"And": [one, two]}), data, {}, {}) is False
    assert matches(rule({"Or": [two, one]}), data, {}, {}) is True
    assert matches(rule({"Not": {"Or": [two, {"Not": one}]}}), data, {}, {}) is True


def test_variables_and_the_context_object_in_rules() -> None:
    assert matches(rule({"Variable": "$count", "NumericGreaterThan": 2}), {}, {}, {"count": 3})
    assert matches(rule({"Variable": "$$.State.RetryCount", "NumericEquals": 0}), {}, {"State": {"RetryCount": 0}}, {})


@pytest.mark.parametrize("raw, message", [
    ({"Variable": "$.a"}, "exactly one comparison operator"),
    ({"Variable": "$.a", "StringEquals": "x", "IsNull": True}, "exactly one comparison operator"),
    ({"StringEquals": "x"}, "These fields are required: [Variable]"),
    ({"Variable": "a.b", "StringEquals": "x"}, "must be a valid JSONPath"),
    ({"Variable": "$.a", "NumericEquals": "1"}, "'NumericEquals' must be a number"),
    ({"Variable": "$.a", "BooleanEquals": 1}, "'BooleanEquals' must be a boolean"),
    ({"Variable": "$.a", "TimestampEquals": "yesterday"}, "must be a valid timestamp"),
    ({"Variable": "$.a", "IsNull": "yes"}, "'IsNull' must be a boolean"),
    ({"Variable": "$.a", "StringEqualsPath": "x"}, "must be a valid JSONPath"),
    ({"And": []}, "non-empty array"),
    ({"Variable": "$.a", "StringEquals": "x", "Next": "B"}, "Field 'Next' is not supported"),
    ({"Variable": "$.a", "Nope": 1, "IsNull": True}, "Field 'Nope' is not supported"),
])
def test_compile_reports_bad_rules(raw: dict[str, Any], message: str) -> None:
    problems: list[str] = []
    compile_rule(raw, "/x", lambda m, loc: problems.append(m), top=False)
    assert any(message in p for p in problems), problems


def test_a_top_level_rule_needs_next() -> None:
    problems: list[str] = []
    compile_rule({"Variable": "$.a", "IsNull": True}, "/x", lambda m, loc: problems.append(m), top=True)
    assert problems == ["These fields are required: [Next]"]


@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(timezone.utc)))
def test_timestamps_parse_to_the_same_instant(moment: Any) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"
    assert parse_timestamp(text) == moment


@given(st.text(alphabet="ab*\\", max_size=6), st.text(alphabet="ab*\\", max_size=6))
def test_a_pattern_without_wildcards_matches_only_itself(pattern: str, value: str) -> None:
    literal = pattern.replace("\\", "\\\\").replace("*", "\\*")
    assert string_matches(value, literal) is (value == pattern)
