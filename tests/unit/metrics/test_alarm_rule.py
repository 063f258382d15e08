"""Composite alarms' rules (metrics/alarm_rule.py): the language CloudWatch documents, evaluated as
a reference does; anything else is a RuleError, never another exception."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, strategies as st

from cumulo.metrics import alarm_rule
from cumulo.metrics.alarm_rule import RuleError, alarms_of, evaluate, parse

NAMES = ["cpu", "disk-read", "Deploy in progress", "arn:aws:cloudwatch:us-east-1:000000000000:alarm:x"]
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")


@st.composite
def rules(draw: st.DrawFn, depth: int = 0) -> tuple[str, object]:
    """A rule's text and a reference: a Python function of the states."""
    kind = draw(st.sampled_from(["call", "const"] if depth > 3 else ["call", "const", "not", "and", "or", "paren"]))
    if kind == "call":
        state, name = draw(st.sampled_from(STATES)), draw(st.sampled_from(NAMES))
        quoted = '"' + name + '"' if " " in name or draw(st.booleans()) else name
        return f"{state}({quoted})", lambda s, n=name, w=state: s[n] == w
    if kind == "const":
        value = draw(st.booleans())
        return ("TRUE" if value else "FALSE"), lambda s, v=value: v
    if kind == "not":
        text, ref = draw(rules(depth + 1))
        return f"NOT ({text})", lambda s, r=ref: not r(s)
    if kind == "paren":
        text, ref = draw(rules(depth + 1))
        return f"({text})", ref
    (a, ra), (b, rb) = draw(rules(depth + 1)), draw(rules(depth + 1))
    op = "AND" if kind == "and" else "OR"
    return f"({a}) {op} ({b})", (lambda s, x=ra, y=rb: x(s) and y(s)) if op == "AND" else \
        (lambda s, x=ra, y=rb: x(s) or y(s))


@given(rules(), st.lists(st.sampled_from(STATES), min_size=len(NAMES), max_size=len(NAMES)))
def test_a_rule_means_what_it_says(rule: tuple[str, object], states: list[str]) -> None:
    text, reference = rule
    by_name = dict(zip(NAMES, states))
    assert evaluate(parse(text), by_name.__getitem__) == reference(by_name)     # type: ignore[operator]


@given(st.text(max_size=80))
def test_anything_else_is_a_rule_error(text: str) -> None:
    try:
        parse(text)
    except RuleError:
        pass


def test_precedence_not_then_and_then_or() -> None:
    states = {"a": "ALARM", "b": "OK", "c": "ALARM"}
    assert evaluate(parse("ALARM(a) OR ALARM(b) AND ALARM(c)"), states.__getitem__)       # a OR (b AND c)
    assert not evaluate(parse("NOT ALARM(a) AND ALARM(c)"), states.__getitem__)          # (NOT a) AND c
    assert alarms_of(parse('ALARM("a") AND OK(b) OR INSUFFICIENT_DATA( c )')) == {"a", "b", "c"}


@pytest.mark.parametrize("text", ["", "ALARM()", "ALARM(a) AND", "alarm(a)", "ALARM(a) ALARM(b)", "(TRUE",
                                  "TRUE)", "NOT", "ALARM(a) XOR OK(b)", "ALARM(\"a)", "NOT " * 150 + "TRUE",
                                  "TRUE" + " AND TRUE" * 2_000])
def test_refused(text: str) -> None:
    with pytest.raises(RuleError):
        parse(text)


def test_limits_are_cloudwatchs_and_a_long_rule_is_not_a_deep_one() -> None:
    hundred = " OR ".join(f"ALARM(a{i})" for i in range(alarm_rule.MAX_ALARMS))
    assert len(alarms_of(parse(hundred))) == 100
    with pytest.raises(RuleError, match="more than 100"):
        parse(hundred + " OR ALARM(one-more)")
    long = " AND ".join(itertools.repeat("TRUE", 2_000))[:alarm_rule.MAX_LENGTH - 4].rsplit(" AND", 1)[0]
    assert evaluate(parse(long), lambda n: "OK")
