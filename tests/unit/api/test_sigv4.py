"""SigV4 verification against requests signed by the real client, botocore.

``sign`` signs with botocore at a frozen time and ``wire`` turns the signed request into what
a server receives (the HTTP client adds ``Host`` and ``Content-Length``; path and query go
out as they are), so every accepting test is "botocore signed it, we agree".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.api.sigv4 import (
    IncompleteSignatureException,
    IncomingRequest,
    InvalidSignatureException,
    Key,
    MissingAuthenticationTokenException,
    Principal,
    UnrecognizedClientException,
    XAmzContentSHA256Mismatch,
    verify,
)

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SIGNED_AT = datetime(2024, 1, 1, tzinfo=timezone.utc)
ENDPOINT = "http://localhost:9001"
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
LAMBDA = Principal("AKIDEXAMPLE", "us-east-1", "lambda")


def secrets(key_id: str, token: str | None = None) -> str | None:
    return {CREDS.access_key: CREDS.secret_key}.get(key_id)


def wire(request: AWSRequest) -> IncomingRequest:
    prepared = request.prepare()  # its headers fold repeats into one: take them from the request
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    return IncomingRequest(prepared.method, url.path, url.query, [("Host", url.netloc), *request.headers.items()],
                           body if isinstance(body, bytes) else body.encode())


def sign(method: str = "GET", path: str = "/2015-03-31/functions/", query: str = "", body: bytes = b"",
         headers: list[tuple[str, str]] | None = None, at: datetime = SIGNED_AT, signer: Any = None) -> IncomingRequest:
    request = AWSRequest(method=method, url=f"{ENDPOINT}{path}" + (f"?{query}" if query else ""), data=body)
    for name, value in headers or []:
        request.headers[name] = value  # appends: repeated names stay repeated
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        (signer or SigV4Auth(CREDS, "lambda", "us-east-1")).add_auth(request)
    return wire(request)


def with_header(request: IncomingRequest, name: str, value: str) -> IncomingRequest:
    kept = [(k, v) for k, v in request.headers if k.lower() != name.lower()]
    return dataclasses.replace(request, headers=[*kept, (name, value)])


def rejected(request: IncomingRequest, now: datetime = SIGNED_AT) -> InvalidSignatureException:
    with pytest.raises(InvalidSignatureException) as caught:
        verify(request, secrets, now)
    return caught.value


# --- accepted ----------------------------------------------------------------------------

def test_get_verifies_and_names_the_principal() -> None:
    assert verify(sign(), secrets, SIGNED_AT) == LAMBDA


def test_post_with_json_body_verifies() -> None:
    body = json.dumps({"FunctionName": "f", "Runtime": "python3.12", "Environment": {"A": "é"}}).encode()
    request = sign("POST", body=body, headers=[("Content-Type", "application/json")])
    assert verify(request, secrets, SIGNED_AT) == LAMBDA


@pytest.mark.parametrize("function", [
    "$LATEST", "my function", "fünction-ñ", "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
])
def test_paths_encoded_as_boto3_encodes_them_verify(function: str) -> None:
    request = sign("POST", f"/2015-03-31/functions/{percent_encode(function)}/invocations", body=b"{}")
    assert verify(request, secrets, SIGNED_AT) == LAMBDA


@pytest.mark.parametrize("path", ["", "/", "/a//b/", "/a/./b/../c", "/a/b/..", "/~user/x%2Fy"])
def test_paths_botocore_normalises_verify(path: str) -> None:
    assert verify(sign(path=path), secrets, SIGNED_AT) == LAMBDA


@pytest.mark.parametrize("query", [
    percent_encode_sequence([("Marker", "abc/def==+x"), ("MaxItems", "10")]),
    "a=2&a=1&a=10&b=",
    "FunctionVersion=ALL&empty=&flag",
    percent_encode_sequence([("q", "sp ace:$&=?/ü~*'()!")]),
])
def test_query_strings_verify(query: str) -> None:
    assert verify(sign(query=query), secrets, SIGNED_AT) == LAMBDA


def test_query_given_as_params_dict_verifies() -> None:
    """botocore signs ``params`` encoded with %20 but sends them via urlencode, i.e. with '+'."""
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/2015-03-31/functions/",
                         params={"Marker": "a b/c", "MaxItems": "5"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT.replace(tzinfo=None)):
        SigV4Auth(CREDS, "lambda", "us-east-1").add_auth(request)
    incoming = wire(request)
    assert "+" in incoming.query_string
    assert verify(incoming, secrets, SIGNED_AT) == LAMBDA


def test_headers_with_extra_spaces_and_repeats_verify() -> None:
    request = sign(headers=[("X-Custom", "  a   b \t c  "), ("X-Multi", "one"), ("x-multi", " two  2 ")])
    assert verify(request, secrets, SIGNED_AT) == LAMBDA


def test_header_whitespace_changed_in_transit_still_verifies() -> None:
    request = sign(headers=[("X-Custom", "a b")])
    assert verify(with_header(request, "x-custom", "   a     b "), secrets, SIGNED_AT) == LAMBDA


@pytest.mark.parametrize("declared", ["body", "UNSIGNED-PAYLOAD"])
def test_declared_content_sha256_verifies(declared: str) -> None:
    body = b'{"k": 1}'
    value = hashlib.sha256(body).hexdigest() if declared == "body" else declared
    request = sign("POST", body=body, headers=[("X-Amz-Content-SHA256", value)])
    assert verify(request, secrets, SIGNED_AT) == LAMBDA


def test_s3_signer_path_is_not_double_encoded() -> None:
    request = sign("PUT", "/bucket/a%20key%24", body=b"data", signer=S3SigV4Auth(CREDS, "s3", "us-east-1"))
    assert verify(request, secrets, SIGNED_AT) == Principal("AKIDEXAMPLE", "us-east-1", "s3")


def test_date_header_instead_of_x_amz_date_verifies() -> None:
    request = sign(headers=[("Date", "whatever; botocore rewrites it")])
    assert not any(k.lower() == "x-amz-date" for k, _ in request.headers)
    assert verify(request, secrets, SIGNED_AT) == LAMBDA


def test_naive_now_is_utc() -> None:
    assert verify(sign(), secrets, SIGNED_AT.replace(tzinfo=None)) == LAMBDA


# --- presigned URLs ------------------------------------------------------------------------

def test_presigned_url_verifies() -> None:
    signer = SigV4QueryAuth(CREDS, "lambda", "us-east-1", expires=300)
    request = sign(query=percent_encode_sequence([("Marker", "m/1"), ("MaxItems", "2")]), signer=signer)
    assert not any(k.lower() == "authorization" for k, _ in request.headers)
    assert verify(request, secrets, SIGNED_AT + timedelta(seconds=300)) == LAMBDA


def test_presigned_s3_url_with_unsigned_payload_accepts_any_body() -> None:
    request = sign("PUT", "/bucket/key", signer=S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=60))
    assert verify(dataclasses.replace(request, body=b"anything"), secrets, SIGNED_AT).service == "s3"


def test_presigned_url_expires() -> None:
    request = sign(signer=SigV4QueryAuth(CREDS, "lambda", "us-east-1", expires=300))
    assert rejected(request, SIGNED_AT + timedelta(seconds=301)).message == "Request has expired"


def test_presigned_url_not_yet_current() -> None:
    request = sign(signer=SigV4QueryAuth(CREDS, "lambda", "us-east-1", expires=300))
    assert "not yet current" in rejected(request, SIGNED_AT - timedelta(minutes=15, seconds=1)).message


def test_presigned_url_tampered_query_is_rejected() -> None:
    request = sign(query="MaxItems=2", signer=SigV4QueryAuth(CREDS, "lambda", "us-east-1", expires=60))
    assert verify(request, secrets, SIGNED_AT) == LAMBDA
    tampered = dataclasses.replace(request, query_string=request.query_string.replace("MaxItems=2", "MaxItems=3"))
    assert rejected(tampered).message == MISMATCH


@pytest.mark.parametrize("edit, expected", [
    (lambda q: q.replace("X-Amz-Expires=60", "X-Amz-Expires=0"), "X-Amz-Expires"),
    (lambda q: q.replace("X-Amz-Expires=60", "X-Amz-Expires=604801"), "X-Amz-Expires"),
    (lambda q: q.replace("X-Amz-Credential=", "X-Amz-Nope="), "must include"),
    (lambda q: q.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"), "algorithm"),
])
def test_malformed_presigned_url_is_incomplete(edit: Callable[[str], str], expected: str) -> None:
    request = sign(signer=SigV4QueryAuth(CREDS, "lambda", "us-east-1", expires=60))
    with pytest.raises(IncompleteSignatureException, match=expected):
        verify(dataclasses.replace(request, query_string=edit(request.query_string)), secrets, SIGNED_AT)


def test_header_and_query_auth_together_is_incomplete() -> None:
    presigned = sign(signer=SigV4QueryAuth(CREDS, "lambda", "us-east-1", expires=60))
    both = dataclasses.replace(sign(), query_string=presigned.query_string)
    with pytest.raises(IncompleteSignatureException, match="Only one auth mechanism"):
        verify(both, secrets, SIGNED_AT)


# --- a real boto3 client ---------------------------------------------------------------------

class _Sent(Exception):
    pass


def from_boto3(call: Callable[[Any], object], service: str = "lambda") -> IncomingRequest:
    client = boto3.client(service, region_name="eu-west-1", endpoint_url=ENDPOINT,
                          aws_access_key_id=CREDS.access_key, aws_secret_access_key=CREDS.secret_key,
                          config=Config(retries={"max_attempts": 0}))
    sent: list[Any] = []

    def capture(request: Any, **_: object) -> None:
        sent.append(request)
        raise _Sent

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Sent):
        call(client)
    url, body = urlsplit(sent[0].url), sent[0].body or b""
    headers = [(k, v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in sent[0].headers.items()]
    return IncomingRequest(sent[0].method, url.path, url.query, [("Host", url.netloc), *headers],
                           body if isinstance(body, bytes) else body.encode())


@pytest.mark.parametrize("call", [
    lambda c: c.invoke(FunctionName="arn:aws:lambda:eu-west-1:123456789012:function:f", Qualifier="$LATEST",
                       Payload=b'{"a": [1, 2]}'),
    lambda c: c.list_functions(Marker="tok/en+==", MaxItems=10),
    lambda c: c.get_function(FunctionName="my-func:$LATEST"),
    lambda c: c.create_function(FunctionName="f", Role="arn:aws:iam::1:role/r", Code={"ZipFile": b"PK\x05\x06"}),
], ids=["invoke-arn-latest", "list-marker", "get-qualified", "create-zip"])
def test_real_boto3_lambda_client_verifies(call: Callable[[Any], object]) -> None:
    request = from_boto3(call)
    assert verify(request, secrets, datetime.now(timezone.utc)) == Principal("AKIDEXAMPLE", "eu-west-1", "lambda")


# --- rejected ------------------------------------------------------------------------------

@pytest.mark.parametrize("tamper", [
    lambda r: dataclasses.replace(r, body=r.body + b" "),
    lambda r: dataclasses.replace(r, raw_path=r.raw_path.replace("%24LATEST", "%24LATESU")),
    lambda r: dataclasses.replace(r, query_string="Qualifier=2"),
    lambda r: dataclasses.replace(r, method="PUT"),
    lambda r: with_header(r, "Content-Type", "text/plain"),
    lambda r: with_header(r, "Host", "localhost:9002"),
], ids=["body", "path", "query", "method", "signed-header", "host"])
def test_tampered_request_is_rejected(tamper: Callable[[IncomingRequest], IncomingRequest]) -> None:
    request = sign("POST", "/2015-03-31/functions/f%24LATEST/invocations", query="Qualifier=1",
                   body=b'{"x": 1}', headers=[("Content-Type", "application/json")])
    assert verify(request, secrets, SIGNED_AT) == LAMBDA
    assert rejected(tamper(request)).message == MISMATCH


def test_unsigned_header_may_change() -> None:
    request = sign()
    assert verify(with_header(request, "User-Agent", "other"), secrets, SIGNED_AT) == LAMBDA


def test_declared_content_sha256_not_matching_body_is_rejected() -> None:
    body = b'{"k": 1}'
    request = sign("POST", body=body, headers=[("X-Amz-Content-SHA256", hashlib.sha256(body).hexdigest())])
    with pytest.raises(XAmzContentSHA256Mismatch) as caught:
        verify(dataclasses.replace(request, body=b'{"k": 2}'), secrets, SIGNED_AT)
    assert caught.value.status == 400


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidSignatureException) as caught:
        verify(sign(), lambda key, token: "not-the-secret", SIGNED_AT)
    assert (caught.value.message, caught.value.status) == (MISMATCH, 403)


def test_unknown_access_key_is_unrecognized() -> None:
    with pytest.raises(UnrecognizedClientException) as caught:
        verify(sign(), lambda key, token: None, SIGNED_AT)
    assert caught.value.message == "The security token included in the request is invalid."
    assert caught.value.status == 403


def test_missing_authentication() -> None:
    request = IncomingRequest("GET", "/2015-03-31/functions/", "", [("Host", "localhost")], b"")
    with pytest.raises(MissingAuthenticationTokenException) as caught:
        verify(request, secrets, SIGNED_AT)
    assert (caught.value.message, caught.value.status) == ("Missing Authentication Token", 403)


def test_non_hex_signature_is_a_mismatch() -> None:
    request = sign()
    header = dict((k.lower(), v) for k, v in request.headers)["authorization"]
    forged = header[: header.index("Signature=")] + "Signature=ü" + "0" * 63
    assert rejected(with_header(request, "Authorization", forged)).message == MISMATCH


_CRED = "Credential=AKIDEXAMPLE/20240101/us-east-1/lambda/aws4_request"


@pytest.mark.parametrize("authorization, expected", [
    ("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=ab", "requires 'Credential' parameter"),
    (f"AWS4-HMAC-SHA256 {_CRED}, Signature=ab", "requires 'SignedHeaders' parameter"),
    (f"AWS4-HMAC-SHA256 {_CRED}, SignedHeaders=host;x-amz-date", "requires 'Signature' parameter"),
    ("Bearer eyJhbGciOi.eyJzdWIiOiI5", "requires 'Credential' parameter. Authorization header requires 'Signature'"),
    (f"AWS4-HMAC-SHA1 {_CRED}, SignedHeaders=host, Signature=ab", "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'"),
    ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/aws4_request, SignedHeaders=host, Signature=ab",
     "exactly 5 slash-delimited elements"),
    ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws5_request, SignedHeaders=host, Signature=ab",
     "valid terminator: 'aws4_request', not 'aws5_request'"),
    (f"AWS4-HMAC-SHA256 {_CRED}, SignedHeaders=x-amz-date, Signature=ab", "'Host' or ':authority' must be"),
    ("AWS4-HMAC-SHA256 Credential= AKID/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=ab",
     "'AKID/20240101/us-east-1/lambda/aws4_request' not a valid key=value pair"),
])
def test_malformed_authorization_is_incomplete(authorization: str, expected: str) -> None:
    request = with_header(sign(), "Authorization", authorization)
    with pytest.raises(IncompleteSignatureException, match=expected) as caught:
        verify(request, secrets, SIGNED_AT)
    assert caught.value.status == 400


def test_missing_date_is_incomplete() -> None:
    request = sign()
    request = dataclasses.replace(request, headers=[(k, v) for k, v in request.headers if k.lower() != "x-amz-date"])
    with pytest.raises(IncompleteSignatureException, match="either a 'X-Amz-Date' or a 'Date' header"):
        verify(request, secrets, SIGNED_AT)


@pytest.mark.parametrize("value", ["2024-01-01T00:00:00Z", "20240101T000000", "2024011T0000000Z", ""])
def test_unparseable_x_amz_date_is_incomplete(value: str) -> None:
    with pytest.raises(IncompleteSignatureException, match="ISO-8601 'basic format'"):
        verify(with_header(sign(), "X-Amz-Date", value), secrets, SIGNED_AT)


def test_unparseable_date_header_is_incomplete() -> None:
    request = sign(headers=[("Date", "x")])
    with pytest.raises(IncompleteSignatureException, match="ISO-8601"):
        verify(with_header(request, "Date", "yesterday"), secrets, SIGNED_AT)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=15), -timedelta(minutes=15)])
def test_clock_skew_up_to_15_minutes_is_accepted(offset: timedelta) -> None:
    assert verify(sign(), secrets, SIGNED_AT + offset) == LAMBDA


def test_signature_expired_after_15_minutes() -> None:
    assert rejected(sign(), SIGNED_AT + timedelta(minutes=15, seconds=1)).message == (
        "Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z (20240101T001501Z - 15 min.)")
    assert rejected(sign(), SIGNED_AT + timedelta(minutes=30)).message == (
        "Signature expired: 20240101T000000Z is now earlier than 20240101T001500Z (20240101T003000Z - 15 min.)")


def test_signature_not_yet_current_beyond_15_minutes() -> None:
    error = rejected(sign(at=SIGNED_AT + timedelta(hours=1)), SIGNED_AT + timedelta(minutes=30))
    assert error.message == ("Signature not yet current: 20240101T010000Z is still later than "
                             "20240101T004500Z (20240101T003000Z + 15 min.)")
    assert rejected(sign(), SIGNED_AT - timedelta(minutes=15, seconds=1)).status == 403


def test_max_skew_is_configurable() -> None:
    with pytest.raises(InvalidSignatureException, match=r"\(20240101T000600Z - 5 min\.\)"):
        verify(sign(), secrets, SIGNED_AT + timedelta(minutes=6), max_skew=timedelta(minutes=5))


def test_scope_date_must_be_the_request_date() -> None:
    request = with_header(sign(at=SIGNED_AT - timedelta(seconds=1)), "X-Amz-Date", "20240101T000001Z")
    assert rejected(request).message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20231231' != '20240101', from '20240101T000001Z'.")


# --- properties ----------------------------------------------------------------------------

_segment = st.one_of(st.sampled_from(["", ".", ".."]), st.text(min_size=1, max_size=12))
_pairs = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(segments=st.lists(_segment, max_size=6), pairs=_pairs, body=st.binary(max_size=64),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), trailing=st.booleans())
def test_anything_botocore_signs_verifies(segments: list[str], pairs: list[tuple[str, str]], body: bytes,
                                          method: str, trailing: bool) -> None:
    path = "/" + "/".join(s if s in ("", ".", "..") else percent_encode(s) for s in segments) + "/" * trailing
    request = sign(method, path, query=percent_encode_sequence(pairs), body=body)
    assert verify(request, secrets, SIGNED_AT) == LAMBDA


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=32), flip=st.integers(min_value=0))
def test_any_changed_body_is_rejected(body: bytes, flip: int) -> None:
    request = sign("POST", body=body)
    changed = bytearray(body or b"\0")
    changed[flip % len(changed)] ^= 1
    assert rejected(dataclasses.replace(request, body=bytes(changed))).message == MISMATCH


def test_our_signer_produces_requests_that_verify() -> None:
    from cumulo.api.sigv4 import sign

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    base = IncomingRequest("POST", "/2015-03-31/functions/f%3A1/invocations", "Qualifier=%24LATEST",
                           [("host", "127.0.0.1:9000"), ("x-amz-log-type", "Tail")], b'{"a": 1}')
    headers = base.headers + sign(base, "AKIDEXAMPLE", "secret", "us-east-1", "lambda", now)
    signed = IncomingRequest(base.method, base.raw_path, base.query_string, headers, base.body)
    principal = verify(signed, {"AKIDEXAMPLE": "secret"}.get, now)
    assert (principal.access_key_id, principal.region, principal.service) == ("AKIDEXAMPLE", "us-east-1", "lambda")
    from cumulo.api.sigv4 import XAmzContentSHA256Mismatch

    tampered = IncomingRequest(base.method, base.raw_path, base.query_string, headers, b'{"a": 2}')
    with pytest.raises(XAmzContentSHA256Mismatch):
        verify(tampered, {"AKIDEXAMPLE": "secret"}.get, now)
    moved = IncomingRequest(base.method, base.raw_path.replace("f%3A1", "g"), base.query_string, headers, base.body)
    with pytest.raises(InvalidSignatureException):
        verify(moved, {"AKIDEXAMPLE": "secret"}.get, now)


# --- every x-amz-* header signed; admit (head) then check (body) ------------------------------

def unsigned_message(*names: str) -> str:
    return (f"There were headers present in the request which were not signed: {', '.join(names)}. "
            "Every x-amz-* header a request carries must be one of its SignedHeaders.")


@pytest.mark.parametrize("name, value", [
    ("X-Amz-Target", "AmazonSQS.DeleteQueue"), ("X-Amz-Invocation-Type", "Event"), ("x-amz-log-type", "Tail"),
    ("X-Amz-Client-Context", "e30="), ("X-Amz-User-Agent", "aws-sdk-js/3"), ("X-Amz-Security-Token", "tok"),
])
def test_an_x_amz_header_added_after_signing_is_refused(name: str, value: str) -> None:
    request = sign("POST", "/2015-03-31/functions/f/invocations", body=b"{}")
    assert rejected(with_header(request, name, value)).message == unsigned_message(name.lower())


def test_every_unsigned_x_amz_header_is_named_once_and_x_amzn_headers_are_not_ours_to_require() -> None:
    request = sign()
    request = dataclasses.replace(request, headers=[*request.headers, ("X-Amz-Log-Type", "Tail"),
                                                    ("x-amz-log-type", "None"), ("X-Amz-Target", "x.Y")])
    assert rejected(request).message == unsigned_message("x-amz-log-type", "x-amz-target")
    assert verify(with_header(sign(), "X-Amzn-Trace-Id", "Root=1-abc"), secrets, SIGNED_AT) == LAMBDA


def test_signed_x_amz_headers_verify() -> None:
    request = sign("POST", "/2015-03-31/functions/f/invocations", body=b"{}",
                   headers=[("X-Amz-Invocation-Type", "Event"), ("X-Amz-Log-Type", "Tail"),
                            ("X-Amz-Client-Context", "e30=")])
    assert verify(request, secrets, SIGNED_AT) == LAMBDA


def test_a_presigned_url_with_an_unsigned_x_amz_header_is_refused() -> None:
    request = sign(signer=SigV4QueryAuth(CREDS, "lambda", "us-east-1", expires=60))
    assert verify(request, secrets, SIGNED_AT) == LAMBDA
    assert rejected(with_header(request, "X-Amz-Invocation-Type", "Event")).message == \
        unsigned_message("x-amz-invocation-type")


def test_admit_needs_no_body_and_check_then_needs_the_signed_one() -> None:
    from cumulo.api.sigv4 import admit, check

    request = sign("POST", "/2015-03-31/functions/f/invocations", body=b'{"big": "payload"}')
    admitted = admit(dataclasses.replace(request, body=b""), secrets, SIGNED_AT)
    assert check(request, admitted) == LAMBDA
    with pytest.raises(InvalidSignatureException):
        check(dataclasses.replace(request, body=b'{"big": "other"}'), admitted)
    looked_up: list[str] = []

    def lookup(key_id: str, token: str | None) -> str | None:
        looked_up.append(key_id)
        return None

    with pytest.raises(UnrecognizedClientException):
        admit(dataclasses.replace(request, body=b""), lookup, SIGNED_AT)
    assert looked_up == ["AKIDEXAMPLE"]
    with pytest.raises(InvalidSignatureException, match="Signature expired"):   # the clock, before any key
        admit(request, lookup, SIGNED_AT + timedelta(hours=1))
    assert looked_up == ["AKIDEXAMPLE"]


@pytest.mark.parametrize("service, call", [
    ("lambda", lambda c: c.invoke(FunctionName="f", InvocationType="Event", LogType="Tail", ClientContext="e30=",
                                  Payload=b"{}")),
    ("sqs", lambda c: c.list_queues()),
    ("events", lambda c: c.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])),
    ("stepfunctions", lambda c: c.list_state_machines()),
    ("kinesis", lambda c: c.list_streams()),
], ids=["lambda-invoke-headers", "sqs", "events", "stepfunctions", "kinesis"])
def test_boto3_signs_every_x_amz_header_it_sends(service: str, call: Callable[[Any], object]) -> None:
    request = from_boto3(call, service)
    assert any(k.lower().startswith("x-amz-") and k.lower() != "x-amz-date" for k, _ in request.headers)
    assert verify(request, secrets, datetime.now(timezone.utc)).service == service.replace("stepfunctions", "states")


_amz_name = st.from_regex(r"[Xx]-[Aa][Mm][Zz]-[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
    lambda name: name.lower() not in ("x-amz-date", "x-amz-content-sha256"))   # these two mean something
_value = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=20)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=st.lists(st.tuples(_amz_name, _value), min_size=1, max_size=4), signed=st.booleans())
def test_any_x_amz_header_verifies_when_signed_and_is_refused_when_not(extra: list[tuple[str, str]],
                                                                      signed: bool) -> None:
    if signed:
        assert verify(sign("POST", body=b"{}", headers=extra), secrets, SIGNED_AT) == LAMBDA
    else:
        request = sign("POST", body=b"{}")
        added = dataclasses.replace(request, headers=[*request.headers, *extra])
        assert rejected(added).message == unsigned_message(*sorted({name.lower() for name, _ in extra}))


# --- whose key: the lookup's answer reaches the Principal -----------------------------------

ROOT = "arn:aws:iam::123456789012:root"
SESSION = "arn:aws:sts::123456789012:assumed-role/MyRole/my-fn"
ROLE = "arn:aws:iam::123456789012:role/MyRole"


def test_the_principal_names_the_keys_owner() -> None:
    def keys(key_id: str, token: str | None) -> Key | None:
        return Key(CREDS.secret_key, ROOT) if key_id == CREDS.access_key and token is None else None
    principal = verify(sign(), keys, SIGNED_AT)
    assert (principal.arn, principal.role_arn, principal.session_name, principal.account) == \
        (ROOT, None, None, "123456789012")


@pytest.mark.parametrize("query_auth", [False, True], ids=["header", "presigned"])
def test_a_session_token_reaches_the_lookup_and_its_session_the_principal(query_auth: bool) -> None:
    session = Credentials("ASIAEXAMPLEEXAMPLE22", CREDS.secret_key, "the/session+token==")
    seen: list[tuple[str, str | None]] = []

    def keys(key_id: str, token: str | None) -> Key:
        seen.append((key_id, token))
        return Key(CREDS.secret_key, SESSION, ROLE, "my-fn")
    signer = SigV4QueryAuth(session, "lambda", "us-east-1", expires=60) if query_auth \
        else SigV4Auth(session, "lambda", "us-east-1")
    principal = verify(sign(signer=signer), keys, SIGNED_AT)
    assert seen == [("ASIAEXAMPLEEXAMPLE22", "the/session+token==")]
    assert principal == Principal("ASIAEXAMPLEEXAMPLE22", "us-east-1", "lambda", SESSION, ROLE, "my-fn")


def test_an_unsigned_session_token_is_refused() -> None:
    request = sign()   # the token added after signing: anyone could swap it for another
    with pytest.raises(InvalidSignatureException, match="x-amz-security-token"):
        verify(with_header(request, "X-Amz-Security-Token", "token"), secrets, SIGNED_AT)


@given(separators=st.lists(st.text(alphabet=", \t", min_size=1, max_size=4), min_size=3, max_size=3),
       lead=st.text(alphabet=" \t", max_size=2))
def test_authorization_parameters_separated_by_any_run_of_commas_and_whitespace_verify(
        separators: list[str], lead: str) -> None:
    """AWS reads ``Credential=…, SignedHeaders=…, Signature=…`` split at runs of commas and
    whitespace: any such run between the parameters (and after the algorithm) verifies, and a
    changed signature behind the same separators is still refused."""
    request = sign("POST", "/2015-03-31/functions/f/invocations", body=b"{}")
    authorization = next(v for k, v in request.headers if k.lower() == "authorization")
    algorithm, rest = authorization.split(" ", 1)
    params = [p.strip() for p in rest.split(",")]
    respaced = algorithm + " " + lead + params[0] + separators[0] + params[1] + separators[1] + params[2] + \
        separators[2]
    assert verify(with_header(request, "Authorization", respaced), secrets, SIGNED_AT) == LAMBDA
    tampered = respaced.replace("Signature=", "Signature=0", 1)
    with pytest.raises(InvalidSignatureException):
        verify(with_header(request, "Authorization", tampered), secrets, SIGNED_AT)
