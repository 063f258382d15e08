"""S3's versioned requests as IAM sees them (Service Authorization Reference, "Amazon S3"): naming
a version asks for the action's ``…Version`` form, with ``s3:versionid``; the new bucket operations
(versioning, versions, policy) and object tagging map to their own actions."""

from __future__ import annotations

import pytest

from cumulo.api import s3  # noqa: F401 (registers S3's mapping)
from cumulo.api.authz import Call, Scope, checks

SCOPE = Scope("123456789012", "us-east-1")
OBJECT = "arn:aws:s3:::photos/a.jpg"
BUCKET = "arn:aws:s3:::photos"


def call(operation: str, version: str | None = None, key: str = "a.jpg") -> Call:
    return Call("s3", operation, params={"bucket": "photos", "key": key},
                query={"versionId": [version]} if version is not None else {})


@pytest.mark.parametrize("operation, plain, versioned", [
    ("GetObject", "s3:GetObject", "s3:GetObjectVersion"),
    ("HeadObject", "s3:GetObject", "s3:GetObjectVersion"),
    ("DeleteObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("GetObjectTagging", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    ("PutObjectTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    ("DeleteObjectTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging")])
def test_naming_a_version_asks_for_the_version_action(operation: str, plain: str, versioned: str) -> None:
    [latest] = checks(call(operation), SCOPE)
    assert (latest.action, latest.resource) == (plain, OBJECT)
    [one] = checks(call(operation, "null"), SCOPE)
    assert (one.action, one.resource, dict(one.context)) == (versioned, OBJECT, {"s3:versionid": "null",
                                                                                "aws:ResourceAccount": "123456789012"})


@pytest.mark.parametrize("operation, action", [
    ("GetBucketVersioning", "s3:GetBucketVersioning"), ("PutBucketVersioning", "s3:PutBucketVersioning"),
    ("ListObjectVersions", "s3:ListBucketVersions"), ("GetBucketPolicy", "s3:GetBucketPolicy"),
    ("PutBucketPolicy", "s3:PutBucketPolicy"), ("DeleteBucketPolicy", "s3:DeleteBucketPolicy")])
def test_bucket_operations(operation: str, action: str) -> None:
    [check] = checks(Call("s3", operation, params={"bucket": "photos"}), SCOPE)
    assert (check.action, check.resource) == (action, BUCKET)
