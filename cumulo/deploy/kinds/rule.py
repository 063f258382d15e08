"""``AWS::Events::Rule``, and the rules SAM makes of functions' ``EventBridgeRule``/``CloudWatchEvent`` events
and of state machines' events (``RuleSpec``s from ``cumulo.deploy.buses`` and ``cumulo.deploy.machines``,
keyed ``<LogicalId>.<Event>``).

A declared rule is named ``Name`` or ``<stack>-<LogicalId>-<suffix>``, on ``EventBusName`` (a name or
ARN, ``!Ref`` of the template's bus; the default bus when absent). A rule's name is unique on its bus,
whoever makes it. Rules are deployed after what they target (functions, queues, state machines, buses):
``put_rule`` upserts, targets no longer wanted are removed, then the rule's targets are put; a dropped
rule's targets are removed before the rule.

``Ref`` is the rule's name on the default bus and ``<bus>|<name>`` on another; ``Fn::GetAtt`` gives
``Arn`` (declared rules only).
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo.deploy.buses import (
    RULE_TYPE, RuleSpec, bus_name_of, check_rule_name, read_rule, rule_arn, rule_attributes, rule_name_for,
)
from cumulo.deploy.kinds.bus import PLANNED_BUSES
from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import (
    Attributes, Change, Deploy, Entry, Kind, Load, TemplateError, error, property_error, quietly,
)
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError, ResourceNotFoundException, ValidationException
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Rule"]


class Rule(Kind):
    name = "rule"
    types = (RULE_TYPE,)
    after = ("event bus", "function", "queue", "state machine", "api destination")     # its bus and its targets
    listed = 60
    record_key = "rules"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        """Each rule's (bus, name, ARN); EventBusName may name the template's buses (``!Ref Bus``)."""
        named: dict[str, tuple[str, str, str]] = {}
        owners: dict[tuple[str, str], str] = {}
        for entry in entries:
            props = entry.properties
            try:
                given = resolve(props.get("Name", NO_VALUE), load.plain)     # parameters, mappings, conditions
                name = rule_name_for(load.stack, entry.logical_id) if given is NO_VALUE else \
                    check_rule_name(to_str(given))
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id,
                            exc.line or (props.line_of("Name") if "Name" in props else entry.line)) from None
            try:
                bus_value = resolve(props.get("EventBusName", NO_VALUE), load.scope)
                bus = bus_name_of(None if bus_value is NO_VALUE else plain(bus_value))
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id,
                            exc.line or (props.line_of("EventBusName") if "EventBusName" in props else entry.line)
                            ) from None
            if (bus, name) in owners:
                raise error(entry.where, f"rule name '{name}' on event bus {bus} is already used by resource "
                            f"{owners[(bus, name)]}", entry.logical_id, entry.line)
            owners[(bus, name)] = entry.logical_id
            named[entry.logical_id] = (bus, name, rule_arn(load.region, load.account, bus, name))
        return named, {k: v for lid, names in named.items() for k, v in rule_attributes(lid, *names).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            bus, name, arn = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(read_rule(entry.logical_id, entry.line, name, bus, arn, props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def check(self, specs: list[RuleSpec], load: Load) -> None:
        """A rule's name is unique on its bus, whoever makes the rule. Names are taken by declared rules first,
        then by state machines' events, then by functions' events; the error names the later of two."""
        machines = {rule.key for machine in load.read.get("state machine", []) for rule in machine.rules}
        owners: dict[tuple[str, str], str] = {}
        for rule in sorted(specs, key=lambda r: 0 if not _implicit(r) else 1 if r.key in machines else 2):
            owner = owners.setdefault((rule.bus, rule.name), rule.key)
            if owner != rule.key:
                raise TemplateError(f"Rule {rule.key} (line {rule.line}): rule name '{rule.name}' on event bus "
                                    f"{rule.bus} is already used by {owner}", logical_id=rule.key.split(".")[0],
                                    line=rule.line)

    def attributes(self, spec: RuleSpec, arns: Arns) -> Attributes:
        return {} if _implicit(spec) else rule_attributes(spec.key, spec.bus, spec.name, spec.arn)

    def deployed(self, spec: RuleSpec, deploy: Deploy) -> Attributes:
        return {} if _implicit(spec) else rule_attributes(spec.key, spec.bus, spec.name,
                                                          deploy.c.event_bus.rule_arn(spec.bus, spec.name))

    def plan(self, spec: RuleSpec, deploy: Deploy) -> Change:
        if spec.bus != "default" and spec.bus not in deploy.planned.get(PLANNED_BUSES, ()):
            try:        # a bus another stack made (or not: PutRule's error, as the deploy would give it)
                deploy.c.event_bus.describe_event_bus(spec.bus)
            except CumuloError as exc:
                raise TemplateError(f"Resource {spec.key} (line {spec.line}): rule {spec.name}: {exc.message}",
                                    logical_id=spec.key.split(".")[0], line=spec.line) from None
        current = _existing(deploy.c, spec.bus, spec.name)
        if current is None:
            return Change(spec.key, spec.name, "create", kind=self.name)
        details = _details(spec, *current)
        return Change(spec.key, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[RuleSpec], deploy: Deploy) -> list[Change]:
        wanted = {_ref(spec) for spec in specs}
        changes = []
        for key, ref in sorted((deploy.before(self) or {}).items()):
            bus, _, name = ref.partition("|")
            if ref not in wanted and _existing(deploy.c, bus, name) is not None:
                changes.append(Change(key, name, "delete", kind=self.name))
        return changes

    def apply(self, spec: RuleSpec, change: Change | None, deploy: Deploy) -> None:
        c = deploy.c
        current = _existing(c, spec.bus, spec.name)
        if current is not None and not _details(spec, *current):
            return
        where = f"Resource {spec.key} (line {spec.line}): rule {spec.name}"
        try:
            c.event_bus.put_rule(spec.name, spec.bus, spec.pattern, spec.schedule, spec.state, spec.description or None)
        except CumuloError as exc:
            exc.message = f"{where}: {exc.message}"
            exc.args = (exc.message,)
            raise
        if current is None:
            deploy.undo.append(partial(_drop, c, spec.bus, spec.name))
            gone: list[str] = []
        else:
            doc, targets = current
            deploy.undo.append(partial(_restore, c, doc, targets))
            gone = [t["Id"] for t in targets if t["Id"] not in {w["Id"] for w in spec.targets}]
        if gone:
            c.event_bus.remove_targets(spec.name, spec.bus, gone)
        if spec.targets:
            result = c.event_bus.put_targets(spec.name, spec.bus, [dict(t) for t in spec.targets])
            if result.get("FailedEntryCount"):
                failed = "; ".join(f"target {f.get('TargetId')}: {f.get('ErrorMessage') or f.get('ErrorCode')}"
                                   for f in result.get("FailedEntries", []))
                raise ValidationException(f"{where}: targets were refused: {failed}")

    def record(self, applied: list[tuple[RuleSpec, Any]]) -> dict[str, str]:
        """key -> ``bus|name``."""
        return {spec.key: _ref(spec) for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        for ref in set((previous or {}).values()) - set(current.values()):
            bus, _, name = ref.partition("|")
            quietly(_drop, deploy.c, bus, name)


def _implicit(spec: RuleSpec) -> bool:
    """A rule an event makes (``<LogicalId>.<Event>``): it answers no ``!Ref``/``!GetAtt``."""
    return "." in spec.key


def _ref(spec: RuleSpec) -> str:
    return f"{spec.bus}|{spec.name}"


def _existing(c: Cumulo, bus: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    try:
        return c.event_bus.describe_rule(name, bus), c.event_bus.list_targets_by_rule(name, bus)
    except ResourceNotFoundException:          # the rule, or its bus, does not exist (yet)
        return None


def _same_pattern(a: Any, b: Any) -> bool:
    def load(text: Any) -> Any:
        try:
            return json.loads(text) if isinstance(text, str) else text
        except ValueError:
            return text
    return bool(load(a) == load(b))


def _details(spec: RuleSpec, doc: dict[str, Any], targets: list[dict[str, Any]]) -> list[str]:
    details = []
    if not _same_pattern(doc.get("EventPattern"), spec.pattern):
        details.append("EventPattern")
    for key, wanted in (("ScheduleExpression", spec.schedule), ("State", spec.state),
                        ("Description", spec.description)):
        if (doc.get(key) or None) != (wanted or None):
            details.append(key)
    if {t["Id"]: t for t in targets} != {t["Id"]: t for t in spec.targets}:
        details.append("Targets")
    return details


def _drop(c: Cumulo, bus: str, name: str) -> None:
    """Targets first, then the rule, as EventBridge requires."""
    current = _existing(c, bus, name)
    if current is None:
        return
    ids = [t["Id"] for t in current[1]]
    if ids:
        c.event_bus.remove_targets(name, bus, ids)
    c.event_bus.delete_rule(name, bus)


def _restore(c: Cumulo, doc: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    bus, name = doc["EventBusName"], doc["Name"]
    c.event_bus.put_rule(name, bus, doc.get("EventPattern"), doc.get("ScheduleExpression"), doc.get("State"),
                         doc.get("Description"), doc.get("RoleArn"))
    now = [t["Id"] for t in c.event_bus.list_targets_by_rule(name, bus)]
    old = {t["Id"] for t in targets}
    if [i for i in now if i not in old]:
        c.event_bus.remove_targets(name, bus, [i for i in now if i not in old])
    if targets:
        c.event_bus.put_targets(name, bus, [dict(t) for t in targets])
