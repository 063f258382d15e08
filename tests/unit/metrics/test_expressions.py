"""Metric math (metrics/expressions.py): the parser against Python's arithmetic, the functions on
series and arrays as CloudWatch defines them, and errors (never a crash) for anything else."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings, strategies as st

from cumulo.metrics.expressions import MathError, Series, evaluate, ids_of, parse

M1 = Series("m1", {0: 1.0, 60: 2.0, 180: 4.0})
M2 = Series("m2", {0: 10.0, 60: 20.0, 120: 30.0})
METRICS = {"m1": M1, "m2": M2}
GRID = [0, 60, 120, 180]


def ev(text: str) -> object:
    return evaluate(parse(text), METRICS, GRID)


numbers = st.integers(min_value=0, max_value=1000).map(str)


@st.composite
def arithmetic(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        return draw(numbers)
    op = draw(st.sampled_from(["+", "-", "*"]))
    left, right = draw(arithmetic(depth + 1)), draw(arithmetic(depth + 1))
    return draw(st.sampled_from([f"{left} {op} {right}", f"({left}{op}{right})", f"-{left}"]))


@given(arithmetic())
def test_arithmetic_on_numbers_is_python_arithmetic(text: str) -> None:
    assert evaluate(parse(text), {}, GRID) == pytest.approx(float(eval(text)))   # noqa: S307 (digits and + - * ( ) only)


def test_series_arithmetic_is_point_by_point_on_common_timestamps() -> None:
    got = ev("100 * m1 / m2")
    assert isinstance(got, Series) and got.points == {0: 10.0, 60: 10.0}
    assert ev("m1 + 1").points == {0: 2.0, 60: 3.0, 180: 5.0}          # type: ignore[union-attr]
    assert ev("-m1").points == {0: -1.0, 60: -2.0, 180: -4.0}         # type: ignore[union-attr]
    assert ev("m2 / (m1 - 1)").points == {60: 20.0}                   # type: ignore[union-attr]  (÷0 dropped)


def test_functions_of_arrays_series_and_fill() -> None:
    assert ev("SUM(METRICS())").points == {0: 11.0, 60: 22.0, 120: 30.0, 180: 4.0}    # type: ignore[union-attr]
    assert ev("MAX([m1, m2])").points == {0: 10.0, 60: 20.0, 120: 30.0, 180: 4.0}     # type: ignore[union-attr]
    assert ev("AVG(m1)") == pytest.approx(7 / 3) and ev("SUM(m2)") == 60.0
    assert ev("m1 / SUM(m1)").points[180] == pytest.approx(4 / 7)                     # type: ignore[union-attr]
    assert ev("RATE(m1)").points == {60: 1 / 60, 180: 2 / 120}                        # type: ignore[union-attr]
    assert ev("DIFF(m2)").points == {60: 10.0, 120: 10.0}                             # type: ignore[union-attr]
    assert ev("FILL(m1, 0)").points == {0: 1.0, 60: 2.0, 120: 0.0, 180: 4.0}          # type: ignore[union-attr]
    assert ev("FILL(m1, REPEAT)").points[120] == 2.0                                  # type: ignore[union-attr]
    assert ev("FILL(m1, LINEAR)").points[120] == 3.0                                  # type: ignore[union-attr]
    assert [s.label for s in ev('METRICS("2")')] == ["m2"]                            # type: ignore[union-attr]
    assert ev("PERIOD(m1)") == 60.0 and ev("ABS(-2)") == 2.0
    assert ids_of(parse("SUM([m1, m2]) / e3 + FILL(m4, 0)")) == {"m1", "m2", "e3", "m4"}


@pytest.mark.parametrize("text, message", [
    ("m1 +", "Invalid syntax"), ("FOO(m1)", "Unrecognized function"), ("m9", "Unrecognized metric id"),
    ("(m1", "expected ')'"), ("m1 $ 2", "unexpected character"), ("1 / 0", "divides by zero"),
    ("FILL(m1)", "FILL takes two"), ('"x"', "only an argument"), ("", "empty"), ("RATE(1)", "time series"),
])
def test_bad_expressions_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(MathError, match=re.escape(message)):
        ev(text)


@settings(max_examples=500)
@given(st.text(alphabet="m12 +-*/(),[]\"SUMAVGFILREPTCSx.0e", max_size=40))
def test_any_text_evaluates_or_is_refused_never_crashes(text: str) -> None:
    try:
        value = ev(text)
    except MathError:
        return
    assert isinstance(value, (float, Series, list))
    if isinstance(value, float):
        assert math.isfinite(value)
