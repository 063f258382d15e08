"""S3's REST/XML protocol on the control plane's endpoint, as boto3's ``s3`` client and ``aws s3``
speak it.

Which requests are S3's (``find``): those signed for the service ``s3`` (header or presigned
query), and those addressed to a virtual host ``<bucket>.s3.<anything>`` (``bucket.s3.localhost``:
boto3 with ``endpoint_url=http://s3.localhost:<port>`` and virtual addressing). Path style
(``/<bucket>/<key>``) is the default for local use. The operation is the method, whether a bucket
and a key are named, and the sub-resource in the query (``?uploads``, ``?notification``,
``?list-type=2`` …); anything else S3 has is answered ``NotImplemented`` (501).

Bodies: ``aws-chunked`` uploads (``STREAMING-…`` payloads, signed chunks checked by
``sigv4.check``) are decoded here, their trailing checksum kept as a header would be. Errors are
S3's XML document (``<Error><Code>…``) with its status; HEAD answers carry no body, so the
status (and ``x-amz-error-code``) says it.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import uuid
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import quote, unquote

from cumulo.api import sigv2, sigv4
from cumulo.api.http import Reply, Request
from cumulo.errors import CumuloError
from cumulo.model import objects as m
from cumulo.model import s3cors
from cumulo.model.objects import S3Error
from cumulo.objects.service import Caller, Content, Deleted, ObjectService, http_date, iso_time
from cumulo.store.ports import ObjectRow

__all__ = ["ANONYMOUS", "anonymous_bucket", "S3Error", "find", "handle", "error_reply", "head_error", "operation_of", "OPERATIONS", "NS"]

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_VHOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*[a-z0-9])\.s3[.-][^:]*(:\d+)?$")
_SCOPE = re.compile(r"Credential=[^/,\s]*/\d{8}/[^/]*/s3/aws4_request")
_QUERY_SCOPE = re.compile(r"X-Amz-Credential=[^&]*?(?:%2F|/)s3(?:%2F|/)aws4_request")
_CONTENT_HEADERS = ("content-encoding", "content-disposition", "cache-control", "content-language", "expires")
_OVERRIDES = {"response-content-type": "content-type", "response-content-language": "content-language",
              "response-expires": "expires", "response-cache-control": "cache-control",
              "response-content-disposition": "content-disposition",
              "response-content-encoding": "content-encoding"}
# the sub-resources S3 has and Cumulo does not serve: answered NotImplemented, never as another operation
_UNSERVED = {"acl", "website", "logging", "replication",
             "encryption", "object-lock", "retention", "legal-hold", "torrent", "restore", "select",
             "analytics", "inventory", "metrics", "intelligent-tiering", "ownershipControls",
             "accelerate", "requestPayment", "attributes"}

# the sigv4 errors in S3's names
_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidAccessKeyId",
    "MissingAuthenticationTokenException": "AccessDenied",
    "IncompleteSignatureException": "AuthorizationHeaderMalformed",
    "ExpiredTokenException": "ExpiredToken",
    "XAmzContentSHA256Mismatch": "XAmzContentSHA256Mismatch",
    "AccessDeniedException": "AccessDenied",
    "RequestEntityTooLargeException": "EntityTooLarge",
    "ServiceException": "InternalError",
    "RequestTimeoutException": "RequestTimeout",
    "BadRequestException": "BadRequest",
    "ServiceUnavailableException": "SlowDown",
}


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def virtual_bucket(headers: list[tuple[str, str]]) -> str | None:
    host = (_header(headers, "host") or "").lower()
    found = _VHOST.match(host)
    return found.group("bucket") if found else None


def looks_like_s3(method: str, raw_path: str, query_string: str, headers: list[tuple[str, str]]) -> bool:
    authorization = _header(headers, "authorization")
    if authorization is not None:
        if _SCOPE.search(authorization):
            return True
    elif "X-Amz-Credential" in query_string and _QUERY_SCOPE.search(query_string):
        return True
    elif "AWSAccessKeyId=" in query_string and sigv2.is_presigned(query_string):
        return True
    return virtual_bucket(headers) is not None


def find(request: Request) -> bool:
    """An S3 request: signed for s3 (or, made inside the platform with its principal set, for
    it: a state machine's SDK task), presigned, addressed to a bucket's own host, or unsigned and
    let through by the gate for a bucket whose policy allows everyone."""
    if request.principal is not None and request.principal.service == "s3":
        return True
    return request.admitted == ANONYMOUS or \
        looks_like_s3(request.method, request.raw_path, request.query_string, request.headers)


# The gate's note on an unsigned request it let through for a bucket whose policy allows everyone.
ANONYMOUS = "anonymous"
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SIGNING_PARAMETERS = frozenset({"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "AWSAccessKeyId",
                                 "Signature"})


def anonymous_bucket(method: str, raw_path: str, query_string: str, headers: list[tuple[str, str]]) -> str | None:
    """The bucket an unsigned request names when S3 might serve it anonymously, else None: a method
    of S3's, no signature in any form (header, query, session token), no ``X-Amz-Target``, and a
    bucket named by the virtual host or the path's first segment."""
    if method not in ("GET", "HEAD", "PUT", "POST", "DELETE"):
        return None
    if any(k.lower() in ("authorization", "x-amz-target", "x-amz-security-token", "smithy-protocol") for k, _ in headers):
        return None
    if query_string and any(unquote(p.partition("=")[0]) in _SIGNING_PARAMETERS for p in query_string.split("&")):
        return None
    host = virtual_bucket(headers)
    if host is not None:
        return host
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/"):
        return None
    first = unquote(path[1:].partition("/")[0])
    return first if _BUCKET_NAME.fullmatch(first) else None


# -- addressing and operations -------------------------------------------------------------------
def address(request: Request) -> tuple[str, str]:
    """(bucket, key) the request names ('' for none)."""
    path = request.raw_path.split("?", 1)[0]
    host_bucket = virtual_bucket(request.headers)
    if host_bucket is not None:
        return host_bucket, unquote(path[1:]) if path.startswith("/") else unquote(path)
    rest = path[1:] if path.startswith("/") else path
    bucket, _, key = rest.partition("/")
    return unquote(bucket), unquote(key)


def _query(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in request.query_string.split("&") if request.query_string else []:
        name, _, value = pair.partition("=")
        out.setdefault(unquote(name), unquote(value.replace("+", " ")) if value else "")
    return out


def operation_of(method: str, bucket: str, key: str, query: dict[str, str], headers: list[tuple[str, str]]) -> str:
    """The S3 API operation a request is (its name in botocore's model); '' for one not served."""
    if set(query) & _UNSERVED:
        return ""
    if not bucket:
        return "ListBuckets" if method == "GET" else ""
    if not key:
        if "cors" in query:
            return {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"}.get(method, "")
        if "tagging" in query:
            return {"GET": "GetBucketTagging", "PUT": "PutBucketTagging", "DELETE": "DeleteBucketTagging"}.get(method, "")
        if "policy" in query:
            return {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"}.get(method, "")
        if "publicAccessBlock" in query:
            return {"GET": "GetPublicAccessBlock", "PUT": "PutPublicAccessBlock",
                    "DELETE": "DeletePublicAccessBlock"}.get(method, "")
        if "policyStatus" in query:
            return "GetBucketPolicyStatus" if method == "GET" else ""
        if "versioning" in query:
            return {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"}.get(method, "")
        if "versions" in query:
            return "ListObjectVersions" if method == "GET" else ""
        if "lifecycle" in query:
            return {"GET": "GetBucketLifecycleConfiguration", "PUT": "PutBucketLifecycleConfiguration",
                    "DELETE": "DeleteBucketLifecycle"}.get(method, "")
        if method == "GET":
            if "location" in query:
                return "GetBucketLocation"
            if "notification" in query:
                return "GetBucketNotificationConfiguration"
            if "uploads" in query:
                return "ListMultipartUploads"
            return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
        if method == "PUT":
            return "PutBucketNotificationConfiguration" if "notification" in query else "CreateBucket"
        if method == "HEAD":
            return "HeadBucket"
        if method == "DELETE":
            return "DeleteBucket"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return ""
    if "tagging" in query:
        return {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"}.get(method, "")
    copy = _header(headers, "x-amz-copy-source") is not None
    if method == "GET":
        return "ListParts" if "uploadId" in query else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        if "partNumber" in query and "uploadId" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        return "CopyObject" if copy else "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
    return ""


# -- XML -------------------------------------------------------------------------------------------
def _xml_text(value: Any) -> str:
    text = str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _el(name: str, value: Any) -> str:
    """An element: a dict is nested elements, a list repeats the element, None leaves it out."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "".join(_el(name, v) for v in value)
    if isinstance(value, dict):
        return f"<{name}>{''.join(_el(k, v) for k, v in value.items())}</{name}>"
    if isinstance(value, bool):
        return f"<{name}>{'true' if value else 'false'}</{name}>"
    return f"<{name}>{_xml_text(value)}</{name}>"


def xml_document(root: str, members: dict[str, Any]) -> bytes:
    inner = "".join(_el(k, v) for k, v in members.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'.encode()


def parse_xml(body: bytes) -> ET.Element:
    """A request's XML document, namespaces dropped; no DTDs (entities); ``MalformedXML`` otherwise."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise _malformed()
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError):
        raise _malformed() from None
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def _malformed() -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                   "published schema", 400)


def _child_text(el: ET.Element, name: str) -> str | None:
    found = el.find(name)
    return found.text or "" if found is not None else None


def parse_notification(body: bytes) -> dict[str, Any]:
    """A NotificationConfiguration document in boto3's shape."""
    if not body.strip():
        return {}
    root = parse_xml(body)
    if root.tag != "NotificationConfiguration":
        raise _malformed()
    out: dict[str, Any] = {}
    kinds = {"TopicConfiguration": ("TopicConfigurations", "Topic", "TopicArn"),
             "QueueConfiguration": ("QueueConfigurations", "Queue", "QueueArn"),
             "CloudFunctionConfiguration": ("LambdaFunctionConfigurations", "CloudFunction", "LambdaFunctionArn")}
    for child in root:
        if child.tag == "EventBridgeConfiguration":
            out["EventBridgeConfiguration"] = {}
            continue
        if child.tag not in kinds:
            raise _malformed()
        list_name, arn_tag, member = kinds[child.tag]
        entry: dict[str, Any] = {member: _child_text(child, arn_tag) or "",
                                 "Events": [e.text or "" for e in child.findall("Event")]}
        if _child_text(child, "Id"):
            entry["Id"] = _child_text(child, "Id")
        rules = [{"Name": _child_text(r, "Name") or "", "Value": _child_text(r, "Value") or ""}
                 for r in child.findall("Filter/S3Key/FilterRule")]
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        out.setdefault(list_name, []).append(entry)
    return out


def render_notification(config: dict[str, Any]) -> bytes:
    parts: list[str] = []
    for list_name, tag, arn_tag, member in (("TopicConfigurations", "TopicConfiguration", "Topic", "TopicArn"),
                                            ("QueueConfigurations", "QueueConfiguration", "Queue", "QueueArn"),
                                            ("LambdaFunctionConfigurations", "CloudFunctionConfiguration",
                                             "CloudFunction", "LambdaFunctionArn")):
        for entry in config.get(list_name, []):
            rules = (entry.get("Filter") or {}).get("Key", {}).get("FilterRules") or []
            inner = _el("Id", entry.get("Id")) + _el(arn_tag, entry[member]) + _el("Event", entry.get("Events", []))
            if rules:
                inner += "<Filter><S3Key>" + "".join(_el("FilterRule", {"Name": r["Name"], "Value": r["Value"]})
                                                     for r in rules) + "</S3Key></Filter>"
            parts.append(f"<{tag}>{inner}</{tag}>")
    if "EventBridgeConfiguration" in config:
        parts.append("<EventBridgeConfiguration></EventBridgeConfiguration>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<NotificationConfiguration xmlns="{NS}">{"".join(parts)}'
            f"</NotificationConfiguration>").encode()


# -- errors ----------------------------------------------------------------------------------------
def _ids() -> tuple[str, str]:
    rid = uuid.uuid4().hex[:16].upper()
    return rid, base64.b64encode(uuid.uuid4().bytes * 2).decode()


def error_reply(err: CumuloError, method: str = "GET", request_id: str | None = None,
                resource: str | None = None) -> Reply:
    rid, host_id = _ids()
    rid = request_id or rid
    code = err.type if isinstance(err, S3Error) else _CODES.get(err.type, err.type)
    status = err.status
    if code == "AuthorizationHeaderMalformed" or code == "BadRequest":
        status = 400
    extra = "".join(_el(k.replace("_", "-"), v) for k, v in getattr(err, "extra", {}).items())
    if resource is not None and isinstance(err, S3Error) and code in ("NoSuchKey", "NoSuchBucket", "NoSuchUpload"):
        extra += _el("Resource", resource)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{_xml_text(code)}</Code>'
            f"<Message>{_xml_text(err.message)}</Message>{extra}<RequestId>{rid}</RequestId>"
            f"<HostId>{host_id}</HostId></Error>").encode()
    headers = [("content-type", "application/xml"), ("x-amz-request-id", rid), ("x-amz-id-2", host_id),
               *getattr(err, "headers", [])]
    if method == "HEAD":
        headers.append(("x-amz-error-code", code))
        return Reply(status, b"", headers)
    return Reply(status, body, headers)


def head_error(err: CumuloError, method: str, raw_path: str, query_string: str,
               headers: list[tuple[str, str]]) -> Reply | None:
    """The S3 error for an S3 request refused from its head alone (the gate), else None."""
    if not looks_like_s3(method, raw_path, query_string, headers):
        return None
    return error_reply(err, method)


# -- the operations --------------------------------------------------------------------------------
Handler = Callable[["Call"], Reply]


class Call:
    """One S3 request, read once."""

    def __init__(self, service: ObjectService, request: Request, bucket: str, key: str, query: dict[str, str],
                 request_id: str, host_id: str) -> None:
        self.service, self.request, self.bucket, self.key, self.query = service, request, bucket, key, query
        self.request_id, self.host_id = request_id, host_id
        self._body: bytes | None = None
        self.trailers: dict[str, str] = {}

    def header(self, name: str) -> str | None:
        return self.request.header(name)

    @property
    def body(self) -> bytes:
        """The payload, ``aws-chunked`` decoded (its trailing headers in ``trailers``)."""
        if self._body is None:
            declared = self.header("x-amz-content-sha256") or ""
            encoding = (self.header("content-encoding") or "").lower()
            if declared.startswith("STREAMING-") or "aws-chunked" in encoding:
                self._body, self.trailers = sigv4.decode_chunked(self.request.body)
            else:
                self._body = self.request.body
        return self._body

    def caller(self) -> Caller:
        p = self.request.principal
        return Caller(principal_id=f"AWS:{p.access_key_id}" if p is not None and p.access_key_id else "",
                      source_ip=self.request.client, request_id=self.request_id,
                      account=p.account if p is not None else "")

    def content(self) -> Content:
        headers = {}
        for name in _CONTENT_HEADERS:
            value = self.header(name)
            if value is not None:
                if name == "content-encoding":
                    value = ",".join(v.strip() for v in value.split(",") if v.strip().lower() != "aws-chunked")
                    if not value:
                        continue
                headers[name] = value
        metadata = {k[len("x-amz-meta-"):]: v for k, v in self.request.headers if k.startswith("x-amz-meta-")}
        checksums = {}
        for source in (self.request.headers, list(self.trailers.items())):
            for k, v in source:
                if k.startswith("x-amz-checksum-") and k not in ("x-amz-checksum-type", "x-amz-checksum-algorithm"):
                    checksums[k[len("x-amz-checksum-"):].upper()] = v
        tagging = self.header("x-amz-tagging")
        return Content(self.header("content-type"), metadata, headers, checksums,
                       parse_tag_header(tagging) if tagging is not None else {})

    def version_id(self) -> str | None:
        """The ``versionId`` the request names (None: the latest)."""
        return self.query.get("versionId") if "versionId" in self.query else None

    def versioned(self) -> bool:
        """Whether the bucket's versioning was ever set (then answers name versions)."""
        return bool(self.service.versioning(self.bucket))

    def reply(self, status: int = 200, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Reply:
        """An answer; an XML document (``body`` starting ``<?xml``) says so."""
        out = [("x-amz-request-id", self.request_id), ("x-amz-id-2", self.host_id), *(headers or [])]
        if body.startswith(b"<?xml") and not headers:
            out.append(("content-type", "application/xml"))
        return Reply(status, body, out)


def _object_headers(row: ObjectRow, call: Call, whole: bool = True) -> list[tuple[str, str]]:
    meta = row.meta
    headers = [("etag", row.etag), ("last-modified", http_date(row.modified_ms)), ("accept-ranges", "bytes"),
               ("content-type", meta.get("ContentType", "binary/octet-stream"))]
    headers += list((meta.get("Headers") or {}).items())
    headers += [(f"x-amz-meta-{k}", v) for k, v in (meta.get("Metadata") or {}).items()]
    if whole and (call.header("x-amz-checksum-mode") or "").upper() == "ENABLED":   # a range has none
        headers += [(f"x-amz-checksum-{k.lower()}", v) for k, v in (meta.get("Checksums") or {}).items()]
    if meta.get("Parts") and call.query.get("partNumber"):
        headers.append(("x-amz-mp-parts-count", str(meta["Parts"])))
    if meta.get("Tags"):
        headers.append(("x-amz-tagging-count", str(len(meta["Tags"]))))
    headers += _version_header(call, row)
    for param, name in _OVERRIDES.items():
        if param in call.query:
            headers = [(k, v) for k, v in headers if k != name] + [(name, call.query[param])]
    return headers


def _when(value: str | None) -> int | None:
    """An HTTP date in ms (None when absent or unreadable: S3 ignores it then)."""
    if value is None:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp()) * 1000
    except (TypeError, ValueError):
        return None


def _preconditions(row: ObjectRow, call: Call) -> Reply | None:
    """RFC 7232 as S3 applies it: If-Match / If-Unmodified-Since (412), If-None-Match /
    If-Modified-Since (304)."""
    etag = row.etag.strip('"')
    modified = row.modified_ms // 1000 * 1000
    if_match = call.header("if-match")
    if if_match is not None:
        if etag not in {t.strip().strip('"') for t in if_match.split(",")} and if_match.strip() != "*":
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                          Condition="If-Match")
    else:
        since = _when(call.header("if-unmodified-since"))
        if since is not None and modified > since:
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                          Condition="If-Unmodified-Since")
    if_none = call.header("if-none-match")
    if if_none is not None:
        if etag in {t.strip().strip('"') for t in if_none.split(",")} or if_none.strip() == "*":
            return call.reply(304, b"", [("etag", row.etag), ("last-modified", http_date(row.modified_ms))])
    else:
        since = _when(call.header("if-modified-since"))
        if since is not None and modified <= since:
            return call.reply(304, b"", [("etag", row.etag), ("last-modified", http_date(row.modified_ms))])
    return None


def list_buckets(call: Call) -> Reply:
    buckets = [{"Name": b["Name"], "CreationDate": iso_time(b["Created"])} for b in call.service.list_buckets()]
    account = call.service.account
    return call.reply(200, xml_document("ListAllMyBucketsResult", {
        "Owner": {"ID": account, "DisplayName": account}, "Buckets": {"Bucket": buckets}}))


def create_bucket(call: Call) -> Reply:
    location = None
    if call.body.strip():
        root = parse_xml(call.body)
        if root.tag != "CreateBucketConfiguration":
            raise _malformed()
        location = _child_text(root, "LocationConstraint") or None
    call.service.create_bucket(call.bucket, location)
    return call.reply(200, b"", [("location", f"/{call.bucket}")])


def head_bucket(call: Call) -> Reply:
    doc = call.service.bucket(call.bucket)
    return call.reply(200, b"", [("x-amz-bucket-region", doc.get("Region", call.service.region))])


def delete_bucket(call: Call) -> Reply:
    call.service.delete_bucket(call.bucket)
    return call.reply(204)


def get_bucket_location(call: Call) -> Reply:
    region = call.service.location(call.bucket)
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{NS}">{region}</LocationConstraint>'
    return call.reply(200, body.encode())


def parse_cors(body: bytes) -> list[dict[str, Any]]:
    """A CORSConfiguration document: its rules in boto3's shape (``CORSRules``)."""
    root = parse_xml(body)
    if root.tag != "CORSConfiguration":
        raise _malformed()
    rules = []
    for child in root:
        if child.tag != "CORSRule":
            raise _malformed()
        rule: dict[str, Any] = {}
        for el in child:
            text = (el.text or "").strip()
            if el.tag in ("AllowedHeader", "AllowedMethod", "AllowedOrigin", "ExposeHeader"):
                rule.setdefault(el.tag + "s", []).append(text)
            elif el.tag == "MaxAgeSeconds":
                if not text.isascii() or not text.isdigit() or len(text) > 10:
                    raise _malformed()
                rule["MaxAgeSeconds"] = int(text)
            elif el.tag == "ID":
                rule["ID"] = text
            else:
                raise _malformed()
        rules.append(rule)
    return rules


def render_cors(rules: list[dict[str, Any]]) -> bytes:
    out = []
    for rule in rules:
        members: dict[str, Any] = {}
        if "ID" in rule:
            members["ID"] = rule["ID"]
        for name in ("AllowedHeader", "AllowedMethod", "AllowedOrigin", "ExposeHeader"):
            if rule.get(name + "s"):
                members[name] = rule[name + "s"]
        if "MaxAgeSeconds" in rule:
            members["MaxAgeSeconds"] = rule["MaxAgeSeconds"]
        out.append(members)
    return xml_document("CORSConfiguration", {"CORSRule": out})


def get_cors(call: Call) -> Reply:
    rules = call.service.cors(call.bucket)
    if not rules:
        raise S3Error("NoSuchCORSConfiguration", "The CORS configuration does not exist", 404,
                      BucketName=call.bucket)
    return call.reply(200, render_cors(rules))


def put_cors(call: Call) -> Reply:
    call.service.put_cors(call.bucket, parse_cors(call.body))
    return call.reply(200)


def delete_cors(call: Call) -> Reply:
    call.service.put_cors(call.bucket, None)
    return call.reply(204)


def is_preflight(method: str, headers: list[tuple[str, str]]) -> bool:
    """A browser's CORS preflight: an unsigned ``OPTIONS`` with ``Origin`` (S3 answers it from the
    bucket's CORS rules; ``preflight``)."""
    return method == "OPTIONS" and _header(headers, "origin") is not None and \
        _header(headers, "authorization") is None


def preflight(cumulo: Any, request: Request) -> Reply:
    request_id, host_id = _ids()
    bucket, key = address(request)
    resource = "/" + bucket + ("/" + key if key else "")
    try:
        if not bucket:
            raise S3Error("BadRequest", "Insufficient information. Bucket needed.", 400)
        headers = s3cors.preflight(cumulo.objects.cors(bucket), request.header("origin"),
                                   request.header("access-control-request-method"),
                                   request.header("access-control-request-headers"))
        return Reply(200, b"", [*headers, ("x-amz-request-id", request_id), ("x-amz-id-2", host_id)])
    except CumuloError as err:
        return error_reply(err, request.method, request_id, resource)


def _with_cors(cumulo: Any, request: Request, bucket: str, reply: Reply) -> Reply:
    """An actual request with an ``Origin``: the matching rule's headers on the answer."""
    origin = request.header("origin")
    if not origin or not bucket:
        return reply
    try:
        rules = cumulo.objects.cors(bucket)
    except CumuloError:
        return reply
    rule = s3cors.match(rules or [], origin, request.method)
    if rule is None:
        return reply
    return dataclasses.replace(reply, headers=[*reply.headers, *s3cors.answer_headers(rule, origin)])


# LifecycleConfiguration: element -> (boto3's member name, kind); kinds: "int", "bool", "text", "list"
# (repeated, each a structure), "struct"
_LIFECYCLE = {
    "Rule": ("Rules", "list"), "ID": ("ID", "text"), "Prefix": ("Prefix", "text"), "Status": ("Status", "text"),
    "Filter": ("Filter", "struct"), "And": ("And", "struct"), "Tag": ("Tag", "struct"),
    "Key": ("Key", "text"), "Value": ("Value", "text"), "ObjectSizeGreaterThan": ("ObjectSizeGreaterThan", "int"),
    "ObjectSizeLessThan": ("ObjectSizeLessThan", "int"), "Expiration": ("Expiration", "struct"),
    "Days": ("Days", "int"), "Date": ("Date", "text"), "ExpiredObjectDeleteMarker": ("ExpiredObjectDeleteMarker", "bool"),
    "Transition": ("Transitions", "list"), "StorageClass": ("StorageClass", "text"),
    "NoncurrentVersionTransition": ("NoncurrentVersionTransitions", "list"),
    "NoncurrentVersionExpiration": ("NoncurrentVersionExpiration", "struct"), "NoncurrentDays": ("NoncurrentDays", "int"),
    "NewerNoncurrentVersions": ("NewerNoncurrentVersions", "int"),
    "AbortIncompleteMultipartUpload": ("AbortIncompleteMultipartUpload", "struct"),
    "DaysAfterInitiation": ("DaysAfterInitiation", "int"),
}


def _lifecycle_struct(el: ET.Element, depth: int = 0) -> dict[str, Any]:
    if depth > 6:
        raise _malformed()
    out: dict[str, Any] = {}
    for child in el:
        known = _LIFECYCLE.get(child.tag) if isinstance(child.tag, str) else None
        if known is None:
            raise _malformed()
        name, kind = known
        text = (child.text or "").strip()
        if kind == "int":
            if not text.isascii() or not text.isdigit() or len(text) > 19:
                raise _malformed()
            value: Any = int(text)
        elif kind == "bool":
            if text not in ("true", "false"):
                raise _malformed()
            value = text == "true"
        elif kind == "text":
            value = child.text or ""
        else:
            value = _lifecycle_struct(child, depth + 1)
        if el.tag == "And" and child.tag == "Tag":      # And's tags: repeated Tag elements
            out.setdefault("Tags", []).append(value)
        elif kind == "list":
            out.setdefault(name, []).append(value)
        elif name in out:
            raise _malformed()
        else:
            out[name] = value
    return out


def parse_lifecycle(body: bytes) -> list[dict[str, Any]]:
    """A LifecycleConfiguration document: its rules in boto3's shape (``Rules``)."""
    root = parse_xml(body)
    if root.tag != "LifecycleConfiguration" or any(child.tag != "Rule" for child in root):
        raise _malformed()
    return list(_lifecycle_struct(root).get("Rules", []))


def _lifecycle_members(doc: dict[str, Any]) -> dict[str, Any]:
    elements = {member: element for element, (member, _) in _LIFECYCLE.items()}
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if name == "Tags":
            out["Tag"] = [_lifecycle_members(v) for v in value]
        elif isinstance(value, list):
            out[elements[name]] = [_lifecycle_members(v) for v in value]
        elif isinstance(value, dict):
            out[elements[name]] = _lifecycle_members(value)
        else:
            out[elements[name]] = value
    return out


def render_lifecycle(rules: list[dict[str, Any]]) -> bytes:
    return xml_document("LifecycleConfiguration", {"Rule": [_lifecycle_members(r) for r in rules]})


def get_lifecycle(call: Call) -> Reply:
    rules = call.service.lifecycle(call.bucket)
    if not rules:
        raise S3Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", 404,
                      BucketName=call.bucket)
    return call.reply(200, render_lifecycle(rules))


def put_lifecycle(call: Call) -> Reply:
    call.service.put_lifecycle(call.bucket, parse_lifecycle(call.body))
    return call.reply(200)


def delete_lifecycle(call: Call) -> Reply:
    call.service.put_lifecycle(call.bucket, None)
    return call.reply(204)


def parse_tagging(body: bytes, object_tags: bool = False) -> dict[str, str]:
    """A Tagging document's TagSet, as a map (S3's errors for duplicate keys and bad sizes; an
    object's limits with ``object_tags``)."""
    root = parse_xml(body)
    if root.tag != "Tagging" or [c.tag for c in root] != ["TagSet"]:
        raise _malformed()
    tags: dict[str, str] = {}
    for tag in root[0]:
        if tag.tag != "Tag" or sorted(c.tag for c in tag) != ["Key", "Value"]:
            raise _malformed()
        key, value = _child_text(tag, "Key") or "", _child_text(tag, "Value") or ""
        if key in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", 400, TagKey=key)
        if not key or len(key) > 128 or len(value) > 256 or key.startswith("aws:"):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid" if not key or len(key) > 128
                          or key.startswith("aws:") else "The TagValue you have provided is invalid", 400, TagKey=key)
        tags[key] = value
    if object_tags:
        return m.check_object_tags(tags)
    if len(tags) > 50:
        raise S3Error("InvalidTag", "Bucket tag count cannot be greater than 50", 400)
    return tags


def get_tagging(call: Call) -> Reply:
    tags = call.service.bucket(call.bucket).get("Tags")
    if not tags:
        raise S3Error("NoSuchTagSet", "The TagSet does not exist", 404, BucketName=call.bucket)
    return call.reply(200, xml_document("Tagging", {"TagSet": {"Tag": [{"Key": k, "Value": v}
                                                                      for k, v in tags.items()]}}))


def put_tagging(call: Call) -> Reply:
    call.service.put_bucket_tags(call.bucket, parse_tagging(call.body))
    return call.reply(204)


def delete_tagging(call: Call) -> Reply:
    call.service.put_bucket_tags(call.bucket, None)
    return call.reply(204)


def get_notification(call: Call) -> Reply:
    return call.reply(200, render_notification(call.service.notification(call.bucket)))


def put_notification(call: Call) -> Reply:
    call.service.put_notification(call.bucket, parse_notification(call.body), call.caller())
    return call.reply(200)


def _max_keys(call: Call, name: str = "max-keys") -> int:
    value = call.query.get(name, "1000")
    if not value.isdigit() or len(value) > 10:
        raise S3Error("InvalidArgument", "Provided max-keys not an integer or within integer range", 400,
                      ArgumentName=name, ArgumentValue=value)
    return min(int(value), 1000)


def _token(cursor: str) -> str:
    return base64.urlsafe_b64encode(cursor.encode("utf-8", "surrogatepass")).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "surrogatepass")
    except (ValueError, UnicodeDecodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect", 400,
                      ArgumentName="continuation-token") from None


def _list_query(call: Call) -> tuple[str, str, bool, Callable[[str], str], int]:
    """A listing's prefix, delimiter, whether keys are URL-encoded, the encoder, and max-keys."""
    q = call.query
    url = q.get("encoding-type") == "url"
    if "encoding-type" in q and not url:
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", 400,
                      ArgumentName="encoding-type")
    enc: Callable[[str], str] = (lambda s: quote(s, safe="/")) if url else (lambda s: s)
    return q.get("prefix", ""), q.get("delimiter", ""), url, enc, _max_keys(call)


def _listing(call: Call, version: int) -> Reply:
    q = call.query
    prefix, delimiter, url, enc, max_keys = _list_query(call)
    if version == 2:
        token = q.get("continuation-token")
        after = max(q.get("start-after", ""), _untoken(token) if token is not None else "")
    else:
        after = q.get("marker", "")
    listing = call.service.list_objects(call.bucket, prefix, delimiter, max_keys, after)
    owner = {"ID": call.service.account, "DisplayName": call.service.account}
    contents = [{"Key": enc(r.key), "LastModified": iso_time(r.modified_ms), "ETag": r.etag, "Size": r.size,
                 **({"Owner": owner} if version == 1 or q.get("fetch-owner") == "true" else {}),
                 "StorageClass": "STANDARD"} for r in listing.contents]
    doc: dict[str, Any] = {"Name": call.bucket, "Prefix": enc(prefix)}
    if version == 2:
        if "start-after" in q:
            doc["StartAfter"] = enc(q["start-after"])
        if "continuation-token" in q:
            doc["ContinuationToken"] = q["continuation-token"]
        if listing.truncated:
            doc["NextContinuationToken"] = _token(listing.next_after)
        doc["KeyCount"] = len(listing.contents) + len(listing.prefixes)
    else:
        doc["Marker"] = enc(after)
        if listing.truncated:
            last = listing.contents[-1].key if listing.contents and (not listing.prefixes or
                                                                     listing.contents[-1].key > listing.prefixes[-1]) \
                else (listing.prefixes[-1] if listing.prefixes else "")
            doc["NextMarker"] = enc(last)
    doc["MaxKeys"] = max_keys
    if delimiter:
        doc["Delimiter"] = enc(delimiter)
    doc["IsTruncated"] = listing.truncated
    if url:
        doc["EncodingType"] = "url"
    doc["Contents"] = contents
    doc["CommonPrefixes"] = [{"Prefix": enc(p)} for p in listing.prefixes]
    return call.reply(200, xml_document("ListBucketResult", doc))


def list_objects_v2(call: Call) -> Reply:
    return _listing(call, 2)


def list_objects(call: Call) -> Reply:
    return _listing(call, 1)


def list_uploads(call: Call) -> Reply:
    uploads = call.service.list_uploads(call.bucket)
    owner = {"ID": call.service.account, "DisplayName": call.service.account}
    return call.reply(200, xml_document("ListMultipartUploadsResult", {
        "Bucket": call.bucket, "KeyMarker": "", "UploadIdMarker": "", "MaxUploads": 1000, "IsTruncated": False,
        "Upload": [{"Key": key, "UploadId": uid, "Initiator": owner, "Owner": owner, "StorageClass": "STANDARD",
                    "Initiated": iso_time(at)} for key, uid, at in uploads]}))


def delete_objects(call: Call) -> Reply:
    root = parse_xml(call.body)
    if root.tag != "Delete":
        raise _malformed()
    quiet = (_child_text(root, "Quiet") or "").lower() == "true"
    objects = root.findall("Object")
    if not objects or len(objects) > 1000:
        raise _malformed()
    deleted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for obj in objects:
        key, version_id = _child_text(obj, "Key"), _child_text(obj, "VersionId")
        if key is None:
            raise _malformed()
        try:
            done = call.service.delete_object(call.bucket, key, call.caller(), version_id)
            if not quiet:
                entry: dict[str, Any] = {"Key": key}
                if version_id is not None:
                    entry["VersionId"] = version_id
                if done.marker:
                    entry["DeleteMarker"] = True
                    if version_id is None:
                        entry["DeleteMarkerVersionId"] = done.version_id
                deleted.append(entry)
        except S3Error as err:
            if err.code == "NoSuchBucket":
                raise
            errors.append({"Key": key, **({"VersionId": version_id} if version_id is not None else {}),
                           "Code": err.code, "Message": err.message})
    return call.reply(200, xml_document("DeleteResult", {"Deleted": deleted, "Error": errors}))


def _version_header(call: Call, row: ObjectRow) -> list[tuple[str, str]]:
    """``x-amz-version-id`` in a bucket whose versioning was ever set (or when a version was named)."""
    return [("x-amz-version-id", row.version_id)] if call.version_id() is not None or call.versioned() else []


def _acl_headers(call: Call) -> dict[str, str]:
    return {k: v for k, v in call.request.headers if k == "x-amz-acl" or k.startswith("x-amz-grant-")}


def put_object(call: Call) -> Reply:
    content = call.content()
    if (acl := _acl_headers(call)):
        call.service.check_acl(call.bucket, acl)
    row = call.service.put_object(call.bucket, call.key, call.body, content, call.caller(),
                                  call.header("if-match"), call.header("if-none-match"), call.header("content-md5"))
    headers = [("etag", row.etag), *_version_header(call, row)]
    headers += [(f"x-amz-checksum-{k.lower()}", v) for k, v in content.checksums.items()]
    return call.reply(200, b"", headers)


def get_object(call: Call) -> Reply:
    row, f = call.service.open(call.bucket, call.key, call.version_id())
    with f:
        early = _preconditions(row, call)
        if early is not None:
            return early
        byte_range = m.parse_range(call.header("range"), row.size)
        headers = _object_headers(row, call, byte_range is None)
        if byte_range is None:
            return call.reply(200, f.read(), headers)
        f.seek(byte_range.start)
        data = f.read(byte_range.length)
    return call.reply(206, data, headers + [("content-range",
                                             f"bytes {byte_range.start}-{byte_range.end}/{row.size}")])


def head_object(call: Call) -> Reply:
    row = call.service.head(call.bucket, call.key, call.version_id())
    early = _preconditions(row, call)
    if early is not None:
        return early
    byte_range = m.parse_range(call.header("range"), row.size)
    headers = _object_headers(row, call, byte_range is None)
    if byte_range is not None:
        reply = call.reply(206, b"", headers + [("content-range", f"bytes {byte_range.start}-{byte_range.end}/"
                                                                  f"{row.size}")])
        reply.length = byte_range.length
        return reply
    reply = call.reply(200, b"", headers)
    reply.length = row.size
    return reply


def _deleted_headers(deleted: Deleted) -> list[tuple[str, str]]:
    headers = [("x-amz-delete-marker", "true")] if deleted.marker else []
    return headers + ([("x-amz-version-id", deleted.version_id)] if deleted.version_id is not None else [])


def delete_object(call: Call) -> Reply:
    deleted = call.service.delete_object(call.bucket, call.key, call.caller(), call.version_id())
    return call.reply(204, b"", _deleted_headers(deleted))


def _copy_source(call: Call) -> tuple[str, str, str | None]:
    """The copy source's bucket, key and version (None: the latest)."""
    raw = call.header("x-amz-copy-source") or ""
    path, _, query = raw.partition("?")
    source = unquote(path).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                      400, ArgumentName="x-amz-copy-source", ArgumentValue=raw)
    version = None
    for pair in query.split("&") if query else []:
        name, _, value = pair.partition("=")
        if name == "versionId":
            version = unquote(value)
    return bucket, key, version


def copy_object(call: Call) -> Reply:
    source_bucket, source_key, source_version = _copy_source(call)
    directive = (call.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", 400, ArgumentName="x-amz-metadata-directive",
                      ArgumentValue=directive)
    conditions = {name[len("x-amz-copy-source-"):]: v for name, v in call.request.headers
                  if name in ("x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match")}
    tagging = (call.header("x-amz-tagging-directive") or "COPY").upper()
    if tagging not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown tagging directive.", 400, ArgumentName="x-amz-tagging-directive",
                      ArgumentValue=tagging)
    content = call.content()
    if (acl := _acl_headers(call)):
        call.service.check_acl(call.bucket, acl)
    row, src = call.service.copy_object(call.bucket, call.key, source_bucket, source_key, directive == "REPLACE",
                                        content, call.caller(), conditions, source_version,
                                        content.tags if tagging == "REPLACE" else None)
    headers = _version_header(call, row)
    if source_version is not None or call.service.versioning(source_bucket):
        headers.append(("x-amz-copy-source-version-id", src.version_id))
    return call.reply(200, xml_document("CopyObjectResult", {"LastModified": iso_time(row.modified_ms),
                                                             "ETag": row.etag}),
                      [("content-type", "application/xml"), *headers])


def create_upload(call: Call) -> Reply:
    if (acl := _acl_headers(call)):
        call.service.check_acl(call.bucket, acl)
    upload_id = call.service.create_upload(call.bucket, call.key, call.content())
    return call.reply(200, xml_document("InitiateMultipartUploadResult", {
        "Bucket": call.bucket, "Key": call.key, "UploadId": upload_id}))


def _part_number(call: Call) -> int:
    value = call.query.get("partNumber", "")
    if not value.isdigit() or len(value) > 6:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", 400,
                      ArgumentName="partNumber", ArgumentValue=value)
    return int(value)


def upload_part(call: Call) -> Reply:
    content = call.content()
    part = call.service.upload_part(call.bucket, call.key, call.query["uploadId"], _part_number(call), call.body,
                                    call.header("content-md5"), content.checksums)
    return call.reply(200, b"", [("etag", part.etag)])


def upload_part_copy(call: Call) -> Reply:
    source_bucket, source_key, source_version = _copy_source(call)
    part = call.service.upload_part_copy(call.bucket, call.key, call.query["uploadId"], _part_number(call),
                                         source_bucket, source_key, call.header("x-amz-copy-source-range"),
                                         source_version)
    return call.reply(200, xml_document("CopyPartResult", {"LastModified": iso_time(part.modified_ms),
                                                           "ETag": part.etag}))


def complete_upload(call: Call) -> Reply:
    root = parse_xml(call.body)
    if root.tag != "CompleteMultipartUpload":
        raise _malformed()
    chosen = []
    for part in root.findall("Part"):
        number, etag = _child_text(part, "PartNumber"), _child_text(part, "ETag")
        if number is None or not number.strip().isdigit() or etag is None:
            raise _malformed()
        chosen.append((int(number), etag))
    row = call.service.complete_upload(call.bucket, call.key, call.query["uploadId"], chosen, call.caller(),
                                       call.header("if-none-match"))
    host = call.header("host") or ""
    return call.reply(200, xml_document("CompleteMultipartUploadResult", {
        "Location": f"http://{host}/{call.bucket}/{quote(call.key)}", "Bucket": call.bucket, "Key": call.key,
        "ETag": row.etag}), [("content-type", "application/xml"), *_version_header(call, row)])


def abort_upload(call: Call) -> Reply:
    call.service.abort_upload(call.bucket, call.key, call.query["uploadId"])
    return call.reply(204)


def list_parts(call: Call) -> Reply:
    upload_id = call.query["uploadId"]
    _, parts = call.service.list_parts(call.bucket, call.key, upload_id)
    marker = call.query.get("part-number-marker", "0")
    after = int(marker) if marker.isdigit() and len(marker) < 7 else 0
    limit = _max_keys(call, "max-parts")
    chosen = [p for p in parts if p.number > after]
    page, truncated = chosen[:limit], len(chosen) > limit
    owner = {"ID": call.service.account, "DisplayName": call.service.account}
    return call.reply(200, xml_document("ListPartsResult", {
        "Bucket": call.bucket, "Key": call.key, "UploadId": upload_id, "PartNumberMarker": after,
        "NextPartNumberMarker": page[-1].number if page else 0, "MaxParts": limit, "IsTruncated": truncated,
        "Part": [{"PartNumber": p.number, "LastModified": iso_time(p.modified_ms), "ETag": p.etag, "Size": p.size}
                 for p in page],
        "Initiator": owner, "Owner": owner, "StorageClass": "STANDARD"}))


def parse_tag_header(value: str) -> dict[str, str]:
    """``x-amz-tagging``: tags as URL query parameters (``k1=v1&k2=v2``)."""
    tags: dict[str, str] = {}
    for pair in value.split("&") if value else []:
        name, _, text = pair.partition("=")
        key = unquote(name.replace("+", " "))
        if key in tags:
            raise S3Error("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL "
                          "query parameters without tag name duplicates.", 400, ArgumentName="x-amz-tagging",
                          ArgumentValue=value)
        tags[key] = unquote(text.replace("+", " "))
    return m.check_object_tags(tags)


def get_object_tagging(call: Call) -> Reply:
    row = call.service.head(call.bucket, call.key, call.version_id())
    tags = row.meta.get("Tags") or {}
    return call.reply(200, xml_document("Tagging", {"TagSet": {"Tag": [{"Key": k, "Value": v}
                                                                      for k, v in tags.items()]}}),
                      [("content-type", "application/xml"), *_version_header(call, row)])


def put_object_tagging(call: Call) -> Reply:
    tags = parse_tagging(call.body, object_tags=True)
    row = call.service.put_object_tags(call.bucket, call.key, tags, call.version_id())
    return call.reply(200, b"", _version_header(call, row))


def delete_object_tagging(call: Call) -> Reply:
    row = call.service.put_object_tags(call.bucket, call.key, None, call.version_id())
    return call.reply(204, b"", _version_header(call, row))


def get_policy(call: Call) -> Reply:
    return call.reply(200, call.service.policy(call.bucket).encode(), [("content-type", "application/json")])


def put_policy(call: Call) -> Reply:
    try:
        text = call.body.decode()
    except UnicodeDecodeError:
        raise S3Error("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400) from None
    principal = call.request.principal
    call.service.put_policy(call.bucket, text, principal.arn if principal is not None else "")
    return call.reply(204)


_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def parse_public_access_block(body: bytes) -> dict[str, bool]:
    """A PublicAccessBlockConfiguration document: its flags (absent ones false); ``MalformedXML``
    for anything else."""
    root = parse_xml(body)
    if root.tag != "PublicAccessBlockConfiguration":
        raise _malformed()
    out: dict[str, bool] = {}
    for child in root:
        text = (child.text or "").strip().lower()
        if child.tag not in _BLOCK_FLAGS or child.tag in out or text not in ("true", "false") or len(child):
            raise _malformed()
        out[child.tag] = text == "true"
    return {flag: out.get(flag, False) for flag in _BLOCK_FLAGS}


def get_public_access_block(call: Call) -> Reply:
    block = call.service.public_access_block(call.bucket)
    return call.reply(200, xml_document("PublicAccessBlockConfiguration", {f: block.get(f, False)
                                                                          for f in _BLOCK_FLAGS}))


def put_public_access_block(call: Call) -> Reply:
    call.service.put_public_access_block(call.bucket, parse_public_access_block(call.body))
    return call.reply(200)


def delete_public_access_block(call: Call) -> Reply:
    call.service.put_public_access_block(call.bucket, None)
    return call.reply(204)


def get_policy_status(call: Call) -> Reply:
    return call.reply(200, xml_document("PolicyStatus", {"IsPublic": call.service.policy_status(call.bucket)}))


def delete_policy(call: Call) -> Reply:
    call.service.put_policy(call.bucket, None)
    return call.reply(204)


def get_versioning(call: Call) -> Reply:
    status = call.service.versioning(call.bucket)
    return call.reply(200, xml_document("VersioningConfiguration", {"Status": status or None}))


def put_versioning(call: Call) -> Reply:
    root = parse_xml(call.body)
    if root.tag != "VersioningConfiguration" or any(c.tag not in ("Status", "MfaDelete") for c in root):
        raise _malformed()
    if (_child_text(root, "MfaDelete") or "Disabled") != "Disabled":
        raise S3Error("InvalidRequest", "DevPay and Mfa are mutually exclusive authorization methods.", 400)
    status = _child_text(root, "Status")
    if status is None:          # S3 accepts a document without Status, and changes nothing
        call.service.bucket(call.bucket)
        return call.reply(200)
    call.service.put_versioning(call.bucket, status)
    return call.reply(200)


def list_object_versions(call: Call) -> Reply:
    q = call.query
    prefix, delimiter, url, enc, max_keys = _list_query(call)
    key_marker, version_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
    listing = call.service.list_versions(call.bucket, prefix, delimiter, max_keys, key_marker, version_marker)
    owner = {"ID": call.service.account, "DisplayName": call.service.account}
    parts = [_el("Name", call.bucket), _el("Prefix", enc(prefix)), _el("KeyMarker", enc(key_marker)),
             _el("VersionIdMarker", version_marker)]
    if listing.truncated:
        next_key, next_version = listing.next_markers()
        parts.append(_el("NextKeyMarker", enc(next_key)))
        parts.append(_el("NextVersionIdMarker", next_version))
    parts.append(_el("MaxKeys", max_keys))
    if delimiter:
        parts.append(_el("Delimiter", enc(delimiter)))
    parts.append(_el("IsTruncated", listing.truncated))
    if url:
        parts.append(_el("EncodingType", "url"))
    prefixes = []
    for entry in listing.entries:       # versions and delete markers in their order, as S3 writes them
        if isinstance(entry, str):
            prefixes.append(_el("CommonPrefixes", {"Prefix": enc(entry)}))
        elif entry.marker:
            parts.append(_el("DeleteMarker", {"Key": enc(entry.key), "VersionId": entry.version_id,
                                              "IsLatest": entry.latest, "LastModified": iso_time(entry.modified_ms),
                                              "Owner": owner}))
        else:
            parts.append(_el("Version", {"Key": enc(entry.key), "VersionId": entry.version_id, "IsLatest": entry.latest,
                                         "LastModified": iso_time(entry.modified_ms), "ETag": entry.etag,
                                         "Size": entry.size, "StorageClass": "STANDARD", "Owner": owner}))
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="{NS}">{"".join(parts)}'
            f'{"".join(prefixes)}</ListVersionsResult>').encode()
    return call.reply(200, body)


OPERATIONS: dict[str, Handler] = {
    "ListBuckets": list_buckets, "CreateBucket": create_bucket, "HeadBucket": head_bucket,
    "DeleteBucket": delete_bucket, "GetBucketLocation": get_bucket_location,
    "GetBucketNotificationConfiguration": get_notification, "PutBucketNotificationConfiguration": put_notification,
    "ListObjectsV2": list_objects_v2, "ListObjects": list_objects, "ListMultipartUploads": list_uploads,
    "DeleteObjects": delete_objects, "PutObject": put_object, "GetObject": get_object, "HeadObject": head_object,
    "DeleteObject": delete_object, "CopyObject": copy_object, "CreateMultipartUpload": create_upload,
    "UploadPart": upload_part, "UploadPartCopy": upload_part_copy, "CompleteMultipartUpload": complete_upload,
    "AbortMultipartUpload": abort_upload, "ListParts": list_parts,
    "GetBucketCors": get_cors, "PutBucketCors": put_cors, "DeleteBucketCors": delete_cors,
    "GetBucketLifecycleConfiguration": get_lifecycle, "PutBucketLifecycleConfiguration": put_lifecycle,
    "DeleteBucketLifecycle": delete_lifecycle,
    "GetBucketTagging": get_tagging, "PutBucketTagging": put_tagging, "DeleteBucketTagging": delete_tagging,
    "GetBucketVersioning": get_versioning, "PutBucketVersioning": put_versioning,
    "ListObjectVersions": list_object_versions, "GetObjectTagging": get_object_tagging,
    "PutObjectTagging": put_object_tagging, "DeleteObjectTagging": delete_object_tagging,
    "GetBucketPolicy": get_policy, "PutBucketPolicy": put_policy, "DeleteBucketPolicy": delete_policy,
    "GetPublicAccessBlock": get_public_access_block, "PutPublicAccessBlock": put_public_access_block,
    "DeletePublicAccessBlock": delete_public_access_block, "GetBucketPolicyStatus": get_policy_status,
}


def handle(cumulo: Any, request: Request,
           check: Callable[[tuple[str, str], dict[str, str], dict[str, Any]], None] | None = None) -> Reply:
    """Run one S3 operation; every failure is answered with S3's XML error."""
    request_id, host_id = _ids()
    bucket, key = address(request)
    resource = "/" + bucket + ("/" + key if key else "")
    try:
        query = _query(request)
        name = operation_of(request.method, bucket, key, query, request.headers)
        if not name:
            raise S3Error("NotImplemented", "A header you provided implies functionality that is not implemented", 501)
        if check is not None:
            check(("s3", name), {"bucket": bucket, "key": key}, dict(request.headers))
        try:
            reply = OPERATIONS[name](Call(cumulo.objects, request, bucket, key, query, request_id, host_id))
        except S3Error as err:
            if err.code == "NoSuchKey" and name in ("GetObject", "HeadObject") and check is not None:
                # S3 says whether a key exists only to callers that may list the bucket (else 403)
                check(("s3", "ListObjectsV2"), {"bucket": bucket, "key": ""}, {})
            raise
        return _with_cors(cumulo, request, bucket, reply) if request.header("origin") else reply
    except CumuloError as err:
        return error_reply(err, request.method, request_id, resource)
