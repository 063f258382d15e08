"""``AWS::Serverless::StateMachine`` and ``AWS::StepFunctions::StateMachine``: named (``Name`` or
``StateMachineName``, else SAM's ``<LogicalId>-<suffix>``), read and their definitions checked by
``cumulo.deploy.machines``; their events are rules (the ``rule`` kind deploys them).

Deployed after functions (definitions name them): created, the definition updated in place, or — a
``Type`` change, which Step Functions cannot make — deleted and made anew; deleted when the template
drops it. ``Ref`` is the ARN; ``Fn::GetAtt`` gives ``Arn`` and ``Name``. Its role is its ``Role``/``RoleArn``;
a SAM state machine without one gets the role SAM makes, ``<LogicalId>Role`` (``cumulo.deploy.kinds.role``),
deployed before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, Node, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.kinds.role import implicit_role, machine_role
from cumulo.deploy.machines import (
    MACHINE_TYPES, SAM_MACHINE_TYPE, MachineSpec, check_machine_name, machine_arn, machine_attributes,
    machine_name_for, read_machine,
)
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["StateMachine"]


class StateMachine(Kind):
    name = "state machine"
    types = MACHINE_TYPES
    after = ("function", "role")
    listed = 50
    record_key = "machines"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        """Each state machine's (name, ARN): its Name/StateMachineName from parameters, mappings and conditions,
        or SAM's generated ``<LogicalId>-<suffix>``."""
        named: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            key = "Name" if entry.type == SAM_MACHINE_TYPE else "StateMachineName"
            line = entry.properties.line_of(key) if key in entry.properties else entry.line
            try:
                given = resolve(entry.properties.get(key, NO_VALUE), load.plain)
                name = machine_name_for(load.stack, entry.logical_id) if given is NO_VALUE else \
                    check_machine_name(to_str(given), key)
            except IntrinsicError as exc:
                message = exc.message.replace(f"property {key}:", f"property {key} (line {line}):", 1)
                raise error(entry.where, message, entry.logical_id, exc.line or line) from None
            if name in owners:
                raise error(entry.where, f"state machine name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, line)
            owners[name] = entry.logical_id
            named[entry.logical_id] = (name, machine_arn(load.region, load.account, name))
        attributes = {k: v for lid, names in named.items() for k, v in machine_attributes(lid, *names).items()}
        for entry in entries:         # the role SAM makes for a state machine without Role: <LogicalId>Role
            if entry.type == SAM_MACHINE_TYPE and "Role" not in entry.properties:
                try:
                    role_name, role_arn = implicit_role(load, entry)
                except IntrinsicError as exc:
                    raise property_error(entry, exc) from None
                attributes[(f"{entry.logical_id}Role", "Ref")] = role_name
                attributes[(f"{entry.logical_id}Role", "Arn")] = role_arn
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, arn = named[entry.logical_id]
            events = entry.properties.get("Events")
            event_lines = {k: events.line_of(k) for k in events} if isinstance(events, Node) else {}
            try:
                props = plain(resolve(entry.properties, load.scope))
                spec = read_machine(entry.type, entry.logical_id, entry.line, name, arn, props, load.base,
                                    load.stack, load.region, load.account, event_lines)
                if entry.type == SAM_MACHINE_TYPE and "Role" not in props:
                    role = machine_role(load, entry)
                    spec = replace(spec, role_arn=role.arn, role=role)
                specs.append(spec)
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def expand(self, spec: MachineSpec) -> Iterable[tuple[str, Any]]:
        return [("rule", rule) for rule in spec.rules] + ([("role", spec.role)] if spec.role is not None else [])

    def attributes(self, spec: MachineSpec, arns: Arns) -> Attributes:
        known = machine_attributes(spec.logical_id, spec.name, spec.arn)
        if spec.role is not None:
            known.update({(spec.role.logical_id, "Ref"): spec.role.name, (spec.role.logical_id, "Arn"): spec.role.arn})
        return known

    def plan(self, spec: MachineSpec, deploy: Deploy) -> Change:
        action, details = _action(spec, _existing(deploy.c, spec.arn))
        return Change(spec.logical_id, spec.name, action, details, self.name)

    def removed(self, specs: list[MachineSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.arn for spec in specs}
        return [Change(logical_id, arn.rsplit(":", 1)[1], "delete", kind=self.name)
                for logical_id, arn in sorted((deploy.before(self) or {}).items())
                if arn not in wanted and _existing(deploy.c, arn) is not None]

    def apply(self, spec: MachineSpec, change: Change | None, deploy: Deploy) -> None:
        """Created, its definition updated in place, or (a Type change) deleted and made anew."""
        machines = deploy.c.state_machines
        doc = _existing(deploy.c, spec.arn)
        action, _ = _action(spec, doc)
        where = f"Resource {spec.logical_id} (line {spec.line}): state machine {spec.name}"
        try:
            if action == "create":
                machines.create_state_machine(spec.name, spec.definition, spec.role_arn or None, spec.type,
                                              tracing_configuration={"enabled": spec.tracing})
                deploy.undo.append(partial(machines.delete_state_machine, spec.arn))
            elif action == "update" and doc is not None:
                machines.update_state_machine(spec.arn, spec.definition, spec.role_arn or None,
                                              {"enabled": spec.tracing})
                deploy.undo.append(partial(machines.update_state_machine, spec.arn, doc["definition"],
                                           doc.get("roleArn"), doc.get("tracingConfiguration")))
            elif action == "replace" and doc is not None:
                machines.delete_state_machine(spec.arn)
                deploy.undo.append(partial(_recreate, deploy.c, doc))
                machines.create_state_machine(spec.name, spec.definition, spec.role_arn or None, spec.type,
                                              tracing_configuration={"enabled": spec.tracing})
        except CumuloError as exc:
            exc.message = f"{where}: {exc.message}"
            exc.args = (exc.message,)
            raise

    def record(self, applied: list[tuple[MachineSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.arn for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for arn in (previous or {}).values():
            if arn not in wanted:
                quietly(deploy.c.state_machines.delete_state_machine, arn)


def _existing(c: Cumulo, arn: str) -> dict[str, Any] | None:
    try:
        return c.state_machines.describe_state_machine(arn)
    except CumuloError as exc:
        if getattr(exc, "code", None) == "StateMachineDoesNotExist":
            return None
        raise


def _same_definition(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def _action(spec: MachineSpec, doc: dict[str, Any] | None) -> tuple[str, list[str]]:
    if doc is None:
        return "create", []
    if doc.get("type") != spec.type:
        return "replace", [f"Type from {doc.get('type')} to {spec.type}"]
    details = [] if _same_definition(doc["definition"], spec.definition) else ["Definition"]
    if spec.role_arn and doc.get("roleArn") != spec.role_arn:
        details.append("RoleArn")
    if doc.get("tracingConfiguration", {"enabled": False}) != {"enabled": spec.tracing}:
        details.append("TracingConfiguration")
    return ("update", details) if details else ("unchanged", [])


def _recreate(c: Cumulo, doc: dict[str, Any]) -> None:
    c.state_machines.delete_state_machine(doc["stateMachineArn"])
    c.state_machines.create_state_machine(doc["name"], doc["definition"], doc.get("roleArn"), doc.get("type"),
                                          doc.get("loggingConfiguration"),
                                          tracing_configuration=doc.get("tracingConfiguration"))
