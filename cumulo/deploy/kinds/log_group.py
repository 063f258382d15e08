"""``AWS::Logs::LogGroup``: a log group's retention. Cumulo keeps every function's log (the group
``/aws/lambda/<function>``) and every API's access log (``/aws/apigateway/<api-id>``) in its log store;
a declared group sets how long its events are kept (``RetentionInDays``, one of CloudWatch Logs'
values; none: forever, as on AWS), and the housekeeper prunes older events
(``cumulo.sources.housekeeping``). The group is a store document (``log-group``), created, its retention
updated in place, and deleted with its events when the template drops it (as CloudFormation deletes a
log group). The CloudWatch Logs API (``cumulo.logs``) serves the same documents: DescribeLogGroups
lists the group with its retention. ``KmsKeyId``, ``DataProtectionPolicy`` and ``LogGroupClass`` are accepted with a warning.

``Ref`` is the group's name (``LogGroupName``, or ``<stack>-<LogicalId>-<suffix>``); ``Fn::GetAtt``
gives ``Arn`` (``arn:aws:logs:<region>:<account>:log-group:<name>:*``).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error
from cumulo.deploy.properties import plain
from cumulo.logs.service import GROUP_DOCUMENT, RETENTION_DAYS
from cumulo.model.function import Arns
from cumulo.observe.logs import log_group_key

__all__ = ["LogGroup", "LOG_GROUP_TYPE", "LOG_GROUP_DOCUMENT", "RETENTION_DAYS"]

LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
LOG_GROUP_DOCUMENT = GROUP_DOCUMENT     # the same document CloudWatch Logs' API reads and writes (cumulo.logs)
_NAME_RE = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_IGNORED = {"KmsKeyId": "log events are not encrypted with a KMS key",
            "DataProtectionPolicy": "no data protection policy masks log events",
            "LogGroupClass": "every group is kept the same way", "FieldIndexPolicies": "events are not indexed",
            "ResourcePolicyDocument": "anything may write to Cumulo's log store"}
_KNOWN = frozenset({"LogGroupName", "RetentionInDays", "Tags", "DeletionProtectionEnabled", *_IGNORED})


@dataclass(frozen=True)
class LogGroupSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    retention_days: int | None
    tags: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def document(self) -> dict[str, Any]:
        return {"logGroupName": self.name, "arn": self.arn, "retentionInDays": self.retention_days,
                "tags": dict(self.tags)}


class LogGroup(Kind):
    name = "log group"
    types = (LOG_GROUP_TYPE,)
    listed = 80
    record_key = "log_groups"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            name = _name(entry, load)
            if name in owners:
                raise error(entry.where, f"log group name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            owners[name] = entry.logical_id
            named[entry.logical_id] = (name, _arn(load.arns, name))
        return named, {k: v for lid, (name, arn) in named.items() for k, v in _attributes(lid, name, arn).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, arn = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(_read(entry, name, arn, props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def attributes(self, spec: LogGroupSpec, arns: Arns) -> Attributes:
        return _attributes(spec.logical_id, spec.name, spec.arn)

    def plan(self, spec: LogGroupSpec, deploy: Deploy) -> Change:
        doc = deploy.c.store.get_document(LOG_GROUP_DOCUMENT, spec.name)
        if doc is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        details = _details(doc, spec)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[LogGroupSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and deploy.c.store.get_document(LOG_GROUP_DOCUMENT, name) is not None]

    def apply(self, spec: LogGroupSpec, change: Change | None, deploy: Deploy) -> None:
        store = deploy.c.store
        doc = store.get_document(LOG_GROUP_DOCUMENT, spec.name)
        if doc is not None and not _details(doc, spec):
            return
        fresh = {**spec.document(), "creationTime": (doc or {}).get("creationTime", int(time.time() * 1000))}
        store.put_document(LOG_GROUP_DOCUMENT, spec.name, fresh)
        if doc is None:
            deploy.undo.append(lambda: store.delete_document(LOG_GROUP_DOCUMENT, spec.name))
        else:
            deploy.undo.append(lambda: store.put_document(LOG_GROUP_DOCUMENT, spec.name, doc))

    def record(self, applied: list[tuple[LogGroupSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        """Groups the template dropped: deleted with their events, as CloudWatch Logs' DeleteLogGroup does."""
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted and deploy.c.store.delete_document(LOG_GROUP_DOCUMENT, name):
                deploy.c.store.prune_logs(log_group_key(name), None)

    def summary(self, spec: LogGroupSpec) -> list[str]:
        kept = "forever" if spec.retention_days is None else f"{spec.retention_days} days"
        return [f"log group {spec.name} ({spec.logical_id}): events kept {kept}"]


def _name(entry: Entry, load: Load) -> str:
    line = entry.properties.line_of("LogGroupName")
    try:
        given = resolve(entry.properties.get("LogGroupName", NO_VALUE), load.scope)   # may name a function
    except IntrinsicError as exc:
        raise error(entry.where, f"property LogGroupName (line {line}): {exc.message}", entry.logical_id,
                    exc.line or line) from None
    if given is NO_VALUE:
        suffix = hashlib.sha256(f"{load.stack}:{entry.logical_id}".encode()).hexdigest()[:12].upper()
        return f"{load.stack}-{entry.logical_id}-{suffix}"
    name = to_str(given)
    if not _NAME_RE.fullmatch(name):
        raise error(entry.where, f"property LogGroupName (line {line}): '{name}' must be 1 to 512 of "
                    "[.-_/#A-Za-z0-9]", entry.logical_id, line)
    return name


def _arn(arns: Arns, name: str) -> str:
    return f"arn:aws:logs:{arns.region}:{arns.account}:log-group:{name}:*"


def _attributes(logical_id: str, name: str, arn: str) -> Attributes:
    return {(logical_id, "Ref"): name, (logical_id, "Arn"): arn}


def _read(entry: Entry, name: str, arn: str, props: dict[str, Any]) -> LogGroupSpec:
    unknown = sorted(set(props) - _KNOWN)
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}'")
    retention = props.get("RetentionInDays")
    if retention is not None:
        text = to_str(retention)
        if not text.isdigit() or int(text) not in RETENTION_DAYS:
            raise IntrinsicError(f"property RetentionInDays: {text} is not one of CloudWatch Logs' retention "
                                 f"values {', '.join(map(str, RETENTION_DAYS))}")
        retention = int(text)
    tags_value = props.get("Tags", [])
    if not isinstance(tags_value, list) or not all(isinstance(t, dict) and {"Key", "Value"} <= set(t)
                                                   for t in tags_value):
        raise IntrinsicError("property Tags: must be a list of {Key, Value}")
    notes = tuple(f"{key} ignored: {why}" for key, why in _IGNORED.items() if key in props)
    return LogGroupSpec(entry.logical_id, entry.line, name, arn, retention,
                        {to_str(t["Key"]): to_str(t["Value"]) for t in tags_value}, notes)


def _details(doc: dict[str, Any], spec: LogGroupSpec) -> list[str]:
    wanted = spec.document()
    return [key for key in ("retentionInDays", "tags") if doc.get(key) != wanted[key]]
