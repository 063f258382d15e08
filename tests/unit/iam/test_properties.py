"""Properties: the reader only ever answers MalformedPolicyDocument, and the evaluator keeps IAM's invariants."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.iam import MalformedPolicyDocument, PolicySet, Principal, Request, evaluate, parse_policy
from cumulo.iam.patterns import Glob

ACCOUNT = "123456789012"
ROLE = Principal.assumed_role(ACCOUNT, "R", "s")

# -- the reader never crashes ------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
                    st.sampled_from(["*", "Allow", "Deny", "2012-10-17", "2008-10-17", "s3:GetObject", "sqs:*",
                                     "arn:aws:s3:::b/*", "arn:aws:iam::123456789012:root", "123456789012",
                                     "${aws:username}", "2024-01-01T00:00:00Z", "true", "10.0.0.0/8"]))
keys = st.sampled_from(["Version", "Id", "Statement", "Sid", "Effect", "Action", "NotAction", "Resource",
                        "NotResource", "Principal", "NotPrincipal", "Condition", "AWS", "Service", "StringEquals",
                        "ForAnyValue:StringLike", "DateLessThanIfExists", "Null", "IpAddress", "ArnLike",
                        "aws:SourceArn", "Bogus"]) | st.text(max_size=8)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                           max_leaves=30)

actions = st.sampled_from(["*", "sqs:*", "sqs:SendMessage", "s3:Get*", "SQS:send?essage", "iam:*Report", "Get",
                           "a:b:c", "s 3:x", []]) | st.lists(st.sampled_from(["sqs:*", "s3:GetObject", "x"]), max_size=3)
resources = st.sampled_from(["*", "arn:aws:sqs:*:*:q", "arn:aws:s3:::b/*", "bucket", "arn:nope:s3:::b", "arn:aws",
                             "arn:aws:iam:r:1:role/x", "arn:aws::x", "arn:aws:sqs:*"]) | st.lists(
    st.sampled_from(["*", "arn:aws:s3:::b", "arn:aws:s3:::${aws:username}/*"]), max_size=3)
conditions = st.dictionaries(
    st.sampled_from(["StringEquals", "StringLikeIfExists", "ForAllValues:StringNotEquals", "NumericLessThan",
                     "DateGreaterThan", "Bool", "IpAddress", "ArnLike", "Null", "BinaryEquals", "Nope"]),
    st.dictionaries(st.sampled_from(["aws:SourceArn", "aws:username", "aws:CurrentTime", "k", ""]),
                    st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=2), max_size=3)
principals = st.sampled_from(["*", {"AWS": "*"}, {"AWS": ACCOUNT}, {"Service": "sns.amazonaws.com"}, {"AWS": []},
                              {"Service": "nope"}, {"AWS": "arn:aws:iam::123456789012:role/R"}, 3])
statements = st.fixed_dictionaries({}, optional={
    "Sid": st.sampled_from(["A", "B", "has space", ""]) | scalars,
    "Effect": st.sampled_from(["Allow", "Deny", "allow", "Maybe"]), "Action": actions, "NotAction": actions,
    "Resource": resources, "NotResource": resources, "Principal": principals, "Condition": conditions | scalars})
documents = st.fixed_dictionaries({}, optional={
    "Version": st.sampled_from(["2012-10-17", "2008-10-17", "2020-01-01"]), "Id": scalars,
    "Statement": statements | st.lists(statements, max_size=3) | scalars})


def parses_or_refuses(document: Any, kind: str) -> None:
    try:
        policy = parse_policy(document, kind)  # type: ignore[arg-type]
    except MalformedPolicyDocument as error:
        assert error.message
        return
    for action in ("sqs:SendMessage", "s3:GetObject", "iam:GetRole"):
        evaluate(Request(ROLE, action, "arn:aws:s3:::b/k", context={"k": ["1"]}),
                 [policy] if kind == "identity" else [], policy if kind != "identity" else None)


@settings(max_examples=200, deadline=None)
@given(json_values, st.sampled_from(["identity", "resource", "trust"]))
def test_any_json_value_parses_or_is_refused(document: Any, kind: str) -> None:
    parses_or_refuses(document, kind)
    parses_or_refuses(json.dumps(document), kind)


@settings(max_examples=300, deadline=None)
@given(documents, st.sampled_from(["identity", "resource", "trust"]))
def test_documents_near_the_grammar_parse_or_are_refused(document: Any, kind: str) -> None:
    parses_or_refuses(document, kind)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused(text: str) -> None:
    parses_or_refuses(text, "identity")


# -- the evaluator's invariants ----------------------------------------------------------------

VENDORS = ["sqs", "sns", "lambda"]
names = st.text(alphabet="abSM", min_size=1, max_size=4)
request_actions = st.builds(lambda v, n: f"{v}:{n}", st.sampled_from(VENDORS), names)
action_patterns = st.one_of(st.just("*"), request_actions,
                            st.builds(lambda v, n: f"{v}:{n}", st.sampled_from(VENDORS), st.text(alphabet="abSM*?",
                                                                                                  min_size=1, max_size=4)))
segment = st.text(alphabet="ab/:", max_size=4)
request_resources = st.builds(lambda s, r, n: f"arn:aws:{s}:{r}:{ACCOUNT}:{n}", st.sampled_from(VENDORS),
                              st.sampled_from(["us-east-1", "eu-west-1"]), segment) | st.just("*")
resource_patterns = st.one_of(st.just("*"), request_resources,
                              st.builds(lambda s, n: f"arn:aws:{s}:*:*:{n}", st.sampled_from(VENDORS),
                                        st.text(alphabet="ab/:*?", max_size=4)))
some_statements = st.lists(st.fixed_dictionaries({
    "Effect": st.sampled_from(["Allow", "Deny"]),
    "Action": st.lists(action_patterns, min_size=1, max_size=3),
    "Resource": st.lists(resource_patterns, min_size=1, max_size=2),
}, optional={"Condition": st.sampled_from([{"Bool": {"aws:SecureTransport": "true"}},
                                           {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}},
                                           {"StringLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*"}}])}),
    min_size=1, max_size=4)
policy_sets = st.lists(some_statements, max_size=4)
flags = st.sampled_from([None, True, False])


def build(statement_lists: list[list[dict[str, Any]]]) -> list[Any]:
    return [parse_policy({"Version": "2012-10-17", "Statement": s}) for s in statement_lists]


@settings(max_examples=150, deadline=None)
@given(policy_sets, request_actions, request_resources, flags)
def test_an_explicit_deny_always_wins(lists: list[list[dict[str, Any]]], action: str, resource: str,
                                      tls: bool | None) -> None:
    deny = {"Effect": "Deny", "Action": [action.upper()], "Resource": ["*"]}
    policies = build(lists + [[deny]])
    decision = evaluate(Request(ROLE, action, resource, secure_transport=tls), policies)
    assert not decision and decision.reason == "explicit deny"
    wildcard = build(lists + [[{"Effect": "Deny", "Action": "*", "Resource": "*"}], [{"Effect": "Allow",
                                                                                        "Action": "*", "Resource": "*"}]])
    assert evaluate(Request(ROLE, action, resource, secure_transport=tls), wildcard).reason == "explicit deny"


@settings(max_examples=150, deadline=None)
@given(policy_sets, request_actions, request_resources, flags)
def test_without_an_allow_nothing_is_allowed(lists: list[list[dict[str, Any]]], action: str, resource: str,
                                            tls: bool | None) -> None:
    only_denies = [[dict(s, Effect="Deny") for s in statements] for statements in lists]
    decision = evaluate(Request(ROLE, action, resource, secure_transport=tls), build(only_denies))
    assert not decision and decision.message.startswith(f"User: {ROLE.arn} is not authorized to perform: {action}")


@settings(max_examples=150, deadline=None)
@given(policy_sets, request_actions, request_resources, flags)
def test_allow_star_allows_everything_not_denied(lists: list[list[dict[str, Any]]], action: str, resource: str,
                                                 tls: bool | None) -> None:
    only_allows = [[dict(s, Effect="Allow") for s in statements] for statements in lists]
    star = [[{"Effect": "Allow", "Action": "*", "Resource": "*"}]]
    assert evaluate(Request(ROLE, action, resource, secure_transport=tls), build(only_allows + star))
    assert evaluate(Request(ROLE, action, resource, secure_transport=tls), build(star))


@settings(max_examples=150, deadline=None)
@given(policy_sets, some_statements, request_actions, request_resources, flags)
def test_more_allows_never_deny_more_denies_never_allow(lists: list[list[dict[str, Any]]], extra: list[dict[str, Any]],
                                                        action: str, resource: str, tls: bool | None) -> None:
    request = Request(ROLE, action, resource, secure_transport=tls)
    before = evaluate(request, build(lists))
    allows = [dict(s, Effect="Allow") for s in extra]
    denies = [dict(s, Effect="Deny") for s in extra]
    if before:
        assert evaluate(request, build(lists + [allows]))
    else:
        assert not evaluate(request, build(lists + [denies]))
        if before.reason == "explicit deny":
            assert evaluate(request, build(lists + [allows])).reason == "explicit deny"


@settings(max_examples=100, deadline=None)
@given(policy_sets, request_actions, request_resources, flags)
def test_actions_are_case_insensitive_and_a_kept_set_decides_as_a_new_one(
        lists: list[list[dict[str, Any]]], action: str, resource: str, tls: bool | None) -> None:
    policies = build(lists)
    kept = PolicySet(policies)
    for variant in (action, action.upper(), action.lower(), action.swapcase()):
        fresh = evaluate(Request(ROLE, variant, resource, secure_transport=tls), policies)
        again = evaluate(Request(ROLE, variant, resource, secure_transport=tls), kept)
        assert (fresh.allowed, fresh.reason) == (again.allowed, again.reason)
        assert fresh.allowed == evaluate(Request(ROLE, action, resource, secure_transport=tls), kept).allowed


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab", max_size=6))
def test_wildcards_are_fnmatch_without_brackets(pattern: str, value: str) -> None:
    assert Glob(pattern).matches(value, lambda _k: None) == fnmatch.fnmatchcase(value, pattern)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet="ab*?", max_size=3), min_size=6, max_size=6),
       st.lists(st.text(alphabet="ab", max_size=3), min_size=6, max_size=6))
def test_arn_wildcards_match_segment_by_segment(pattern: list[str], value: list[str]) -> None:
    expected = all(fnmatch.fnmatchcase(v, p) for p, v in zip(pattern, value))
    assert Glob(":".join(pattern), segmented=True).matches(":".join(value), lambda _k: None) == expected
