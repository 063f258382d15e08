"""S3's operations as IAM sees them (Service Authorization Reference, "Amazon S3").

Bucket operations act on ``arn:aws:s3:::<bucket>``, object operations on
``arn:aws:s3:::<bucket>/<key>`` (S3's ARNs carry no region or account). HeadBucket is
``s3:ListBucket``, HeadObject ``s3:GetObject``; the multipart operations that write are
``s3:PutObject``; a copy also needs ``s3:GetObject`` on its source (``x-amz-copy-source``).
DeleteObjects is decided per object by AWS; here on ``<bucket>/*`` (the keys are in the body).
Naming a version (``versionId``) asks for the action's ``…Version`` form (``s3:GetObjectVersion``,
``s3:DeleteObjectVersion``, ``s3:GetObjectVersionTagging`` …), with ``s3:versionid``.
ListObjects carries ``s3:prefix``, ``s3:delimiter`` and ``s3:max-keys``. Block Public Access's
operations are ``s3:GetBucketPublicAccessBlock``/``s3:PutBucketPublicAccessBlock`` (Delete too) and
``s3:GetBucketPolicyStatus``. The request's
path parameters are ``bucket`` and ``key``; its headers are the ``doc``.
"""

from __future__ import annotations

from urllib.parse import unquote

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS"]


def _bucket(call: Call) -> str:
    return f"arn:aws:s3:::{call.params.get('bucket') or '*'}"


def _object(call: Call) -> str:
    return f"arn:aws:s3:::{call.params.get('bucket') or '*'}/{call.params.get('key') or '*'}"


def on_bucket(action: str) -> Mapper:
    return lambda call, scope: (Check(action, _bucket(call)),)


def on_object(action: str) -> Mapper:
    return lambda call, scope: (Check(action, _object(call)),)


def on_version(action: str, versioned: str) -> Mapper:
    """``action`` on the object, or ``versioned`` when the request names a version."""
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        if "versionId" not in call.query:
            return (Check(action, _object(call)),)
        return (Check(versioned, _object(call), {"s3:versionid": call.arg("versionId")}),)
    return mapper


def listing(call: Call, scope: Scope) -> tuple[Check, ...]:
    context = {f"s3:{name}": call.arg(name) for name in ("prefix", "delimiter", "max-keys") if call.query.get(name)}
    return (Check("s3:ListBucket", _bucket(call), context),)


def copying(call: Call, scope: Scope) -> tuple[Check, ...]:
    source = unquote(text(call.doc.get("x-amz-copy-source")).split("?", 1)[0]).lstrip("/") or "*"
    return (Check("s3:PutObject", _object(call)), Check("s3:GetObject", f"arn:aws:s3:::{source}"))


def deleting(call: Call, scope: Scope) -> tuple[Check, ...]:
    return (Check("s3:DeleteObject", f"arn:aws:s3:::{call.params.get('bucket') or '*'}/*"),)


OPERATIONS: dict[str, Mapper] = {
    "ListBuckets": anywhere("s3:ListAllMyBuckets"),
    "CreateBucket": on_bucket("s3:CreateBucket"),
    "HeadBucket": on_bucket("s3:ListBucket"),
    "DeleteBucket": on_bucket("s3:DeleteBucket"),
    "GetBucketLocation": on_bucket("s3:GetBucketLocation"),
    "GetBucketNotificationConfiguration": on_bucket("s3:GetBucketNotification"),
    "PutBucketNotificationConfiguration": on_bucket("s3:PutBucketNotification"),
    "ListObjectsV2": listing,
    "ListObjects": listing,
    "ListMultipartUploads": on_bucket("s3:ListBucketMultipartUploads"),
    "DeleteObjects": deleting,
    "PutObject": on_object("s3:PutObject"),
    "GetObject": on_version("s3:GetObject", "s3:GetObjectVersion"),
    "HeadObject": on_version("s3:GetObject", "s3:GetObjectVersion"),
    "DeleteObject": on_version("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "CopyObject": copying,
    "CreateMultipartUpload": on_object("s3:PutObject"),
    "UploadPart": on_object("s3:PutObject"),
    "UploadPartCopy": copying,
    "CompleteMultipartUpload": on_object("s3:PutObject"),
    "AbortMultipartUpload": on_object("s3:AbortMultipartUpload"),
    "ListParts": on_object("s3:ListMultipartUploadParts"),
    "GetBucketCors": on_bucket("s3:GetBucketCORS"),
    "PutBucketCors": on_bucket("s3:PutBucketCORS"),
    "DeleteBucketCors": on_bucket("s3:PutBucketCORS"),      # S3 has no action of its own for it
    "GetBucketLifecycleConfiguration": on_bucket("s3:GetLifecycleConfiguration"),
    "PutBucketLifecycleConfiguration": on_bucket("s3:PutLifecycleConfiguration"),
    "DeleteBucketLifecycle": on_bucket("s3:PutLifecycleConfiguration"),
    "GetBucketTagging": on_bucket("s3:GetBucketTagging"),
    "PutBucketTagging": on_bucket("s3:PutBucketTagging"),
    "DeleteBucketTagging": on_bucket("s3:PutBucketTagging"),
    "GetBucketVersioning": on_bucket("s3:GetBucketVersioning"),
    "PutBucketVersioning": on_bucket("s3:PutBucketVersioning"),
    "ListObjectVersions": lambda call, scope: tuple(Check("s3:ListBucketVersions", c.resource, c.context)
                                                    for c in listing(call, scope)),
    "GetObjectTagging": on_version("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": on_version("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": on_version("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    "GetBucketPolicy": on_bucket("s3:GetBucketPolicy"),
    "PutBucketPolicy": on_bucket("s3:PutBucketPolicy"),
    "DeleteBucketPolicy": on_bucket("s3:DeleteBucketPolicy"),
    "GetPublicAccessBlock": on_bucket("s3:GetBucketPublicAccessBlock"),
    "PutPublicAccessBlock": on_bucket("s3:PutBucketPublicAccessBlock"),
    "DeletePublicAccessBlock": on_bucket("s3:PutBucketPublicAccessBlock"),
    "GetBucketPolicyStatus": on_bucket("s3:GetBucketPolicyStatus"),
}

register("s3", OPERATIONS)
