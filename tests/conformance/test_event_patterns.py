"""Our event-pattern matcher against EventBridge's own answers (shared/conformance).

``event_patterns.json``: what TestEventPattern answered for a pattern and an event (cases
marked ``engine: event-ruler`` come from the test suite of AWS's matcher and have no
EventBridge envelope: they are matched against the bare event, as they are). Every case also
goes through a ``RuleIndex`` holding all the patterns at once, which must give the same
answer. ``event_patterns_invalid.json``: patterns EventBridge refuses, with its error code and
the first line of its message, which must be ours word for word.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from tests.conformance.data import CONFORMANCE

from cumulo.events.index import RuleIndex
from cumulo.events.pattern import InvalidEventPatternException, compile_pattern

SHARED = CONFORMANCE


def cases(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((SHARED / name).read_text())
    return loaded


MATCHING = cases("event_patterns.json")
INVALID = cases("event_patterns_invalid.json")


def test_the_vectors_are_all_there() -> None:
    assert len(MATCHING) == 70 and len(INVALID) == 21
    assert len({c["name"] for c in MATCHING}) == 70 and len({c["name"] for c in INVALID}) == 21


@pytest.mark.parametrize("case", MATCHING, ids=[c["name"] for c in MATCHING])
def test_test_event_pattern_gives_awss_answer(case: dict[str, Any]) -> None:
    pattern = compile_pattern(json.dumps(case["pattern"]))
    assert pattern.matches(case["event"]) is case["match"], case["source"]


@cache
def everything() -> RuleIndex:
    index = RuleIndex()
    for case in MATCHING:
        index.add(case["name"], compile_pattern(case["pattern"]))
    return index


@pytest.mark.parametrize("case", MATCHING, ids=[c["name"] for c in MATCHING])
def test_an_index_of_every_pattern_agrees(case: dict[str, Any]) -> None:
    matched = everything().match(case["event"])
    assert (case["name"] in matched) is case["match"]
    for other in MATCHING:
        assert (other["name"] in matched) is compile_pattern(other["pattern"]).matches(case["event"])


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_put_rule_refuses_with_awss_message(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventPatternException) as info:
        compile_pattern(json.dumps(case["pattern"]))
    assert info.value.code == case["error_code"]
    assert info.value.message == case["error_message"]
