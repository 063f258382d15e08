"""S3 event notifications, pure: a bucket's notification configuration (checked as S3 checks it),
which destinations an event reaches, and the event document as S3 sends it.

The configuration is kept in boto3's shape (``LambdaFunctionConfigurations``,
``QueueConfigurations``, ``TopicConfigurations``, each with ``Id``, the destination's ARN,
``Events`` and ``Filter.Key.FilterRules``; ``EventBridgeConfiguration``). An event reaches a
configuration when its name is one of the configuration's event types (``s3:ObjectCreated:*``
covers every ``ObjectCreated:…``) and the key starts with its prefix and ends with its suffix.

The document follows "Event message structure" (S3 User Guide): ``Records[]`` with
``eventVersion`` 2.1, ``s3.object.key`` URL-encoded as form data (a space is ``+``; ``/`` kept),
``size`` and ``eTag`` (unquoted) for created objects only, and a ``sequencer`` that orders events
of the same key (hexadecimal, longer strings compare after padding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from cumulo.model.objects import S3Error

__all__ = ["EVENT_TYPES", "Destination", "check_configuration", "destinations", "encode_key", "record", "test_event"]

EVENT_TYPES = frozenset({
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*", "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*", "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition", "s3:IntelligentTiering",
    "s3:ObjectTagging:*", "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put",
})

# (the configuration list, the member naming its destination, the destination's ARN service)
KINDS = (("LambdaFunctionConfigurations", "LambdaFunctionArn", "lambda"),
         ("QueueConfigurations", "QueueArn", "sqs"),
         ("TopicConfigurations", "TopicArn", "sns"))


def _invalid(message: str, name: str = "", value: str = "") -> S3Error:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return S3Error("InvalidArgument", message, 400, **extra)


@dataclass(frozen=True)
class Destination:
    arn: str
    service: str            # lambda, sqs, sns
    configuration_id: str


def check_configuration(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as kept (ids given to those without one), or S3's ``InvalidArgument``:
    an unknown event type, a filter rule other than one prefix and one suffix, a destination that
    is not an ARN of its service, two configurations sharing an event type on overlapping keys."""
    out: dict[str, Any] = {}
    seen: list[tuple[set[str], str, str]] = []
    for list_name, member, service in KINDS:
        entries = config.get(list_name) or []
        kept = []
        for n, entry in enumerate(entries):
            arn = entry.get(member) or ""
            if not re.fullmatch(rf"arn:aws[a-z-]*:{service}:[a-z0-9-]+:\d{{12}}:[^\s]+", arn):
                raise _invalid("The ARN is not well formed", member, arn)
            events = entry.get("Events") or []
            if not events:
                raise _invalid("A notification configuration must name at least one event.", "Event", "")
            for event in events:
                if event not in EVENT_TYPES:
                    raise _invalid("The event is not supported for notifications", "Event", event)
            prefix, suffix = _filter(entry)
            expanded = set(events)
            for other_events, other_prefix, other_suffix in seen:
                if _overlaps(expanded, other_events) and (prefix.startswith(other_prefix) or
                                                          other_prefix.startswith(prefix)) and \
                        (suffix.endswith(other_suffix) or other_suffix.endswith(suffix)):
                    raise _invalid("Configurations overlap. Configurations on the same bucket cannot share a "
                                   "common event type.", "Event", events[0])
            seen.append((expanded, prefix, suffix))
            kept.append({**entry, "Id": entry.get("Id") or f"{service}-{n + 1}"})
        if kept:
            out[list_name] = kept
    if config.get("EventBridgeConfiguration") is not None:
        out["EventBridgeConfiguration"] = {}
    return out


def _overlaps(a: set[str], b: set[str]) -> bool:
    for x in a:
        for y in b:
            if x == y or (x.endswith(":*") and y.startswith(x[:-1])) or (y.endswith(":*") and x.startswith(y[:-1])):
                return True
    return False


def _filter(entry: dict[str, Any]) -> tuple[str, str]:
    rules = ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    found: dict[str, str] = {}
    for rule in rules:
        name = str(rule.get("Name", "")).lower()
        if name not in ("prefix", "suffix"):
            raise _invalid("filter rule name must be either prefix or suffix", "FilterRule", str(rule.get("Name")))
        if name in found:
            raise _invalid(f"Cannot specify more than one {name} rule in a filter.", "FilterRule", name)
        found[name] = str(rule.get("Value", ""))
    return found.get("prefix", ""), found.get("suffix", "")


def _matches(event_name: str, events: list[str]) -> bool:
    full = "s3:" + event_name
    return any(e == full or (e.endswith(":*") and full.startswith(e[:-1])) for e in events)


def destinations(config: dict[str, Any] | None, event_name: str, key: str) -> list[Destination]:
    """Where an event (``ObjectCreated:Put``…) of ``key`` goes under a kept configuration."""
    out: list[Destination] = []
    for list_name, member, service in KINDS:
        for entry in (config or {}).get(list_name) or []:
            prefix, suffix = _filter(entry)
            if _matches(event_name, entry.get("Events") or []) and key.startswith(prefix) and key.endswith(suffix):
                out.append(Destination(entry[member], service, entry.get("Id", "")))
    return out


def encode_key(key: str) -> str:
    """A key as the event carries it: form-encoded (``red flower.jpg`` is ``red+flower.jpg``),
    ``/`` kept."""
    return quote_plus(key, safe="/")


def record(event_name: str, *, bucket: str, key: str, region: str, time: str, sequencer: str,
           size: int | None = None, etag: str | None = None, version_id: str | None = None,
           configuration_id: str = "", principal_id: str = "", source_ip: str = "",
           request_id: str = "", host_id: str = "") -> dict[str, Any]:
    """One ``Records[]`` entry."""
    obj: dict[str, Any] = {"key": encode_key(key)}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag.strip('"')
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": time,
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": principal_id}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def test_event(bucket: str, time: str, request_id: str, host_id: str) -> dict[str, Any]:
    """What S3 sends a queue or topic when a configuration naming it is set."""
    return {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": time, "Bucket": bucket,
            "RequestId": request_id, "HostId": host_id}
