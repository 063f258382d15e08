"""``AWS::DynamoDB::Table`` and ``AWS::Serverless::SimpleTable``: named (``TableName``, or
``<stack>-<LogicalId>-<suffix>``), checked as CreateTable checks them (when planning, so a dry run
refuses what a deploy would), created, updated in place (global secondary indexes added and dropped,
billing, the stream turned on or off, TTL, deletion protection), deleted when the template drops it.

A table whose ``KeySchema`` or local secondary indexes the template changes is refused when planning:
DynamoDB cannot change them, and replacing the table would lose its items.

``Ref`` is the table name; ``Fn::GetAtt`` gives ``Arn`` and, with a ``StreamSpecification``,
``StreamArn``. The stream's label is decided when the template is read (a time made from a hash of
stack and logical id, stable across deploys), so that a function's ``DynamoDB`` event can name it
before the table exists.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, TemplateError, error, quietly
from cumulo.deploy.names import stable_name
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model.function import Arns

__all__ = ["Table", "TABLE_TYPE", "SIMPLE_TABLE_TYPE"]

TABLE_TYPE = "AWS::DynamoDB::Table"
SIMPLE_TABLE_TYPE = "AWS::Serverless::SimpleTable"
_NAME_MAX = 255
_TABLE_PROPS = {"TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
                "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification", "TimeToLiveSpecification",
                "Tags", "DeletionProtectionEnabled", "TableClass", "PointInTimeRecoverySpecification"}
_NOTED = {"SSESpecification": "tables are stored unencrypted in Cumulo's store",
          "ContributorInsightsSpecification": "Cumulo has no CloudWatch Contributor Insights",
          "KinesisStreamSpecification": "item changes are not copied to a Kinesis stream",
          "OnDemandThroughput": "throughput is not throttled", "WarmThroughput": "throughput is not throttled",
          "ResourcePolicy": "table resource policies are not enforced", "ImportSourceSpecification":
          "nothing is imported from S3: the table starts empty"}
_SIMPLE_PROPS = {"TableName", "PrimaryKey", "ProvisionedThroughput", "Tags", "SSESpecification", "PointInTimeRecoverySpecification"}
_SIMPLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    stream_arn: str
    label: str
    request: dict[str, Any]                     # CreateTable's request
    ttl: dict[str, Any] | None = None           # TimeToLiveSpecification
    notes: tuple[str, ...] = field(default_factory=tuple)
    pitr: dict[str, Any] | None = None          # PointInTimeRecoverySpecification (UpdateContinuousBackups')


def table_name_for(stack: str, logical_id: str) -> str:
    return stable_name(stack, logical_id, _NAME_MAX)


def stream_label_for(stack: str, logical_id: str) -> str:
    seconds = 1_500_000_000 + int.from_bytes(hashlib.sha256(f"{stack}/{logical_id}".encode()).digest()[:4], "big") \
        % 200_000_000
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000")


def _attributes(spec_id: str, name: str, arn: str, stream_arn: str | None) -> Attributes:
    out: Attributes = {(spec_id, "Ref"): name, (spec_id, "Arn"): arn}
    if stream_arn:
        out[(spec_id, "StreamArn")] = stream_arn
    return out


def _numbers(value: Any) -> Any:
    """Integer members given as text (a Number parameter's Ref) as integers."""
    if isinstance(value, dict):
        return {k: (int(v) if k in ("ReadCapacityUnits", "WriteCapacityUnits") and isinstance(v, str)
                    and re.fullmatch(r"\s*\d+\s*", v) else _numbers(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _boolean(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class Table(Kind):
    name = "table"
    types = (TABLE_TYPE, SIMPLE_TABLE_TYPE)
    listed = 25
    record_key = "tables"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, tuple[str, str, str, str]] = {}
        owners: dict[str, str] = {}
        attributes: Attributes = {}
        for entry in entries:
            try:
                given = resolve(entry.properties.get("TableName", NO_VALUE), load.plain)
                stream = resolve(entry.properties.get("StreamSpecification", NO_VALUE), load.plain)
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
            name = table_name_for(load.stack, entry.logical_id) if given is NO_VALUE else to_str(given)
            if name in owners:
                raise error(entry.where, f"table name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            owners[name] = entry.logical_id
            arn = f"arn:aws:dynamodb:{load.region}:{load.account}:table/{name}"
            label = stream_label_for(load.stack, entry.logical_id)
            stream_arn = f"{arn}/stream/{label}" if stream is not NO_VALUE and entry.type == TABLE_TYPE else ""
            named[entry.logical_id] = (name, arn, stream_arn, label)
            attributes.update(_attributes(entry.logical_id, name, arn, stream_arn))
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, arn, stream_arn, label = named[entry.logical_id]
            try:
                props = _numbers(plain(resolve(entry.properties, load.scope)))
                if not isinstance(props, dict):
                    raise IntrinsicError("Properties must be a map")
                if entry.type == SIMPLE_TABLE_TYPE:
                    request, ttl, notes = _simple(props)
                else:
                    request, ttl, notes = _table(props)
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
            request["TableName"] = name
            pitr = _pitr(props.get("PointInTimeRecoverySpecification"), entry)
            specs.append(TableSpec(entry.logical_id, entry.line, name, arn, stream_arn, label, request, ttl,
                                   tuple(notes), pitr))
        return specs

    def warnings(self, spec: TableSpec) -> list[str]:
        return [f"{spec.logical_id}: {n}" for n in spec.notes]

    def attributes(self, spec: TableSpec, arns: Arns) -> Attributes:
        return _attributes(spec.logical_id, spec.name, spec.arn, spec.stream_arn)

    def deployed(self, spec: TableSpec, deploy: Deploy) -> Attributes:
        return _attributes(spec.logical_id, spec.name, spec.arn, spec.stream_arn)

    def _checked(self, spec: TableSpec, deploy: Deploy) -> dict[str, Any]:
        """The table as CreateTable would make it, or the TemplateError CreateTable's refusal is."""
        try:
            return deploy.c.tables.table_doc(spec.request, deploy.c.clock.now(), spec.label)
        except CumuloError as exc:
            raise TemplateError(f"Resource {spec.logical_id} (line {spec.line}): {exc.message}",
                                logical_id=spec.logical_id, line=spec.line) from None

    def plan(self, spec: TableSpec, deploy: Deploy) -> Change:
        wanted = self._checked(spec, deploy)
        current = deploy.c.tables.items.get_table(spec.name)
        if current is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        details = _differences(spec, wanted, current)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[TableSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and deploy.c.tables.items.get_table(name) is not None]

    def apply(self, spec: TableSpec, change: Change | None, deploy: Deploy) -> None:
        tables = deploy.c.tables
        current = tables.items.get_table(spec.name)
        if current is None:
            tables.create_table(spec.request, stream_label=spec.label)
            deploy.undo.append(partial(quietly, tables.delete_table, {"TableName": spec.name}))
            if spec.ttl and _boolean(spec.ttl.get("Enabled")):
                tables.update_ttl({"TableName": spec.name, "TimeToLiveSpecification": {
                    "AttributeName": spec.ttl.get("AttributeName"), "Enabled": True}})
            if spec.pitr is not None and spec.pitr["PointInTimeRecoveryEnabled"]:
                tables.call("UpdateContinuousBackups", {"TableName": spec.name,
                                                        "PointInTimeRecoverySpecification": spec.pitr})
            return
        wanted = self._checked(spec, deploy)
        if not _differences(spec, wanted, current):
            return
        update: dict[str, Any] = {"TableName": spec.name, "AttributeDefinitions": spec.request["AttributeDefinitions"]}
        if wanted["BillingMode"] != current["BillingMode"] or \
                wanted["ProvisionedThroughput"] != current["ProvisionedThroughput"]:
            update["BillingMode"] = wanted["BillingMode"]
            if wanted["BillingMode"] == "PROVISIONED":
                update["ProvisionedThroughput"] = wanted["ProvisionedThroughput"]
        have = {i["IndexName"]: i for i in current["GlobalSecondaryIndexes"]}
        want = {i["IndexName"]: i for i in wanted["GlobalSecondaryIndexes"]}
        changes = [{"Delete": {"IndexName": n}} for n in have if n not in want or _index_changed(have[n], want[n])]
        changes += [{"Create": {k: v for k, v in i.items() if not k.startswith("_")}} for n, i in want.items()
                    if n not in have or _index_changed(have[n], i)]
        if changes:
            update["GlobalSecondaryIndexUpdates"] = changes
        live = _live_view(current)
        view = _live_view(wanted)
        if live != view:
            if live is not None:
                tables.update_table({"TableName": spec.name, "StreamSpecification": {"StreamEnabled": False}})
            if view is not None:
                update["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        if bool(current.get("DeletionProtectionEnabled")) != bool(wanted.get("DeletionProtectionEnabled")):
            update["DeletionProtectionEnabled"] = wanted.get("DeletionProtectionEnabled")
        tables.update_table(update, stream_label=spec.label)
        ttl_now = current.get("TimeToLive") or {}
        ttl_wanted = {"AttributeName": (spec.ttl or {}).get("AttributeName"), "Enabled": True} \
            if spec.ttl and _boolean(spec.ttl.get("Enabled")) else {}
        if ttl_now.get("Enabled") and ttl_now != ttl_wanted:
            tables.update_ttl({"TableName": spec.name, "TimeToLiveSpecification": {
                "AttributeName": ttl_now["AttributeName"], "Enabled": False}})
        if ttl_wanted and ttl_now != ttl_wanted:
            tables.update_ttl({"TableName": spec.name, "TimeToLiveSpecification": ttl_wanted})
        if _pitr_now(current) != _pitr_wanted(spec):
            tables.call("UpdateContinuousBackups", {"TableName": spec.name, "PointInTimeRecoverySpecification":
                                                    spec.pitr or {"PointInTimeRecoveryEnabled": False}})

    def record(self, applied: list[tuple[TableSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.tables.delete_table, {"TableName": name})

    def summary(self, spec: TableSpec) -> list[str]:
        return [f"table {spec.name}" + (f" (stream {spec.stream_arn})" if spec.stream_arn else "")]


def _table(props: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]]:
    notes = []
    for key in props:
        if key in _NOTED:
            notes.append(f"{key} ignored: {_NOTED[key]}")
        elif key not in _TABLE_PROPS:
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
    request = {k: v for k, v in props.items() if k in _TABLE_PROPS and k not in ("TimeToLiveSpecification",
                                                                                 "StreamSpecification",
                                                                                 "PointInTimeRecoverySpecification")}
    stream = props.get("StreamSpecification")
    if stream is not None:
        if not isinstance(stream, dict) or stream.get("StreamViewType") is None:
            raise IntrinsicError("property StreamSpecification: needs StreamViewType (NEW_IMAGE, OLD_IMAGE, "
                                 "NEW_AND_OLD_IMAGES or KEYS_ONLY)")
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if "DeletionProtectionEnabled" in request:
        request["DeletionProtectionEnabled"] = _boolean(request["DeletionProtectionEnabled"])
    ttl = props.get("TimeToLiveSpecification")
    if ttl is not None and (not isinstance(ttl, dict) or not isinstance(ttl.get("AttributeName"), str)):
        raise IntrinsicError("property TimeToLiveSpecification: needs AttributeName and Enabled")
    return request, ttl, notes


def _simple(props: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]]:
    notes = []
    for key in props:
        if key not in _SIMPLE_PROPS:
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
        if key in _NOTED:
            notes.append(f"{key} ignored: {_NOTED[key]}")
    primary = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    if not isinstance(primary, dict) or not isinstance(primary.get("Name"), str) or \
            primary.get("Type") not in _SIMPLE_TYPES:
        raise IntrinsicError("property PrimaryKey: needs Name and Type (String, Number or Binary)")
    request: dict[str, Any] = {
        "KeySchema": [{"AttributeName": primary["Name"], "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": primary["Name"], "AttributeType": _SIMPLE_TYPES[primary["Type"]]}]}
    if props.get("ProvisionedThroughput"):
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    else:
        request["BillingMode"] = "PAY_PER_REQUEST"
    tags = props.get("Tags")
    if isinstance(tags, dict):
        request["Tags"] = [{"Key": k, "Value": str(v)} for k, v in tags.items()]
    return request, None, notes


def _live_view(doc: dict[str, Any]) -> str | None:
    streams = doc.get("Streams") or []
    return streams[-1]["ViewType"] if streams and streams[-1]["Enabled"] else None


def _index_changed(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["KeySchema"] != b["KeySchema"] or a["Projection"] != b["Projection"]


def _differences(spec: TableSpec, wanted: dict[str, Any], current: dict[str, Any]) -> list[str]:
    refused = []
    if wanted["KeySchema"] != current["KeySchema"]:
        refused.append("KeySchema: DynamoDB cannot change a table's key")
    if wanted["LocalSecondaryIndexes"] != current["LocalSecondaryIndexes"]:
        refused.append("LocalSecondaryIndexes: DynamoDB makes them with the table only")
    if refused:
        raise TemplateError(f"Resource {spec.logical_id} (line {spec.line}): table {spec.name} cannot be changed: "
                            f"{'; '.join(refused)}. Give the table a new logical id or TableName to make a new one "
                            "(its items are not carried over), or keep the current value",
                            logical_id=spec.logical_id, line=spec.line)
    details = []
    if wanted["BillingMode"] != current["BillingMode"] or \
            wanted["ProvisionedThroughput"] != current["ProvisionedThroughput"]:
        details.append(f"billing {current['BillingMode']} -> {wanted['BillingMode']}")
    have = {i["IndexName"]: i for i in current["GlobalSecondaryIndexes"]}
    want = {i["IndexName"]: i for i in wanted["GlobalSecondaryIndexes"]}
    for n in sorted(set(have) | set(want)):
        if n not in want:
            details.append(f"index {n} dropped")
        elif n not in have:
            details.append(f"index {n} added")
        elif _index_changed(have[n], want[n]):
            details.append(f"index {n} replaced")
    if _live_view(current) != _live_view(wanted):
        details.append(f"stream {_live_view(current) or 'off'} -> {_live_view(wanted) or 'off'}")
    ttl_now = current.get("TimeToLive") or {}
    ttl = spec.ttl if spec.ttl and _boolean(spec.ttl.get("Enabled")) else None
    if bool(ttl_now.get("Enabled")) != bool(ttl) or (ttl and ttl_now.get("AttributeName") != ttl["AttributeName"]):
        details.append("time to live")
    if bool(current.get("DeletionProtectionEnabled")) != bool(wanted.get("DeletionProtectionEnabled")):
        details.append("deletion protection")
    if _pitr_now(current) != _pitr_wanted(spec):
        details.append("point-in-time recovery")
    return details


def _pitr(given: Any, entry: Any) -> dict[str, Any] | None:
    """A template's PointInTimeRecoverySpecification as UpdateContinuousBackups takes it (None: not given)."""
    if given is None:
        return None
    if not isinstance(given, dict):
        raise error(entry.where, "property PointInTimeRecoverySpecification: needs PointInTimeRecoveryEnabled",
                    entry.logical_id, entry.line)
    out: dict[str, Any] = {"PointInTimeRecoveryEnabled": _boolean(given.get("PointInTimeRecoveryEnabled"))}
    days = given.get("RecoveryPeriodInDays")
    if days is not None:
        if not str(days).isdigit() or not 1 <= int(days) <= 35:
            raise error(entry.where, "property PointInTimeRecoverySpecification: RecoveryPeriodInDays is 1 to 35",
                        entry.logical_id, entry.line)
        out["RecoveryPeriodInDays"] = int(days)
    return out


def _pitr_now(current: dict[str, Any]) -> tuple[bool, int]:
    pitr = current.get("PointInTimeRecovery") or {}
    return (True, pitr.get("RecoveryPeriodInDays", 35)) if pitr.get("Enabled") else (False, 0)


def _pitr_wanted(spec: TableSpec) -> tuple[bool, int]:
    if spec.pitr is None or not spec.pitr["PointInTimeRecoveryEnabled"]:
        return (False, 0)
    return (True, spec.pitr.get("RecoveryPeriodInDays", 35))
