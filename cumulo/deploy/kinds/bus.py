"""``AWS::Events::EventBus``: named by its ``Name`` (required; not ``default``), read by
``cumulo.deploy.buses``, created, its description updated in place (EventBridge's UpdateEventBus),
deleted when the template drops it (unless it still has rules made outside the stack: EventBridge
refuses to delete such a bus, and it stays).

``Ref`` is the bus name; ``Fn::GetAtt`` gives ``Arn`` and ``Name``.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo.deploy.buses import BUS_TYPE, BusSpec, bus_arn, bus_attributes, check_bus_name, read_bus
from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import ResourceNotFoundException
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["EventBus", "PLANNED_BUSES"]

PLANNED_BUSES = "event buses"      # Deploy.planned: the names of the buses the template makes


class EventBus(Kind):
    name = "event bus"
    types = (BUS_TYPE,)
    listed = 40
    record_key = "buses"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        """Each bus's (name, ARN): its Name, required, from parameters, mappings and conditions."""
        named: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            line = entry.properties.line_of("Name") if "Name" in entry.properties else entry.line
            try:
                given = resolve(entry.properties.get("Name", NO_VALUE), load.plain)
                if given is NO_VALUE:
                    raise IntrinsicError("property Name is required")
                name = check_bus_name(to_str(given))
                if name == "default":
                    raise IntrinsicError("property Name: the default event bus always exists; it cannot be declared")
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or line) from None
            if name in owners:
                raise error(entry.where, f"event bus name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            owners[name] = entry.logical_id
            named[entry.logical_id] = (name, bus_arn(load.region, load.account, name))
        return named, {k: v for lid, names in named.items() for k, v in bus_attributes(lid, *names).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, arn = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(read_bus(entry.logical_id, entry.line, name, arn, props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def attributes(self, spec: BusSpec, arns: Arns) -> Attributes:
        return bus_attributes(spec.logical_id, spec.name, spec.arn)

    def deployed(self, spec: BusSpec, deploy: Deploy) -> Attributes:
        return bus_attributes(spec.logical_id, spec.name, deploy.c.event_bus.bus_arn(spec.name))

    def plan(self, spec: BusSpec, deploy: Deploy) -> Change:
        deploy.planned.setdefault(PLANNED_BUSES, set()).add(spec.name)     # what the rules may be on
        doc = _existing(deploy.c, spec.name)
        if doc is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        details = ["Description"] if doc.get("Description", "") != spec.description else []
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[BusSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and _existing(deploy.c, name) is not None]

    def apply(self, spec: BusSpec, change: Change | None, deploy: Deploy) -> None:
        c = deploy.c
        doc = _existing(c, spec.name)
        if doc is None:
            c.event_bus.create_event_bus(spec.name, spec.description or None)
            deploy.undo.append(partial(c.event_bus.delete_event_bus, spec.name))
        elif doc.get("Description", "") != spec.description:
            _put_description(c, doc, spec.description)
            deploy.undo.append(partial(_put_description, c, doc, str(doc.get("Description", ""))))

    def record(self, applied: list[tuple[BusSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        """Buses the template dropped; a bus that still has rules (made outside the stack) stays, as EventBridge
        refuses to delete it."""
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.event_bus.delete_event_bus, name)


def _existing(c: Cumulo, name: str) -> dict[str, Any] | None:
    try:
        return c.event_bus.describe_event_bus(name)
    except ResourceNotFoundException:
        return None


def _put_description(c: Cumulo, doc: dict[str, Any], description: str) -> None:
    # EventBridge's UpdateEventBus: only the description changes.
    fresh = {k: v for k, v in doc.items() if k != "Description"}
    if description:
        fresh["Description"] = description
    c.store.put_document("event-bus", doc["Name"], fresh)
