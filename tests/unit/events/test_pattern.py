"""Event patterns: every operator, the edges AWS documents, the errors it gives, and properties."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cumulo.errors import CumuloError
from cumulo.events.pattern import (
    MAX_COMBINATIONS,
    MAX_DEPTH,
    InvalidEventPatternException,
    compile_pattern,
    flatten,
)


def m(pattern: dict[str, Any] | str, event: dict[str, Any]) -> bool:
    return compile_pattern(pattern).matches(event)


def reason(pattern: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidEventPatternException) as info:
        compile_pattern(pattern, **kwargs)
    assert info.value.message == f"Event pattern is not valid. Reason: {info.value.reason}"
    return info.value.reason


EC2 = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2", "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


# --- the error type ---------------------------------------------------------------------------

def test_the_error_has_awss_shape() -> None:
    with pytest.raises(InvalidEventPatternException) as info:
        compile_pattern({"source": []})
    exc = info.value
    assert isinstance(exc, CumuloError)
    assert (exc.code, exc.type, exc.status) == ("InvalidEventPatternException",) * 2 + (400,)
    assert exc.message == "Event pattern is not valid. Reason: Empty arrays are not allowed"
    assert exc.to_aws() == {"Type": "User", "message": exc.message}


# --- exact values -----------------------------------------------------------------------------

def test_the_documented_ec2_example_matches_and_a_change_of_any_field_does_not() -> None:
    pattern = {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
               "detail": {"state": ["terminated"]}}
    assert m(pattern, EC2)
    assert not m(pattern, {**EC2, "source": "aws.s3"})
    assert not m(pattern, {**EC2, "detail": {"state": "running"}})
    assert not m(pattern, {k: v for k, v in EC2.items() if k != "detail-type"})


@pytest.mark.parametrize(("values", "event_value", "expected"), [
    (["a"], "a", True),
    (["a"], "A", False),
    (["a", "b"], "b", True),  # an array in a pattern is an OR
    ([300], 300, True),
    ([300], 300.0, True),  # numbers compare as numbers
    ([3.0e2], 300, True),
    ([300], "300", False),  # a string is not a number
    (["300"], 300, False),
    ([1], True, False),  # true is not 1, false is not 0
    ([0], False, False),
    ([True], True, True),
    ([True], "true", False),
    ([False], False, True),
    ([False], None, False),
    ([None], None, True),  # null matches JSON null only
    ([None], "", False),
    ([None], "null", False),
    ([""], "", True),  # "" matches the empty string only
    ([""], None, False),
    ([-0.5], -0.5, True),
    ([1e-7], 1e-7, True),
    (["x"], ["y", "x"], True),  # an array in the event: any element
    (["x"], ["y", "z"], False),
    (["x"], [["y"], ["x"]], True),  # nested arrays too
    (["x"], [], False),  # an empty array has no values
    ([None], [], False),
    (["x"], {"x": 1}, False),  # an object is not a value
    (["ü"], "ü", True),
])
def test_exact_values(values: list[Any], event_value: Any, expected: bool) -> None:
    assert m({"f": values}, {"f": event_value}) is expected


def test_a_missing_field_matches_no_exact_value_not_even_null() -> None:
    assert not m({"f": [None]}, {})
    assert not m({"f": [""]}, {"g": ""})


def test_keys_are_case_sensitive() -> None:
    assert not m({"MY_KEY": ["v"]}, {"my_key": "v"})


def test_fields_are_anded_at_every_level() -> None:
    pattern = {"a": ["1"], "b": {"c": ["2"], "d": ["3"]}}
    assert m(pattern, {"a": "1", "b": {"c": "2", "d": "3"}, "e": "extra"})
    assert not m(pattern, {"a": "1", "b": {"c": "2"}})
    assert not m(pattern, {"a": "1", "b": {"c": "2", "d": "4"}})


def test_nested_fields_need_the_same_nesting_in_the_event() -> None:
    pattern = {"detail": {"state": ["running"]}}
    assert m(pattern, {"detail": {"state": "running"}})
    assert not m(pattern, {"state": "running"})
    assert not m(pattern, {"detail": '{"state": "running"}'})  # a JSON string is a string


@pytest.mark.parametrize(("pattern", "event"), [
    ({"detail": {"state": {"status": ["running"]}}}, {"detail": {"state.status": "running"}}),
    ({"detail": {"state.status": ["running"]}}, {"detail": {"state": {"status": "running"}}}),
    ({"detail.state.status": ["running"]}, {"detail": {"state": {"status": "running"}}}),
    ({"a.b": ["x"]}, {"a": [{"b": "x"}]}),
])
def test_dots_in_keys_join_paths_in_patterns_and_events_alike(pattern: dict[str, Any], event: dict[str, Any]) -> None:
    assert m(pattern, event)


def test_arrays_of_objects_are_searched() -> None:
    pattern = {"detail": {"automations": {"id": ["x"]}}}
    assert m(pattern, {"detail": {"automations": [{"key": 1}, {"id": "x"}]}})
    assert m(pattern, {"detail": {"automations": [[{"id": "y"}], [{"id": "x"}]]}})
    assert not m(pattern, {"detail": {"automations": [{"id": "y"}]}})


# --- array consistency ------------------------------------------------------------------------

EMPLOYEES = {"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"},
                           {"firstName": "Peter", "lastName": "Jones"}]}


def test_fields_of_one_array_element_combine() -> None:
    assert m({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, EMPLOYEES)
    assert m({"employees": {"firstName": ["Anna"]}}, EMPLOYEES)


def test_fields_from_different_elements_of_one_array_do_not_combine() -> None:
    assert not m({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, EMPLOYEES)


def test_array_consistency_applies_to_nested_arrays() -> None:
    event = {"a": [[{"b": 1, "c": 1}], [{"b": 2, "c": 2}]]}
    assert m({"a": {"b": [1], "c": [1]}}, event)
    assert not m({"a": {"b": [1], "c": [2]}}, event)
    event = {"a": [{"x": [{"b": 1}], "c": 5}, {"x": [{"b": 2}], "c": 6}]}
    assert m({"a": {"x": {"b": [2]}, "c": [6]}}, event)
    assert not m({"a": {"x": {"b": [2]}, "c": [5]}}, event)


def test_a_field_outside_the_array_combines_with_any_element() -> None:
    event = {"top": "t", "list": [{"v": 1}, {"v": 2}]}
    assert m({"top": ["t"], "list": {"v": [2]}}, event)


def test_array_consistency_searches_all_choices() -> None:
    # the first element matching "a" is not the one that also matches "b": a greedy pick fails
    event = {"l": [{"a": 1, "b": 0}, {"a": 1, "b": 1}, {"a": 0, "b": 1}]}
    assert m({"l": {"a": [1], "b": [1]}}, event)
    event = {"l": [{"a": 1, "b": 0, "c": 1}, {"a": 1, "b": 1, "c": 0}, {"a": 0, "b": 1, "c": 1}]}
    assert not m({"l": {"a": [1], "b": [1], "c": [1]}}, event)


def test_scalar_arrays_inside_elements_stay_consistent_with_their_element() -> None:
    event = {"l": [{"tags": ["x", "y"], "n": 1}, {"tags": ["z"], "n": 2}]}
    assert m({"l": {"tags": ["y"], "n": [1]}}, event)
    assert not m({"l": {"tags": ["y"], "n": [2]}}, event)


# --- prefix and suffix ------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "event_value", "expected"), [
    ({"prefix": "2017-10-02"}, "2017-10-02T18:43:48Z", True),
    ({"prefix": "2017-10-02"}, "2017-10-03T18:43:48Z", False),
    ({"prefix": "abc"}, "ab", False),
    ({"prefix": "abc"}, "ABCdef", False),
    ({"prefix": ""}, "anything", True),
    ({"prefix": ""}, "", True),
    ({"prefix": ""}, 5, False),  # strings only
    ({"prefix": "1"}, 12, False),
    ({"prefix": "n"}, None, False),
    ({"prefix": "t"}, True, False),
    ({"prefix": "a"}, ["x", "ab"], True),
    ({"prefix": {"equals-ignore-case": "EventB"}}, "eventbridge", True),
    ({"prefix": {"equals-ignore-case": "EventB"}}, "EVENTBRIDGE", True),
    ({"prefix": {"equals-ignore-case": "EventB"}}, "Event", False),
    ({"prefix": {"equals-ignore-case": "é"}}, "Élan", True),
    ({"prefix": {"equals-ignore-case": ""}}, "x", True),
    ({"prefix": {"equals-ignore-case": "a"}}, 1, False),
    ({"suffix": ".png"}, "image.png", True),
    ({"suffix": ".png"}, "image.PNG", False),
    ({"suffix": ".png"}, "image.png.bak", False),
    ({"suffix": ""}, "x", True),
    ({"suffix": "1"}, 1, False),
    ({"suffix": {"equals-ignore-case": ".png"}}, "image.PNG", True),
    ({"suffix": {"equals-ignore-case": "tbridge"}}, "EventBridge", True),
    ({"suffix": {"equals-ignore-case": "tbridge"}}, "EventBridges", False),
    ({"suffix": {"equals-ignore-case": "ss"}}, "Straße", False),  # no full case folding: ß is not ss
])
def test_prefix_and_suffix(op: dict[str, Any], event_value: Any, expected: bool) -> None:
    assert m({"f": [op]}, {"f": event_value}) is expected


# --- equals-ignore-case -----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "event_value", "expected"), [
    ("alice", "Alice", True),
    ("alice", "ALICE", True),
    ("alice", "alicia", False),
    ("", "", True),
    ("", "x", False),
    ("1", 1, False),
    ("null", None, False),
    ("true", True, False),
    ("ec2 instance state-change notification", ["EC2 Instance State-change Notification"], True),
    ("äöü", "ÄÖÜ", True),
    ("straße", "STRASSE", False),  # one character folds to one character: ß stays ß
    ("straße", "STRAßE", True),
    ("σ", "Σ", True),  # Greek sigma, capital and final form are one letter
    ("ς", "Σ", True),
    ("ς", "σ", True),
    ("istanbul", "İSTANBUL", True),  # dotted capital I folds to i
    ("ǆ", "ǅ", True),  # title-case digraph
    ("kelvin", "\u212aELVIN", True),  # the Kelvin sign is a capital K
    ("ﬀ", "FF", False),  # a ligature is one character, "FF" two
])
def test_equals_ignore_case(value: str, event_value: Any, expected: bool) -> None:
    assert m({"f": [{"equals-ignore-case": value}]}, {"f": event_value}) is expected


# --- anything-but -----------------------------------------------------------------------------

@pytest.mark.parametrize(("arg", "event_value", "expected"), [
    ("initializing", "running", True),
    ("initializing", "initializing", False),
    ("initializing", "Initializing", True),
    ("initializing", None, True),  # what is there and not excluded: null, numbers, booleans
    ("initializing", 5, True),
    ("initializing", True, True),
    ("initializing", "", True),
    (123, 789, True),
    (123, 123, False),
    (123, 123.0, False),
    (123, "123", True),
    (["stopped", "overloaded"], "pending", True),
    (["stopped", "overloaded"], "stopped", False),
    ([100, 200, 300], 100, False),
    ([100, 200, 300], 999, True),
    ([100, 200, 300], 3.0e2, False),
    (["x"], ["x", "y"], True),  # an event array: some element is not excluded
    (["x"], ["x", "x"], False),
    (["x"], [], False),
    ({"prefix": "init"}, "initializing", False),
    ({"prefix": "init"}, "running", True),
    ({"prefix": "init"}, None, True),
    ({"prefix": "init"}, 7, True),
    ({"prefix": ["init", "post"]}, "post-init", False),
    ({"prefix": ["init", "post"]}, "pre-init", True),
    ({"suffix": ".txt"}, "file.txt", False),
    ({"suffix": ".txt"}, "file.txt.bak", True),
    ({"suffix": [".txt", ".jpg"]}, "a.jpg", False),
    ({"suffix": [".txt", ".jpg"]}, "a.png", True),
    ({"equals-ignore-case": "initializing"}, "INITIALIZING", False),
    ({"equals-ignore-case": "initializing"}, "pending", True),
    ({"equals-ignore-case": ["initializing", "stopped"]}, "Stopped", False),
    ({"equals-ignore-case": ["initializing", "stopped"]}, None, True),
    ({"wildcard": "*/lib/*"}, "/usr/lib/x", False),
    ({"wildcard": "*/lib/*"}, "/usr/bin/x", True),
    ({"wildcard": "*/lib/*"}, 123, True),
    ({"wildcard": ["*/init/*", "*/dir/*"]}, "a/dir/b", False),
    ({"wildcard": ["*/init/*", "*/dir/*"]}, "dir/post/dir", True),
])
def test_anything_but(arg: Any, event_value: Any, expected: bool) -> None:
    assert m({"f": [{"anything-but": arg}]}, {"f": event_value}) is expected


@pytest.mark.parametrize("arg", ["x", 1, ["x"], {"prefix": "x"}, {"suffix": "x"}, {"wildcard": "x*"},
                                 {"equals-ignore-case": "x"}])
def test_anything_but_never_matches_a_missing_field(arg: Any) -> None:
    assert not m({"f": [{"anything-but": arg}]}, {})
    assert not m({"f": [{"anything-but": arg}]}, {"f": {"nested": "y"}})


def test_anything_but_or_exists_false_matches_a_missing_field() -> None:
    pattern = {"a": {"S": [{"anything-but": ["roses"]}, {"exists": False}]}}
    assert m(pattern, {"a": {"N": "1"}})
    assert m(pattern, {"a": {"S": "tulips"}})
    assert not m(pattern, {"a": {"S": "roses"}})


# --- numeric ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("arg", "event_value", "expected"), [
    (["=", 300], 300, True),
    (["=", 300], 300.0, True),
    (["=", 3.0e2], 300, True),
    (["=", 301.8], 301.8, True),
    (["=", 300], 300.5, False),
    (["<", 10], 9, True),
    (["<", 10], 10, False),
    (["<=", 10], 10, True),
    ([">", 0], 0, False),
    ([">", 0], 1e-6, True),
    ([">=", 0], 0, True),
    ([">=", 0], -0.0, True),
    ([">", 0, "<=", 5], 5, True),
    ([">", 0, "<=", 5], 0, False),
    ([">", 0, "<=", 5], 5.0000001, True),  # six decimals of precision: 5.0000001 is 5
    ([">", 0, "<", 5], 4.9999999, False),
    ([">=", 200, "<", 500], 500, False),
    (["<=", 5, ">", 0], 3, True),  # a range in either order
    ([">", 100], "300", False),  # a numeric string is not a number
    ([">", 0], True, False),
    ([">=", 0], False, False),
    ([">", 0], None, False),
    ([">", 0], [-1, 5], True),
    ([">", 0], [-1, -5], False),
    ([">", -1e9], -5e9, False),
    (["<", 5e9], 5e9, False),
    ([">=", -5e9], -5e9, True),
    ([">", 0], 5.1e9, False),  # outside the numeric range: never matches
    ([">", 0], 1e300, False),
    (["<", 0], -1e300, False),
    (["=", 0], float("nan"), False),
    ([">", 0], float("inf"), False),
])
def test_numeric(arg: list[Any], event_value: Any, expected: bool) -> None:
    assert m({"f": [{"numeric": arg}]}, {"f": event_value}) is expected


def test_the_documented_numeric_example() -> None:
    pattern = {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}],
                          "x-limit": [{"numeric": ["=", 3.018e2]}]}}
    assert m(pattern, {"detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8}})
    assert not m(pattern, {"detail": {"c-count": 6, "d-count": 3, "x-limit": 301.8}})


# --- exists -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "exists"), [
    ({"f": "v"}, True),
    ({"f": ""}, True),
    ({"f": None}, True),  # null is a value
    ({"f": 0}, True),
    ({"f": False}, True),
    ({"f": ["x"]}, True),
    ({"f": [None]}, True),
    ({"f": []}, False),  # an empty array has no leaf
    ({"f": {}}, False),  # an object is not a leaf
    ({"f": {"c1": 100}}, False),
    ({"f": [{"c1": 100}]}, False),
    ({"g": "v"}, False),
    ({}, False),
])
def test_exists_works_on_leaves_only(event: dict[str, Any], exists: bool) -> None:
    assert m({"f": [{"exists": True}]}, event) is exists
    assert m({"f": [{"exists": False}]}, event) is not exists


def test_exists_false_below_a_missing_or_scalar_parent() -> None:
    pattern = {"detail": {"level1": {"level2": {"level3": [{"exists": False}]}}}}
    assert m(pattern, {"detail": {"level1": {"level2": "scalar"}}})
    assert m(pattern, {"detail": {}})
    assert m(pattern, {})
    assert not m(pattern, {"detail": {"level1": {"level2": {"level3": None}}}})


def test_exists_false_is_about_the_whole_event() -> None:
    event = {"l": [{"a": 1}, {"a": 2, "b": 3}]}
    assert not m({"l": {"a": [1], "b": [{"exists": False}]}}, event)


def test_exists_true_and_false_together_match_everything() -> None:
    pattern = {"f": [{"exists": True}, {"exists": False}]}
    assert m(pattern, {}) and m(pattern, {"f": 1}) and m(pattern, {"f": {"g": 1}})


# --- wildcard ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("wildcard", "event_value", "expected"), [
    ("dir/*.png", "dir/a.png", True),
    ("dir/*.png", "dir/.png", True),  # a star matches nothing too
    ("dir/*.png", "dir/a.jpg", False),
    ("dir/*.png", "other/dir/a.png", False),
    ("*", "", True),
    ("*", "anything", True),
    ("*", 1, False),
    ("*", None, False),
    ("a*", "a", True),
    ("*a", "ba", True),
    ("*a", "ab", False),
    ("a*b*c", "abc", True),
    ("a*b*c", "aXbYc", True),
    ("a*b*c", "acb", False),
    ("a*a", "a", False),  # the two a's need two characters
    ("a*a", "aa", True),
    ("*ab*ab", "abab", True),
    ("*ab*ab", "aab", False),
    ("arn:aws:events:us-east-1:*:event-bus/*", "arn:aws:events:us-east-1:123456789012:event-bus/b", True),
    ("arn:aws:events:us-east-1:*:event-bus/*", "arn:aws:events:us-west-2:123456789012:event-bus/b", False),
    ("/Users/*/dir/dir/dir/dir/dir/doc.txt", "/Users/u/dir/dir/dir/dir/dir/doc.txt", True),
    ("/Users/*/doc.txt", "/Users/u/dir/notmatchingdoc.txt", False),
    (r"a\*b", "a*b", True),  # an escaped star is a star
    (r"a\*b", "axb", False),
    (r"a\\b", "a\\b", True),  # an escaped backslash is a backslash
    (r"a\\*", "a\\xyz", True),
    (r"\**", "*x", True),
    (r"\**", "x*", False),
    ("no-star", "no-star", True),
    ("no-star", "No-star", False),
    ("é*ü", "éaü", True),
])
def test_wildcard(wildcard: str, event_value: Any, expected: bool) -> None:
    assert m({"f": [{"wildcard": wildcard}]}, {"f": event_value}) is expected


@pytest.mark.parametrize(("wildcard", "why"), [
    ("a**b", "Consecutive wildcard characters at pos 2"),
    ("arn:aws:events:us-east-1:**:event-bus/*", "Consecutive wildcard characters at pos 26"),
    (r"a\b", "Invalid escape character at pos 1"),
    ("a\\", "Invalid escape character at pos 1"),
    (123, "wildcard match pattern must be a string"),
    (["a*"], "wildcard match pattern must be a string"),
])
def test_invalid_wildcards(wildcard: Any, why: str) -> None:
    assert reason({"f": [{"wildcard": wildcard}]}) == why


def test_an_escaped_star_next_to_a_star_is_not_two_stars() -> None:
    assert m({"f": [{"wildcard": r"*\**"}]}, {"f": "a*b"})


def test_overly_complex_wildcards_are_refused() -> None:
    too_complex = ("Rule is too complex - try using fewer wildcard characters or fewer repeating character "
                   "sequences after a wildcard character")
    assert reason({"f": [{"wildcard": "*a" * 120}]}) == too_complex
    # complexity adds up over the wildcards of one field, anything-but's included
    assert reason({"f": [{"wildcard": "*a" * 40}, {"wildcard": "*a" * 40}, {"anything-but": {"wildcard": "*a" * 40}}]}) \
        == too_complex
    compile_pattern({"f": [{"wildcard": "*a" * 30}], "g": [{"wildcard": "*a" * 30}]})  # fields do not add up
    compile_pattern({"f": [{"wildcard": "*" + "".join(map(chr, range(0x4E00, 0x4E00 + 600)))}]})  # long literals are fine
    assert reason({"f": [{"wildcard": "*" + "x" * 150}]}) == too_complex  # ... unless they repeat after a star


# --- cidr -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cidr", "event_value", "expected"), [
    ("10.0.0.0/24", "10.0.0.255", True),
    ("10.0.0.0/24", "10.0.0.0", True),
    ("10.0.0.0/24", "10.0.1.0", False),
    ("10.0.0.0/24", "10.0.0.256", False),  # not an address
    ("10.0.0.0/24", "10.0.0", False),
    ("10.0.0.0/24", 10, False),
    ("10.0.0.0/24", None, False),
    ("10.0.0.5/24", "10.0.0.200", True),  # host bits in the pattern are ignored
    ("10.0.0.1/32", "10.0.0.1", True),
    ("10.0.0.1", "10.0.0.1", True),
    ("10.0.0.1", "10.0.0.2", False),
    ("0.0.0.0/0", "192.168.1.1", True),
    ("0.0.0.0/0", "::1", False),  # IPv4 and IPv6 do not mix
    ("2001:db8::/32", "2001:db8:1234::1", True),
    ("2001:db8::/32", "2001:db9::1", False),
    ("2001:db8::/32", "2001:DB8::abcd", True),
    ("::/0", "10.0.0.1", False),
    ("10.0.0.0/8", ["192.168.0.1", "10.1.2.3"], True),
])
def test_cidr(cidr: str, event_value: Any, expected: bool) -> None:
    assert m({"f": [{"cidr": cidr}]}, {"f": event_value}) is expected


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "10.0.0.256/24", "not-an-ip", "", "2001:db8::/129"])
def test_invalid_cidr_patterns(cidr: str) -> None:
    assert reason({"f": [{"cidr": cidr}]}) == f"Invalid CIDR: {cidr}"


# --- $or --------------------------------------------------------------------------------------

def test_or_at_the_top() -> None:
    pattern = {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}
    assert m(pattern, {"source": "aws.cloudwatch", "metricName": "CPUUtilization"})
    assert m(pattern, {"source": "aws.cloudwatch", "namespace": "AWS/EC2"})
    assert not m(pattern, {"source": "aws.cloudwatch", "namespace": "AWS/ES"})
    assert not m(pattern, {"source": "aws.ec2", "namespace": "AWS/EC2"})


def test_parallel_and_nested_or() -> None:
    pattern = {
        "$or": [{"metricName": ["CPU"]}, {"namespace": ["EC2"]}],
        "detail": {"$or": [{"source": ["cw"]}, {"detail-type": ["Alarm"]}]},
    }
    assert m(pattern, {"namespace": "EC2", "detail": {"detail-type": "Alarm"}})
    assert not m(pattern, {"namespace": "EC2", "detail": {"source": "x"}})
    nested = {"source": ["cw"], "$or": [
        {"metricName": ["CPU"]},
        {"metricType": ["T"], "namespace": ["EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
        {"scope": ["Service"]},
    ]}
    assert m(nested, {"source": "cw", "metricType": "T", "namespace": "EC2", "spaceId": 1000})
    assert not m(nested, {"source": "cw", "metricType": "T", "namespace": "EC2", "spaceId": 1001})
    assert m(nested, {"source": "cw", "scope": "Service"})
    assert len(compile_pattern(nested).branches) == 4


def test_or_inside_nested_objects_uses_the_prefix() -> None:
    pattern = {"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}]}}
    assert m(pattern, {"detail": {"c-count": 0, "d-count": 9}})
    assert not m(pattern, {"detail": {"c-count": 0, "d-count": 10}})
    assert not m(pattern, {"c-count": 1})


@pytest.mark.parametrize(("pattern", "event"), [
    ({"$or": {"a": ["x"]}}, {"$or": {"a": "x"}}),  # not a list: a field named $or
])
def test_an_or_that_is_not_one_is_a_field_named_or(pattern: dict[str, Any], event: dict[str, Any]) -> None:
    assert m(pattern, event)
    assert not m(pattern, {"a": "x"})


def test_an_or_with_one_object_or_operator_names_is_a_field() -> None:
    assert reason({"$or": [{"a": ["x"]}]}) == "Unrecognized match type a"
    assert reason({"$or": [{"numeric": 123}, {"prefix": "abc"}]}) == "Value of numeric must be an array."


def test_or_combinations_are_limited() -> None:
    five = [{f"f{i}": ["x"]} for i in range(5)]
    ten = [{f"g{i}": ["x"]} for i in range(10)]
    compile_pattern({"$or": ten, "a": {"$or": ten}, "b": {"$or": ten}})  # 1000 alternatives
    assert reason({"$or": ten, "a": {"$or": ten}, "b": {"$or": ten}, "c": {"$or": five[:2]}}) \
        == f"Event pattern has more than {MAX_COMBINATIONS} $or combinations"


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "why"), [
    ({"resources": []}, "Empty arrays are not allowed"),
    ({}, "Empty objects are not allowed"),
    ({"detail": {}}, "Empty objects are not allowed"),
    ({"f": [{}]}, "Empty objects are not allowed"),
    ({"source": "aws.ec2"}, '"source" must be an object or an array'),
    ({"detail": {"state": 5}}, '"state" must be an object or an array'),
    ({"detail": {"state": None}}, '"state" must be an object or an array'),
    ({"f": [["x"]]}, "Match value must be String, number, true, false, or null"),
    ({"f": [{"prefix": "a", "suffix": "b"}]}, "Only one match type allowed in an object, got: prefix, suffix"),
    ({"f": [{"contains": "x"}]}, "Unrecognized match type contains"),
    ({"f": [{"Prefix": "x"}]}, "Unrecognized match type Prefix"),
    ({"f": [{"prefix": 123}]}, "prefix match pattern must be a string"),
    ({"f": [{"prefix": ["a"]}]}, "prefix match pattern must be a string"),
    ({"f": [{"prefix": None}]}, "prefix match pattern must be a string"),
    ({"f": [{"prefix": {"suffix": "a"}}]}, "prefix match pattern must be a string"),
    ({"f": [{"prefix": {"equals-ignore-case": 1}}]}, "equals-ignore-case match pattern must be a string"),
    ({"f": [{"suffix": 123}]}, "suffix match pattern must be a string"),
    ({"f": [{"suffix": {"equals-ignore-case": None}}]}, "equals-ignore-case match pattern must be a string"),
    ({"f": [{"equals-ignore-case": 1}]}, "equals-ignore-case match pattern must be a string"),
    ({"f": [{"equals-ignore-case": ["a"]}]}, "equals-ignore-case match pattern must be a string"),
    ({"f": [{"exists": "true"}]}, "exists match pattern must be either true or false."),
    ({"f": [{"exists": 1}]}, "exists match pattern must be either true or false."),
    ({"f": [{"cidr": ["10.0.0.0/8"]}]}, "prefix match pattern must be a string"),
    ({"f": [{"numeric": 5}]}, "Value of numeric must be an array."),
    ({"f": [{"numeric": []}]}, "Empty arrays are not allowed"),
    ({"f": [{"numeric": [">", 0, ">", 0]}]}, "Bad numeric range operator: >"),
    ({"f": [{"numeric": ["<", 9, "<=", 10]}]}, "Bad numeric range operator: <="),
    ({"f": [{"numeric": ["=", 1, "<", 5]}]}, "Bad numeric range operator: <"),
    ({"f": [{"numeric": [">", 1, "=", 5]}]}, "Bad numeric range operator: ="),
    ({"f": [{"numeric": ["~", 1]}]}, "Unrecognized numeric range operator: ~"),
    ({"f": [{"numeric": [1, ">"]}]}, "Unrecognized numeric range operator: 1"),
    ({"f": [{"numeric": [">"]}]}, "Value of > must be numeric"),
    ({"f": [{"numeric": [">", "5"]}]}, "Value of > must be numeric"),
    ({"f": [{"numeric": [">", True]}]}, "Value of > must be numeric"),
    ({"f": [{"numeric": [">", None]}]}, "Value of > must be numeric"),
    ({"f": [{"numeric": [">", 5.1e9]}]}, "Value of > must be between -5.0E9 and 5.0E9 inclusive"),
    ({"f": [{"numeric": ["<", -5.1e9]}]}, "Value of < must be between -5.0E9 and 5.0E9 inclusive"),
    ({"f": [{"numeric": [">", 5, "<", 5]}]}, "Bottom must be less than top"),
    ({"f": [{"numeric": [">=", 6, "<=", 5]}]}, "Bottom must be less than top"),
    ({"f": [{"numeric": [">", 0, "<", 5, "<", 6]}]}, "Too many elements in numeric expression"),
    ({"f": [{"anything-but": None}]}, "Value of anything-but must be an array or single string/number value."),
    ({"f": [{"anything-but": True}]}, "Value of anything-but must be an array or single string/number value."),
    ({"f": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
     "Value of anything-but must be an array or single string/number value."),
    ({"f": [{"anything-but": {"prefix": {"equals-ignore-case": "file"}}}]},
     "Value of anything-but must be an array or single string/number value."),
    ({"f": [{"anything-but": []}]}, "Empty arrays are not allowed"),
    ({"f": [{"anything-but": [None]}]}, "Inside anything but list, start|null|boolean is not supported."),
    ({"f": [{"anything-but": [True, "x"]}]}, "Inside anything but list, start|null|boolean is not supported."),
    ({"f": [{"anything-but": [{"prefix": "x"}]}]}, "Inside anything but list, start|null|boolean is not supported."),
    ({"f": [{"anything-but": ["x", 1]}]}, "Inside anything but list, strings and numbers cannot be mixed."),
    ({"f": [{"anything-but": {"prefix": ""}}]}, "Null prefix/suffix not allowed"),
    ({"f": [{"anything-but": {"suffix": ["a", ""]}}]}, "Null prefix/suffix not allowed"),
    ({"f": [{"anything-but": {"prefix": []}}]}, "Empty arrays are not allowed"),
    ({"f": [{"anything-but": {"prefix": 123}}]}, "prefix/suffix match pattern must be a string"),
    ({"f": [{"anything-but": {"suffix": [123, ".txt"]}}]}, "prefix/suffix match pattern must be a string"),
    ({"f": [{"anything-but": {"equals-ignore-case": 123}}]},
     "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."),
    ({"f": [{"anything-but": {"equals-ignore-case": [None]}}]},
     "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."),
    ({"f": [{"anything-but": {"wildcard": [123, "*/dir/*"]}}]}, "wildcard match pattern must be a string"),
    ({"f": [{"anything-but": {"wildcard": "a**"}}]}, "Consecutive wildcard characters at pos 2"),
    ({"f": [{"anything-but": {"numeric": [">", 1]}}]}, "Unsupported anything-but pattern: numeric"),
    ({"f": [{"anything-but": {"exists": True}}]}, "Unsupported anything-but pattern: exists"),
])
def test_invalid_patterns_are_refused_with_a_reason(pattern: dict[str, Any], why: str) -> None:
    assert reason(pattern) == why
    assert reason(json.dumps(pattern)) == why  # the same from JSON text


@pytest.mark.parametrize(("text", "why"), [
    ("[]", "Filter is not an object"),
    ('"source"', "Filter is not an object"),
    ("null", "Filter is not an object"),
    ('{"a": NaN}', "Filter is not valid JSON: NaN is not a JSON value"),
    ('{"a": [Infinity]}', "Filter is not valid JSON: Infinity is not a JSON value"),
    ('{"a": ["x"]', "Filter is not valid JSON: Expecting ',' delimiter at line 1 column 12"),
    ("", "Filter is not valid JSON: Expecting value at line 1 column 1"),
    ("{'a': ['x']}", "Filter is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
])
def test_what_is_not_a_json_object_is_refused(text: str, why: str) -> None:
    assert reason(text) == why


def test_a_non_mapping_is_refused() -> None:
    assert reason(["x"]) == "Filter is not an object"
    assert reason({"a": [float("nan")]}).startswith("Filter is not valid JSON")


def test_the_last_of_duplicate_keys_counts() -> None:
    pattern = '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}'
    assert m(pattern, {"detail": {"location": "eu-west"}})
    assert not m(pattern, {"detail": {"location": "us-east"}})


def test_length_limit_is_2048_by_default_and_can_be_raised_to_4096() -> None:
    def sized(n: int) -> str:
        text = '{"f": ["' + "x" * (n - 11) + '"]}'
        assert len(text) == n
        return text
    compile_pattern(sized(2048))
    assert reason(sized(2049)) == "Event pattern is longer than 2048 characters"
    compile_pattern(sized(4096), max_length=4096)
    assert reason(sized(4097), max_length=4096) == "Event pattern is longer than 4096 characters"
    assert reason({"f": ["x" * 2048]}) == "Event pattern is longer than 2048 characters"  # dicts too


def test_nesting_depth_is_limited() -> None:
    deep: dict[str, Any] = {"f": ["x"]}
    for _ in range(MAX_DEPTH - 1):
        deep = {"a": deep}
    assert compile_pattern(deep, max_length=10**6).matches(json.loads(json.dumps(deep).replace('["x"]', '"x"')))
    assert reason({"a": deep}, max_length=10**6) == f"Event pattern is nested more than {MAX_DEPTH} levels deep"
    text = '{"a":' * 5000 + '["x"]' + "}" * 5000  # deeper than Python's recursion limit
    assert reason(text, max_length=10**6) == f"Event pattern is nested more than {MAX_DEPTH} levels deep"


def test_a_compiled_pattern_keeps_its_source() -> None:
    text = '{"source": ["aws.ec2"]}'
    assert compile_pattern(text).source == text
    assert compile_pattern({"source": ["aws.ec2"]}).source == '{"source":["aws.ec2"]}'
    assert compile_pattern({"a": {"b": ["x"]}, "c": ["y"]}).paths == {"a.b", "c"}


# --- flatten ----------------------------------------------------------------------------------

def test_flatten_keeps_leaves_by_path_and_array_membership_only_where_needed() -> None:
    flat = flatten({"a": {"b": 1, "c": [1, 2]}, "d": [{"e": "x"}, {"e": "y", "f": None}], "g": [], "h": {}})
    assert flat.values == {"a.b": [1], "a.c": [1, 2], "d.e": ["x", "y"], "d.f": [None]}
    assert set(flat.members) == {"d.e", "d.f"}
    assert [m[0][1] for m in flat.members["d.e"]] == [0, 1]


def test_flatten_aligns_membership_when_a_path_mixes_plain_and_array_leaves() -> None:
    flat = flatten({"a.b": "plain", "a": [{"b": "inside"}]})
    assert flat.values["a.b"] == ["plain", "inside"]
    assert flat.members["a.b"][0] == () and flat.members["a.b"][1] != ()


# --- properties -------------------------------------------------------------------------------

ABSENT = object()
TEXT = st.text(st.characters(codec="utf-8"), max_size=6)
WORD = st.text("abcXYZ019-_./:é", max_size=6)  # few letters: values repeat, prefixes overlap
ASCII_WORD = st.text("abcdefXYZ0129-_", min_size=1, max_size=6)
MILLIS = st.integers(-10**9, 10**9).map(lambda n: n / 1000)  # no rounding at six decimals
NUMBER = st.one_of(st.integers(-10**6, 10**6), MILLIS)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, WORD, TEXT)


def _escape(piece: str) -> str:
    return piece.replace("\\", "\\\\").replace("*", "\\*")


def _wildcard(pieces: list[str]) -> str:
    return "*".join(_escape(p) for p in pieces)


def _glob_regex(pieces: list[str]) -> re.Pattern[str]:
    return re.compile(".*".join(map(re.escape, pieces)), re.DOTALL)


WILDCARD_PIECES = st.lists(WORD, min_size=1, max_size=4).filter(lambda ps: all(ps[1:-1]))


@st.composite
def satisfied_leaf(draw: st.DrawFn) -> tuple[dict[str, Any] | Any, Any]:
    """One alternative of a leaf array, and a value that satisfies it (ABSENT: leave the field out)."""
    kind = draw(st.sampled_from([
        "exact", "prefix", "prefix-ic", "suffix", "suffix-ic", "eic", "but-values", "but-numbers", "but-prefix",
        "but-suffix", "but-eic", "but-wildcard", "numeric", "range", "exists", "absent", "wildcard", "cidr4", "cidr6",
    ]))
    if kind == "exact":
        value = draw(SCALAR)
        same = float(value) if type(value) is int else value
        return value, draw(st.sampled_from([value, same]))
    if kind in ("prefix", "suffix"):
        affix, rest = draw(TEXT), draw(TEXT)
        return {kind: affix}, affix + rest if kind == "prefix" else rest + affix
    if kind in ("prefix-ic", "suffix-ic"):
        affix, rest = draw(ASCII_WORD), draw(TEXT)
        op = kind.removesuffix("-ic")
        value = affix.swapcase() + rest if op == "prefix" else rest + affix.swapcase()
        return {op: {"equals-ignore-case": affix}}, value
    if kind == "eic":
        word = draw(st.one_of(ASCII_WORD, st.text("äöüéσΣß", min_size=1, max_size=4)))
        upper = "".join(c.upper() if len(c.upper()) == 1 else c for c in word)  # ß has no one-letter capital
        return {"equals-ignore-case": word}, draw(st.sampled_from([upper, upper.lower(), word]))
    if kind == "but-values":
        excluded = draw(st.lists(WORD, min_size=1, max_size=3))
        value = draw(SCALAR.filter(lambda v: not (isinstance(v, str) and v in excluded)))
        return {"anything-but": excluded if len(excluded) > 1 else excluded[0]}, value
    if kind == "but-numbers":
        excluded = draw(st.lists(NUMBER, min_size=1, max_size=3))
        value = draw(SCALAR.filter(lambda v: not (type(v) in (int, float) and v in excluded)))
        return {"anything-but": excluded}, value
    if kind in ("but-prefix", "but-suffix"):
        op = kind.removeprefix("but-")
        affix = draw(st.text("abc", min_size=1, max_size=2))
        value = draw(SCALAR)
        assume(not isinstance(value, str) or not (value.startswith(affix) if op == "prefix" else value.endswith(affix)))
        return {"anything-but": {op: affix}}, value
    if kind == "but-eic":
        word = draw(ASCII_WORD)
        value = draw(SCALAR)
        assume(not isinstance(value, str) or value.lower() != word.lower())
        return {"anything-but": {"equals-ignore-case": word}}, value
    if kind == "but-wildcard":
        pieces = draw(WILDCARD_PIECES)
        value = draw(SCALAR)
        assume(not isinstance(value, str) or not _glob_regex(pieces).fullmatch(value))
        return {"anything-but": {"wildcard": _wildcard(pieces)}}, value
    if kind == "numeric":
        op, bound, delta = draw(st.sampled_from(["=", "<", "<=", ">", ">="])), draw(MILLIS), draw(MILLIS.map(abs))
        value = {"=": bound, "<": bound - delta - 0.001, "<=": bound - delta, ">": bound + delta + 0.001,
                 ">=": bound + delta}[op]
        assume(abs(value) <= 5e9)
        return {"numeric": [op, bound]}, round(value, 3)
    if kind == "range":
        low, width = draw(MILLIS), draw(st.integers(2, 10**6).map(lambda n: n / 1000))
        value = draw(st.integers(1, int(width * 1000) - 1).map(lambda n: round(low + n / 1000, 3)))
        return {"numeric": [">", low, "<", round(low + width, 3)]}, value
    if kind == "exists":
        return {"exists": True}, draw(SCALAR)
    if kind == "absent":
        return {"exists": False}, ABSENT
    if kind == "wildcard":
        pieces = draw(WILDCARD_PIECES)
        fillers = draw(st.lists(TEXT, min_size=len(pieces), max_size=len(pieces)))
        value = pieces[0] + "".join(f + p for f, p in zip(fillers, pieces[1:]))
        return {"wildcard": _wildcard(pieces)}, value
    bits = 32 if kind == "cidr4" else 128
    network = ipaddress.ip_network((draw(st.integers(0, 2**bits - 1)), draw(st.integers(0, bits))), strict=False)
    address = network[draw(st.integers(0, min(network.num_addresses - 1, 2**20)))]
    return {"cidr": str(network)}, draw(st.sampled_from([str(address), address.exploded]))


@st.composite
def satisfied_field(draw: st.DrawFn) -> tuple[list[Any], Any]:
    """A leaf array (some alternatives may fail) and a value some alternative accepts."""
    chosen, value = draw(satisfied_leaf())
    others = [alt for alt, _ in draw(st.lists(satisfied_leaf(), max_size=2))]
    alternatives = others + [chosen]
    draw(st.randoms()).shuffle(alternatives)
    if value is not ABSENT and draw(st.booleans()):  # an event array: the value among noise
        noise = draw(st.lists(SCALAR, max_size=2))
        value = noise + [value] + noise
    return alternatives, value


@st.composite
def satisfied_pattern(draw: st.DrawFn, name: str = "r", depth: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pattern (with $or at any level) and an event that matches it."""
    pattern: dict[str, Any] = {}
    event: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 3))):
        key = f"{name}{i}"
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            pattern[key], sub = draw(satisfied_pattern(f"{key}_", depth + 1))
            if sub and draw(st.booleans()):  # the object inside an array, next to another
                event[key] = [{"zz": 1}, sub]
            elif sub:
                event[key] = sub
        else:
            pattern[key], value = draw(satisfied_field())
            if value is not ABSENT:
                event[key] = value
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        alternatives = [draw(satisfied_pattern(f"{name}or{j}_", depth + 1)) for j in range(draw(st.integers(2, 3)))]
        pattern["$or"] = [alt for alt, _ in alternatives]
        event.update(alternatives[draw(st.integers(0, len(alternatives) - 1))][1])
    event["zz-noise"] = draw(SCALAR)
    return pattern, event


def _dotify(document: dict[str, Any], rnd: Any) -> dict[str, Any]:
    """The same document with some nested objects written as dotted keys."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict) and "$or" not in value:
            inner = _dotify(value, rnd)
            if rnd.random() < 0.5:
                out.update({f"{key}.{k}": v for k, v in inner.items()})
            else:
                out[key] = inner
        else:
            out[key] = value
    return out


@settings(max_examples=300, deadline=None)
@given(satisfied_pattern(), st.randoms())
def test_an_event_built_to_satisfy_a_pattern_matches_it(built: tuple[dict[str, Any], dict[str, Any]],
                                                        rnd: Any) -> None:
    pattern, event = built
    compiled = compile_pattern(pattern, max_length=10**6)
    assert compiled.matches(event)
    assert compile_pattern(json.dumps(pattern), max_length=10**6).matches(event)
    assert compile_pattern(_dotify(pattern, rnd), max_length=10**6).matches(_dotify(event, rnd))


ANYTHING_BUT = st.one_of(
    WORD, NUMBER, st.lists(WORD, min_size=1, max_size=3), st.lists(NUMBER, min_size=1, max_size=3),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["prefix", "suffix"]),
              st.one_of(st.text("abé", min_size=1, max_size=3), st.lists(st.text("abé", min_size=1, max_size=3),
                                                                         min_size=1, max_size=2))),
    st.builds(lambda v: {"equals-ignore-case": v}, st.one_of(WORD, st.lists(WORD, min_size=1, max_size=2))),
    st.builds(lambda v: {"wildcard": v}, st.one_of(WILDCARD_PIECES.map(_wildcard),
                                                   st.lists(WILDCARD_PIECES.map(_wildcard), min_size=1, max_size=2))),
)


def _positive(arg: Any) -> list[Any]:
    """The alternatives that match exactly what ``{"anything-but": arg}`` excludes."""
    if isinstance(arg, list):
        return arg
    if isinstance(arg, dict):
        (kind, value), = arg.items()
        return [{kind: v} for v in (value if isinstance(value, list) else [value])]
    return [arg]


@settings(max_examples=300, deadline=None)
@given(ANYTHING_BUT, SCALAR)
def test_anything_but_x_matches_exactly_when_x_does_not(arg: Any, value: Any) -> None:
    assume(not (isinstance(arg, list) and any(isinstance(a, str) for a in arg) and any(not isinstance(a, str) for a in arg)))
    event = {"f": value}
    assert m({"f": [{"anything-but": arg}]}, event) is not m({"f": _positive(arg)}, event)
    assert not m({"f": [{"anything-but": arg}]}, {}) and not m({"f": _positive(arg)}, {})


@settings(max_examples=500)
@given(WILDCARD_PIECES, st.text("abcé.*\\/", max_size=12))
def test_wildcard_matches_like_a_regular_expression(pieces: list[str], text: str) -> None:
    expected = _glob_regex(pieces).fullmatch(text) is not None
    assert m({"f": [{"wildcard": _wildcard(pieces)}]}, {"f": text}) is expected


@given(st.sampled_from(["=", "<", "<=", ">", ">="]), MILLIS, st.one_of(MILLIS, st.integers(-10**6, 10**6)))
def test_numeric_operators_compare_numbers(op: str, bound: float, value: float) -> None:
    expected = {"=": value == bound, "<": value < bound, "<=": value <= bound, ">": value > bound,
                ">=": value >= bound}[op]
    assert m({"f": [{"numeric": [op, bound]}]}, {"f": value}) is expected
    assert not m({"f": [{"numeric": [op, bound]}]}, {"f": str(value)})


@given(st.integers(-2**53, 2**53))
def test_exact_numbers_match_whatever_their_json_spelling(n: int) -> None:
    for spelling in (str(n), f"{n}.0", f"{n:e}" if abs(n) < 10**6 else str(n)):
        assert compile_pattern(f'{{"f": [{n}]}}').matches(json.loads(f'{{"f": {spelling}}}'))


@given(ASCII_WORD)
def test_equals_ignore_case_ignores_ascii_case(word: str) -> None:
    for variant in (word.upper(), word.lower(), word.swapcase()):
        assert m({"f": [{"equals-ignore-case": word}]}, {"f": variant})
        assert m({"f": [{"prefix": {"equals-ignore-case": word[:2]}}]}, {"f": variant})
        assert m({"f": [{"suffix": {"equals-ignore-case": word[-2:]}}]}, {"f": variant})


JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(st.text("ab", min_size=1, max_size=2), inner,
                                                                    max_size=3)), max_leaves=12)


@given(st.dictionaries(st.text("abc", min_size=1, max_size=2), JSON, max_size=4), st.randoms())
def test_dotted_keys_flatten_like_nested_ones(event: dict[str, Any], rnd: Any) -> None:
    def by_path(flat_values: dict[str, list[Any]]) -> dict[str, list[str]]:
        return {p: sorted(json.dumps(v) for v in vs) for p, vs in flat_values.items()}
    assert by_path(flatten(event).values) == by_path(flatten(_dotify(event, rnd)).values)


def test_a_dict_pattern_means_what_its_json_text_means() -> None:
    assert m({"f": ("a", "b")}, {"f": "b"})  # a tuple is a JSON array
    assert m({1: ["x"]}, {"1": "x"})  # JSON keys are strings
