"""The query protocol (``api/query.py``): form parameters in, XML out, read by botocore's own parser."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.parsers import QueryParser
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.api import iam, query, sts
from cumulo.errors import CumuloError
from cumulo.identity.errors import NoSuchEntity

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
XML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
_SESSION = botocore.session.get_session()


def parsed(service: query.Service, operation: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """What boto3 makes of our answer to ``operation``."""
    reply = query.xml_result(service, operation, result, "req-1")
    model = _SESSION.get_service_model(service.name).operation_model(operation)
    return QueryParser().parse({"body": reply.body, "headers": dict(reply.headers), "status_code": reply.status},
                               model.output_shape)


@settings(max_examples=200)
@given(st.dictionaries(TEXT.filter(bool), TEXT, max_size=12))
def test_form_parameters_read_back_as_sent(params: dict[str, str]) -> None:
    assert query.parse_params(urlencode(params).encode()) == params


@settings(max_examples=300)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_body_is_parameters_or_malformed_never_another_error(body: bytes) -> None:
    try:
        params = query.parse_params(body)
    except query.MalformedQueryString as err:
        assert err.status == 400
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


def test_repeated_names_keep_the_first_and_lists_come_back_in_order() -> None:
    params = query.parse_params(b"A=1&A=2&Tags.member.2.Key=k2&Tags.member.2.Value=v2&Tags.member.1.Key=k1"
                                b"&Tags.member.1.Value=v1&Names.member.1=x&Names.member.10=z&Names.member.2=y")
    assert params["A"] == "1"
    assert query.members(params, "Tags") == [{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}]
    assert query.members(params, "Names") == ["x", "y", "z"]


@settings(max_examples=100)
@given(arn=XML_TEXT, user_id=XML_TEXT, account=st.from_regex(r"\d{12}", fullmatch=True))
def test_boto3_reads_get_caller_identity(arn: str, user_id: str, account: str) -> None:
    doc = {"UserId": user_id, "Account": account, "Arn": arn}
    got = parsed(sts.SERVICE, "GetCallerIdentity", doc)
    assert {k: got.get(k, "") for k in doc} == doc


@settings(max_examples=100)
@given(name=st.from_regex(r"[\w+=,.@-]{1,64}", fullmatch=True), description=XML_TEXT)
def test_boto3_reads_a_role_with_any_text_in_it(name: str, description: str) -> None:
    role = {"Path": "/", "RoleName": name, "RoleId": "AROAEXAMPLE", "Arn": f"arn:aws:iam::000000000000:role/{name}",
            "CreateDate": "2024-01-01T00:00:00Z", "AssumeRolePolicyDocument": "%7B%7D", "Description": description,
            "MaxSessionDuration": 3600, "Tags": [{"Key": "k&<", "Value": "v\"'>"}]}
    got = parsed(iam.SERVICE, "GetRole", {"Role": role})["Role"]
    assert got["RoleName"] == name and got.get("Description", "") == description
    assert got["MaxSessionDuration"] == 3600 and got["Tags"] == role["Tags"]


def test_boto3_reads_lists_booleans_and_empty_results() -> None:
    got = parsed(iam.SERVICE, "ListRolePolicies", {"PolicyNames": ["a", "b"], "IsTruncated": True, "Marker": "2"})
    assert (got["PolicyNames"], got["IsTruncated"], got["Marker"]) == (["a", "b"], True, "2")
    assert parsed(iam.SERVICE, "ListRolePolicies", {"PolicyNames": [], "IsTruncated": False})["PolicyNames"] == []
    assert "ResponseMetadata" in parsed(iam.SERVICE, "DeleteRole", None)


@settings(max_examples=100)
@given(message=XML_TEXT)
def test_boto3_reads_errors(message: str) -> None:
    reply = query.error_reply(iam.SERVICE, NoSuchEntity(message), "req-2")
    model = _SESSION.get_service_model("iam").operation_model("GetRole")
    got = QueryParser().parse({"body": reply.body, "headers": dict(reply.headers), "status_code": reply.status},
                              model.output_shape)
    assert reply.status == 404
    assert (got["Error"]["Code"], got["Error"].get("Message") or "", got["ResponseMetadata"]["RequestId"]) == \
        ("NoSuchEntity", message, "req-2")


@pytest.mark.parametrize("name, code", [("UnrecognizedClientException", "InvalidClientTokenId"),
                                        ("ExpiredTokenException", "ExpiredToken"),
                                        ("InvalidSignatureException", "SignatureDoesNotMatch")])
def test_signature_errors_carry_the_query_protocols_codes(name: str, code: str) -> None:
    err = type(name, (CumuloError,), {"status": 403})("m")
    assert query.code_of(err) == code
