"""Event-source mappings SAM makes of a function's ``SQS``, ``Kinesis`` and ``DynamoDB`` events (``MappingSpec``,
``StreamMappingSpec`` from ``cumulo.deploy.triggers``), and ``AWS::Lambda::EventSourceMapping`` resources, read
as the event their source's service makes (``cumulo.deploy.lambda_resources``): ``Ref`` is the mapping's UUID.

Deployed after the function and its source. The stack record keeps each mapping's UUID under
``<Function>.<Event>``, so a re-deploy finds it (the UUID stays the same across deploys); a mapping
from the same source to the same function made outside the record is adopted, as the Lambda API
would refuse a second. A ``Kinesis`` event whose ``StartingPosition`` (or its timestamp) changes is a
mapping replaced: deleted and made anew, as the Lambda API cannot update a starting position.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.deploy import lambda_resources as lr
from cumulo.deploy.intrinsics import IntrinsicError, resolve
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.deploy.triggers import MappingSpec, StreamMappingSpec, read_triggers
from cumulo.model.function import Arns
from cumulo.errors import ResourceNotFoundException

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["EventSourceMapping", "FunctionMapping"]

AnyMapping = MappingSpec | StreamMappingSpec
# What a stream mapping is made with and can never change (a change replaces the mapping).
_STARTING = ("StartingPosition", "StartingPositionTimestamp")


@dataclass(frozen=True)
class FunctionMapping:
    """A mapping a function's event makes."""

    key: str                          # <Function>.<Event>
    function_name: str
    alias: str | None                 # the function's AutoPublishAlias: SAM maps to the alias
    mapping: AnyMapping

    @property
    def target(self) -> str:
        return f"{self.function_name}:{self.alias}" if self.alias else self.function_name


class EventSourceMapping(Kind):
    name = "event source mapping"
    types = (lr.MAPPING,)
    after = ("function", "queue", "stream", "table")
    listed = 70
    record_key = "mappings"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        return {}, {k: v for entry in entries for k, v in _stand_ins(entry.logical_id).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        """``AWS::Lambda::EventSourceMapping``s: each the SQS, Kinesis or DynamoDB event of its function."""
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                if "FunctionName" not in props:
                    raise IntrinsicError("property FunctionName is required")
                function, qualifier = lr.qualified_name(props["FunctionName"])
                triggers = read_triggers(function, {entry.logical_id: lr.mapping_event(props)})
            except IntrinsicError as exc:
                raise property_error(entry, IntrinsicError(exc.message.removeprefix(f"event {entry.logical_id}: "),
                                                           exc.line)) from None
            specs.append(FunctionMapping(entry.logical_id, function, qualifier, triggers.mappings[0]))
        return specs

    def attributes(self, spec: FunctionMapping, arns: Arns) -> Attributes:
        return _stand_ins(spec.key) if "." not in spec.key else {}

    def deployed(self, spec: FunctionMapping, deploy: Deploy) -> Attributes:
        """A declared mapping's ``Ref`` and ``Id``: its UUID; ``EventSourceMappingArn``."""
        doc = _existing(deploy.c, spec, None) if "." not in spec.key else None
        if doc is None:
            return {}
        arn = f"arn:aws:lambda:{deploy.c.arns.region}:{deploy.c.arns.account}:event-source-mapping:{doc['UUID']}"
        return {(spec.key, "Ref"): doc["UUID"], (spec.key, "Id"): doc["UUID"],
                (spec.key, "EventSourceMappingArn"): arn}

    def plan(self, spec: FunctionMapping, deploy: Deploy) -> Change:
        doc = _existing(deploy.c, spec, (deploy.before(self) or {}).get(spec.key))
        label = f"{spec.mapping.source_arn.rsplit(':', 1)[-1].rsplit('/', 1)[-1]} -> {spec.target}"
        if doc is None:
            return Change(spec.key, label, "create", kind=self.name)
        if _replaced(spec.mapping, doc):
            return Change(spec.key, label, "replace", _replaced(spec.mapping, doc), self.name)
        details = _details(deploy.c, spec, doc)
        return Change(spec.key, label, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[FunctionMapping], deploy: Deploy) -> list[Change]:
        previous = deploy.before(self) or {}
        kept = {doc["UUID"] for spec in specs
                if (doc := _existing(deploy.c, spec, previous.get(spec.key))) is not None}
        return [Change(key, uuid, "delete", kind=self.name) for key, uuid in sorted(previous.items())
                if uuid not in kept and _exists(deploy.c, uuid)]

    def apply(self, spec: FunctionMapping, change: Change | None, deploy: Deploy) -> str:
        """The mapping made, updated, replaced or left; its UUID."""
        c, m = deploy.c, spec.mapping
        doc = _existing(c, spec, (deploy.before(self) or {}).get(spec.key))
        params = _params(spec)
        starting = {k: v for k, v in _starting(m).items() if v is not None} if isinstance(m, StreamMappingSpec) else {}
        if doc is None:
            return _create(deploy, m.source_arn, {**params, **starting})
        if _replaced(m, doc):
            # Put back on rollback: the old mapping made again (from its starting position, not its checkpoints).
            old = {**_as_params(doc), **{k: doc[k] for k in _STARTING if doc.get(k) is not None}}
            c.mappings.delete(doc["UUID"])
            deploy.undo.append(lambda: quietly(lambda: c.mappings.create(EventSourceArn=doc["EventSourceArn"], **old)))
            return _create(deploy, m.source_arn, {**params, **starting})
        if _details(c, spec, doc):
            previous = _as_params(doc)
            c.mappings.update(doc["UUID"], **params)
            deploy.undo.append(lambda: quietly(lambda: c.mappings.update(doc["UUID"], **previous)))
        return str(doc["UUID"])

    def record(self, applied: list[tuple[FunctionMapping, Any]]) -> dict[str, str]:
        return {spec.key: uuid for spec, uuid in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        for uuid in set((previous or {}).values()) - set(current.values()):
            quietly(deploy.c.mappings.delete, uuid)


def _stand_ins(logical_id: str) -> Attributes:
    """A declared mapping's attributes while the template is read (its UUID is known once it is made)."""
    token = f"cumulo-mapping-of:{logical_id};"
    return {(logical_id, "Ref"): token, (logical_id, "Id"): token, (logical_id, "EventSourceMappingArn"): token}


def _params(spec: FunctionMapping) -> dict[str, Any]:
    m = spec.mapping
    params: dict[str, Any] = {"FunctionName": spec.target, "BatchSize": m.batch_size,
                              "MaximumBatchingWindowInSeconds": m.batching_window,
                              "FunctionResponseTypes": list(m.response_types), "Enabled": m.enabled,
                              "FilterCriteria": json.loads(m.filter_criteria) if m.filter_criteria else {}}
    if isinstance(m, MappingSpec):
        params["ScalingConfig"] = {"MaximumConcurrency": m.maximum_concurrency} if m.maximum_concurrency else {}
    else:
        params.update(ParallelizationFactor=m.parallelization_factor, MaximumRetryAttempts=m.maximum_retry_attempts,
                      MaximumRecordAgeInSeconds=m.maximum_record_age, BisectBatchOnFunctionError=m.bisect_on_error,
                      DestinationConfig={"OnFailure": {"Destination": m.on_failure} if m.on_failure else {}})
    return params


def _starting(m: StreamMappingSpec) -> dict[str, Any]:
    return {"StartingPosition": m.starting_position, "StartingPositionTimestamp": m.starting_position_timestamp}


def _as_params(doc: dict[str, Any]) -> dict[str, Any]:
    params = {"FunctionName": doc["FunctionArn"], "BatchSize": doc["BatchSize"],
              "MaximumBatchingWindowInSeconds": doc["MaximumBatchingWindowInSeconds"],
              "FunctionResponseTypes": list(doc.get("FunctionResponseTypes", [])),
              "Enabled": doc["State"] != "Disabled", "FilterCriteria": doc.get("FilterCriteria") or {}}
    if "StartingPosition" in doc:        # a stream's mapping
        params.update({k: doc.get(k) for k in ("ParallelizationFactor", "MaximumRetryAttempts",
                                               "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError")})
        target = ((doc.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        params["DestinationConfig"] = {"OnFailure": {"Destination": target} if target else {}}
    else:
        params["ScalingConfig"] = doc.get("ScalingConfig") or {}
    return params


def _existing(c: Cumulo, spec: FunctionMapping, uuid: str | None) -> dict[str, Any] | None:
    """The stack's mapping for this event, if it still exists and still reads the same source; else one
    from this source to this function made outside the record (adopted, as the Lambda API would refuse
    a second)."""
    m = spec.mapping
    try:
        doc = c.mappings.get(uuid) if uuid else None
    except ResourceNotFoundException:
        doc = None
    if doc is not None and doc["EventSourceArn"] == m.source_arn:
        return doc
    for other in c.mappings.list(source_arn=m.source_arn):
        if other["FunctionArn"].split(":")[6] == spec.function_name:
            return other
    return None


def _exists(c: Cumulo, uuid: str) -> bool:
    try:
        c.mappings.get(uuid)
        return True
    except ResourceNotFoundException:
        return False


def _replaced(m: AnyMapping, doc: dict[str, Any]) -> list[str]:
    """The settings a mapping is made with that differ: it has to be made anew."""
    if not isinstance(m, StreamMappingSpec):
        return []
    return [k for k, v in _starting(m).items() if doc.get(k) != v]


def _details(c: Cumulo, spec: FunctionMapping, doc: dict[str, Any]) -> list[str]:
    wanted = {**_params(spec), "FunctionName": c.arns.function(spec.function_name, spec.alias)}
    current = _as_params(doc)
    return [k for k in wanted if current.get(k) != wanted[k]]


def _create(deploy: Deploy, source: str, params: dict[str, Any]) -> str:
    c = deploy.c
    created = c.mappings.create(EventSourceArn=source, **params)
    deploy.undo.append(lambda: quietly(c.mappings.delete, created["UUID"]))
    return str(created["UUID"])
