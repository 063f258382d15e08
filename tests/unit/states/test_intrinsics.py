"""Every intrinsic function, its argument checks, and the laws of the array ones."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.stepfunctions.asl.errors import INTRINSIC_FAILURE, StatesFailure
from cumulo.stepfunctions.asl.intrinsics import IntrinsicSyntaxError, evaluate, parse_intrinsic
from cumulo.stepfunctions.asl.paths import NoMatch, Path

INPUT = {"s": "a,b,,c", "n": 5, "arr": [1, 2, 3, 2, 1], "obj": {"a": 1}, "o2": {"b": 2, "a": 9}, "t": "T {} t",
         "json": '{"x": [1, "y"]}', "b64": "SGVsbG8=", "nested": [[1], [1.0], [1]], "f": 1.5}


class FixedRandom:
    def __init__(self, value: float = 0.25) -> None:
        self.value = value

    def random(self) -> float:
        return self.value

    def uuid(self) -> str:
        return "00000000-0000-4000-8000-000000000000"


def run(text: str, data: Any = None, randomness: Any = None) -> Any:
    def resolve(path: Path) -> Any:
        return path.select(INPUT if data is None else data, {"Execution": {"Id": "exec"}}, {"v": 7})
    return evaluate(parse_intrinsic(text), resolve, randomness or FixedRandom())


def fails(text: str, match: str = "") -> str:
    with pytest.raises(StatesFailure) as info:
        run(text)
    assert info.value.error == INTRINSIC_FAILURE
    assert match in (info.value.cause or "")
    return info.value.cause or ""


@pytest.mark.parametrize("text, expected", [
    ("States.Format('Hello, {}!', 'you')", "Hello, you!"),
    ("States.Format('{} + {} = {}', 1, 2.5, true)", "1 + 2.5 = true"),
    ("States.Format('{}', null)", "null"),
    ("States.Format('no placeholders')", "no placeholders"),
    ("States.Format($.t, 'x')", "T x t"),
    ("States.Format('braces \\{\\} and \\' and \\\\ stay', )".replace(", )", ")"), "braces {} and ' and \\ stay"),
    ("States.Format('{}-{}', $$.Execution.Id, $v)", "exec-7"),
    ("States.StringToJson($.json)", {"x": [1, "y"]}),
    ("States.StringToJson('')", None),
    ("States.JsonToString($.obj)", '{"a":1}'),
    ("States.JsonToString('x')", '"x"'),
    ("States.Array()", []),
    ("States.Array(1, 'two', $.obj, States.Array())", [1, "two", {"a": 1}, []]),
    ("States.ArrayPartition($.arr, 2)", [[1, 2], [3, 2], [1]]),
    ("States.ArrayPartition(States.Array(), 3)", []),
    ("States.ArrayContains($.arr, 3)", True),
    ("States.ArrayContains($.arr, 4)", False),
    ("States.ArrayContains($.nested, 1)", False),
    ("States.ArrayContains($.nested, States.Array(1))", True),
    ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
    ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
    ("States.ArrayRange(1, 1, 5)", [1]),
    ("States.ArrayRange(1, 0, 1)", []),
    ("States.ArrayGetItem($.arr, 2)", 3),
    ("States.ArrayLength($.arr)", 5),
    ("States.ArrayUnique($.arr)", [1, 2, 3]),
    ("States.ArrayUnique($.nested)", [[1]]),
    ("States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode($.b64)", "Hello"),
    ("States.Hash('input data', 'SHA-512')", hashlib.sha512(b"input data").hexdigest()),
    ("States.Hash('input data', 'MD5')", "812f45842bc6d66ee14572ce20db8e86"),
    ("States.JsonMerge($.obj, $.o2, false)", {"a": 9, "b": 2}),
    ("States.MathAdd($.n, -7)", -2),
    ("States.MathAdd(1.0, 2)", 3),
    ("States.StringSplit($.s, ',')", ["a", "b", "c"]),
    ("States.StringSplit('a-b+c', '+-')", ["a", "b", "c"]),
    ("States.StringSplit('', ',')", []),
    ("States.UUID()", "00000000-0000-4000-8000-000000000000"),
    ("States.MathRandom(10, 20)", 12),
    ("States.ArrayLength(States.StringSplit('x y z', ' '))", 3),
])
def test_functions(text: str, expected: Any) -> None:
    assert run(text) == expected


def test_math_random_with_a_seed_is_repeatable_and_in_range() -> None:
    values = {run(f"States.MathRandom(1, 1000, {seed})") for seed in range(50)}
    assert all(1 <= v < 1000 for v in values)
    assert run("States.MathRandom(1, 1000, 42)") == run("States.MathRandom(1, 1000, 42)")


def test_math_random_draws_from_the_injected_source() -> None:
    assert run("States.MathRandom(0, 10)", randomness=FixedRandom(0.0)) == 0
    assert run("States.MathRandom(0, 10)", randomness=FixedRandom(0.999)) == 9


@pytest.mark.parametrize("text, match", [
    ("States.Format('{} {}', 1)", "placeholders"),
    ("States.Format($.n)", "must be a string"),
    ("States.Format('{}', $.obj)", "must be a string, number, boolean or null"),
    ("States.StringToJson('\\{bad')", "not valid JSON"),
    ("States.StringToJson(1)", "must be a string"),
    ("States.ArrayPartition($.arr, 0)", "positive"),
    ("States.ArrayPartition($.obj, 1)", "must be an array"),
    ("States.ArrayPartition($.arr, 1.5)", "must be an integer"),
    ("States.ArrayRange(1, 5, 0)", "step"),
    ("States.ArrayRange(0, 1000, 1)", "more than 1000"),
    ("States.ArrayRange('1', 5, 1)", "must be an integer"),
    ("States.ArrayGetItem($.arr, 5)", "out of bounds"),
    ("States.ArrayGetItem($.arr, -1)", "out of bounds"),
    ("States.ArrayLength('x')", "must be an array"),
    ("States.ArrayUnique(true)", "must be an array"),
    ("States.Base64Encode($.n)", "must be a string"),
    ("States.Base64Decode('%%%')", "not valid base64"),
    ("States.Hash('x', 'SHA-3')", "algorithm"),
    ("States.JsonMerge($.obj, $.o2, true)", "shallow"),
    ("States.JsonMerge($.obj, $.arr, false)", "must be an object"),
    ("States.MathAdd($.f, 1)", "must be an integer"),
    ("States.MathAdd(true, 1)", "must be an integer"),
    ("States.MathRandom(5, 5)", "less than"),
    ("States.StringSplit($.arr, ',')", "must be a string"),
])
def test_argument_checks_fail_with_intrinsic_failure(text: str, match: str) -> None:
    cause = fails(text, match)
    assert cause.startswith(text.split("(")[0])


def test_length_limits_of_base64_and_hash() -> None:
    big = {"big": "x" * 10_001}
    for text in ("States.Base64Encode($.big)", "States.Hash($.big, 'MD5')"):
        with pytest.raises(StatesFailure, match="longer than 10000"):
            run(text, big)


def test_a_path_argument_that_matches_nothing_is_reported_by_the_resolver() -> None:
    with pytest.raises(NoMatch):
        run("States.Array($.nope)")


@pytest.mark.parametrize("text", [
    "States.Nope()", "States.Format", "States.Format(", "States.Array(1,)", "States.Array(1) extra",
    "States.UUID(1)", "States.ArrayGetItem($.a)", "States.Format('unterminated)", "States.Format('bad \\x')",
    "States.Format('a { b')", "States.Array(@)", "States.Array($.[)", "States.Format()",
])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(IntrinsicSyntaxError):
        parse_intrinsic(text)


def test_paths_inside_calls_may_hold_commas_and_brackets() -> None:
    data = {"a": [{"k": "x,y"}, {"k": "z"}]}
    assert run("States.Array($.a[?(@.k == 'x,y')].k, $['a'][1].k)", data) == [["x,y"], "z"]


# ---- laws -------------------------------------------------------------------------------------

values = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
                      lambda inner: st.lists(inner, max_size=3), max_leaves=8)


@given(st.lists(values, max_size=30), st.integers(1, 12))
def test_array_partition_laws(items: list[Any], size: int) -> None:
    chunks = run(f"States.ArrayPartition($.items, {size})", {"items": items})
    assert [x for chunk in chunks for x in chunk] == items
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert not chunks or 1 <= len(chunks[-1]) <= size
    assert len(chunks) == -(-len(items) // size)


@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-7, 7).filter(lambda s: s != 0))
def test_array_range_laws(start: int, end: int, step: int) -> None:
    values_ = run(f"States.ArrayRange({start}, {end}, {step})")
    assert values_ == list(range(start, end + (1 if step > 0 else -1), step))
    if values_:
        assert values_[0] == start
        assert all(b - a == step for a, b in zip(values_, values_[1:]))
        assert (values_[-1] <= end) if step > 0 else (values_[-1] >= end)


@given(st.lists(values, max_size=20))
def test_array_unique_is_idempotent_and_keeps_first_occurrences(items: list[Any]) -> None:
    once = run("States.ArrayUnique($.items)", {"items": items})
    assert run("States.ArrayUnique($.items)", {"items": once}) == once
    assert all(run("States.ArrayContains($.u, $.x)", {"u": once, "x": item}) for item in items)
    assert len({json.dumps(v) for v in once}) == len(once)


@given(st.text(max_size=200))
def test_base64_round_trip(text: str) -> None:
    encoded = run("States.Base64Encode($.t)", {"t": text})
    assert encoded == base64.b64encode(text.encode()).decode()
    assert run("States.Base64Decode($.e)", {"e": encoded}) == text


@given(values)
def test_json_to_string_and_back(value: Any) -> None:
    text = run("States.JsonToString($.v)", {"v": value})
    assert run("States.StringToJson($.t)", {"t": text}) == value
