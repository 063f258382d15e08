"""CloudWatch Logs' filter patterns: what each kind matches (AWS's documented examples), and that no
pattern, however malformed, does anything but compile or raise PatternError (AWS's
InvalidParameterException), nor any event make a compiled pattern fail."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cumulo.logs.patterns import MAX_PATTERN_LENGTH, PatternError, compile_pattern

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'
JSON_EVENT = json.dumps({"eventType": "UpdateTrail", "sourceIPAddress": "123.123.123.123", "arrayKey": ["value", "another"],
                         "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": None,
                         "cannotCombine": False, "latency": 50, "user": {"name": "bob", "admin": True}})


@pytest.mark.parametrize("pattern, event, expected", [
    ("", "anything", True),
    ('""', "anything", True),
    ("ERROR", "[ERROR] disk full", True),
    ("ERROR", "error: disk full", False),                      # terms are case-sensitive
    ("ERROR Exception", "ERROR: Exception raised", True),
    ("ERROR Exception", "ERROR only", False),
    ("?ERROR ?Exception", "an Exception", True),
    ("?ERROR ?Exception", "all fine", False),
    ("ERROR -Exiting", "ERROR retrying", True),
    ("ERROR -Exiting", "ERROR Exiting now", False),
    ('"disk full"', "ERROR disk full", True),
    ('"disk full"', "disk is full", False),
    ('"say \\"hi\\""', 'they say "hi"', True),
    ("%ERR[0-9]+%", "code ERR42 seen", True),
    ("%ERR[0-9]+%", "code ERR seen", False),
    ('{ $.eventType = "UpdateTrail" }', JSON_EVENT, True),
    ("{ $.eventType = Update* }", JSON_EVENT, True),
    ('{ $.eventType != "UpdateTrail" }', JSON_EVENT, False),
    ('{ $.sourceIPAddress != 123.123.* }', JSON_EVENT, False),
    ('{ $.arrayKey[0] = "value" }', JSON_EVENT, True),
    ('{ $.arrayKey[1] = "value" }', JSON_EVENT, False),
    ('{ $.objectList[1].id = 2 }', JSON_EVENT, True),
    ('{ $.objectList[*].name = "b" }', JSON_EVENT, True),
    ("{ $.SomeObject IS NULL }", JSON_EVENT, True),
    ("{ $.cannotCombine IS FALSE }", JSON_EVENT, True),
    ("{ $.user.admin IS TRUE }", JSON_EVENT, True),
    ("{ $.nothing NOT EXISTS }", JSON_EVENT, True),
    ("{ $.latency NOT EXISTS }", JSON_EVENT, False),
    ("{ $.latency > 10 && $.latency <= 50 }", JSON_EVENT, True),
    ("{ $.latency = 50.0 }", JSON_EVENT, True),
    ("{ $.latency < 50 }", JSON_EVENT, False),
    ("{ ($.latency < 10) || ($.user.name = bob && $.eventType = %^Up%) }", JSON_EVENT, True),
    ('{ $.eventType = "UpdateTrail" }', "not json at all", False),
    ('{ $.eventType = "UpdateTrail" }', "[1, 2]", False),
    ("[ip, user, username, timestamp, request, status_code, bytes]", APACHE, True),
    ("[ip, user, username, timestamp, request, status_code, bytes, more]", APACHE, False),
    ("[ip, user, username, timestamp, request = *gif*, status_code = 2*, bytes > 1000]", APACHE, True),
    ("[..., status_code = 404, bytes]", APACHE, False),
    ("[ip = 127.0.0.1, ..., bytes]", APACHE, True),
    ("[ip, ..., status_code != 200 && status_code != 404, bytes]", APACHE, False),
    ("[ip, ..., status_code = 200 || status_code = 404, bytes]", APACHE, True),
    ("[timestamp = %^10/Oct%, ...]", "[10/Oct/2000] rest", True),
    ("[...]", "", True),
])
def test_patterns_match_as_cloudwatch_logs_documents(pattern: str, event: str, expected: bool) -> None:
    assert compile_pattern(pattern).match(event) is expected


@pytest.mark.parametrize("pattern", [
    '"unterminated', "ERR\"OR", "{ $.a = 1", "{ $.a }", "{ a = 1 }", "{ $.a > x }", "{ $.a = 1 } trailing",
    "{ ($.a = 1 }", "[a, b", "[a, a]", "[a = ]", "[a, b = 1 && c = 2]", "%(a+)+%", "%[%", "%a!%", "%a% %b% %c%", "{ $. = 1 }",
    "{" + "(" * 40 + "$.a = 1" + ")" * 40 + "}", "x" * (MAX_PATTERN_LENGTH + 1),
])
def test_bad_patterns_are_refused_with_a_reason(pattern: str) -> None:
    with pytest.raises(PatternError, match="Invalid filter pattern"):
        compile_pattern(pattern)


def test_store_hints_are_substrings_every_match_holds() -> None:
    assert compile_pattern('ERROR "disk full" -retry ?a').required == ("ERROR", "disk full")
    assert compile_pattern('ERROR -retry').excluded == ("retry",)
    assert compile_pattern('{ $.level = "ERROR" && $.n > 3 }').required == ("ERROR",)
    assert compile_pattern('{ $.level = "ERROR" || $.n > 3 }').required == ()
    assert compile_pattern("[a, b = GET, ...]").required == ("GET",)
    assert compile_pattern("[a, b = 404, ...]").required == ()         # 404.0 is 404 too


_ALPHABET = st.sampled_from(list('{}[]()$.,=!<>&|?-%"* \\abcERO01_:') + ["&&", "||", "IS NULL", "NOT EXISTS",
                                                                           "...", "$.a", "[*]", "[0]"])


@settings(max_examples=400, deadline=None)
@example(pattern="%[[%", events=["["])      # a set holding '[': Python's re warns of a future change
@given(pattern=st.lists(_ALPHABET, max_size=30).map("".join) | st.text(max_size=60),
       events=st.lists(st.text(max_size=40) | st.just(JSON_EVENT) | st.just(APACHE), max_size=4))
def test_any_pattern_compiles_or_is_refused_and_never_fails_on_an_event(pattern: str, events: list[str]) -> None:
    try:
        compiled = compile_pattern(pattern)
    except PatternError as exc:
        assert exc.message.startswith("Invalid filter pattern")
        return
    for event in events:
        assert compiled.match(event) in (True, False)
        if compiled.match(event):      # the store's hints never drop a match
            assert all(r in event for r in compiled.required)
            assert not any(x in event for x in compiled.excluded)


@settings(max_examples=200, deadline=None)
@given(terms=st.lists(st.text(alphabet="abcXYZ019_", min_size=1, max_size=6), min_size=1, max_size=4),
       event=st.text(alphabet="abcXYZ019_ ", max_size=40))
def test_plain_terms_mean_every_term_occurs(terms: list[str], event: str) -> None:
    assert compile_pattern(" ".join(terms)).match(event) is all(t in event for t in terms)
    assert compile_pattern(" ".join(f"?{t}" for t in terms)).match(event) is any(t in event for t in terms)
    assert compile_pattern(" ".join(f"-{t}" for t in terms)).match(event) is not any(t in event for t in terms)
