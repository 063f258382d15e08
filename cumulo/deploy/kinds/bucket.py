"""``AWS::S3::Bucket``: a bucket (``BucketName``, or ``<stack>-<logicalid>-<suffix>`` in lower case),
created, its notification configuration set in place, deleted when the template drops it (as
CloudFormation does, only when it is empty: a bucket with objects is left, and said so).

``NotificationConfiguration``: ``LambdaConfigurations`` (``Event``, ``Function``, ``Filter.S3Key.Rules``),
``QueueConfigurations`` (``Queue``), ``TopicConfigurations`` (``Topic``) and
``EventBridgeConfiguration.EventBridgeEnabled``. A function's SAM ``S3`` event (``Bucket: !Ref
<bucket of this template>``, ``Events``, ``Filter``) adds its configuration to the bucket, as SAM's
transform does (the function's alias with ``AutoPublishAlias``). ``VersioningConfiguration``
(``Status``: ``Enabled`` or ``Suspended``) sets the bucket's versioning; a template that drops it
leaves the bucket's versioning as it is (S3 has no way back to unversioned).
``PublicAccessBlockConfiguration`` sets the bucket's Block Public Access (absent flags false); without
it a new bucket blocks everything, S3's default, and a template that drops it leaves the bucket's as
it is. Other properties (encryption, lifecycle, CORS, tags …) are accepted with a warning.

``Ref`` is the bucket's name; ``Fn::GetAtt`` gives ``Arn`` (``arn:aws:s3:::<name>``), ``DomainName``,
``RegionalDomainName``, ``DualStackDomainName`` and ``WebsiteURL`` as AWS forms them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model.function import Arns
from cumulo.model.objects import check_bucket_name
from cumulo.model.s3events import check_configuration

__all__ = ["Bucket", "BUCKET_TYPE"]

BUCKET_TYPE = "AWS::S3::Bucket"
_IGNORED = {
    "BucketEncryption": "objects are stored unencrypted",
    "LifecycleConfiguration": "lifecycle rules are not applied", "CorsConfiguration": "CORS rules are not applied",
    "OwnershipControls": "the account owns every "
    "object", "AccessControl": "ACLs are not kept", "Tags": "bucket tags are not kept", "LoggingConfiguration":
    "access logs are not written", "WebsiteConfiguration": "buckets are not served as websites",
    "MetricsConfigurations": "no metrics are kept", "IntelligentTieringConfigurations": "there is one storage class",
    "InventoryConfigurations": "no inventories are made", "ReplicationConfiguration": "nothing is replicated",
    "ObjectLockEnabled": "objects are not locked", "ObjectLockConfiguration": "objects are not locked",
    "AccelerateConfiguration": "transfers are not accelerated", "AnalyticsConfigurations": "no analytics are kept",
}
_KINDS = (("LambdaConfigurations", "Function", "LambdaFunctionConfigurations", "LambdaFunctionArn"),
          ("QueueConfigurations", "Queue", "QueueConfigurations", "QueueArn"),
          ("TopicConfigurations", "Topic", "TopicConfigurations", "TopicArn"))


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    line: int
    name: str
    notification: dict[str, Any]            # PutBucketNotificationConfiguration's shape, checked
    notes: tuple[str, ...] = field(default_factory=tuple)
    versioning: str = ""                    # VersioningConfiguration.Status ("": not given)
    public_block: dict[str, bool] | None = None     # PublicAccessBlockConfiguration (None: not given)


def _attributes(logical_id: str, name: str, region: str) -> Attributes:
    return {(logical_id, "Ref"): name, (logical_id, "Arn"): f"arn:aws:s3:::{name}",
            (logical_id, "DomainName"): f"{name}.s3.amazonaws.com",
            (logical_id, "RegionalDomainName"): f"{name}.s3.{region}.amazonaws.com",
            (logical_id, "DualStackDomainName"): f"{name}.s3.dualstack.{region}.amazonaws.com",
            (logical_id, "WebsiteURL"): f"http://{name}.s3-website-{region}.amazonaws.com"}


def default_bucket_name(stack: str, logical_id: str) -> str:
    """``<stack>-<logicalid>-<suffix>``, lower case, within S3's 63 characters."""
    suffix = hashlib.sha256(f"{stack}:{logical_id}".encode()).hexdigest()[:12]
    base = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in f"{stack}-{logical_id}".lower())
    return f"{base[:63 - len(suffix) - 1].strip('-')}-{suffix}"


class Bucket(Kind):
    name = "bucket"
    types = (BUCKET_TYPE,)
    after = ("function", "queue", "topic")
    listed = 25
    record_key = "buckets"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, str] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            line = entry.properties.line_of("BucketName") if "BucketName" in entry.properties else entry.line
            try:
                given = resolve(entry.properties.get("BucketName", NO_VALUE), load.plain)
                name = default_bucket_name(load.stack, entry.logical_id) if given is NO_VALUE else to_str(given)
                check_bucket_name(name)
            except IntrinsicError as exc:
                raise error(entry.where, f"property BucketName (line {line}): {exc.message}", entry.logical_id,
                            line) from None
            except CumuloError:
                raise error(entry.where, f"property BucketName (line {line}): '{name}' is not a valid bucket name "
                            "(3-63 lower-case letters, digits, dots and hyphens)", entry.logical_id, line) from None
            if name in owners:
                raise error(entry.where, f"bucket name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            owners[name] = entry.logical_id
            named[entry.logical_id] = name
        return named, {k: v for lid, n in named.items() for k, v in _attributes(lid, n, load.region).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        from_functions = _function_events(load, set(named.values()))
        specs = []
        for entry in entries:
            name = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                config, notes = _read_notification(props)
                for list_name, entries_ in from_functions.get(name, {}).items():
                    config.setdefault(list_name, []).extend(entries_)
                checked = check_configuration(config)
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            except CumuloError as exc:
                raise error(entry.where, f"property NotificationConfiguration: {exc.message}", entry.logical_id,
                            entry.line) from None
            specs.append(BucketSpec(entry.logical_id, entry.line, name, checked, tuple(notes),
                                    _versioning(entry, props), _public_block(entry, props)))
        return specs

    def attributes(self, spec: BucketSpec, arns: Arns) -> Attributes:
        return _attributes(spec.logical_id, spec.name, arns.region)

    def plan(self, spec: BucketSpec, deploy: Deploy) -> Change:
        doc = deploy.c.objects.index.get_bucket(spec.name)
        if doc is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        changed = [name for name, differs in (
            ("NotificationConfiguration", (doc.get("Notification") or {}) != spec.notification),
            ("VersioningConfiguration", bool(spec.versioning) and doc.get("Versioning", "") != spec.versioning),
            ("PublicAccessBlockConfiguration", spec.public_block is not None and
             doc.get("PublicAccessBlock") != spec.public_block))
            if differs]
        return Change(spec.logical_id, spec.name, "update" if changed else "unchanged", changed, self.name)

    def removed(self, specs: list[BucketSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and deploy.c.objects.index.get_bucket(name) is not None]

    def apply(self, spec: BucketSpec, change: Change | None, deploy: Deploy) -> None:
        objects = deploy.c.objects
        doc = objects.index.get_bucket(spec.name)
        if doc is None:
            objects.create_bucket(spec.name)
            deploy.undo.append(lambda: objects.delete_bucket(spec.name))
        if spec.versioning and (doc or {}).get("Versioning", "") != spec.versioning:
            objects.put_versioning(spec.name, spec.versioning)
            was = (doc or {}).get("Versioning")
            if was:
                deploy.undo.append(lambda: objects.put_versioning(spec.name, was))
        if spec.public_block is not None and (doc or {}).get("PublicAccessBlock") != spec.public_block:
            objects.put_public_access_block(spec.name, spec.public_block)
            if doc is not None:
                block = doc.get("PublicAccessBlock")
                deploy.undo.append(lambda: objects.put_public_access_block(spec.name, block))
        if doc is not None and (doc.get("Notification") or {}) == spec.notification:
            return
        before = (doc or {}).get("Notification") or {}
        objects.put_notification(spec.name, spec.notification)
        if doc is not None:
            deploy.undo.append(lambda: objects.put_notification(spec.name, before))

    def record(self, applied: list[tuple[BucketSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        """Buckets the template dropped: deleted when empty (CloudFormation cannot delete one with objects)."""
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.objects.delete_bucket, name)

    def summary(self, spec: BucketSpec) -> list[str]:
        n = sum(len(spec.notification.get(k, [])) for _, _, k, _ in _KINDS)
        return [f"bucket {spec.name} ({spec.logical_id})" + (f": {n} notification(s)" if n else "")]


def _versioning(entry: Entry, props: dict[str, Any]) -> str:
    given = props.get("VersioningConfiguration")
    if given is None:
        return ""
    if not isinstance(given, dict) or set(given) != {"Status"} or given["Status"] not in ("Enabled", "Suspended"):
        raise error(entry.where, "property VersioningConfiguration: must be {Status: Enabled} or {Status: Suspended}",
                    entry.logical_id, entry.properties.line_of("VersioningConfiguration") or entry.line)
    return str(given["Status"])


def _public_block(entry: Entry, props: dict[str, Any]) -> dict[str, bool] | None:
    given = props.get("PublicAccessBlockConfiguration")
    if given is None:
        return None
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    values = {k: str(v).lower() for k, v in given.items()} if isinstance(given, dict) else None
    if values is None or set(values) - set(flags) or set(values.values()) - {"true", "false"}:
        raise error(entry.where, "property PublicAccessBlockConfiguration: a map of BlockPublicAcls, "
                    "IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets, each true or false",
                    entry.logical_id, entry.properties.line_of("PublicAccessBlockConfiguration") or entry.line)
    return {flag: values.get(flag) == "true" for flag in flags}


def _rules(value: Any, where: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict) or set(value) - {"S3Key"}:
        raise IntrinsicError(f"property {where}.Filter: must be a map with S3Key")
    rules = (value.get("S3Key") or {}).get("Rules") if isinstance(value.get("S3Key"), dict) else None
    if not isinstance(rules, list) or not all(isinstance(r, dict) and set(r) == {"Name", "Value"} for r in rules):
        raise IntrinsicError(f"property {where}.Filter.S3Key.Rules: must be a list of Name and Value")
    return [{"Name": str(r["Name"]), "Value": str(r["Value"])} for r in rules]


def _read_notification(props: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    notes = [f"{key}: {why} on Cumulo" for key, why in _IGNORED.items() if key in props]
    unknown = set(props) - set(_IGNORED) - {"BucketName", "NotificationConfiguration", "VersioningConfiguration",
                                            "PublicAccessBlockConfiguration"}
    if unknown:
        raise IntrinsicError(f"property {sorted(unknown)[0]}: not a property of AWS::S3::Bucket")
    given = props.get("NotificationConfiguration") or {}
    if not isinstance(given, dict):
        raise IntrinsicError("property NotificationConfiguration: must be a map")
    config: dict[str, Any] = {}
    for cfn_list, member, api_list, api_member in _KINDS:
        for n, item in enumerate(given.get(cfn_list) or []):
            where = f"NotificationConfiguration.{cfn_list}[{n}]"
            if not isinstance(item, dict) or "Event" not in item or member not in item:
                raise IntrinsicError(f"property {where}: must have Event and {member}")
            entry: dict[str, Any] = {api_member: str(item[member]), "Events": [str(item["Event"])]}
            rules = _rules(item.get("Filter"), where)
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            config.setdefault(api_list, []).append(entry)
    bridge = given.get("EventBridgeConfiguration")
    if isinstance(bridge, dict) and str(bridge.get("EventBridgeEnabled", "true")).lower() == "true":
        config["EventBridgeConfiguration"] = {}
    return config, notes


def _function_events(load: Load, buckets: set[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The configurations functions' SAM ``S3`` events add, by bucket name."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for fn in load.read.get("function", []):
        for event_name, event in fn.events.items():
            if event.get("Type") != "S3":
                continue
            props = event.get("Properties") or {}
            where = f"Resource {fn.logical_id} (line {fn.line}): event {event_name}"
            bucket = props.get("Bucket")
            if not isinstance(bucket, str) or bucket not in buckets:
                raise error(where, "S3 events must reference an AWS::S3::Bucket in the same template (Bucket: "
                            "!Ref <its logical id>)", fn.logical_id, fn.line)
            events = props.get("Events")
            events = [events] if isinstance(events, str) else events
            if not isinstance(events, list) or not events:
                raise error(where, "property Events: must be an event type or a list of them", fn.logical_id,
                            fn.line)
            entry: dict[str, Any] = {"Id": f"{fn.logical_id}{event_name}",
                                     "LambdaFunctionArn": load.arns.function(fn.function_name, fn.auto_publish_alias),
                                     "Events": [str(e) for e in events]}
            try:
                rules = _rules(props.get("Filter"), "Filter")
            except IntrinsicError as exc:
                raise error(where, exc.message, fn.logical_id, fn.line) from None
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            out.setdefault(bucket, {}).setdefault("LambdaFunctionConfigurations", []).append(entry)
    return out
