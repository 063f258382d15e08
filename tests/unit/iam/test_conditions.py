"""Condition operators and keys, with AWS's documented examples.

Operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
Several keys and values: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from cumulo.iam import Principal, Request, evaluate, parse_policy
from cumulo.iam.conditions import parse_date, split_operator

ACCOUNT = "123456789012"
ME = Principal.user(ACCOUNT, "johndoe", tags={"job-category": "iamuser-admin"})


def holds(condition: dict[str, Any], principal: Principal = ME, **request: Any) -> bool:
    """Does a statement with this Condition element apply to the request?"""
    policy = parse_policy({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                                                                  "Condition": condition}})
    return evaluate(Request(principal, "svc:Do", "*", **request), [policy]).allowed


def test_string_operators() -> None:
    # the aws:PrincipalTag/job-category example
    assert holds({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}})
    assert not holds({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
                     Principal.user(ACCOUNT, "untagged"))
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html — "Users named
    # JohnDoe are denied access" with StringEquals, matched with StringEqualsIgnoreCase
    jd = Principal.user(ACCOUNT, "JohnDoe")
    assert not holds({"StringEquals": {"aws:username": "johndoe"}}, jd)
    assert holds({"StringEqualsIgnoreCase": {"aws:username": "johndoe"}}, jd)
    assert holds({"StringNotEqualsIgnoreCase": {"aws:username": "alice"}}, jd)
    assert not holds({"StringNotEqualsIgnoreCase": {"aws:username": "JOHNDOE"}}, jd)
    assert holds({"StringNotEquals": {"aws:username": "JOHNDOE"}}, jd)
    assert holds({"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}, context={"s3:prefix": "home/johndoe/a"})
    assert holds({"StringLike": {"s3:prefix": ["", "home/"]}}, context={"s3:prefix": ""})
    assert not holds({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, context={"s3:prefix": "home/alice/a"})
    assert holds({"StringNotLike": {"s3:prefix": "tmp/*"}}, context={"s3:prefix": "home/x"})
    assert not holds({"StringNotLike": {"s3:prefix": "tmp/*"}}, context={"s3:prefix": "tmp/x"})
    assert holds({"StringLike": {"ec2:InstanceType": "t?.micro"}}, context={"ec2:InstanceType": "t2.micro"})
    assert not holds({"StringLike": {"ec2:InstanceType": "t?.micro"}}, context={"ec2:InstanceType": "t2.small"})


def test_key_names_are_case_insensitive_values_are_not() -> None:
    # "including the aws:SourceIP condition key is equivalent to testing for AWS:SourceIp"
    assert holds({"IpAddress": {"aws:SourceIP": "203.0.113.0/24"}}, source_ip="203.0.113.7")
    assert holds({"IpAddress": {"AWS:SourceIp": "203.0.113.0/24"}}, source_ip="203.0.113.7")
    assert holds({"StringEquals": {"s3:Prefix": "a"}}, context={"S3:PREFIX": "a"})
    assert not holds({"StringEquals": {"s3:prefix": "A"}}, context={"s3:prefix": "a"})


def test_several_operators_keys_and_values() -> None:
    # "evaluated using a logical AND ... multiple values for one key ... logical OR"
    block = {"StringEqualsIgnoreCase": {"aws:PrincipalTag/department": ["finance", "hr", "legal"],
                                        "aws:PrincipalTag/role": ["audit", "security"]},
             "StringEquals": {"aws:PrincipalAccount": "123456789012"}}
    auditor = Principal.user(ACCOUNT, "a", tags={"department": "HR", "role": "audit"})
    assert holds(block, auditor)
    assert not holds(block, Principal.user(ACCOUNT, "a", tags={"department": "HR"}))
    assert not holds(block, Principal.user("999999999999", "a", tags={"department": "HR", "role": "audit"}))
    # "if there are multiple aws:PrincipalAccount values in a StringNotEquals condition operator, the string
    # cannot match any of the aws:PrincipalAccount values listed"
    not_these = {"StringNotEquals": {"aws:PrincipalAccount": ["111111111111", "123456789012"]}}
    assert not holds(not_these)
    assert holds(not_these, Principal.user("222222222222", "x"))


def test_a_missing_key_fails_unless_negated() -> None:
    # "If the key that you specify in a policy condition is not present in the request context, the values do not
    # match and the condition is false. If the policy condition requires that the key is not matched, such as
    # StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
    assert not holds({"StringLike": {"aws:SourceArn": "*"}})
    assert holds({"StringNotLike": {"aws:SourceArn": "arn:aws:sns:*"}})
    assert holds({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*"}})
    assert not holds({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*"}})
    assert not holds({"NumericLessThan": {"s3:max-keys": "10"}})
    assert holds({"NumericNotEquals": {"s3:max-keys": "10"}})
    assert not holds({"Bool": {"aws:SecureTransport": "true"}})
    assert holds({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})


def test_numeric() -> None:
    # s3:max-keys <= 10
    assert holds({"NumericLessThanEquals": {"s3:max-keys": "10"}}, context={"s3:max-keys": "10"})
    assert holds({"NumericLessThanEquals": {"s3:max-keys": 10}}, context={"s3:max-keys": 3})    # unquoted
    assert not holds({"NumericLessThanEquals": {"s3:max-keys": "10"}}, context={"s3:max-keys": "11"})
    assert holds({"NumericLessThan": {"k": "1.5"}}, context={"k": "1.25"})
    assert holds({"NumericGreaterThan": {"k": "-1"}}, context={"k": 0})
    assert holds({"NumericGreaterThanEquals": {"k": "5"}}, context={"k": "5.0"})
    assert holds({"NumericEquals": {"k": ["1", "2"]}}, context={"k": 2})
    assert not holds({"NumericEquals": {"k": "1"}}, context={"k": "one"})
    assert holds({"NumericNotEquals": {"k": ["1", "2"]}}, context={"k": 3})
    assert not holds({"NumericNotEquals": {"k": ["1", "2"]}}, context={"k": 2})


def test_dates() -> None:
    # aws:TokenIssueTime after 2020-01-01T00:00:01Z
    block = {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
    assert holds(block, context={"aws:TokenIssueTime": "2020-06-01T10:00:00Z"})
    assert not holds(block, context={"aws:TokenIssueTime": "2019-12-31T23:59:59Z"})
    assert not holds(block)                                   # "not present in ... requests made using access keys"
    # W3C's ISO 8601 formats and epoch seconds, both sides
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert holds({"DateLessThan": {"aws:CurrentTime": "2024-05-02"}}, now=now)
    assert holds({"DateGreaterThanEquals": {"aws:CurrentTime": "2024-05-01T12:00:00Z"}}, now=now)
    assert holds({"DateEquals": {"aws:CurrentTime": "2024-05-01T14:00:00+02:00"}}, now=now)
    assert holds({"DateLessThanEquals": {"aws:CurrentTime": str(int(now.timestamp()))}}, now=now)
    assert holds({"DateNotEquals": {"aws:CurrentTime": "2024-05-01T12:00:01Z"}}, now=now)
    assert holds({"DateGreaterThan": {"aws:EpochTime": "2024-05-01T11:59:59.5Z"}}, now=now.timestamp())
    assert not holds({"DateGreaterThan": {"aws:CurrentTime": "2024-05-01T12:00:00Z"}}, now=now)
    assert holds({"DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}})      # the machine's clock


@pytest.mark.parametrize("text, expected", [
    ("1997-07", "1997-07-01T00:00:00+00:00"),
    ("1997-07-16", "1997-07-16T00:00:00+00:00"), ("1997-07-16T19:20+01:00", "1997-07-16T18:20:00+00:00"),
    ("1997-07-16T19:20:30+01:00", "1997-07-16T18:20:30+00:00"), ("1997-07-16T19:20:30.45Z", "1997-07-16T19:20:30.450000+00:00"),
    ("868000000", "1997-07-04T07:06:40+00:00"), ("1997", "1970-01-01T00:33:17+00:00"),    # digits alone: epoch seconds
])
def test_date_formats(text: str, expected: str) -> None:
    value = parse_date(text)
    assert value is not None and datetime.fromtimestamp(value, timezone.utc).isoformat() == expected


def test_bool() -> None:
    # the BooleanExample: deny S3 when aws:SecureTransport is false
    deny = {"Bool": {"aws:SecureTransport": "false"}}
    assert holds(deny, secure_transport=False) and not holds(deny, secure_transport=True)
    assert holds({"Bool": {"aws:SecureTransport": True}}, secure_transport=True)          # unquoted
    assert holds({"Bool": {"aws:SecureTransport": "TRUE"}}, context={"aws:SecureTransport": "true"})
    assert not holds({"Bool": {"k": "yes"}}, context={"k": "true"})


def test_binary() -> None:
    assert holds({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, context={"key": b"BinaryValueInBase64"})
    assert holds({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, context={"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="})
    assert not holds({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, context={"key": b"other"})


def test_ip_addresses() -> None:
    # 203.0.113.0/24, mixed with IPv6; an address without a prefix is /32
    mixed = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
    assert holds(mixed, source_ip="203.0.113.255")
    assert holds(mixed, source_ip="2001:db8:1234:5678::1")
    assert not holds(mixed, source_ip="203.0.114.1")
    assert not holds(mixed, source_ip="2001:db8:1234:5679::1")
    assert holds({"IpAddress": {"aws:SourceIp": "127.0.0.1"}}, source_ip="127.0.0.1")
    assert not holds({"IpAddress": {"aws:SourceIp": "127.0.0.1"}}, source_ip="127.0.0.2")
    assert holds({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, source_ip="192.0.2.1")
    assert not holds({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, source_ip="10.1.2.3")
    assert not holds({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, source_ip="not an address")


def test_arn_operators_match_segment_by_segment() -> None:
    # "With a StringLike condition, the match succeeds ... With an ArnLike condition ... the match fails."
    pattern, value = "arn:aws:someservice:*:111122223333:finance/*", \
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert holds({"StringLike": {"aws:SourceArn": pattern}}, source_arn=value)
    assert not holds({"ArnLike": {"aws:SourceArn": pattern}}, source_arn=value)
    assert holds({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:TOPIC-ID"}},
                 source_arn="arn:aws:sns:us-east-2:123456789012:TOPIC-ID")
    assert holds({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:other"}},
                 source_arn="arn:aws:sns:us-east-2:123456789012:TOPIC-ID")
    assert not holds({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
                     source_arn="arn:aws:sns:us-east-2:123456789012:TOPIC-ID")
    assert holds({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:user/*"}})


def test_if_exists() -> None:
    # the StringLikeIfExists ec2:InstanceType example: "If the resource being checked does not have that
    # condition key, then don't worry about it."
    block = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
    assert holds(block)
    assert holds(block, context={"ec2:InstanceType": "t2.micro"})
    assert not holds(block, context={"ec2:InstanceType": "c5.large"})
    assert holds({"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "red"}})
    assert holds({"NumericLessThanIfExists": {"s3:max-keys": "10"}})
    assert holds({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*"}})


def test_null() -> None:
    # "the user must not be using temporary credentials (the key must not exist)"
    assert holds({"Null": {"aws:TokenIssueTime": "true"}})
    assert not holds({"Null": {"aws:TokenIssueTime": "true"}}, context={"aws:TokenIssueTime": "2024-01-01T00:00:00Z"})
    assert holds({"Null": {"aws:TokenIssueTime": False}}, context={"aws:TokenIssueTime": "2024-01-01T00:00:00Z"})
    assert holds({"Null": {"aws:TagKeys": "true"}}, context={"aws:TagKeys": []})


def test_for_all_values() -> None:
    # the Thread table: only ID, Message, Tags (or PostDateTime, Message, Tags) may be requested
    block = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["PostDateTime", "Message", "Tags"]}}
    assert holds(block, context={"dynamodb:Attributes": ["Message", "Tags"]})
    assert not holds(block, context={"dynamodb:Attributes": ["PostDateTime", "UserName"]})
    # "It also returns true if there are no keys in the request, or if the key values resolve to a null data set"
    assert holds(block)
    assert holds(block, context={"dynamodb:Attributes": []})
    assert holds({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret", "owner"]}}, context={"aws:TagKeys": ["a", "b"]})
    assert not holds({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret", "owner"]}},
                     context={"aws:TagKeys": ["a", "owner"]})
    assert holds({"ForAllValues:StringLike": {"aws:TagKeys": ["env*", "team"]}}, context={"aws:TagKeys": ["envX", "team"]})


def test_for_any_value() -> None:
    # the Deny on PutItem for ID or PostDateTime
    block = {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}}
    assert holds(block, context={"dynamodb:Attributes": ["UserName", "Message", "PostDateTime"]})
    assert not holds(block, context={"dynamodb:Attributes": ["UserName"]})
    # "For no matching key or a null dataset, the condition returns false."
    assert not holds(block)
    assert not holds(block, context={"dynamodb:Attributes": []})
    assert holds({"ForAnyValue:StringNotLike": {"aws:TagKeys": "team*"}}, context={"aws:TagKeys": ["team1", "cost"]})
    assert not holds({"ForAnyValue:StringNotLike": {"aws:TagKeys": "team*"}}, context={"aws:TagKeys": ["team1"]})
    assert holds({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "x"}})


def test_a_multivalued_key_without_a_qualifier() -> None:
    assert holds({"StringEquals": {"aws:TagKeys": "b"}}, context={"aws:TagKeys": ["a", "b"]})
    assert not holds({"StringNotEquals": {"aws:TagKeys": "b"}}, context={"aws:TagKeys": ["a", "b"]})


def test_operator_names() -> None:
    assert split_operator("ForAnyValue:StringLikeIfExists") == ("any", "StringLike", True)
    assert split_operator("ForAllValues:ArnNotLike") == ("all", "ArnNotLike", False)
    assert split_operator("Bool") == (None, "Bool", False)
    for bad in ("NullIfExists", "StringEqual", "ForSomeValues:StringEquals", "IfExists", "stringequals"):
        assert split_operator(bad) is None, bad
