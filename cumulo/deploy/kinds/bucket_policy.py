"""``AWS::S3::BucketPolicy``: a bucket's policy, as PutBucketPolicy sets it (``Bucket``: the bucket's
name, ``!Ref`` of a bucket; ``PolicyDocument``: an object or its JSON text), checked as S3 checks
it when the template is read (IAM's grammar, a principal in every statement, resources of that
bucket) and evaluated for every request to the bucket (docs/s3.md: role sessions, the owner's
explicit Denies, anonymous callers). As on AWS, a public policy is refused while the bucket's
``BlockPublicPolicy`` is set — S3's default for a new bucket — so a template granting everyone
access sets the bucket's ``PublicAccessBlockConfiguration`` as it must on AWS. A changed policy is
set again; one the template drops is deleted from its bucket (if that bucket still exists). ``Ref``
answers ``<stack>-<LogicalId>``.

A statement denying requests without TLS (``aws:SecureTransport`` false) is noted: Cumulo's endpoint is
plain HTTP, so it denies requests from other machines; those from this machine (loopback: local
clients, functions through their sandbox's door) count as secure transport (``authorize.on_this_machine``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model.function import Arns
from cumulo.objects.service import check_bucket_policy

__all__ = ["BucketPolicy", "BUCKET_POLICY_TYPE"]

BUCKET_POLICY_TYPE = "AWS::S3::BucketPolicy"


@dataclass(frozen=True)
class BucketPolicySpec:
    logical_id: str
    line: int
    bucket: str
    policy: str                # the document's JSON text
    notes: tuple[str, ...] = field(default_factory=tuple)


class BucketPolicy(Kind):
    name = "bucket policy"
    types = (BUCKET_POLICY_TYPE,)
    after = ("bucket",)
    listed = 77
    record_key = "bucket_policies"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {e.logical_id: f"{load.stack}-{e.logical_id}" for e in entries}
        return named, {(lid, "Ref"): ref for lid, ref in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        owners: dict[str, str] = {}
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            spec = _read(entry, props)
            if spec.bucket in owners:
                raise error(entry.where, f"bucket {spec.bucket} already has the policy of {owners[spec.bucket]} "
                            "(a bucket has one policy)", entry.logical_id, entry.line)
            owners[spec.bucket] = entry.logical_id
            specs.append(spec)
        return specs

    def attributes(self, spec: BucketPolicySpec, arns: Arns) -> Attributes:
        return {}

    def plan(self, spec: BucketPolicySpec, deploy: Deploy) -> Change:
        current = _current(deploy, spec.bucket)
        if current is not None and _same(current, spec.policy):
            return Change(spec.logical_id, spec.bucket, "unchanged", kind=self.name)
        return Change(spec.logical_id, spec.bucket, "create" if not current else "update", kind=self.name)

    def removed(self, specs: list[BucketPolicySpec], deploy: Deploy) -> list[Change]:
        kept = {spec.bucket for spec in specs}
        return [Change(logical_id, bucket, "delete", kind=self.name)
                for logical_id, bucket in sorted((deploy.before(self) or {}).items())
                if bucket not in kept and _current(deploy, bucket)]

    def apply(self, spec: BucketPolicySpec, change: Change | None, deploy: Deploy) -> None:
        before = _current(deploy, spec.bucket)
        if before is not None and _same(before, spec.policy):
            return
        _set(deploy, spec.bucket, spec.policy)
        deploy.undo.append(_undo(deploy, spec.bucket, before or None))

    def record(self, applied: list[tuple[BucketPolicySpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.bucket for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        kept = set(current.values())
        for bucket in (previous or {}).values():
            if bucket not in kept and _current(deploy, bucket):
                try:
                    _set(deploy, bucket, None)
                except CumuloError:
                    pass

    def summary(self, spec: BucketPolicySpec) -> list[str]:
        return [f"bucket policy {spec.logical_id}: on {spec.bucket}"]


def _read(entry: Entry, props: dict[str, Any]) -> BucketPolicySpec:
    for key in props:
        if key not in ("Bucket", "PolicyDocument"):
            raise error(entry.where, f"unknown property {key}", entry.logical_id, entry.properties.line_of(key))
    bucket = props.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise error(entry.where, "property Bucket: the bucket's name is required", entry.logical_id,
                    entry.properties.line_of("Bucket") or entry.line)
    document = props.get("PolicyDocument")
    if not isinstance(document, (dict, str)):
        raise error(entry.where, "property PolicyDocument: a policy document is required", entry.logical_id,
                    entry.properties.line_of("PolicyDocument") or entry.line)
    text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    try:      # S3's own checks, before anything is made
        check_bucket_policy(to_str(bucket), text)
    except CumuloError as exc:
        raise error(entry.where, f"property PolicyDocument: {exc.message}", entry.logical_id,
                    entry.properties.line_of("PolicyDocument") or entry.line) from None
    notes = []
    if _denies_plain_http(text):
        notes.append(f"{entry.logical_id}: a statement denies requests without TLS (aws:SecureTransport false); "
                     "Cumulo's endpoint is plain HTTP: requests from this machine (loopback, its functions) count "
                     "as secure transport, requests from other machines are denied")
    return BucketPolicySpec(entry.logical_id, entry.line, to_str(bucket), text, tuple(notes))


def _denies_plain_http(text: str) -> bool:
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        for block in (statement.get("Condition") or {}).values():
            if not isinstance(block, dict):
                continue
            for key, value in block.items():
                if key.lower() == "aws:securetransport" and \
                        any(str(v).lower() == "false" for v in (value if isinstance(value, list) else [value])):
                    return True
    return False


def _same(current: str, wanted: str) -> bool:
    try:
        return bool(json.loads(current) == json.loads(wanted))
    except ValueError:
        return current == wanted


def _current(deploy: Deploy, bucket: str) -> str | None:
    """The bucket's policy now ('' when it has none), or None when the bucket does not exist yet."""
    doc = deploy.c.objects.index.get_bucket(bucket)
    if doc is None:
        return None
    return str(doc.get("Policy") or "")


def _undo(deploy: Deploy, bucket: str, policy: str | None) -> Callable[[], None]:
    return lambda: _set(deploy, bucket, policy)


def _set(deploy: Deploy, bucket: str, policy: str | None) -> None:
    deploy.c.objects.put_policy(bucket, policy, deploy.c.identity.root_arn)
