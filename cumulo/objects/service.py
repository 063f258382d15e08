"""Buckets and objects: S3's operations over the object index (metadata, in the message store)
and the body files, with S3's errors (``model/objects.py``) and event notifications
(``model/s3events.py``) committed in the write's own transaction through the outbox.

Every write puts the body's file in place first, then commits the row that names it (and its
notifications), then removes the file it replaced: a crash leaves at most an unnamed file, never
a row without its bytes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, BinaryIO

from cumulo import iam, outbox
from cumulo.model import s3cors, s3lifecycle, s3public
from cumulo.model import objects as m
from cumulo.model import s3events
from cumulo.model.objects import S3Error
from cumulo.ports import SYSTEM_CLOCK, Clock, now_ms
from cumulo.store.ports import NewMessage, ObjectBodies, ObjectIndex, ObjectRow, PartRow

__all__ = ["ObjectService", "Caller", "Content", "Listing", "VersionListing", "Deleted", "iso_time", "http_date",
           "new_version_id", "check_version_id"]


@dataclass(frozen=True)
class Caller:
    """Who made a request, as event notifications name them."""

    principal_id: str = ""
    source_ip: str = ""
    request_id: str = ""
    account: str = ""


@dataclass(frozen=True)
class Content:
    """What a write says of its object besides the bytes."""

    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)       # x-amz-meta-*, names lower-cased
    headers: dict[str, str] = field(default_factory=dict)        # Content-Encoding, Cache-Control …
    checksums: dict[str, str] = field(default_factory=dict)      # CRC32 … as sent (base64)
    tags: dict[str, str] = field(default_factory=dict)           # x-amz-tagging

    def meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ContentType": self.content_type or "binary/octet-stream"}
        if self.metadata:
            out["Metadata"] = self.metadata
        if self.tags:
            out["Tags"] = self.tags
        if self.headers:
            out["Headers"] = self.headers
        if self.checksums:
            out["Checksums"] = self.checksums
        return out


@dataclass
class Listing:
    contents: list[ObjectRow]
    prefixes: list[str]
    truncated: bool
    next_after: str         # where the next page starts (a key, or past a common prefix)


@dataclass
class VersionListing:
    entries: list[ObjectRow | str]      # versions and delete markers (rows), common prefixes (str), in order
    truncated: bool

    def next_markers(self) -> tuple[str, str | None]:
        """NextKeyMarker and NextVersionIdMarker of a truncated page."""
        last = self.entries[-1]
        return (last, None) if isinstance(last, str) else (last.key, last.version_id)


@dataclass(frozen=True)
class Deleted:
    """What a DeleteObject did: the version it removed or the delete marker it made (None:
    unversioned), and whether that is a delete marker."""

    version_id: str | None = None
    marker: bool = False


_VERSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")
_PAST = "\U0010ffff"       # after every key that starts with what it follows


def new_version_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(24)).decode()


def check_version_id(version_id: str) -> None:
    if version_id != "null" and _VERSION_ID.fullmatch(version_id) is None:
        raise S3Error("InvalidArgument", "Invalid version id specified", 400, ArgumentName="versionId",
                      ArgumentValue=version_id)


def http_date(ms: int) -> str:
    """An HTTP date (Last-Modified …), to the second."""
    return format_datetime(datetime.fromtimestamp(ms // 1000, timezone.utc), usegmt=True)


def iso_time(ms: int) -> str:
    """S3's timestamps in XML and events: 2009-10-12T17:50:30.000Z."""
    t = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_counter = itertools.count()


def _sequencer() -> str:
    """Increases for every event this process makes (nanoseconds, then a counter)."""
    return f"{time.time_ns():016X}{next(_counter) % 256:02X}"


class ObjectService:
    def __init__(self, index: ObjectIndex, files: ObjectBodies, region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.index, self.files, self.region, self.account, self.clock = index, files, region, account, clock
        self._swept = False
        self._sweep_lock = threading.Lock()

    def sweep(self) -> int:
        """Remove body files no row names (a crash between a file and its commit): at a server's
        start, before any write."""
        with self._sweep_lock:
            return self.files.sweep(self.index.blobs())

    # -- buckets ----------------------------------------------------------------------------------
    def bucket(self, name: str) -> dict[str, Any]:
        doc = self.index.get_bucket(name)
        if doc is None:
            raise m.no_such_bucket(name)
        return doc

    def create_bucket(self, name: str, location: str | None = None) -> None:
        m.check_bucket_name(name)
        region = location or "us-east-1"
        if location is not None and location != self.region and not (location == "EU" and self.region == "eu-west-1"):
            raise S3Error("IllegalLocationConstraintException",
                          f"The {location} location constraint is incompatible for the region specific endpoint "
                          "this request was sent to.", 400)
        if location == "us-east-1":
            raise S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
                          LocationConstraint=location)
        if len(self.index.list_buckets()) >= m.MAX_BUCKETS:
            raise S3Error("TooManyBuckets", "You have attempted to create more buckets than allowed", 400)
        existing = self.index.create_bucket(name, {"Name": name, "Created": now_ms(self.clock),
                                                   "Region": region if location else self.region,
                                                   "PublicAccessBlock": dict(s3public.DEFAULT)})
        if existing is not None and self.region != "us-east-1":
            raise S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded "
                          "and you already own it.", 409, BucketName=name)

    def list_buckets(self) -> list[dict[str, Any]]:
        return self.index.list_buckets()

    def delete_bucket(self, name: str) -> None:
        outcome = self.index.delete_bucket(name)
        if outcome == "gone":
            raise m.no_such_bucket(name)
        if outcome == "not-empty":
            raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=name)

    def location(self, name: str) -> str:
        region = self.bucket(name).get("Region", self.region)
        return "" if region == "us-east-1" else region

    def cors(self, name: str) -> list[dict[str, Any]] | None:
        """The bucket's CORS rules; None when it has no configuration."""
        return self.bucket(name).get("Cors")

    def put_cors(self, name: str, rules: list[dict[str, Any]] | None) -> None:
        """Set (None: delete) the bucket's CORS rules, checked as S3 checks them."""
        doc = self.bucket(name)
        if rules is None:
            doc.pop("Cors", None)
        else:
            doc["Cors"] = s3cors.check_rules(rules)
        if not self.index.put_bucket(name, doc, None, now_ms(self.clock)):
            raise m.no_such_bucket(name)

    def put_bucket_tags(self, name: str, tags: dict[str, str] | None) -> None:
        """Set (None: delete) the bucket's tags."""
        doc = self.bucket(name)
        if tags is None:
            doc.pop("Tags", None)
        else:
            doc["Tags"] = dict(tags)
        if not self.index.put_bucket(name, doc, None, now_ms(self.clock)):
            raise m.no_such_bucket(name)

    def policy(self, name: str) -> str:
        """The bucket's policy, as it was given; S3's ``NoSuchBucketPolicy`` when it has none."""
        text = self.bucket(name).get("Policy")
        if not text:
            raise S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", 404, BucketName=name)
        return str(text)

    def put_policy(self, name: str, text: str | None, caller_arn: str = "") -> None:
        """Set (None: delete) the bucket's policy, checked as a resource policy whose resources are
        this bucket and its objects; a public one is refused while the bucket's ``BlockPublicPolicy``
        is set (AccessDenied, as S3 answers; ``caller_arn`` names who asked)."""
        doc = self.bucket(name)
        if text is None:
            doc.pop("Policy", None)
        else:
            doc["Policy"] = check_bucket_policy(name, text)
            if (doc.get("PublicAccessBlock") or {}).get("BlockPublicPolicy") and \
                    s3public.is_public(json.loads(doc["Policy"])):
                raise S3Error("AccessDenied", s3public.blocked_policy_message(
                    caller_arn or f"arn:aws:iam::{self.account}:root", name), 403)
        if not self.index.put_bucket(name, doc, None, now_ms(self.clock)):
            raise m.no_such_bucket(name)

    def public_access_block(self, name: str) -> dict[str, bool]:
        """The bucket's PublicAccessBlockConfiguration (S3's error when it has none)."""
        block = self.bucket(name).get("PublicAccessBlock")
        if block is None:
            raise s3public.no_such_configuration(name)
        return dict(block)

    def put_public_access_block(self, name: str, config: dict[str, Any] | None) -> None:
        """Set (None: delete) the bucket's PublicAccessBlockConfiguration; it does not change the
        policy the bucket has (S3: "enabling this setting doesn't affect existing bucket policies")."""
        doc = self.bucket(name)
        if config is None:
            doc.pop("PublicAccessBlock", None)
        else:
            doc["PublicAccessBlock"] = s3public.check_block(config)
        if not self.index.put_bucket(name, doc, None, now_ms(self.clock)):
            raise m.no_such_bucket(name)

    def policy_status(self, name: str) -> bool:
        """GetBucketPolicyStatus's IsPublic (S3's NoSuchBucketPolicy without a policy)."""
        return s3public.is_public(json.loads(self.policy(name)))

    def anonymous_may(self, name: str) -> bool | None:
        """Whether an unsigned request to the bucket is decided by its policy at all (some statement
        allows everyone, and ``RestrictPublicBuckets`` does not close a public policy); None when
        there is no such bucket. What such a request may do is then ``iam.evaluate``'s to say."""
        doc = self.index.get_bucket(name)
        if doc is None:
            return None
        text = doc.get("Policy")
        if not text:
            return False
        return s3public.anonymous_may(_policy_document(text), doc.get("PublicAccessBlock"))

    def check_acl(self, name: str, headers: dict[str, str]) -> None:
        """A write carrying a public ACL is refused while the bucket's ``BlockPublicAcls`` is set
        (ACLs are otherwise not kept: objects are the owner's)."""
        if s3public.public_acl(headers) and (self.bucket(name).get("PublicAccessBlock") or {}).get("BlockPublicAcls"):
            raise S3Error("AccessDenied", "Access Denied", 403)

    def lifecycle(self, name: str) -> list[dict[str, Any]] | None:
        """The bucket's lifecycle rules; None when it has no configuration."""
        return self.bucket(name).get("Lifecycle")

    def put_lifecycle(self, name: str, rules: list[dict[str, Any]] | None) -> None:
        """Set (None: delete) the bucket's lifecycle rules, checked as S3 checks them."""
        doc = self.bucket(name)
        if rules is None:
            doc.pop("Lifecycle", None)
        else:
            doc["Lifecycle"] = s3lifecycle.check_rules(rules)
        if not self.index.put_bucket(name, doc, None, now_ms(self.clock)):
            raise m.no_such_bucket(name)

    def expire(self) -> int:
        """Apply every bucket's lifecycle rules now (on the injected clock; the housekeeper's sweep):
        objects past their rule's ``Expiration`` are deleted, with S3's
        ``LifecycleExpiration:Delete`` notifications, and multipart uploads past
        ``AbortIncompleteMultipartUpload`` aborted. How many objects and uploads went."""
        now, gone = now_ms(self.clock), 0
        for doc in self.index.list_buckets():
            rules = [r for r in doc.get("Lifecycle") or [] if r.get("Status") == "Enabled"]
            if not rules:
                continue
            bucket = doc["Name"]
            for rule in rules:
                if (rule.get("Expiration") or {}).keys() & {"Days", "Date"}:
                    gone += self._expire_objects(doc, rule, now)
                if rule.get("NoncurrentVersionExpiration") or (rule.get("Expiration") or {}).get(
                        "ExpiredObjectDeleteMarker"):
                    gone += self._expire_versions(doc, rule, now)
                if rule.get("AbortIncompleteMultipartUpload"):
                    for key, upload_id, initiated in self.index.list_uploads(bucket):
                        due = s3lifecycle.abort_at(rule, initiated)
                        if key.startswith(s3lifecycle.prefix_of(rule)) and due is not None and due <= now:
                            parts = self.index.abort_upload(upload_id)
                            if parts is not None:
                                self.files.delete(*(part.blob for part in parts))
                                gone += 1
        return gone

    def _expire_objects(self, doc: dict[str, Any], rule: dict[str, Any], now: int) -> int:
        bucket, prefix, after, gone = doc["Name"], s3lifecycle.prefix_of(rule), "", 0
        caller = Caller(principal_id="s3.amazonaws.com", request_id="lifecycle")
        while True:
            rows = self.index.list_objects(bucket, prefix, after, 1000)
            for row in rows:
                due = s3lifecycle.expires_at(rule, row.modified_ms)
                if due is None or due > now or not s3lifecycle.selects(rule, row.key, row.size, row.meta.get("Tags")):
                    continue
                mode = doc.get("Versioning", "")
                if mode:            # versioned: a delete marker on top, the object kept as noncurrent
                    marker = ObjectRow(row.key, "", 0, "", now, {}, new_version_id() if mode == "Enabled" else "null",
                                       True)
                    events = self._events(doc, "LifecycleExpiration:DeleteMarkerCreated", row.key, caller,
                                          reason="Lifecycle Expiration", version_id=marker.version_id)
                    outcome, freed = self.index.put_object(bucket, marker, now, events, if_match=row.etag,
                                                           versioning=mode)
                    if freed is not None and not freed.marker:
                        self.files.delete(freed.blob)
                    gone += outcome == "ok"
                    continue
                events = self._events(doc, "LifecycleExpiration:Delete", row.key, caller, reason="Lifecycle Expiration")
                # only the version listed: one written since is not this sweep's to take
                old = self.index.delete_object(bucket, row.key, now, events, if_blob=row.blob)
                if old is not None:
                    self.files.delete(old.blob)
                    gone += 1
            if len(rows) < 1000:
                return gone
            after = rows[-1].key

    def _expire_versions(self, doc: dict[str, Any], rule: dict[str, Any], now: int) -> int:
        """A rule's ``NoncurrentVersionExpiration`` and ``ExpiredObjectDeleteMarker`` on one bucket."""
        bucket, prefix, after, gone = doc["Name"], s3lifecycle.prefix_of(rule), "", 0
        caller = Caller(principal_id="s3.amazonaws.com", request_id="lifecycle")
        keep = (rule.get("NoncurrentVersionExpiration") or {}).get("NewerNoncurrentVersions") or 0
        lone_markers = bool((rule.get("Expiration") or {}).get("ExpiredObjectDeleteMarker"))
        more = True
        while more:
            rows, more = self._complete_keys(bucket, prefix, after, 1001)
            if not rows:
                break
            by_key: dict[str, list[ObjectRow]] = {}
            for row in rows:
                by_key.setdefault(row.key, []).append(row)
            for key, versions in by_key.items():
                left = len(versions)
                for row in [r for r in versions if not r.latest][keep:]:
                    since = self.index.noncurrent_since(bucket, key, row.version_id)
                    due = None if since is None else s3lifecycle.noncurrent_expires_at(rule, since)
                    if due is None or due > now or not s3lifecycle.selects(rule, key, row.size, row.meta.get("Tags")):
                        continue
                    if self._remove_version(doc, row, caller):
                        gone, left = gone + 1, left - 1
                latest = versions[0]
                if lone_markers and left == 1 and latest.marker and s3lifecycle.selects(rule, key, 0):
                    gone += self._remove_version(doc, latest, caller)
            after = rows[-1].key
        return gone

    def _remove_version(self, doc: dict[str, Any], row: ObjectRow, caller: Caller) -> bool:
        events = self._events(doc, "LifecycleExpiration:Delete", row.key, caller, reason="Lifecycle Expiration",
                              version_id=row.version_id)
        removed = self.index.delete_version(doc["Name"], row.key, row.version_id, now_ms(self.clock), events)
        if removed is not None and not removed.marker:
            self.files.delete(removed.blob)
        return removed is not None

    def notification(self, name: str) -> dict[str, Any]:
        return self.bucket(name).get("Notification") or {}

    def put_notification(self, name: str, config: dict[str, Any], caller: Caller = Caller()) -> None:
        doc = self.bucket(name)
        kept = s3events.check_configuration(config)
        doc["Notification"] = kept
        # S3 tells each queue and topic named that it may now receive events (the test event)
        test = json.dumps(s3events.test_event(name, iso_time(now_ms(self.clock)), caller.request_id, ""))
        entries = [outbox.entry(e["QueueArn"], test, what=f"s3:TestEvent of {name}", platform=True)
                   for e in kept.get("QueueConfigurations", [])]
        entries += [outbox.entry(e["TopicArn"], test, what=f"s3:TestEvent of {name}", subject="Amazon S3 Notification")
                    for e in kept.get("TopicConfigurations", [])]
        if not self.index.put_bucket(name, doc, entries, now_ms(self.clock)):
            raise m.no_such_bucket(name)
    # -- notifications --------------------------------------------------------------------------
    def _events(self, bucket_doc: dict[str, Any], event_name: str, key: str, caller: Caller,
                size: int | None = None, etag: str | None = None, reason: str = "",
                version_id: str | None = None) -> list[tuple[str, NewMessage]]:
        config = bucket_doc.get("Notification") or {}
        if not config:
            return []
        bucket = bucket_doc["Name"]
        sequencer = _sequencer()
        at = iso_time(now_ms(self.clock))
        out = []
        for dest in s3events.destinations(config, event_name, key):
            doc = {"Records": [s3events.record(
                event_name, bucket=bucket, key=key, region=bucket_doc.get("Region", self.region), time=at,
                sequencer=sequencer, size=size, etag=etag, version_id=version_id,
                configuration_id=dest.configuration_id,
                principal_id=caller.principal_id, source_ip=caller.source_ip, request_id=caller.request_id)]}
            payload = json.dumps(doc)
            what = f"s3 event {event_name} of {bucket}/{key[:64]}"
            source = {"source_service": "s3.amazonaws.com", "source_arn": f"arn:aws:s3:::{bucket}"}
            if dest.service == "lambda":
                out.append(outbox.entry(dest.arn, payload, what=what, invocation_type="Event", **source))
            elif dest.service == "sqs":
                out.append(outbox.entry(dest.arn, payload, what=what, **source))
            else:
                out.append(outbox.entry(dest.arn, payload, what=what, subject="Amazon S3 Notification"))
        if "EventBridgeConfiguration" in config:
            detail: dict[str, Any] = {"version": "0", "bucket": {"name": bucket},
                                      "object": {"key": key, **({"size": size} if size is not None else {}),
                                                 **({"etag": etag.strip('"')} if etag else {}),
                                                 **({"version-id": version_id} if version_id else {}),
                                                 "sequencer": sequencer},
                                      "request-id": caller.request_id, "requester": caller.account or self.account,
                                      "source-ip-address": caller.source_ip, "reason": reason}
            detail_type = "Object Created" if event_name.startswith("ObjectCreated") else "Object Deleted"
            if detail_type == "Object Deleted":
                detail["deletion-type"] = "Permanently Deleted"
            bus = f"arn:aws:events:{self.region}:{self.account}:event-bus/default"
            out.append(outbox.entry(bus, "", what=f"EventBridge {detail_type} of {bucket}", entries=[{
                "Source": "aws.s3", "DetailType": detail_type, "Detail": json.dumps(detail),
                "Resources": [f"arn:aws:s3:::{bucket}"]}]))
        return out

    # -- objects ----------------------------------------------------------------------------------
    def put_object(self, bucket: str, key: str, body: bytes, content: Content, caller: Caller = Caller(),
                   if_match: str | None = None, if_none_match: str | None = None,
                   content_md5: str | None = None) -> ObjectRow:
        doc = self.bucket(bucket)
        m.check_key(key)
        m.check_metadata(content.metadata)
        if content.tags:
            m.check_object_tags(content.tags)
        if len(body) > m.MAX_SINGLE_PUT:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", 400,
                          ProposedSize=str(len(body)), MaxSizeAllowed=str(m.MAX_SINGLE_PUT))
        if if_none_match is not None and if_none_match != "*":
            raise S3Error("NotImplemented", "A header you provided implies functionality that is not implemented", 501,
                          Header="If-None-Match")
        name, digest = self.files.write(body)
        try:
            _check_md5(content_md5, digest)
            _check_checksums(content.checksums, body)
            mode = doc.get("Versioning", "")
            row = ObjectRow(key, name, len(body), m.md5_etag(digest), now_ms(self.clock), content.meta(),
                            new_version_id() if mode == "Enabled" else "null")
            events = self._events(doc, "ObjectCreated:Put", key, caller, row.size, row.etag, "PutObject",
                                  row.version_id if mode else None)
            outcome, old = self.index.put_object(bucket, row, now_ms(self.clock), events, if_match,
                                                 if_none_match == "*", mode)
        except BaseException:
            self.files.delete(name)
            raise
        self._after_write(outcome, old, name, bucket, key, if_match)
        return row

    def _after_write(self, outcome: str, old: ObjectRow | None, name: str, bucket: str, key: str,
                     if_match: str | None) -> None:
        if outcome != "ok":
            self.files.delete(name)
            if outcome == "no-bucket":
                raise m.no_such_bucket(bucket)
            if outcome == "missing":
                raise m.no_such_key(key)
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                          Condition="If-Match" if outcome == "mismatch" else "If-None-Match")
        if old is not None and old.blob != name and not old.marker:
            self.files.delete(old.blob)

    def versioning(self, bucket: str) -> str:
        """The bucket's versioning: "" (never enabled), "Enabled" or "Suspended"."""
        return str(self.bucket(bucket).get("Versioning", ""))

    def put_versioning(self, bucket: str, status: str) -> None:
        if status not in ("Enabled", "Suspended"):
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema", 400)
        doc = self.bucket(bucket)
        doc["Versioning"] = status
        if not self.index.put_bucket(bucket, doc, None, now_ms(self.clock)):
            raise m.no_such_bucket(bucket)

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectRow:
        """The object (``version_id``: that version of it); S3's errors for a missing one, a delete
        marker (its headers on the error) and a bad version id."""
        doc = self.bucket(bucket)
        if version_id is None:
            row = self.index.get_object(bucket, key)
            if row is not None:
                return row
            latest = self.index.get_version(bucket, key, None) if doc.get("Versioning") else None
            err = m.no_such_key(key)
            if latest is not None:          # the latest version is a delete marker
                err.headers = [("x-amz-delete-marker", "true"), ("x-amz-version-id", latest.version_id)]
            raise err
        check_version_id(version_id)
        row = self.index.get_version(bucket, key, version_id)
        if row is None:
            raise S3Error("NoSuchVersion", "The specified version does not exist.", 404, Key=key, VersionId=version_id)
        if row.marker:
            err = S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405,
                          Method="GET", ResourceType="DeleteMarker")
            err.headers = [("x-amz-delete-marker", "true"), ("x-amz-version-id", row.version_id),
                           ("last-modified", http_date(row.modified_ms)), ("allow", "DELETE")]
            raise err
        return row

    def open(self, bucket: str, key: str, version_id: str | None = None) -> tuple[ObjectRow, BinaryIO]:
        """The object's row and its bytes, opened (a write replacing it meanwhile leaves this one whole)."""
        for _ in range(5):
            row = self.head(bucket, key, version_id)
            try:
                return row, self.files.open(row.blob)
            except FileNotFoundError:   # replaced between the read and the open: read the new one
                continue
        raise S3Error("InternalError", "We encountered an internal error. Please try again.", 500)

    def delete_object(self, bucket: str, key: str, caller: Caller = Caller(),
                      version_id: str | None = None) -> Deleted:
        """Delete the object: unversioned, for good; versioned, by putting a delete marker on top
        (S3's ``DeleteMarkerCreated``); with ``version_id``, that version for good (none there:
        nothing happens, as on S3)."""
        doc = self.bucket(bucket)
        now = now_ms(self.clock)
        if version_id is not None:
            check_version_id(version_id)
            events = self._events(doc, "ObjectRemoved:Delete", key, caller, reason="DeleteObject",
                                  version_id=version_id)
            gone = self.index.delete_version(bucket, key, version_id, now, events)
            if gone is not None and not gone.marker:
                self.files.delete(gone.blob)
            return Deleted(version_id, gone is not None and gone.marker)
        mode = doc.get("Versioning", "")
        if not mode:
            events = self._events(doc, "ObjectRemoved:Delete", key, caller, reason="DeleteObject")
            old = self.index.delete_object(bucket, key, now, events)
            if old is not None:
                self.files.delete(old.blob)
            return Deleted()
        marker = ObjectRow(key, "", 0, "", now, {}, new_version_id() if mode == "Enabled" else "null", True)
        events = self._events(doc, "ObjectRemoved:DeleteMarkerCreated", key, caller, reason="DeleteObject",
                              version_id=marker.version_id)
        outcome, freed = self.index.put_object(bucket, marker, now, events, versioning=mode)
        if outcome == "no-bucket":
            raise m.no_such_bucket(bucket)
        if freed is not None and not freed.marker:
            self.files.delete(freed.blob)
        return Deleted(marker.version_id, True)

    def put_object_tags(self, bucket: str, key: str, tags: dict[str, str] | None,
                        version_id: str | None = None) -> ObjectRow:
        """Set (None: remove) an object version's tags; the version."""
        row = self.head(bucket, key, version_id)
        meta = {k: v for k, v in row.meta.items() if k != "Tags"}
        if tags:
            meta["Tags"] = m.check_object_tags(tags)
        if not self.index.update_meta(bucket, key, row.version_id if version_id is not None else None, meta):
            raise m.no_such_key(key)
        return row

    def list_versions(self, bucket: str, prefix: str = "", delimiter: str = "", max_keys: int = 1000,
                      key_marker: str = "", version_marker: str = "") -> VersionListing:
        """ListObjectVersions: versions and delete markers by key, newest first, common prefixes
        folded; a page starts after ``key_marker`` (with ``version_marker``: after that version of
        it)."""
        self.bucket(bucket)
        if version_marker and not key_marker:
            raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.", 400,
                          ArgumentName="version-id-marker", ArgumentValue=version_marker)

        def group_of(key: str) -> str | None:
            if delimiter and key.startswith(prefix):
                i = key.find(delimiter, len(prefix))
                if i >= 0:
                    return key[:i + len(delimiter)]
            return None

        entries: list[ObjectRow | str] = []
        cursor = key_marker
        rows: list[ObjectRow] = []
        more = True
        marker_group = group_of(key_marker) if key_marker else None
        if marker_group is not None:            # a page that ended on a common prefix: past all of it
            cursor = marker_group + _PAST
        elif version_marker and key_marker.startswith(prefix):
            if version_marker != "null":
                check_version_id(version_marker)
            of_key = self.index.list_versions(bucket, prefix, "", 1 << 30, key=key_marker)
            ids = [r.version_id for r in of_key]
            rows = of_key[ids.index(version_marker) + 1:] if version_marker in ids else []
        batch = min(max(max_keys, 1), 1000) + 1
        while True:
            if not rows:
                rows, more = self._complete_keys(bucket, prefix, cursor, batch)
                if not rows:
                    return VersionListing(entries, False)
            jumped = False
            for row in rows:
                if len(entries) >= max_keys:
                    return VersionListing(entries, True)
                group = group_of(row.key)
                if group is not None:
                    entries.append(group)
                    cursor, jumped = group + _PAST, True
                    break
                entries.append(row)
                cursor = row.key
            rows = []
            if not jumped and not more:
                return VersionListing(entries, False)

    def _complete_keys(self, bucket: str, prefix: str, after: str, batch: int) -> tuple[list[ObjectRow], bool]:
        """Every version of the next keys after ``after`` (a key's versions never split): the rows,
        and whether more keys may follow."""
        rows = self.index.list_versions(bucket, prefix, after, batch)
        if len(rows) < batch:
            return rows, False
        last = rows[-1].key
        return [r for r in rows if r.key != last] + self.index.list_versions(bucket, prefix, "", 1 << 30,
                                                                              key=last), True

    def copy_object(self, bucket: str, key: str, source_bucket: str, source_key: str, replace: bool,
                    content: Content, caller: Caller = Caller(), conditions: dict[str, str] | None = None,
                    source_version: str | None = None,
                    tags: dict[str, str] | None = None) -> tuple[ObjectRow, ObjectRow]:
        """The copy and its source."""
        doc = self.bucket(bucket)
        m.check_key(key)
        src = self.head(source_bucket, source_key, source_version)
        _copy_conditions(src, conditions or {})
        if (source_bucket, source_key) == (bucket, key) and not replace and source_version is None:
            raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                          "itself without changing the object's metadata, storage class, website redirect location "
                          "or encryption attributes.", 400)
        if src.size > 5 * 1024 ** 3:
            raise S3Error("InvalidRequest", "The specified copy source is larger than the maximum allowable size for "
                          "a copy source: 5368709120", 400)
        meta = content.meta() if replace else dict(src.meta)
        if replace:
            m.check_metadata(content.metadata)
        meta.pop("Tags", None)
        tags = src.meta.get("Tags") if tags is None else m.check_object_tags(tags)     # None: the source's
        if tags:
            meta["Tags"] = tags
        name, _ = self.files.join([src.blob])
        try:
            mode = doc.get("Versioning", "")
            row = ObjectRow(key, name, src.size, src.etag, now_ms(self.clock), meta,
                            new_version_id() if mode == "Enabled" else "null")
            events = self._events(doc, "ObjectCreated:Copy", key, caller, row.size, row.etag, "CopyObject",
                                  row.version_id if mode else None)
            outcome, old = self.index.put_object(bucket, row, now_ms(self.clock), events, versioning=mode)
        except BaseException:
            self.files.delete(name)
            raise
        self._after_write(outcome, old, name, bucket, key, None)
        return row, src

    def list_objects(self, bucket: str, prefix: str = "", delimiter: str = "", max_keys: int = 1000,
                     after: str = "") -> Listing:
        self.bucket(bucket)
        contents: list[ObjectRow] = []
        prefixes: list[str] = []
        cursor = after
        truncated = False
        while True:
            room = max_keys - len(contents) - len(prefixes)
            rows = self.index.list_objects(bucket, prefix, cursor, min(max(room, 0), 999) + 1)
            if not rows:
                break
            jumped = False
            for row in rows:
                group = None
                if delimiter:
                    i = row.key.find(delimiter, len(prefix))
                    if i >= 0:
                        group = row.key[:i + len(delimiter)]
                if group is not None and prefixes and prefixes[-1] == group:
                    cursor = group + "\U0010ffff"
                    jumped = True
                    break
                if len(contents) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                if group is not None:
                    prefixes.append(group)
                    cursor = group + "\U0010ffff"     # past every key in the group
                    jumped = True
                    break
                contents.append(row)
                cursor = row.key
            if truncated:
                break
            if not jumped and len(rows) < min(max(room, 0), 999) + 1:
                break
        return Listing(contents, prefixes, truncated, cursor)

    # -- multipart uploads ------------------------------------------------------------------------
    def create_upload(self, bucket: str, key: str, content: Content) -> str:
        self.bucket(bucket)
        m.check_key(key)
        m.check_metadata(content.metadata)
        upload_id = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
        if not self.index.create_upload(upload_id, bucket, key, content.meta(), now_ms(self.clock)):
            raise m.no_such_bucket(bucket)
        return upload_id

    def _upload(self, bucket: str, key: str, upload_id: str) -> tuple[str, str, dict[str, Any], int]:
        self.bucket(bucket)
        found = self.index.get_upload(upload_id)
        if found is None or found[0] != bucket or found[1] != key:
            raise m.no_such_upload(upload_id)
        return found

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes,
                    content_md5: str | None = None, checksums: dict[str, str] | None = None) -> PartRow:
        _check_part_number(number)
        self._upload(bucket, key, upload_id)
        if len(body) > m.MAX_SINGLE_PUT:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", 400,
                          ProposedSize=str(len(body)), MaxSizeAllowed=str(m.MAX_SINGLE_PUT))
        name, digest = self.files.write(body)
        try:
            _check_md5(content_md5, digest)
            _check_checksums(checksums or {}, body)
            return self._put_part(upload_id, PartRow(number, name, len(body), m.md5_etag(digest), now_ms(self.clock)))
        except BaseException:
            self.files.delete(name)
            raise

    def upload_part_copy(self, bucket: str, key: str, upload_id: str, number: int, source_bucket: str,
                         source_key: str, byte_range: str | None, source_version: str | None = None) -> PartRow:
        _check_part_number(number)
        self._upload(bucket, key, upload_id)
        src = self.head(source_bucket, source_key, source_version)
        span = (0, src.size)
        if byte_range is not None:
            r = m.parse_range(byte_range, src.size)
            if r is None:
                raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                              "bytes=first-last where first and last are the zero-based offsets of the first and "
                              "last bytes to copy", 400)
            span = (r.start, r.length)
        name, size = self.files.join([src.blob], [span])
        try:
            digest = hashlib.md5()
            with self.files.open(name) as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            return self._put_part(upload_id, PartRow(number, name, size, m.md5_etag(digest.digest()),
                                                     now_ms(self.clock)))
        except BaseException:
            self.files.delete(name)
            raise

    def _put_part(self, upload_id: str, part: PartRow) -> PartRow:
        ok, old = self.index.put_part(upload_id, part)
        if not ok:
            self.files.delete(part.blob)
            raise m.no_such_upload(upload_id)
        if old is not None:
            self.files.delete(old.blob)
        return part

    def list_parts(self, bucket: str, key: str, upload_id: str) -> tuple[dict[str, Any], list[PartRow]]:
        _, _, meta, _ = self._upload(bucket, key, upload_id)
        return meta, self.index.list_parts(upload_id)

    def list_uploads(self, bucket: str) -> list[tuple[str, str, int]]:
        self.bucket(bucket)
        return self.index.list_uploads(bucket)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._upload(bucket, key, upload_id)
        parts = self.index.abort_upload(upload_id)
        if parts is None:
            raise m.no_such_upload(upload_id)
        self.files.delete(*(p.blob for p in parts))

    def complete_upload(self, bucket: str, key: str, upload_id: str, chosen: list[tuple[int, str]],
                        caller: Caller = Caller(), if_none_match: str | None = None) -> ObjectRow:
        doc = self.bucket(bucket)
        _, _, meta, _ = self._upload(bucket, key, upload_id)
        if not chosen:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema", 400)
        numbers = [n for n, _ in chosen]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be "
                          "specified in order by part number.", 400, UploadId=upload_id)
        have = {p.number: p for p in self.index.list_parts(upload_id)}
        parts = []
        for number, etag in chosen:
            part = have.get(number)
            if part is None or etag.strip().strip('"') != part.etag.strip('"'):
                raise S3Error("InvalidPart", "One or more of the specified parts could not be found.  The part may "
                              "not have been uploaded, or the specified entity tag may not match the part's entity "
                              "tag.", 400, UploadId=upload_id, PartNumber=str(number), ETag=etag)
            parts.append(part)
        for part in parts[:-1]:
            if part.size < m.MIN_PART:
                raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object "
                              "size.", 400, UploadId=upload_id, PartNumber=str(part.number),
                              ProposedSize=str(part.size), MinSizeAllowed=str(m.MIN_PART))
        if sum(p.size for p in parts) > m.MAX_OBJECT:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", 400)
        if if_none_match == "*" and self.index.get_object(bucket, key) is not None:
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                          Condition="If-None-Match")
        name, size = self.files.join([p.blob for p in parts])
        etag = m.multipart_etag([bytes.fromhex(p.etag.strip('"')) for p in parts])
        try:
            kept = {k: v for k, v in meta.items() if k != "Checksums"}   # a whole-object checksum is not known
            mode = doc.get("Versioning", "")
            row = ObjectRow(key, name, size, etag, now_ms(self.clock), {**kept, "Parts": len(parts)},
                            new_version_id() if mode == "Enabled" else "null")
            events = self._events(doc, "ObjectCreated:CompleteMultipartUpload", key, caller, size, etag,
                                  "CompleteMultipartUpload", row.version_id if mode else None)
            ok, old, all_parts = self.index.complete_upload(upload_id, bucket, row, now_ms(self.clock), events,
                                                            mode)
        except BaseException:
            self.files.delete(name)
            raise
        if not ok:
            self.files.delete(name)
            raise m.no_such_upload(upload_id)
        self.files.delete(*(p.blob for p in all_parts))
        if old is not None and not old.marker:
            self.files.delete(old.blob)
        return row


@functools.lru_cache(maxsize=256)
def _policy_document(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}


def check_bucket_policy(bucket: str, text: str) -> str:
    """A bucket policy as S3 takes it: IAM's resource-policy grammar (``MalformedPolicy`` with its
    message), every statement naming a principal, every resource this bucket or under it."""
    try:
        policy = iam.parse_policy(text, "resource")
    except iam.MalformedPolicyDocument as err:
        raise S3Error("MalformedPolicy", err.message, 400) from None
    given = policy.document.get("Statement")
    statements: list[Any] = given if isinstance(given, list) else [given]
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise S3Error("MalformedPolicy", "Missing required field Principal", 400)
        resources = statement.get("Resource", statement.get("NotResource", []))
        for resource in [resources] if isinstance(resources, str) else list(resources or []):
            if not (resource == f"arn:aws:s3:::{bucket}" or str(resource).startswith(f"arn:aws:s3:::{bucket}/")):
                raise S3Error("MalformedPolicy", "Policy has invalid resource", 400)
    return text


def _check_part_number(number: int) -> None:
    if not 1 <= number <= m.MAX_PARTS:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", 400,
                      ArgumentName="partNumber", ArgumentValue=str(number))


def _check_md5(content_md5: str | None, digest: bytes) -> None:
    if content_md5 is None:
        return
    try:
        given = base64.b64decode(content_md5, validate=True)
    except ValueError:
        given = b""
    if len(given) != 16:
        raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.", 400, Content_MD5=content_md5)
    if given != digest:
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", 400,
                      ExpectedDigest=content_md5, CalculatedDigest=base64.b64encode(digest).decode())


def _check_checksums(checksums: dict[str, str], body: bytes) -> None:
    import zlib
    for algorithm, value in checksums.items():
        if algorithm == "CRC32":
            actual = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        elif algorithm == "SHA1":
            actual = base64.b64encode(hashlib.sha1(body).digest()).decode()
        elif algorithm == "SHA256":
            actual = base64.b64encode(hashlib.sha256(body).digest()).decode()
        else:
            continue        # CRC32C, CRC64NVME: kept as sent, not checked here
        if actual != value:
            raise S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.", 400)


def _copy_conditions(src: ObjectRow, conditions: dict[str, str]) -> None:
    match = conditions.get("if-match")
    none_match = conditions.get("if-none-match")
    if match is not None and match.strip('"') not in (src.etag.strip('"'), "*"):
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                      Condition="x-amz-copy-source-If-Match")
    if none_match is not None and none_match.strip('"') in (src.etag.strip('"'), "*"):
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                      Condition="x-amz-copy-source-If-None-Match")
