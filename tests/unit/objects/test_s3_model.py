"""S3's pure parts: ranges, names, key encoding in events, aws-chunked bodies, the notification
XML, SigV2 presigned URLs (botocore as the oracle), and listings over the real index."""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.api import s3 as wire
from cumulo.api import sigv2, sigv4
from cumulo.model import objects as m
from cumulo.model import s3events
from cumulo.model.objects import S3Error
from cumulo.objects.files import BodyFiles
from cumulo.objects.service import Content, ObjectService
from cumulo.store.sqlite_messages import SQLiteMessageStore


@given(st.binary(max_size=64), st.integers(0, 80), st.integers(0, 80) | st.none())
def test_a_range_is_the_slice_python_takes(data: bytes, first: int, last: int | None) -> None:
    header = f"bytes={first}-{'' if last is None else last}"
    if last is not None and last < first:
        assert m.parse_range(header, len(data)) is None
        return
    if first >= len(data):
        with pytest.raises(S3Error) as caught:
            m.parse_range(header, len(data))
        assert (caught.value.code, caught.value.status) == ("InvalidRange", 416)
        return
    r = m.parse_range(header, len(data))
    assert r is not None
    end = len(data) if last is None else last + 1
    assert data[r.start:r.end + 1] == data[first:end]


@given(st.binary(min_size=1, max_size=64), st.integers(1, 80))
def test_a_suffix_range_is_the_last_bytes(data: bytes, n: int) -> None:
    r = m.parse_range(f"bytes=-{n}", len(data))
    assert r is not None and data[r.start:r.end + 1] == data[-n:]


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{1,40}[a-z0-9]", fullmatch=True))
def test_names_of_letters_digits_and_hyphens_are_valid(name: str) -> None:
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith("-s3alias"):
        return
    m.check_bucket_name(name)


@given(st.text(min_size=1, max_size=100))
def test_an_event_key_decodes_back_to_the_key(key: str) -> None:
    encoded = s3events.encode_key(key)
    assert " " not in encoded and unquote_plus(encoded) == key


def test_an_event_key_as_the_s3_guide_shows_it() -> None:
    assert s3events.encode_key("red flower.jpg") == "red+flower.jpg"
    assert s3events.encode_key("images/a+b (1).jpg") == "images/a%2Bb+%281%29.jpg"


def _chunked(chunks: list[bytes], key: bytes, stamp: str, scope: str, seed: str) -> bytes:
    body, previous = b"", seed
    for chunk in [*chunks, b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, hashlib.sha256(b"").hexdigest(),
                             hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    return body


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=5), st.data())
def test_aws_chunked_bodies_decode_and_any_change_is_caught(chunks: list[bytes], data: st.DataObject) -> None:
    signing = (b"k" * 32, "20260101T000000Z", "20260101/us-east-1/s3/aws4_request", "ab" * 32)
    body = _chunked(chunks, *signing)
    assert sigv4.decode_chunked(body, signing) == (b"".join(chunks), {})
    if chunks:
        i = data.draw(st.integers(0, len(body) - 1))
        flipped = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
        with pytest.raises((sigv4.InvalidSignatureException, sigv4.IncompleteSignatureException)):
            sigv4.decode_chunked(flipped, signing)


def test_an_unsigned_chunked_body_with_a_checksum_trailer() -> None:
    body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
    assert sigv4.decode_chunked(body) == (b"hello", {"x-amz-checksum-crc32": "NhCmhg=="})


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_refused_as_malformed(body: bytes) -> None:
    try:
        sigv4.decode_chunked(body)
    except sigv4.IncompleteSignatureException:
        pass


ARN = {"lambda": "arn:aws:lambda:us-east-1:123456789012:function:f", "sqs": "arn:aws:sqs:us-east-1:123456789012:q",
       "sns": "arn:aws:sns:us-east-1:123456789012:t"}
XML_TEXT = st.characters(blacklist_categories=("Cc", "Cs"))     # what XML 1.0 can carry
configs = st.fixed_dictionaries({}, optional={
    "LambdaFunctionConfigurations": st.lists(st.fixed_dictionaries({
        "Id": st.text("abc-", min_size=1, max_size=8), "LambdaFunctionArn": st.just(ARN["lambda"]),
        "Events": st.lists(st.sampled_from(sorted(s3events.EVENT_TYPES)), min_size=1, max_size=2),
        "Filter": st.fixed_dictionaries({"Key": st.fixed_dictionaries({"FilterRules": st.lists(
            st.fixed_dictionaries({"Name": st.sampled_from(["prefix", "suffix"]),
                                   "Value": st.text(XML_TEXT, max_size=10)}), min_size=1, max_size=2)})})}),
        min_size=1, max_size=3),
    "QueueConfigurations": st.lists(st.fixed_dictionaries({
        "QueueArn": st.just(ARN["sqs"]),
        "Events": st.lists(st.sampled_from(sorted(s3events.EVENT_TYPES)), min_size=1, max_size=2)}),
        min_size=1, max_size=2),
    "EventBridgeConfiguration": st.just({})})


@given(configs)
def test_the_notification_xml_reads_back_what_it_wrote(config: dict[str, Any]) -> None:
    assert wire.parse_notification(wire.render_notification(config)) == config


@given(st.binary(max_size=300))
def test_any_body_parses_or_is_malformed_xml(body: bytes) -> None:
    try:
        wire.parse_notification(body)
    except S3Error as err:
        assert err.code == "MalformedXML"


def test_a_dtd_is_refused() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><NotificationConfiguration/>'
    with pytest.raises(S3Error):
        wire.parse_notification(body)


def test_configurations_are_checked_as_s3_does() -> None:
    good = {"Events": ["s3:ObjectCreated:*"], "LambdaFunctionArn": ARN["lambda"]}
    for bad, message in [
        ({**good, "Events": ["s3:ObjectCreated:Get"]}, "The event is not supported for notifications"),
        ({**good, "LambdaFunctionArn": "not-an-arn"}, "The ARN is not well formed"),
        ({**good, "Filter": {"Key": {"FilterRules": [{"Name": "middle", "Value": "x"}]}}},
         "filter rule name must be either prefix or suffix")]:
        with pytest.raises(S3Error) as caught:
            s3events.check_configuration({"LambdaFunctionConfigurations": [bad]})
        assert (caught.value.code, caught.value.message) == ("InvalidArgument", message)
    with pytest.raises(S3Error, match="overlap"):
        s3events.check_configuration({"LambdaFunctionConfigurations": [
            good, {**good, "Events": ["s3:ObjectCreated:Put"]}]})
    split = [{**good, "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": p}]}}} for p in ("a/", "b/")]
    assert len(s3events.check_configuration({"LambdaFunctionConfigurations": split})["LambdaFunctionConfigurations"]) == 2


def test_destinations_follow_event_names_and_filters() -> None:
    config = s3events.check_configuration({"LambdaFunctionConfigurations": [{
        "Id": "images", "LambdaFunctionArn": ARN["lambda"], "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"}, {"Name": "Suffix", "Value": ".jpg"}]}}}],
        "QueueConfigurations": [{"QueueArn": ARN["sqs"], "Events": ["s3:ObjectRemoved:Delete"]}]})
    assert [d.configuration_id for d in s3events.destinations(config, "ObjectCreated:Put", "in/a.jpg")] == ["images"]
    assert s3events.destinations(config, "ObjectCreated:Put", "out/a.jpg") == []
    assert s3events.destinations(config, "ObjectCreated:Put", "in/a.png") == []
    assert [d.service for d in s3events.destinations(config, "ObjectRemoved:Delete", "in/a.jpg")] == ["sqs"]


def test_sigv2_presigned_urls_verify_as_botocore_signs_them() -> None:
    import boto3
    client = boto3.session.Session().client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                                            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    for params in ({"Bucket": "bkt", "Key": "a b/c+d é.txt"},
                   {"Bucket": "bkt", "Key": "k", "ResponseContentType": "text/plain"}):
        url = client.generate_presigned_url("get_object", Params=params)
        parts = urlsplit(url)
        principal = sigv2.verify_presigned("GET", parts.path, parts.query, [("host", parts.netloc)],
                                           lambda key, token: "secret" if key == "AKIDEXAMPLE" else None,
                                           datetime.now(timezone.utc))
        assert principal.access_key_id == "AKIDEXAMPLE"
        with pytest.raises(sigv4.InvalidSignatureException):
            sigv2.verify_presigned("PUT", parts.path, parts.query, [], lambda key, token: "secret",
                                   datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def service() -> Any:
    home = Path(tempfile.mkdtemp())
    store = SQLiteMessageStore(home / "queues.db")
    yield ObjectService(store.objects, BodyFiles(home / "objects"), "us-east-1", "123456789012")
    store.close()


def _reference(keys: list[str], prefix: str, delimiter: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        i = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = ("prefix", key[:i + len(delimiter)]) if i >= 0 else ("key", key)
        if entry not in out:
            out.append(entry)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text("ab/é", min_size=1, max_size=6), max_size=25, unique=True), st.text("ab/", max_size=2),
       st.sampled_from(["", "/", "b"]), st.integers(1, 7))
def test_listing_pages_are_the_reference_listing(service: Any, keys: list[str], prefix: str, delimiter: str,
                                                 page: int) -> None:
    bucket = "list-" + hashlib.md5(repr((keys, prefix, delimiter, page)).encode()).hexdigest()[:20]
    service.create_bucket(bucket)
    for key in keys:
        service.put_object(bucket, key, b"", Content())
    seen: list[tuple[str, str]] = []
    after = ""
    for _ in range(100):
        listing = service.list_objects(bucket, prefix, delimiter, page, after)
        assert len(listing.contents) + len(listing.prefixes) <= page
        merged = sorted([("key", r.key) for r in listing.contents] + [("prefix", p) for p in listing.prefixes],
                        key=lambda e: e[1].encode())
        seen += merged
        if not listing.truncated:
            break
        after = listing.next_after
    assert seen == _reference(keys, prefix, delimiter)
