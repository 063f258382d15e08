"""Schedules SAM makes of a function's ``Schedule`` and ``ScheduleV2`` events (``ScheduleSpec`` from
``cumulo.deploy.triggers``, named ``<function>-<EventName>`` unless ``Name`` is given), and the template's
own ``AWS::Scheduler::Schedule`` resources whose target is a function, or a queue, state machine, topic or
event bus (EventBridge Scheduler's templated targets; ``Name``, or
``<stack>-<LogicalId>-<suffix>``; ``Ref`` is the name, ``Fn::GetAtt`` gives ``Arn``). Deployed after the
function they invoke (its alias with ``AutoPublishAlias``), made or updated in place, deleted when dropped;
a plan refuses a target function that neither exists nor is the template's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.deploy.triggers import ScheduleSpec, read_scheduler_schedule
from cumulo.errors import CumuloError, ResourceNotFoundException
from cumulo.model.function import Arns, parse_function_ref

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Schedule", "FunctionSchedule"]


@dataclass(frozen=True)
class FunctionSchedule:
    """A schedule a function's event makes."""

    key: str                          # <Function>.<Event>, or a declared schedule's logical id
    function_name: str
    alias: str | None                 # the function's AutoPublishAlias: SAM targets the alias
    schedule: ScheduleSpec
    target_arn: str | None = None     # a declared schedule's Target.Arn
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def logical_id(self) -> str:
        return self.key


SCHEDULER_TYPE = "AWS::Scheduler::Schedule"


class Schedule(Kind):
    name = "schedule"
    types = (SCHEDULER_TYPE,)
    after = ("function",)
    listed = 70
    record_key = "schedules"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, str] = {}
        for entry in entries:
            try:
                given = resolve(entry.properties.get("Name", NO_VALUE), load.plain)
            except IntrinsicError as exc:
                raise property_error(entry, IntrinsicError(f"property Name: {exc.message}", exc.line)) from None
            digest = hashlib.sha256(f"{load.stack}:{entry.logical_id}".encode()).hexdigest()[:12].upper()
            named[entry.logical_id] = (to_str(given) if given is not NO_VALUE
                                       else f"{load.stack}-{entry.logical_id}"[:51] + f"-{digest}")
        return named, {k: v for lid, name in named.items() for k, v in _attributes(lid, name, load.arns).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                schedule, arn, notes = read_scheduler_schedule(entry.logical_id, named[entry.logical_id], props)
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            except CumuloError as exc:      # the expression or time zone, as EventBridge Scheduler refuses them
                raise error(entry.where, f"property ScheduleExpression: {exc.message}", entry.logical_id,
                            entry.properties.line_of("ScheduleExpression")) from None
            function, alias = parse_function_ref(arn) if ":lambda:" in arn else ("", None)   # or a templated target
            specs.append(FunctionSchedule(entry.logical_id, function, alias, schedule, arn, tuple(notes)))
        return specs

    def attributes(self, spec: FunctionSchedule, arns: Arns) -> Attributes:
        return _attributes(spec.key, spec.schedule.name, arns) if spec.target_arn else {}

    def plan(self, spec: FunctionSchedule, deploy: Deploy) -> Change:
        if spec.target_arn and spec.function_name and spec.function_name not in deploy.planned.get("functions", ()):
            try:
                deploy.c.functions.get(spec.function_name, spec.alias)
            except ResourceNotFoundException as exc:      # what the deploy would find: refused now
                raise error(f"Resource {spec.key}", f"property Target.Arn: {exc.message}", spec.key) from None
        doc = _existing(deploy.c, spec.schedule.name)
        if doc is None:
            return Change(spec.key, spec.schedule.name, "create", kind=self.name)
        details = _details(deploy.c, spec, doc)
        return Change(spec.key, spec.schedule.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[FunctionSchedule], deploy: Deploy) -> list[Change]:
        kept = {spec.schedule.name for spec in specs}
        return [Change(key, name, "delete", kind=self.name) for key, name in sorted((deploy.before(self) or {}).items())
                if name not in kept and _existing(deploy.c, name) is not None]

    def apply(self, spec: FunctionSchedule, change: Change | None, deploy: Deploy) -> str:
        c, name = deploy.c, spec.schedule.name
        doc = _existing(c, name)
        if doc is not None and not _details(c, spec, doc):
            return name
        _put(c, {"Name": name, **_fields(c, spec)}, update=doc is not None)
        if doc is None:
            deploy.undo.append(lambda: quietly(c.schedules_service.delete, name))
        else:
            deploy.undo.append(lambda: quietly(lambda: _put(c, doc, update=True)))
        return name

    def record(self, applied: list[tuple[FunctionSchedule, Any]]) -> dict[str, str]:
        return {spec.key: name for spec, name in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        for name in set((previous or {}).values()) - set(current.values()):
            quietly(deploy.c.schedules_service.delete, name)


def _attributes(logical_id: str, name: str, arns: Arns) -> Attributes:
    return {(logical_id, "Ref"): name,
            (logical_id, "Arn"): f"arn:aws:scheduler:{arns.region}:{arns.account}:schedule/default/{name}"}


def _fields(c: Cumulo, spec: FunctionSchedule) -> dict[str, Any]:
    s = spec.schedule
    target = {"Arn": spec.target_arn or c.arns.function(spec.function_name, spec.alias)}
    if s.input is not None:
        target["Input"] = s.input
    window = ({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": s.flexible_window_minutes}
              if s.flexible_window_minutes else {"Mode": "OFF"})
    return {"ScheduleExpression": s.expression, "ScheduleExpressionTimezone": s.timezone or "UTC",
            "Target": target, "State": s.state, "FlexibleTimeWindow": window}


def _existing(c: Cumulo, name: str) -> dict[str, Any] | None:
    try:
        return c.schedules_service.get(name)
    except ResourceNotFoundException:
        return None


def _details(c: Cumulo, spec: FunctionSchedule, doc: dict[str, Any]) -> list[str]:
    return [k for k, v in _fields(c, spec).items() if doc.get(k) != v]


def _put(c: Cumulo, doc: dict[str, Any], update: bool) -> None:
    window = doc.get("FlexibleTimeWindow") or {}
    c.schedules_service.create(doc["Name"], doc["ScheduleExpression"], doc["Target"]["Arn"],
                               timezone_name=doc.get("ScheduleExpressionTimezone"),
                               input=doc["Target"].get("Input"), state=doc.get("State", "ENABLED"),
                               flexible_window_minutes=window.get("MaximumWindowInMinutes"), update=update)
