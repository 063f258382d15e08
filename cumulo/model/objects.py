"""S3's rules, pure: bucket names, keys, user metadata, ranges, ETags, and its errors.

Limits as AWS documents them ("Bucket naming rules", "Amazon S3 quotas"), except one: a single
PUT (PutObject, UploadPart) carries at most ``MAX_SINGLE_PUT`` bytes here (AWS: 5 GiB), because
the control plane's HTTP edge holds a request's body whole before it is handled. Larger objects
are uploaded in parts, as ``aws s3 cp`` and boto3's transfer manager do on their own above 8 MiB;
a completed multipart object may reach ``MAX_OBJECT`` (AWS: 5 TiB) — its parts are joined on disk,
never in memory.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from cumulo.errors import CumuloError

__all__ = ["S3Error", "MAX_KEY_BYTES", "MAX_METADATA_BYTES", "MAX_SINGLE_PUT", "MAX_OBJECT", "MIN_PART", "MAX_PARTS",
           "check_bucket_name", "check_key", "check_metadata", "parse_range", "multipart_etag", "md5_etag",
           "no_such_bucket", "no_such_key", "no_such_upload", "check_object_tags", "MAX_OBJECT_TAGS"]

MAX_KEY_BYTES = 1024                 # a key's UTF-8 bytes
MAX_METADATA_BYTES = 2048            # user metadata: the sum of each x-amz-meta-* name and value (UTF-8)
MAX_SINGLE_PUT = 64 * 1024 * 1024    # a PUT's or a part's body here (AWS: 5 GiB): see the module's text
MAX_OBJECT = 5 * 1024 ** 4           # 5 TiB, a multipart object
MIN_PART = 5 * 1024 * 1024           # every part but the last
MAX_PARTS = 10_000
MAX_BUCKETS = 10_000                 # an account's general purpose buckets (AWS's default quota)
MAX_OBJECT_TAGS = 10                 # an object version's tags (a bucket may have 50)

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


class S3Error(CumuloError):
    """One of S3's errors: ``code`` is its Code element, ``extra`` the elements AWS adds (Key,
    BucketName, Condition …)."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.extra = extra
        self.headers: list[tuple[str, str]] = []      # answered with the error (x-amz-delete-marker …)

    @property
    def type(self) -> str:
        return self.code


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def no_such_key(key: str) -> S3Error:
    return S3Error("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def no_such_upload(upload_id: str) -> S3Error:
    return S3Error("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload "
                   "may have been aborted or completed.", 404, UploadId=upload_id)


def check_bucket_name(name: str) -> None:
    """General purpose bucket naming rules: 3-63 characters of lower-case letters, digits, dots and
    hyphens, beginning and ending with a letter or digit, no two adjacent dots, not an IP address,
    none of the reserved prefixes and suffixes."""
    ok = (_BUCKET.fullmatch(name) is not None and ".." not in name and not name.startswith(_BAD_PREFIXES)
          and not name.endswith(_BAD_SUFFIXES) and ".-" not in name and "-." not in name)
    if ok:
        try:
            ipaddress.IPv4Address(name)
            ok = False
        except ValueError:
            pass
    if not ok:
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=name)


def check_key(key: str) -> None:
    if not key:
        raise S3Error("InvalidArgument", "Object key must not be empty.", 400)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", "Your key is too long", 400)


def check_metadata(metadata: dict[str, str]) -> None:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", 400,
                      Size=str(size), MaxSizeAllowed=str(MAX_METADATA_BYTES))


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int        # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """A ``Range`` header against an object of ``size`` bytes: None for the whole object (no header,
    or one S3 ignores: malformed or several ranges); ``InvalidRange`` (416) when unsatisfiable."""
    if header is None:
        return None
    m = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:                                   # the last N bytes
        n = int(last)
        if n == 0:
            raise _invalid_range(size)
        return ByteRange(max(size - n, 0), size - 1) if size else None
    start = int(first)
    if last and int(last) < start:              # not a range: the whole object
        return None
    if start >= size:
        raise _invalid_range(size)
    end = int(last) if last else size - 1
    return ByteRange(start, min(end, size - 1))


def _invalid_range(size: int) -> S3Error:
    return S3Error("InvalidRange", "The requested range is not satisfiable", 416, ActualObjectSize=str(size))


def md5_etag(digest: bytes) -> str:
    return f'"{digest.hex()}"'


def multipart_etag(part_md5s: list[bytes]) -> str:
    """A multipart object's ETag as S3 makes it: the MD5 of the parts' binary MD5s, '-', their number."""
    return f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-{len(part_md5s)}"'


def check_object_tags(tags: dict[str, str]) -> dict[str, str]:
    """An object's tags as S3 takes them: at most 10, keys of 1-128 characters not starting
    ``aws:``, values of at most 256."""
    for key, value in tags.items():
        if not key or len(key) > 128 or key.startswith("aws:"):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid", 400, TagKey=key)
        if len(value) > 256:
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid", 400, TagKey=key, TagValue=value)
    if len(tags) > MAX_OBJECT_TAGS:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10", 400)
    return dict(tags)
