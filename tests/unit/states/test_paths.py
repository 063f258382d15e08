"""JSONPath as AWS evaluates it: definite paths select a value, indefinite ones a list."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.stepfunctions.asl.errors import RESULT_PATH_MATCH_FAILURE, StatesFailure
from cumulo.stepfunctions.asl.paths import NoMatch, PathSyntaxError, Root, dumps, parse_path, put

DOC = {"users": [{"name": "a", "year": 1997, "status": 0}, {"name": "b", "year": 1998, "status": 1}],
       "detail": {"delivery-partner": "UQS", "codes": [1, 2, 3], "nested": {"deep": True}},
       "weird key": 5}


@pytest.mark.parametrize("path, expected", [
    ("$", DOC),
    ("$.users[0].name", "a"),
    ("$.users[-1].name", "b"),
    ("$.detail.delivery-partner", "UQS"),
    ("$['detail']['codes'][2]", 3),
    ('$["weird key"]', 5),
    ("$.detail.nested.deep", True),
    ("$.detail.codes.length()", 3),
    ("$.detail.codes[7]", None),            # past the end of an array: null, as AWS
])
def test_definite_paths_select_one_value(path: str, expected: Any) -> None:
    parsed = parse_path(path)
    assert parsed.definite
    assert parsed.select(DOC) == expected


@pytest.mark.parametrize("path, expected", [
    ("$.users[?(@.status == 0)]", [DOC["users"][0]]),
    ("$.users[?(@.year > 1997)].name", ["b"]),
    ("$.users[?(@.year >= 1997 && @.status != 0)].name", ["b"]),
    ("$.users[?(@.year < 1990 || @.name == 'a')].name", ["a"]),
    ("$.users[?(@.name =~ /B/i)].year", [1998]),
    ("$.users[?(@.name in ['a', 'z'])].year", [1997]),
    ("$.users[?(@.missing)]", []),
    ("$.users[?(!(@.status == 0))].name", ["b"]),
    ("$.users[*].name", ["a", "b"]),
    ("$.users.*.year", [1997, 1998]),
    ("$..year", [1997, 1998]),
    ("$..deep", [True]),
    ("$.users[0,1].status", [0, 1]),
    ("$['users','detail'].length()", [2, 3]),
    ("$.detail.codes[0:2]", [1, 2]),
    ("$.detail.codes[::-1]", [3, 2, 1]),
    ("$.detail.codes[5:]", []),
    ("$.nothing[*]", []),
])
def test_indefinite_paths_select_every_match(path: str, expected: Any) -> None:
    parsed = parse_path(path)
    assert not parsed.definite
    assert parsed.select(DOC) == expected


@pytest.mark.parametrize("path", ["$.missing", "$.users.name", "$.detail.codes.x", "$.users[0].name.first"])
def test_a_definite_path_that_matches_nothing_raises(path: str) -> None:
    with pytest.raises(NoMatch):
        parse_path(path).select(DOC)


def test_roots_input_context_and_variables() -> None:
    assert parse_path("$$.Execution.Id").root is Root.CONTEXT
    assert parse_path("$$.Execution.Id").select({}, {"Execution": {"Id": "arn"}}) == "arn"
    var = parse_path("$order.items[0]")
    assert (var.root, var.variable) == (Root.VARIABLE, "order")
    assert var.select(None, None, {"order": {"items": ["x"]}}) == "x"
    with pytest.raises(NoMatch, match="variable 'order' is not defined"):
        var.select(None, None, {})


@pytest.mark.parametrize("path, reference", [
    ("$", True), ("$.a.b", True), ("$['a'][0]", True), ("$$.Map.Item.Value", True), ("$var.x", True),
    ("$.a[*]", False), ("$..a", False), ("$.a[-1]", False), ("$.a[0,1]", False), ("$.a[?(@.x)]", False),
])
def test_reference_paths(path: str, reference: bool) -> None:
    assert parse_path(path).reference is reference


@pytest.mark.parametrize("text", ["", "a.b", "$.", "$..", "$.a[", "$.a[x]", "$.a[1:2:0]", "$.a[?(@.x ==)]",
                                  "$.length().x", "$[?@.x]"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(text)


def test_normalized_form_used_in_messages() -> None:
    assert parse_path("$.a['b'][0]").normalized() == "$['a']['b'][0]"


def test_put_writes_a_copy_and_creates_missing_objects() -> None:
    original = {"a": {"keep": 1}}
    out = put(original, parse_path("$.a.b.c"), 5)
    assert out == {"a": {"keep": 1, "b": {"c": 5}}}
    assert original == {"a": {"keep": 1}}
    assert put(original, parse_path("$"), "replaced") == "replaced"
    assert put({"l": [1, 2]}, parse_path("$.l[1]"), 9) == {"l": [1, 9]}


@pytest.mark.parametrize("document, path", [({"a": 1}, "$.a.b"), ("text", "$.x"), ({"l": [1]}, "$.l[3]"),
                                            ([1, 2], "$.x")])
def test_put_into_a_non_container_is_a_result_path_match_failure(document: Any, path: str) -> None:
    with pytest.raises(StatesFailure) as info:
        put(document, parse_path(path), 1)
    assert info.value.error == RESULT_PATH_MATCH_FAILURE
    assert info.value.cause is not None and "Unable to apply step" in info.value.cause


def test_dumps_is_compact_and_keeps_unicode() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'


# ---- laws -------------------------------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=8).filter(
    lambda s: s[0].isalpha())
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
                           max_leaves=10)


@given(st.lists(names, min_size=1, max_size=5), json_values, st.dictionaries(names, json_values, max_size=3))
def test_what_put_writes_select_reads(steps: list[str], value: Any, document: dict[str, Any]) -> None:
    path = parse_path("$." + ".".join(steps))
    try:
        written = put(document, path, value)
    except StatesFailure:
        return                       # an existing non-object on the way: refused, never overwritten
    assert path.select(written) == value


@given(st.lists(names, min_size=1, max_size=4))
def test_dot_and_bracket_notations_agree(steps: list[str]) -> None:
    doc: Any = "leaf"
    for step in reversed(steps):
        doc = {step: doc}
    dotted = parse_path("$." + ".".join(steps))
    bracketed = parse_path("$" + "".join(f"['{s}']" for s in steps))
    assert dotted.select(doc) == bracketed.select(doc) == "leaf"
    assert dotted.normalized() == bracketed.normalized()


@given(st.lists(st.integers(), max_size=10), st.integers(-12, 12), st.integers(-12, 12))
def test_slices_are_python_slices(items: list[int], start: int, end: int) -> None:
    assert parse_path(f"$.l[{start}:{end}]").select({"l": items}) == items[start:end]
