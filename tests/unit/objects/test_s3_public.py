"""Block Public Access and "public" as S3 defines it (model/s3public.py), the configuration's XML
(api/s3.py), and which unsigned requests the gate may take for anonymous S3 ones."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.api import s3
from cumulo.model import s3public
from cumulo.model.objects import S3Error


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any = "*", **condition: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                           "Resource": "arn:aws:s3:::b/*"}
    if condition:
        out["Condition"] = condition
    return out


@pytest.mark.parametrize("statement, public", [
    (allow(), True),
    (allow({"AWS": "*"}), True),
    (allow({"AWS": "arn:aws:iam::123456789012:role/r"}), False),
    (allow({"AWS": "arn:aws:iam::123456789012:role/*"}), True),                # a wildcard is not fixed
    (allow({"Service": "cloudfront.amazonaws.com"}), False),
    (allow(IpAddress={"aws:SourceIp": "203.0.113.0/24"}), False),
    (allow(IpAddress={"aws:SourceIp": ["203.0.113.0/24", "0.0.0.0/0"]}), True),  # /0 is everyone
    (allow(NotIpAddress={"aws:SourceIp": "203.0.113.0/24"}), True),
    (allow(StringEquals={"aws:SourceVpce": "vpce-1a2b3c4d"}), False),
    (allow(StringLike={"aws:SourceVpc": "vpc-*"}), True),                       # the User Guide's public example
    (allow(StringEquals={"aws:SourceAccount": "${aws:PrincipalAccount}"}), True),
    (allow(ArnEquals={"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}), False),
    (allow(StringEqualsIfExists={"aws:SourceAccount": "123456789012"}), True),  # absent key: held to nothing
    (allow(StringEquals={"aws:userid": "AROAEXAMPLE:*"}), True),
    (allow(StringEquals={"aws:userid": "AIDAEXAMPLE"}), False),
    (allow(Bool={"aws:SecureTransport": "true"}), True),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}, False),
    ({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::b/*"}, True),
])
def test_what_is_public(statement: dict[str, Any], public: bool) -> None:
    assert s3public.is_public(policy(statement)) is public


def test_one_public_statement_makes_the_policy_public() -> None:
    assert s3public.is_public(policy(allow({"AWS": "123456789012"}), allow()))
    assert not s3public.is_public(policy(allow({"AWS": "123456789012"})))


def test_anonymous_may_only_with_a_grant_to_everyone_not_restricted() -> None:
    restricted = dict(s3public.DEFAULT)
    assert s3public.anonymous_may(policy(allow()), None)
    assert not s3public.anonymous_may(policy(allow()), restricted)
    # held to addresses: not public, so RestrictPublicBuckets leaves it open
    assert s3public.anonymous_may(policy(allow(IpAddress={"aws:SourceIp": "10.0.0.0/8"})), restricted)
    assert not s3public.anonymous_may(policy(allow({"AWS": "arn:aws:iam::123456789012:root"})), None)
    assert not s3public.anonymous_may({}, None)


@pytest.mark.parametrize("headers, public", [
    ({"x-amz-acl": "public-read"}, True), ({"x-amz-acl": "Public-Read-Write"}, True),
    ({"x-amz-acl": "authenticated-read"}, True), ({"x-amz-acl": "private"}, False),
    ({"x-amz-acl": "bucket-owner-full-control"}, False),
    ({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}, True),
    ({"x-amz-grant-read": 'id="abc"'}, False), ({}, False),
])
def test_public_acls(headers: dict[str, str], public: bool) -> None:
    assert s3public.public_acl(headers) is public


def test_the_configuration_document() -> None:
    ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    assert s3.parse_public_access_block(
        f"<PublicAccessBlockConfiguration {ns}><BlockPublicPolicy>true</BlockPublicPolicy>"
        "<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>".encode()) == {
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    for bad in (b"<PublicAccessBlockConfiguration><Other>true</Other></PublicAccessBlockConfiguration>",
                b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>",
                b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><BlockPublicAcls>false"
                b"</BlockPublicAcls></PublicAccessBlockConfiguration>",
                b"<Other/>", b"not xml", b""):
        with pytest.raises(S3Error) as caught:
            s3.parse_public_access_block(bad)
        assert caught.value.code == "MalformedXML"


@given(st.binary(max_size=300))
def test_any_configuration_body_is_read_or_refused_as_malformed(body: bytes) -> None:
    try:
        out = s3.parse_public_access_block(body)
    except S3Error as err:
        assert err.code == "MalformedXML"
    else:
        assert set(out) == set(s3public.FLAGS) and all(isinstance(v, bool) for v in out.values())


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children,
                                                                                         max_size=4), max_leaves=20)


@given(_json)
def test_any_document_is_judged_without_failing(document: Any) -> None:
    assert isinstance(s3public.is_public(document), bool)
    assert isinstance(s3public.anonymous_may(document, dict(s3public.DEFAULT)), bool)


@given(st.dictionaries(st.text(max_size=25), st.one_of(st.booleans(), st.text(max_size=5)), max_size=5))
def test_check_block_takes_the_four_flags_only(config: dict[str, Any]) -> None:
    try:
        out = s3public.check_block(config)
    except S3Error as err:
        assert err.code == "MalformedXML"
        assert any(k not in s3public.FLAGS for k in config) or any(not isinstance(v, bool) for v in config.values())
    else:
        assert out == {f: config.get(f, False) for f in s3public.FLAGS}


@pytest.mark.parametrize("method, path, query, headers, bucket", [
    ("GET", "/site/index.html", "", [], "site"),
    ("HEAD", "/site", "", [], "site"),
    ("PUT", "/site/k", "", [("Content-Length", "1")], "site"),
    ("GET", "/k", "", [("Host", "site.s3.localhost:4566")], "site"),
    ("GET", "/site/k", "", [("Authorization", "AWS4-HMAC-SHA256 …")], None),
    ("GET", "/site/k", "X-Amz-Signature=00&X-Amz-Credential=x", [], None),
    ("GET", "/site/k", "AWSAccessKeyId=AKIA&Signature=x&Expires=1", [], None),
    ("GET", "/site/k", "", [("X-Amz-Security-Token", "t")], None),
    ("POST", "/site", "", [("X-Amz-Target", "AmazonSQS.SendMessage")], None),
    ("POST", "/service/GraniteServiceVersion20100801/operation/GetMetricData", "",
     [("smithy-protocol", "rpc-v2-cbor")], None),
    ("OPTIONS", "/site/k", "", [], None),
    ("GET", "/", "", [], None),
    ("GET", "/Upper/k", "", [], None),
    ("GET", "/ab/k", "", [], None),
])
def test_which_unsigned_requests_might_be_anonymous_s3(method: str, path: str, query: str,
                                                       headers: list[tuple[str, str]], bucket: str | None) -> None:
    assert s3.anonymous_bucket(method, path, query, headers) == bucket
