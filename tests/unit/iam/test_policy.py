"""Policy documents: IAM's grammar, its MalformedPolicyDocument messages and its size quotas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cumulo.errors import CumuloError
from cumulo.iam import (
    LimitExceeded,
    MalformedPolicyDocument,
    check_inline_size,
    check_managed_size,
    check_trust_size,
    parse_policy,
    policy_size,
)


def refused(document: Any, kind: str = "identity") -> str:
    with pytest.raises(MalformedPolicyDocument) as info:
        parse_policy(document, kind)  # type: ignore[arg-type]
    return info.value.message


def statement(**fields: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                                    **fields}]}


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html — "Statement" is one
# statement or a list, and a list of one value may be written as that value.
def test_statement_as_object_or_list_and_strings_as_lists() -> None:
    one = parse_policy({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                                                               "Resource": "*"}})
    many = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:StopInstances"], "Resource": ["*"]},
        {"Sid": "1", "Effect": "Deny", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::b/*"}]})
    assert len(one.statements) == 1 and len(many.statements) == 2
    assert many.statements[1].not_action and many.statements[1].not_resource and not many.statements[1].allow
    assert many.statements[1].sid == "1"


def test_text_and_mapping_read_alike_and_the_text_is_kept() -> None:
    doc = statement()
    text = json.dumps(doc)
    assert parse_policy(text).document == parse_policy(doc).document == doc
    assert parse_policy(text).to_json() == text
    assert parse_policy(text.encode()).document == doc


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
def test_versions() -> None:
    assert parse_policy(statement()).variables
    old = dict(statement(), Version="2008-10-17")
    assert parse_policy(old).version == "2008-10-17" and not parse_policy(old).variables
    none = {"Statement": statement()["Statement"]}
    assert parse_policy(none).version is None and not parse_policy(none).variables
    assert refused(dict(statement(), Version="2013-01-01")) == "Syntax errors in policy."
    assert refused(dict(statement(), Version=20121017)) == "Syntax errors in policy."


@pytest.mark.parametrize("document", [
    "not json", "[]", "{", '{"Version": "2012-10-17"}', {"Statement": []}, {"Statement": "x"},
    {"Statement": [1]}, {"Statement": statement()["Statement"], "Extra": 1},
    statement(Effect="Maybe"), statement(Effect=["Allow"]), statement(Action=5), statement(Action=["s3:a", 5]),
    statement(Resource={"a": 1}), statement(Sid=3), statement(Condition=[]), statement(Condition={"StringEquals": []}),
    statement(Condition={"StringEquals": {"aws:username": {"x": 1}}}),
    statement(Condition={"StringEquals": {"aws:username": []}}),
    statement(Condition={"NoSuchOperator": {"aws:username": "x"}}),
    statement(Condition={"NullIfExists": {"aws:username": "true"}}),
    statement(Bogus="x"), statement(NotAction="s3:*"), statement(NotResource="*"),
    # "Individual elements must not contain multiple instances of the same key"
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}}',
])
def test_syntax_errors(document: Any) -> None:
    assert refused(document) == "Syntax errors in policy."


def test_an_unknown_operator_with_no_keys_is_let_through_as_iam_does() -> None:
    assert parse_policy(statement(Condition={"NoSuchOperator": {}})).statements[0].conditions == ()


def test_legacy_parsing() -> None:
    assert refused(statement(Effect="allow")) == "The policy failed legacy parsing"    # the right word, wrong case
    assert refused(statement(Condition={"DateGreaterThan": {"aws:CurrentTime": "yesterday"}})) == \
        "The policy failed legacy parsing"
    assert refused(statement(Resource="arn:aws::bucket")) == "The policy failed legacy parsing"


def test_statement_ids() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html
    twice = {"Version": "2012-10-17", "Statement": [statement(Sid="A")["Statement"][0], statement(Sid="A")["Statement"][0]]}
    assert refused(twice) == "Statement IDs (SID) in a single policy must be unique."
    assert refused(statement(Sid="has space")).startswith("Statement IDs (SID) must be alpha-numeric.")
    resource = statement(Sid="Allow SNS", Principal={"Service": "sns.amazonaws.com"})
    assert parse_policy(resource, "resource").statements[0].sid == "Allow SNS"     # services allow more characters


def test_actions() -> None:
    assert refused({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Resource": "*"}}) == \
        "Policy statement must contain actions."
    assert refused(statement(Action=[])) == "Policy statement must contain actions."
    assert refused(statement(Action="GetObject")) == \
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    assert refused(statement(Action="s3:Get:Object")) == "Actions/Condition can contain only one colon."
    assert refused(statement(Action="s 3:GetObject")) == "Vendor s 3 is not valid"
    assert refused(statement(Action="s*:GetObject")) == "Vendor s* is not valid"


def test_resources() -> None:
    assert refused({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*"}}) == \
        "Policy statement must contain resources."
    assert refused(statement(Resource="bucket")) == 'Resource bucket must be in ARN format or "*".'
    assert refused(statement(Resource="arn:amazon:s3:::b")) == \
        'Partition "amazon" is not valid for resource "arn:amazon:s3:::b".'
    assert refused(statement(Resource="arn:aws")) == "Resource vendor must be fully qualified and cannot contain regexes."
    assert refused(statement(Resource="arn:aws:s*:::b")) == \
        "Resource vendor must be fully qualified and cannot contain regexes."
    assert refused(statement(Resource="arn:aws:iam:us-east-1:123456789012:role/x")) == \
        "IAM resource arn:aws:iam:us-east-1:123456789012:role/x cannot contain region information."
    assert refused(statement(Resource="arn:aws:iam::123456789012:thing/x")).startswith(
        'IAM resource path must either be "*" or start with user/, federated-user/, role/')
    for fine in ("*", "arn:aws:s3:::b/*", "arn:*:sqs:*:*:q", "arn:aws:sqs:us-east-1:123456789012:q",
                 "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t", "arn:aws:iam::123456789012:role/x"):
        parse_policy(statement(Resource=fine))


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html — "You cannot use
# the Principal element in an identity-based policy"; resource-based policies and trust policies need it.
def test_principals_by_kind_of_policy() -> None:
    assert refused(statement(Principal="*")) == "Policy document should not specify a principal."
    assert refused(statement(), "resource") == "Missing required field Principal."
    bucket = statement(Principal={"AWS": ["arn:aws:iam::123456789012:root", "999999999999"],
                                  "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"})
    names = parse_policy(bucket, "resource").statements[0].principals
    assert names is not None and names.accounts == {"123456789012", "999999999999"}
    assert refused(statement(Principal={"AWS": "arn:aws:iam::123456789012:group/Admins"}), "resource") == \
        'Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:group/Admins"'
    assert refused(statement(Principal={"Service": "lambda"}), "resource") == \
        'Invalid principal in policy: "SERVICE":"lambda"'
    assert refused(statement(Principal={"Group": "x"}), "resource") == "Syntax errors in policy."
    assert refused(statement(Principal={"AWS": []}), "resource") == "Syntax errors in policy."


def test_trust_policies() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-service.html — a Lambda execution role
    lambda_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    parse_policy(lambda_trust, "trust")
    with_resource = {"Version": "2012-10-17", "Statement": [dict(lambda_trust["Statement"][0], Resource="*")]}
    assert refused(with_resource, "trust") == "Has prohibited field Resource."
    other_action = {"Version": "2012-10-17", "Statement": [dict(lambda_trust["Statement"][0], Action="s3:GetObject")]}
    assert refused(other_action, "trust").startswith("Trust Policy statement actions can only be sts:AssumeRole")
    tagging = {"Version": "2012-10-17", "Statement": [dict(lambda_trust["Statement"][0],
                                                           Action=["sts:AssumeRole", "sts:TagSession"])]}
    parse_policy(tagging, "trust")
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    assert refused(no_principal, "trust") == "Missing required field Principal."


def test_every_fault_is_a_cumulo_error_answered_as_iam_answers() -> None:
    with pytest.raises(CumuloError) as info:
        parse_policy("nope")
    assert info.value.type == "MalformedPolicyDocument" and info.value.status == 400


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html — "IAM does not count white space
# when calculating the size of a policy against these limits."
def test_sizes_do_not_count_white_space() -> None:
    compact = json.dumps(statement(), separators=(",", ":"))
    spaced = json.dumps(statement(), indent=8)
    assert policy_size(compact) == policy_size(spaced) == policy_size(statement()) == len(compact)
    assert policy_size(parse_policy(spaced)) == len(compact)


def padded(size: int) -> str:
    base = json.dumps(statement(Sid="P"), separators=(",", ":"))
    return base.replace('"Sid":"P"', '"Sid":"P' + "x" * (size - len(base)) + '"')


def test_managed_trust_and_inline_quotas() -> None:
    check_managed_size(padded(6144))
    with pytest.raises(LimitExceeded) as info:
        check_managed_size(padded(6145))
    assert info.value.message == "Cannot exceed quota for PolicySize: 6144" and info.value.status == 409
    check_trust_size(padded(2048))
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for ACLSizePerRole: 2048"):
        check_trust_size(padded(2049))
    check_inline_size([padded(5000), padded(5240)], "role", "MyRole")                 # together 10,240
    with pytest.raises(LimitExceeded) as info:
        check_inline_size([padded(5000), padded(5241)], "role", "MyRole")
    assert info.value.message == "Maximum policy size of 10240 bytes exceeded for role MyRole"
    with pytest.raises(LimitExceeded, match="Maximum policy size of 2048 bytes exceeded for user Bob"):
        check_inline_size([padded(2049)], "user", "Bob")
    check_inline_size([padded(5120)], "group", "Admins")
