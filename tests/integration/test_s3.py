"""S3 as its users meet it: unchanged boto3 and the AWS CLI against a real ``cumulo up``.

Buckets, objects, listings, ranges, conditional requests, multipart uploads, presigned URLs (SigV4
and boto3's default SigV2), aws-chunked bodies, and AWS's XML errors, field by field.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("s3") / "home", store=new_store())
    yield s
    s.close()


@pytest.fixture(scope="module")
def s3(server: CumuloServer) -> Any:
    return server.aws("s3")


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    # the test's name, its parameters ([postgresql]) too, as a bucket name may spell it
    name = "b-" + re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:50].strip("-")
    s3.create_bucket(Bucket=name)
    return name


def fetch(request: str | urllib.request.Request) -> tuple[int, bytes]:
    """(status, body) of a plain HTTP request, its connection closed."""
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()


def error(call: Any) -> tuple[str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call()
    e = caught.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]


def test_buckets_are_created_listed_headed_and_deleted(s3: Any) -> None:
    s3.create_bucket(Bucket="photos-2026")
    assert "photos-2026" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket="photos-2026")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket="photos-2026")["LocationConstraint"] is None
    s3.create_bucket(Bucket="photos-2026")     # us-east-1: creating your own bucket again answers 200
    s3.delete_bucket(Bucket="photos-2026")
    code, status, err = error(lambda: s3.head_bucket(Bucket="photos-2026"))
    assert (code, status) == ("404", 404)
    code, status, err = error(lambda: s3.delete_bucket(Bucket="photos-2026"))
    assert (code, status, err["Message"], err["BucketName"]) == (
        "NoSuchBucket", 404, "The specified bucket does not exist", "photos-2026")


@pytest.mark.parametrize("name", ["ab", "UPPER", "a..b", "192.168.5.4", "-abc", "xn--abc", "abc-s3alias", "a" * 64])
def test_bucket_names_are_checked_as_aws_does(s3: Any, name: str) -> None:
    code, status, err = error(lambda: s3.create_bucket(Bucket=name))
    assert (code, status, err["Message"]) == ("InvalidBucketName", 400, "The specified bucket is not valid.")


def test_a_bucket_with_objects_is_not_deleted(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    code, status, err = error(lambda: s3.delete_bucket(Bucket=bucket))
    assert (code, status, err["Message"]) == ("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")


def test_objects_round_trip_with_their_etag_type_and_metadata(s3: Any, bucket: str) -> None:
    body = b"hello, objects"
    put = s3.put_object(Bucket=bucket, Key="docs/a file+1.txt", Body=body, ContentType="text/plain",
                        Metadata={"owner": "ana"}, CacheControl="max-age=60", ContentDisposition="inline")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="docs/a file+1.txt")
    assert got["Body"].read() == body
    assert (got["ETag"], got["ContentType"], got["ContentLength"], got["Metadata"], got["CacheControl"],
            got["ContentDisposition"], got["AcceptRanges"]) == (
        put["ETag"], "text/plain", len(body), {"owner": "ana"}, "max-age=60", "inline", "bytes")
    head = s3.head_object(Bucket=bucket, Key="docs/a file+1.txt")
    assert (head["ContentLength"], head["ETag"], head["LastModified"]) == (len(body), put["ETag"], got["LastModified"])
    s3.put_object(Bucket=bucket, Key="untyped", Body=b"")
    assert s3.head_object(Bucket=bucket, Key="untyped")["ContentType"] == "binary/octet-stream"


def test_missing_keys_and_buckets_are_aws_errors(s3: Any, bucket: str) -> None:
    code, status, err = error(lambda: s3.get_object(Bucket=bucket, Key="no/such key"))
    assert (code, status, err["Message"], err["Key"]) == ("NoSuchKey", 404, "The specified key does not exist.",
                                                         "no/such key")
    assert error(lambda: s3.head_object(Bucket=bucket, Key="nope"))[:2] == ("404", 404)
    code, status, err = error(lambda: s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b""))
    assert (code, status) == ("NoSuchBucket", 404)


def test_limits_on_keys_and_metadata(s3: Any, bucket: str) -> None:
    code, status, err = error(lambda: s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b""))
    assert (code, status, err["Message"]) == ("KeyTooLongError", 400, "Your key is too long")
    s3.put_object(Bucket=bucket, Key="é" * 512, Body=b"")          # 1,024 bytes: the most a key may be
    code, status, err = error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"", Metadata={"m": "v" * 2048}))
    assert (code, status) == ("MetadataTooLarge", 400)


def test_range_gets(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    for header, expected, content_range in [("bytes=2-4", b"234", "bytes 2-4/10"), ("bytes=7-", b"789", "bytes 7-9/10"),
                                            ("bytes=-3", b"789", "bytes 7-9/10"), ("bytes=8-100", b"89", "bytes 8-9/10")]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert (got["Body"].read(), got["ContentRange"], got["ResponseMetadata"]["HTTPStatusCode"]) == (
            expected, content_range, 206)
    code, status, err = error(lambda: s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-"))
    assert (code, status, err["Message"]) == ("InvalidRange", 416, "The requested range is not satisfiable")


def test_conditional_reads_and_writes(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    code, status, err = error(lambda: s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"'))
    assert (code, status, err["Message"]) == ("PreconditionFailed", 412,
                                              "At least one of the pre-conditions you specified did not hold")
    assert error(lambda: s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag))[:2] == ("304", 304)
    # conditional writes: create only if absent, replace only what was read
    code, status, _ = error(lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfNoneMatch="*"))
    assert (code, status) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="c-new", Body=b"first", IfNoneMatch="*")
    assert error(lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfMatch='"0000"'))[:2] == (
        "PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"v2"


def test_listing_v2_with_prefix_delimiter_and_continuation(s3: Any, bucket: str) -> None:
    keys = ["a.txt", "photos/2025/x.jpg", "photos/2026/y.jpg", "photos/top.jpg", "z/1", "z/2"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["photos/", "z/"]
    assert (top["KeyCount"], top["IsTruncated"]) == (3, False)
    inner = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", Delimiter="/")
    assert ([o["Key"] for o in inner["Contents"]], [p["Prefix"] for p in inner["CommonPrefixes"]]) == (
        ["photos/top.jpg"], ["photos/2025/", "photos/2026/"])
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert [[o["Key"] for o in p["Contents"]] for p in pages] == [keys[0:2], keys[2:4], keys[4:6]]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="photos/top.jpg")["Contents"]] == keys[4:]
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=1)["MaxKeys"] == 1
    v1 = s3.list_objects(Bucket=bucket, Prefix="z/")
    assert [o["Key"] for o in v1["Contents"]] == ["z/1", "z/2"]


def test_keys_that_need_encoding_list_back_as_written(s3: Any, bucket: str) -> None:
    keys = sorted(["a b+c", "ü/ñ", "q?x=1&y", "%20", "tab\there"])
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)        # boto3 asks EncodingType=url and decodes
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys, key=lambda k: k.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()


def test_delete_and_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("d1", "d2", "d3"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="d1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="d1")["ResponseMetadata"]["HTTPStatusCode"] == 204   # idempotent
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d2"}, {"Key": "d3"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["d2", "d3", "never"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object_keeps_or_replaces_metadata(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"data", ContentType="text/csv", Metadata={"a": "1"})["ETag"]
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert out["CopyObjectResult"]["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"data", "text/csv", {"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="text/plain")
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"b": "2"}
    code, status, _ = error(lambda: s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src"))
    assert (code, status) == ("InvalidRequest", 400)


def test_multipart_upload_by_hand(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="video/mp4")["UploadId"]
    part1, part2 = os.urandom(5 * 1024 * 1024), b"tail"
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2, Body=part2)["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [(1, e1, len(part1)), (2, e2, 4)]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload]
    code, status, _ = error(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]}))
    assert (code, status) == ("InvalidPartOrder", 400)
    code, status, _ = error(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"bad"'}]}))
    assert (code, status) == ("InvalidPart", 400)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    expected = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest()).hexdigest() + "-2"
    assert done["ETag"] == f'"{expected}"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert (got["Body"].read() == part1 + part2, got["ContentType"]) == (True, "video/mp4")
    code, status, err = error(lambda: s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload))
    assert (code, status) == ("NoSuchUpload", 404)


def test_small_parts_are_refused_and_an_upload_can_be_aborted(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=upload, PartNumber=1, Body=b"a")["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=upload, PartNumber=2, Body=b"b")["ETag"]
    code, status, err = error(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=upload,
                                                                    MultipartUpload={"Parts": [
                                                                        {"PartNumber": 1, "ETag": e1},
                                                                        {"PartNumber": 2, "ETag": e2}]}))
    assert (code, status, err["Message"]) == ("EntityTooSmall", 400,
                                              "Your proposed upload is smaller than the minimum allowed object size.")
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload)
    assert error(lambda: s3.upload_part(Bucket=bucket, Key="small", UploadId=upload, PartNumber=3,
                                        Body=b"c"))[:2] == ("NoSuchUpload", 404)


def test_transfer_manager_upload_and_download(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(21 * 1024 * 1024)        # over boto3's 8 MiB threshold: a multipart upload
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    s3.upload_file(str(source), bucket, "big.bin")
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')
    s3.download_file(bucket, "big.bin", str(tmp_path / "out.bin"))    # ranged GETs in parallel
    assert (tmp_path / "out.bin").read_bytes() == data


def test_presigned_urls_sigv4_and_sigv2(server: CumuloServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared file.txt", Body=b"shared")
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared file.txt"})
    assert "AWSAccessKeyId=" in v2           # boto3's default for s3
    assert fetch(v2) == (200, b"shared")
    v4 = server.aws("s3", signature_version="s3v4")
    get = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared file.txt"})
    assert "X-Amz-Signature=" in get and fetch(get) == (200, b"shared")
    put = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "uploaded"}, ExpiresIn=60)
    assert fetch(urllib.request.Request(put, data=b"by url", method="PUT"))[0] == 200
    assert s3.get_object(Bucket=bucket, Key="uploaded")["Body"].read() == b"by url"
    status, body = fetch(get.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert fetch(v2.replace("Expires=", "Expires=1"))[0] == 403


def test_an_unsigned_request_is_access_denied(server: CumuloServer, bucket: str) -> None:
    status, body = fetch(f"{server.endpoint}/{bucket}/k?X-Amz-Credential=x%2F20260101%2Fus-east-1%2Fs3%2F"
                         "aws4_request")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_aws_chunked_signed_upload(server: CumuloServer, bucket: str) -> None:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as SDKs send over HTTPS: every chunk signed."""
    import hmac
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    host = server.endpoint.split("//")[1]
    chunks = [b"a" * 70000, b"b" * 100]

    def hm(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    key = hm(hm(hm(hm(f"AWS4{server.secret}".encode(), day), "us-east-1"), "s3"), "aws4_request")
    decoded = sum(len(c) for c in chunks)
    headers = {"host": host, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-date": stamp,
               "x-amz-decoded-content-length": str(decoded), "content-encoding": "aws-chunked"}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["PUT", f"/{bucket}/chunked", "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
                           signed, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
    seed = hmac.new(key, "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
                    .encode(), hashlib.sha256).hexdigest()
    body, previous = b"", seed
    for chunk in [*chunks, b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, hashlib.sha256(b"").hexdigest(),
                             hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    auth = f"AWS4-HMAC-SHA256 Credential={server.key_id}/{scope}, SignedHeaders={signed}, Signature={seed}"
    request = urllib.request.Request(f"{server.endpoint}/{bucket}/chunked", data=body, method="PUT",
                                     headers={**headers, "authorization": auth})
    assert fetch(request)[0] == 200
    s3 = server.aws("s3")
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert (got["Body"].read(), got.get("ContentEncoding")) == (b"".join(chunks), None)
    tampered = body.replace(b"b" * 100, b"c" * 100)
    status, answer = fetch(urllib.request.Request(f"{server.endpoint}/{bucket}/chunked", data=tampered, method="PUT",
                                                  headers={**headers, "authorization": auth}))
    assert status == 403 and b"SignatureDoesNotMatch" in answer


def test_operations_cumulo_does_not_serve_say_so(s3: Any, bucket: str) -> None:
    code, status, _ = error(lambda: s3.get_bucket_website(Bucket=bucket))
    assert (code, status) == ("NotImplemented", 501)


def test_the_aws_cli_copies_syncs_lists_and_removes(server: CumuloServer, tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1"}

    def aws(*args: str) -> str:
        out = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, *args], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout
    folder = tmp_path / "site"
    (folder / "css").mkdir(parents=True)
    (folder / "index.html").write_text("<h1>hi</h1>")
    (folder / "css" / "a.css").write_text("h1{}")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(17 * 1024 * 1024))
    aws("s3", "mb", "s3://cli-bucket")
    aws("s3", "cp", str(big), "s3://cli-bucket/big.bin")
    aws("s3", "sync", str(folder), "s3://cli-bucket/site/")
    listed = aws("s3", "ls", "--recursive", "s3://cli-bucket")
    assert [line.split()[-1] for line in listed.splitlines()] == ["big.bin", "site/css/a.css", "site/index.html"]
    aws("s3", "cp", "s3://cli-bucket/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    assert "upload" not in aws("s3", "sync", str(folder), "s3://cli-bucket/site/")      # nothing changed
    aws("s3", "rm", "--recursive", "s3://cli-bucket")
    aws("s3", "rb", "s3://cli-bucket")
    out = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "s3api", "head-bucket", "--bucket",
                          "cli-bucket"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "404" in out.stderr


def headers_of(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def test_cors_configuration_preflights_and_actual_requests(server: CumuloServer, s3: Any, bucket: str) -> None:
    url = f"{server.endpoint}/{bucket}/photo.jpg"

    def preflight(origin: str, method: str, headers: str | None = None) -> tuple[int, dict[str, str], bytes]:
        extra = {"Access-Control-Request-Headers": headers} if headers else {}
        return headers_of(urllib.request.Request(url, method="OPTIONS", headers={
            "Origin": origin, "Access-Control-Request-Method": method, **extra}))

    status, _, body = preflight("https://app.example.com", "GET")
    assert status == 403 and b"<Code>AccessForbidden</Code>" in body and b"CORS is not enabled" in body
    assert error(lambda: s3.get_bucket_cors(Bucket=bucket))[:2] == ("NoSuchCORSConfiguration", 404)
    rules = [{"ID": "app", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
              "AllowedHeaders": ["content-*", "x-amz-meta-owner"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600},
             {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    status, headers, _ = preflight("https://app.example.com", "PUT", "Content-Type, X-Amz-Meta-Owner")
    assert status == 200
    assert (headers["access-control-allow-origin"], headers["access-control-allow-methods"],
            headers["access-control-allow-headers"], headers["access-control-expose-headers"],
            headers["access-control-max-age"], headers["access-control-allow-credentials"]) == (
        "https://app.example.com", "GET, PUT", "content-type, x-amz-meta-owner", "ETag", "600", "true")
    assert preflight("https://evil.example.org", "GET")[0] == 403           # origin not allowed
    assert preflight("https://app.example.com", "DELETE")[0] == 403         # method not allowed
    assert preflight("https://app.example.com", "PUT", "x-other")[0] == 403  # header not allowed
    status, headers, _ = preflight("http://anywhere", "HEAD")
    assert (status, headers["access-control-allow-origin"]) == (200, "*")
    # an actual request from the allowed origin (a presigned GET) gets the rule's headers
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpeg")
    get = server.aws("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "photo.jpg"})
    status, headers, body = headers_of(urllib.request.Request(get, headers={"Origin": "https://app.example.com"}))
    assert (status, body, headers["access-control-allow-origin"]) == (200, b"jpeg", "https://app.example.com")
    status, headers, _ = headers_of(urllib.request.Request(get, headers={"Origin": "https://evil.example.org"}))
    assert status == 200 and "access-control-allow-origin" not in headers
    code, status, _ = error(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}))
    assert (code, status) == ("InvalidRequest", 400)
    s3.delete_bucket_cors(Bucket=bucket)
    assert error(lambda: s3.get_bucket_cors(Bucket=bucket))[:2] == ("NoSuchCORSConfiguration", 404)
    assert preflight("https://app.example.com", "GET")[0] == 403


def test_lifecycle_configuration_round_trips_and_is_checked(s3: Any, bucket: str) -> None:
    import datetime

    assert error(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket))[:2] == (
        "NoSuchLifecycleConfiguration", 404)
    rules = [{"ID": "logs", "Status": "Enabled", "Filter": {"And": {"Prefix": "logs/", "ObjectSizeLessThan": 1024}},
              "Expiration": {"Days": 7}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
             {"ID": "archive", "Status": "Disabled", "Filter": {"Prefix": "old/"},
              "Expiration": {"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)},
              "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == rules
    code, status, _ = error(lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
        "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}]}))
    assert (code, status) == ("InvalidArgument", 400)
    code, status, _ = error(lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
        "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
                   "Expiration": {"Date": datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.timezone.utc)}}]}))
    assert (code, status) == ("InvalidArgument", 400)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert error(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket))[0] == "NoSuchLifecycleConfiguration"


def test_bucket_tags_are_set_read_and_deleted(s3: Any, bucket: str) -> None:
    assert error(lambda: s3.get_bucket_tagging(Bucket=bucket))[:2] == ("NoSuchTagSet", 404)
    tags = [{"Key": "team", "Value": "data"}, {"Key": "cost-center", "Value": ""}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    code, status, _ = error(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
        {"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}))
    assert (code, status) == ("InvalidTag", 400)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags        # the refused set changed nothing
    s3.delete_bucket_tagging(Bucket=bucket)
    assert error(lambda: s3.get_bucket_tagging(Bucket=bucket))[0] == "NoSuchTagSet"
