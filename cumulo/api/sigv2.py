"""S3's presigned URLs of Signature Version 2 (pure: no I/O, no clock).

boto3's ``generate_presigned_url`` for ``s3`` still signs this way unless its client is configured
with ``signature_version="s3v4"``: the query carries ``AWSAccessKeyId``, ``Expires`` (seconds
since the epoch) and ``Signature``, the base64 HMAC-SHA1, under the key's secret, of::

    METHOD \\n Content-MD5 \\n Content-Type \\n Expires \\n x-amz-* headers (name:value\\n, sorted) resource

where the x-amz-* headers include those the client moved into the query (a session's
``x-amz-security-token``: botocore signs it as a header, then sends it as a parameter), and the
resource is the path as sent (``/bucket`` first when the bucket is in the host) and
then the sub-resources and ``response-*`` overrides of the query, sorted, their values decoded
(S3 Developer Guide, "Signing and authenticating REST requests", query string authentication).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import unquote

from cumulo.api.sigv4 import InvalidSignatureException, Key, Keys, Principal, UnrecognizedClientException

__all__ = ["is_presigned", "verify_presigned", "string_to_sign", "RequestExpired"]

_SUBRESOURCES = frozenset({
    "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
    "requestPayment", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions",
    "website", "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires",
})


class RequestExpired(InvalidSignatureException):
    pass


def _pairs(query_string: str) -> list[tuple[str, str]]:
    return [(unquote(k), unquote(v.replace("+", " "))) for k, _, v in
            (p.partition("=") for p in query_string.split("&") if p)]


def is_presigned(query_string: str) -> bool:
    if "AWSAccessKeyId" not in query_string:
        return False
    names = {k for k, _ in _pairs(query_string)}
    return {"AWSAccessKeyId", "Signature", "Expires"} <= names


def string_to_sign(method: str, raw_path: str, query_string: str, headers: list[tuple[str, str]], expires: str,
                   bucket_in_host: str | None = None) -> str:
    lower = [(k.lower(), v) for k, v in headers]
    md5 = next((v for k, v in lower if k == "content-md5"), "")
    ctype = next((v for k, v in lower if k == "content-type"), "")
    amz: dict[str, list[str]] = {}
    for k, v in lower + [(k.lower(), v) for k, v in _pairs(query_string)]:
        if k.startswith("x-amz-"):
            amz.setdefault(k, []).append(" ".join(v.split()))
    amz_lines = "".join(f"{k}:{','.join(amz[k])}\n" for k in sorted(amz))
    resource = (f"/{bucket_in_host}" if bucket_in_host else "") + (raw_path.split("?", 1)[0] or "/")
    subs = sorted((k, v) for k, v in _pairs(query_string) if k in _SUBRESOURCES)
    if subs:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subs)
    return f"{method}\n{md5}\n{ctype}\n{expires}\n{amz_lines}{resource}"


def verify_presigned(method: str, raw_path: str, query_string: str, headers: list[tuple[str, str]], keys: Keys,
                     now: datetime, bucket_in_host: str | None = None) -> Principal:
    params = dict(reversed(_pairs(query_string)))          # the first of a repeated name wins
    key_id, expires, signature = params["AWSAccessKeyId"], params["Expires"], params["Signature"]
    found = keys(key_id, params.get("x-amz-security-token"))
    if found is None:
        raise UnrecognizedClientException("The AWS Access Key Id you provided does not exist in our records.")
    who = found if isinstance(found, Key) else Key(found)
    text = string_to_sign(method, raw_path, query_string, headers, expires, bucket_in_host)
    expected = base64.b64encode(hmac.new(who.secret.encode(), text.encode("utf-8"), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InvalidSignatureException("The request signature we calculated does not match the signature you "
                                        "provided. Check your key and signing method.")
    if not expires.isdigit() or int(expires) < now.timestamp():
        raise RequestExpired("Request has expired")
    return Principal(key_id, "", "s3", who.arn, who.role_arn, who.session_name)
