"""Schedules SAM makes of a function's ``Schedule`` and ``ScheduleV2`` events (``ScheduleSpec`` from
``cumulo.deploy.triggers``, named ``<function>-<EventName>`` unless ``Name`` is given); no template
declares one itself yet. Deployed after the function they invoke (its alias with ``AutoPublishAlias``),
made or updated in place, deleted when the event is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.deploy.kinds.base import Change, Deploy, Kind, quietly
from cumulo.deploy.triggers import ScheduleSpec
from cumulo.errors import ResourceNotFoundException

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Schedule", "FunctionSchedule"]


@dataclass(frozen=True)
class FunctionSchedule:
    """A schedule a function's event makes."""

    key: str                          # <Function>.<Event>
    function_name: str
    alias: str | None                 # the function's AutoPublishAlias: SAM targets the alias
    schedule: ScheduleSpec


class Schedule(Kind):
    name = "schedule"
    after = ("function",)
    listed = 70
    record_key = "schedules"

    def plan(self, spec: FunctionSchedule, deploy: Deploy) -> Change:
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


def _fields(c: Cumulo, spec: FunctionSchedule) -> dict[str, Any]:
    s = spec.schedule
    target = {"Arn": c.arns.function(spec.function_name, spec.alias)}
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
