"""S3 versioning and object tags as their users meet them: unchanged boto3 and the AWS CLI against
a real ``cumulo up`` — version ids on every write, reads and deletes of one version, delete markers
and their headers, the ``null`` version, ListObjectVersions with its paginator, DeleteObjects with
versions, copies of a version, and AWS's errors, field by field."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_s3 import AWS, bucket, s3, server  # noqa: F401  (the fixtures)
from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)


def error(call: Any) -> tuple[str, int, dict[str, Any], dict[str, str]]:
    with pytest.raises(ClientError) as caught:
        call()
    e = caught.value.response
    return (e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"],
            e["ResponseMetadata"]["HTTPHeaders"])


def test_versions_delete_markers_and_reads_of_one_version(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    unversioned = s3.put_object(Bucket=bucket, Key="doc", Body=b"zero")
    assert "VersionId" not in unversioned                     # never versioned: no version header
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    one = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    two = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert len({one, two, "null"}) == 3
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert (got["Body"].read(), got["VersionId"]) == (b"two", two)
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=one)["Body"].read() == b"one"
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId="null")["Body"].read() == b"zero"
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=one)["ContentLength"] == 3

    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] not in (one, two, "null")
    code, status, _, headers = error(lambda: s3.get_object(Bucket=bucket, Key="doc"))
    assert (code, status, headers["x-amz-delete-marker"], headers["x-amz-version-id"]) == \
        ("NoSuchKey", 404, "true", deleted["VersionId"])
    code, status, err, headers = error(lambda: s3.get_object(Bucket=bucket, Key="doc",
                                                             VersionId=deleted["VersionId"]))
    assert (code, status, err["Message"], headers["x-amz-delete-marker"]) == (
        "MethodNotAllowed", 405, "The specified method is not allowed against this resource.", "true")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0

    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in listed["Versions"]] == \
        [(two, False, 3), (one, False, 3), ("null", False, 4)]
    assert [(d["Key"], d["VersionId"], d["IsLatest"]) for d in listed["DeleteMarkers"]] == \
        [("doc", deleted["VersionId"], True)]

    # removing the marker brings the newest version back
    undone = s3.delete_object(Bucket=bucket, Key="doc", VersionId=deleted["VersionId"])
    assert (undone["DeleteMarker"], undone["VersionId"]) == (True, deleted["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    gone = s3.delete_object(Bucket=bucket, Key="doc", VersionId=two)
    assert gone["VersionId"] == two and "DeleteMarker" not in gone
    assert s3.get_object(Bucket=bucket, Key="doc")["VersionId"] == one

    code, status, err, _ = error(lambda: s3.get_object(Bucket=bucket, Key="doc", VersionId=two))
    assert (code, status, err["Message"], err["Key"], err["VersionId"]) == (
        "NoSuchVersion", 404, "The specified version does not exist.", "doc", two)
    code, status, err, _ = error(lambda: s3.get_object(Bucket=bucket, Key="doc", VersionId="not-an-id"))
    assert (code, status, err["Message"]) == ("InvalidArgument", 400, "Invalid version id specified")
    code, status, _, _ = error(lambda: s3.delete_bucket(Bucket=bucket))
    assert (code, status) == ("BucketNotEmpty", 409)


def test_a_suspended_bucket_writes_and_replaces_the_null_version(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"first null")["VersionId"] == "null"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"second null")["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (kept, False)]
    for _ in range(2):          # a second delete replaces the null delete marker with another
        answer = s3.delete_object(Bucket=bucket, Key="k")
        assert (answer["DeleteMarker"], answer["VersionId"]) == (True, "null")
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]            # the null version went
    assert [(d["VersionId"], d["IsLatest"]) for d in listed["DeleteMarkers"]] == [("null", True)]


def test_listing_versions_pages_with_markers_prefixes_and_delimiters(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    written: list[tuple[str, str]] = []
    for key in ("logs/a", "logs/b", "img/1", "img/2", "top"):
        for n in range(3):
            written.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"x" * n)["VersionId"]))
    marker = s3.delete_object(Bucket=bucket, Key="top")["VersionId"]
    pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 8 and all(p["MaxKeys"] == 2 for p in pages)
    seen = [(v["Key"], v["VersionId"]) for p in pages for v in p.get("Versions", []) + p.get("DeleteMarkers", [])]
    expected = sorted(written, key=lambda kv: (kv[0], -written.index(kv)))
    expected.insert(expected.index(("top", written[-1][1])), ("top", marker))
    assert sorted(seen, key=lambda kv: (kv[0], -([*written, ("top", marker)].index(kv)))) == expected
    assert len(seen) == len(set(seen)) == 16
    first = s3.list_object_versions(Bucket=bucket, MaxKeys=4)
    assert (first["IsTruncated"], first["NextKeyMarker"]) == (True, "img/2")
    assert first["NextVersionIdMarker"] == first["Versions"][-1]["VersionId"]
    grouped = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["img/", "logs/"]
    assert {v["Key"] for v in grouped["Versions"]} == {"top"}
    inside = s3.list_object_versions(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert [(v["Key"], v["IsLatest"]) for v in inside["Versions"]] == \
        [("logs/a", True), ("logs/a", False), ("logs/a", False), ("logs/b", True), ("logs/b", False), ("logs/b", False)]
    code, status, err, _ = error(lambda: s3.list_object_versions(Bucket=bucket, VersionIdMarker=marker))
    assert (code, status, err["Message"]) == (
        "InvalidArgument", 400, "A version-id marker cannot be specified without a key marker.")


def test_delete_objects_copies_and_multipart_uploads_name_versions(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="src", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert copied["CopySourceVersionId"] == old and copied["VersionId"] not in (old, "null")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.head_object(Bucket=bucket, Key="big")["VersionId"] == done["VersionId"]

    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "src", "VersionId": old}, {"Key": "dst"}, {"Key": "big", "VersionId": done["VersionId"]}]})
    by_key = {d["Key"]: d for d in answer["Deleted"]}
    assert by_key["src"] == {"Key": "src", "VersionId": old}
    assert by_key["dst"]["DeleteMarker"] is True and by_key["dst"]["DeleteMarkerVersionId"]
    assert by_key["big"] == {"Key": "big", "VersionId": done["VersionId"]}
    left = s3.list_object_versions(Bucket=bucket)
    assert sorted(v["Key"] for v in left["Versions"]) == ["dst", "src"]
    assert [d["Key"] for d in left["DeleteMarkers"]] == ["dst"]
    # emptied version by version, the bucket can go
    for v in left["Versions"] + left["DeleteMarkers"]:
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def test_object_tags(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=data&stage=raw%20files")
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "team", "Value": "data"}, {"Key": "stage", "Value": "raw files"}]
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "only", "Value": "one"}]
    copy = s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "t"})
    assert copy["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object_tagging(Bucket=bucket, Key="c")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "t"}, TaggingDirective="REPLACE",
                   Tagging="new=1")
    assert s3.get_object_tagging(Bucket=bucket, Key="c")["TagSet"] == [{"Key": "new", "Value": "1"}]
    eleven = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    code, status, err, _ = error(lambda: s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": eleven}))
    assert (code, status, err["Message"]) == ("BadRequest", 400, "Object tags cannot be greater than 10")
    code, status, _, _ = error(lambda: s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={
        "TagSet": [{"Key": "aws:x", "Value": "v"}]}))
    assert (code, status) == ("InvalidTag", 400)
    code, status, _, _ = error(lambda: s3.put_object_tagging(Bucket=bucket, Key="nope", Tagging={"TagSet": []}))
    assert (code, status) == ("NoSuchKey", 404)
    assert s3.delete_object_tagging(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="t")


def test_tags_of_one_version(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="v=2")
    answer = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=first, Tagging={"TagSet": [
        {"Key": "v", "Value": "first"}]})
    assert answer["VersionId"] == first
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=first)["TagSet"] == [{"Key": "v", "Value": "first"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "v", "Value": "2"}]


def test_the_aws_cli_lists_versions(server: CumuloServer, s3: Any, bucket: str) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1"}

    def aws(*args: str) -> Any:
        out = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "--output", "json", *args], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None

    aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert aws("s3api", "get-bucket-versioning", "--bucket", bucket) == {"Status": "Enabled"}
    first = aws("s3api", "put-object", "--bucket", bucket, "--key", "a.txt")["VersionId"]
    second = aws("s3api", "put-object", "--bucket", bucket, "--key", "a.txt")["VersionId"]
    aws("s3api", "delete-object", "--bucket", bucket, "--key", "a.txt")
    listed = aws("s3api", "list-object-versions", "--bucket", bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(second, False), (first, False)]
    assert [d["IsLatest"] for d in listed["DeleteMarkers"]] == [True]
    paged = aws("s3api", "list-object-versions", "--bucket", bucket, "--page-size", "1")
    assert [v["VersionId"] for v in paged["Versions"]] == [second, first] and len(paged["DeleteMarkers"]) == 1
    aws("s3api", "get-object", "--bucket", bucket, "--key", "a.txt", "--version-id", first, str(Path(os.devnull)))


def test_a_bucket_policy_grants_and_denies_role_sessions(server: CumuloServer, s3: Any, bucket: str) -> None:
    from tests.integration.test_identity import ACCOUNT, OWNER, assume, client, role, trust

    reader = role(server, "bucket-reader", trust(OWNER))
    theirs = client(server, "s3", assume(server, reader, "reader"))
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="secret/b", Body=b"b")
    code, status, err, _ = error(lambda: theirs.get_object(Bucket=bucket, Key="public/a"))
    assert (code, status) == ("AccessDenied", 403)          # the role has no policy of its own

    code, status, err, _ = error(lambda: s3.get_bucket_policy(Bucket=bucket))
    assert (code, status, err["Message"]) == ("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": reader}, "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/secret/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert theirs.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"a"
    assert [o["Key"] for o in theirs.list_objects_v2(Bucket=bucket)["Contents"]] == ["public/a", "secret/b"]
    code, status, err, _ = error(lambda: theirs.get_object(Bucket=bucket, Key="secret/b"))
    assert (code, status) == ("AccessDenied", 403)
    assert "with an explicit deny in a resource-based policy" in err["Message"]
    code, status, _, _ = error(lambda: theirs.put_object(Bucket=bucket, Key="public/c", Body=b"c"))
    assert (code, status) == ("AccessDenied", 403)
    # a presigned URL of the role's carries the same rights
    url = theirs.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "public/a"})
    with urllib.request.urlopen(url) as answer:     # boto3's SigV2 URL, the session token in its query
        assert answer.read() == b"a"

    for bad, message in (("not json", None), (json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}]}),
            "Policy has invalid resource")):
        code, status, err, _ = error(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=bad))
        assert (code, status) == ("MalformedPolicy", 400) and (message is None or err["Message"] == message)
    s3.delete_bucket_policy(Bucket=bucket)
    code, status, _, _ = error(lambda: theirs.get_object(Bucket=bucket, Key="public/a"))
    assert (code, status, ACCOUNT) == ("AccessDenied", 403, ACCOUNT)
