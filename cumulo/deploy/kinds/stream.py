"""``AWS::Kinesis::Stream``: named (``Name``, or ``<stack>-<LogicalId>-<suffix>``), read by
``cumulo.deploy.streams``, created, deleted when the template drops it.

A stream whose ``ShardCount`` or ``RetentionPeriodHours`` the template changes is refused when planning
(a ``TemplateError`` naming the resource and line): Cumulo can neither reshard a stream nor change its
retention, and replacing it would lose its records.

``Ref`` is the stream name; ``Fn::GetAtt`` gives ``Arn``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, TemplateError, error, quietly
from cumulo.deploy.properties import plain
from cumulo.deploy.streams import STREAM_TYPE, StreamSpec, read_stream, stream_arn, stream_attributes, stream_name_for
from cumulo.model.function import Arns

__all__ = ["Stream"]


class Stream(Kind):
    name = "stream"
    types = (STREAM_TYPE,)
    listed = 30
    record_key = "streams"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        """Each stream's (name, ARN), known before any property refers to them."""
        named: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            try:
                given = resolve(entry.properties.get("Name", NO_VALUE), load.plain)   # parameters, mappings, conditions
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
            name = stream_name_for(load.stack, entry.logical_id) if given is NO_VALUE else to_str(given)
            if name in owners:
                raise error(entry.where, f"stream name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            owners[name] = entry.logical_id
            named[entry.logical_id] = (name, stream_arn(load.region, load.account, name))
        return named, {k: v for lid, names in named.items() for k, v in stream_attributes(lid, *names).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, arn = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(read_stream(entry.logical_id, entry.line, name, arn, props))
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
        return specs

    def attributes(self, spec: StreamSpec, arns: Arns) -> Attributes:
        return stream_attributes(spec.logical_id, spec.name, spec.arn)

    def deployed(self, spec: StreamSpec, deploy: Deploy) -> Attributes:
        return stream_attributes(spec.logical_id, spec.name, deploy.c.streams.arn(spec.name))

    def plan(self, spec: StreamSpec, deploy: Deploy) -> Change:
        exists = _exists_unchanged(deploy, spec)
        return Change(spec.logical_id, spec.name, "unchanged" if exists else "create", kind=self.name)

    def removed(self, specs: list[StreamSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and deploy.c.messages.streams.get_stream(name) is not None]

    def apply(self, spec: StreamSpec, change: Change | None, deploy: Deploy) -> None:
        if not _exists_unchanged(deploy, spec):
            deploy.c.streams.create_stream(spec.name, spec.shard_count, spec.retention_hours)
            deploy.undo.append(partial(deploy.c.streams.delete_stream, spec.name))

    def record(self, applied: list[tuple[StreamSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.streams.delete_stream, name)


def _exists_unchanged(deploy: Deploy, spec: StreamSpec) -> bool:
    """Whether the stream exists (as the template wants it: anything else can only be refused)."""
    doc = deploy.c.messages.streams.get_stream(spec.name)
    if doc is None:
        return False
    refused = []
    if int(doc["shards"]) != spec.shard_count:
        refused.append(f"ShardCount from {doc['shards']} to {spec.shard_count}: Cumulo cannot reshard a stream")
    if int(doc["retention_hours"]) != spec.retention_hours:
        refused.append(f"RetentionPeriodHours from {doc['retention_hours']} to {spec.retention_hours}: Cumulo "
                       "cannot change a stream's retention")
    if refused:
        raise TemplateError(f"Resource {spec.logical_id} (line {spec.line}): stream {spec.name} cannot be changed: "
                            f"{'; '.join(refused)}. Give the stream a new logical id or Name to make a new one "
                            "(its records are not carried over), or keep the current value",
                            logical_id=spec.logical_id, line=spec.line)
    return True
