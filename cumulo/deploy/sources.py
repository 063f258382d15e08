"""Deploying what feeds and follows a stack's functions: queues, streams, event-source mappings,
schedules, and asynchronous-invocation configs.

Each kind repeats one shape: ``plan_*`` compares the template with what exists
(``Change``s, nothing written), ``apply_*`` makes it so and pushes onto
``undo`` a step that puts back what it found, and ``delete_removed`` drops what
the previous deploy of the stack made and this template no longer has. The
stack record keeps the names and UUIDs (``record``), so a re-deploy finds its
own resources, and a mapping's UUID stays the same across deploys.

Order (``cumulo.deploy.engine``): queues, dead-letter queues first, streams and
event buses; functions; state machines (their definitions name functions; a
``Type`` change deletes and makes the machine anew, as Step Functions cannot
change a type); then mappings, schedules and invoke configs, which need both;
then rules (their targets are functions, queues and state machines;
``put_rule`` upserts, targets no longer present are removed); deletes last (a
dropped rule's targets before the rule, rules before state machines and buses).

A stream whose ``ShardCount`` or ``RetentionPeriodHours`` the template changes
is refused when planning (a ``TemplateError`` naming the resource and line):
Cumulo can neither reshard a stream nor change its retention, and replacing it
would lose its records. A ``Kinesis`` event whose ``StartingPosition`` (or its
timestamp) changes is a mapping replaced: deleted and made anew, as the Lambda
API cannot update a starting position.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo.deploy.buses import RuleSpec
from cumulo.deploy.kinds.base import Change, TemplateError, Undo, quietly as _quietly, undo
from cumulo.deploy.machines import MachineSpec
from cumulo.deploy.queues import QueueSpec
from cumulo.deploy.streams import StreamSpec
from cumulo.deploy.triggers import MappingSpec, ScheduleSpec, StreamMappingSpec
from cumulo.errors import CumuloError, ResourceNotFoundException, ValidationException
from cumulo.model.queue import QueueAttributes

if TYPE_CHECKING:
    from cumulo.app import Cumulo
    from cumulo.deploy.template import FunctionResource, Template

__all__ = ["Change", "Undo", "plan_sources", "apply_queues", "apply_streams", "apply_buses", "apply_rules",
           "delete_removed_buses", "all_rules", "apply_machines", "delete_removed_machines", "apply_triggers",
           "invoke_config_differs", "apply_invoke_config", "delete_removed", "delete_removed_queues",
           "delete_removed_streams", "record", "undo"]

def _key(fn: FunctionResource, event: str) -> str:
    return f"{fn.logical_id}.{event}"


def _target(fn: FunctionResource) -> str:
    """What a function's event sources invoke: its alias when it has AutoPublishAlias, as SAM wires it."""
    return f"{fn.function_name}:{fn.auto_publish_alias}" if fn.auto_publish_alias else fn.function_name


# --- queues -----------------------------------------------------------------------------------

def _shown(attributes: dict[str, str]) -> dict[str, str]:
    # An attribute set to "" is one that was removed: compare as if it were never set.
    return {k: v for k, v in QueueAttributes(attributes).defaults().items() if v != ""}


def _queue_details(doc: dict[str, Any], spec: QueueSpec) -> list[str]:
    current, wanted = _shown(doc["attributes"]), _shown(spec.attributes)
    details = sorted(k for k in set(current) | set(wanted) if current.get(k) != wanted.get(k))
    return details + (["tags"] if doc.get("tags", {}) != spec.tags else [])


def _plan_queues(c: Cumulo, template: Template, previous: dict[str, Any]) -> list[Change]:
    changes = []
    for spec in template.queues:
        doc = c.messages.get_queue(spec.name)
        if doc is None:
            changes.append(Change(spec.logical_id, spec.name, "create", kind="queue"))
        else:
            details = _queue_details(doc, spec)
            changes.append(Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, "queue"))
    wanted = {spec.name for spec in template.queues}
    for logical_id, name in sorted(previous.get("queues", {}).items()):
        if name not in wanted and c.queues.exists(name):
            changes.append(Change(logical_id, name, "delete", kind="queue"))
    return changes


def apply_queues(c: Cumulo, template: Template, undo: Undo) -> None:
    for spec in template.queues:
        doc = c.messages.get_queue(spec.name)
        if doc is None:
            c.queues.create_queue(spec.name, spec.attributes, spec.tags)
            undo.append(partial(c.queues.delete_queue, spec.name))
            continue
        if not _queue_details(doc, spec):
            continue
        undo.append(partial(c.messages.put_queue, spec.name, dict(doc)))
        current, wanted = _shown(doc["attributes"]), _shown(spec.attributes)
        changed = {k: wanted.get(k, "") for k in set(current) | set(wanted)
                   if current.get(k) != wanted.get(k) and k != "FifoQueue"}
        if changed:
            c.queues.set_queue_attributes(spec.name, changed)
        fresh = c.messages.get_queue(spec.name) or doc
        if fresh.get("tags", {}) != spec.tags:
            c.messages.put_queue(spec.name, {**fresh, "tags": dict(spec.tags)})


# --- streams ---------------------------------------------------------------------------------

def _stream_details(c: Cumulo, spec: StreamSpec) -> list[str] | None:
    """None: the stream does not exist; else what differs (only what can be changed in place: nothing)."""
    doc = c.messages.get_stream(spec.name)
    if doc is None:
        return None
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
    return []


def _plan_streams(c: Cumulo, template: Template, previous: dict[str, Any]) -> list[Change]:
    changes = []
    for spec in template.streams:
        details = _stream_details(c, spec)
        changes.append(Change(spec.logical_id, spec.name, "create" if details is None else "unchanged",
                              kind="stream"))
    wanted = {spec.name for spec in template.streams}
    for logical_id, name in sorted(previous.get("streams", {}).items()):
        if name not in wanted and c.messages.get_stream(name) is not None:
            changes.append(Change(logical_id, name, "delete", kind="stream"))
    return changes


def apply_streams(c: Cumulo, template: Template, undo: Undo) -> None:
    for spec in template.streams:
        if _stream_details(c, spec) is None:
            c.streams.create_stream(spec.name, spec.shard_count, spec.retention_hours)
            undo.append(partial(c.streams.delete_stream, spec.name))


# --- event buses ---------------------------------------------------------------------------------

def _existing_bus(c: Cumulo, name: str) -> dict[str, Any] | None:
    try:
        return c.event_bus.describe_event_bus(name)
    except ResourceNotFoundException:
        return None


def _plan_buses(c: Cumulo, template: Template, previous: dict[str, Any]) -> list[Change]:
    changes = []
    for spec in template.buses:
        doc = _existing_bus(c, spec.name)
        if doc is None:
            changes.append(Change(spec.logical_id, spec.name, "create", kind="event bus"))
        else:
            details = ["Description"] if doc.get("Description", "") != spec.description else []
            changes.append(Change(spec.logical_id, spec.name, "update" if details else "unchanged", details,
                                  "event bus"))
    wanted = {spec.name for spec in template.buses}
    for logical_id, name in sorted(previous.get("buses", {}).items()):
        if name not in wanted and _existing_bus(c, name) is not None:
            changes.append(Change(logical_id, name, "delete", kind="event bus"))
    return changes


def _put_bus_description(c: Cumulo, doc: dict[str, Any], description: str) -> None:
    # EventBridge's UpdateEventBus: only the description changes.
    fresh = {k: v for k, v in doc.items() if k != "Description"}
    if description:
        fresh["Description"] = description
    c.store.put_document("event-bus", doc["Name"], fresh)


def apply_buses(c: Cumulo, template: Template, undo: Undo) -> None:
    for spec in template.buses:
        doc = _existing_bus(c, spec.name)
        if doc is None:
            c.event_bus.create_event_bus(spec.name, spec.description or None)
            undo.append(partial(c.event_bus.delete_event_bus, spec.name))
        elif doc.get("Description", "") != spec.description:
            _put_bus_description(c, doc, spec.description)
            undo.append(partial(_put_bus_description, c, doc, str(doc.get("Description", ""))))


def delete_removed_buses(c: Cumulo, previous: dict[str, Any], template: Template) -> None:
    """Buses the template dropped; a bus that still has rules (made outside the stack) stays, as EventBridge
    refuses to delete it."""
    wanted = {spec.name for spec in template.buses}
    for name in previous.get("buses", {}).values():
        if name not in wanted:
            _quietly(c.event_bus.delete_event_bus, name)


# --- event rules ---------------------------------------------------------------------------------

def all_rules(template: Template) -> list[RuleSpec]:
    """The template's AWS::Events::Rule resources, then its functions' EventBridgeRule/CloudWatchEvent events,
    then its state machines' events."""
    return list(template.rules) + [r for fn in template.functions for r in fn.rules] + \
        [r for m in template.machines for r in m.rules]


def _rule_ref(spec: RuleSpec) -> str:
    return f"{spec.bus}|{spec.name}"


def _existing_rule(c: Cumulo, bus: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
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


def _rule_details(spec: RuleSpec, doc: dict[str, Any], targets: list[dict[str, Any]]) -> list[str]:
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


def _plan_rules(c: Cumulo, template: Template, previous: dict[str, Any]) -> list[Change]:
    changes = []
    for spec in all_rules(template):
        current = _existing_rule(c, spec.bus, spec.name)
        if current is None:
            changes.append(Change(spec.key, spec.name, "create", kind="rule"))
        else:
            details = _rule_details(spec, *current)
            changes.append(Change(spec.key, spec.name, "update" if details else "unchanged", details, "rule"))
    wanted = {_rule_ref(spec) for spec in all_rules(template)}
    for key, ref in sorted(previous.get("rules", {}).items()):
        bus, _, name = ref.partition("|")
        if ref not in wanted and _existing_rule(c, bus, name) is not None:
            changes.append(Change(key, name, "delete", kind="rule"))
    return changes


def _drop_rule(c: Cumulo, bus: str, name: str) -> None:
    """Targets first, then the rule, as EventBridge requires."""
    current = _existing_rule(c, bus, name)
    if current is None:
        return
    ids = [t["Id"] for t in current[1]]
    if ids:
        c.event_bus.remove_targets(name, bus, ids)
    c.event_bus.delete_rule(name, bus)


def _restore_rule(c: Cumulo, doc: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    bus, name = doc["EventBusName"], doc["Name"]
    c.event_bus.put_rule(name, bus, doc.get("EventPattern"), doc.get("ScheduleExpression"), doc.get("State"),
                         doc.get("Description"), doc.get("RoleArn"))
    now = [t["Id"] for t in c.event_bus.list_targets_by_rule(name, bus)]
    old = {t["Id"] for t in targets}
    if [i for i in now if i not in old]:
        c.event_bus.remove_targets(name, bus, [i for i in now if i not in old])
    if targets:
        c.event_bus.put_targets(name, bus, [dict(t) for t in targets])


def _apply_rule(c: Cumulo, spec: RuleSpec, undo: Undo) -> None:
    current = _existing_rule(c, spec.bus, spec.name)
    if current is not None and not _rule_details(spec, *current):
        return
    where = f"Resource {spec.key} (line {spec.line}): rule {spec.name}"
    try:
        c.event_bus.put_rule(spec.name, spec.bus, spec.pattern, spec.schedule, spec.state, spec.description or None)
    except CumuloError as exc:
        exc.message = f"{where}: {exc.message}"
        exc.args = (exc.message,)
        raise
    if current is None:
        undo.append(partial(_drop_rule, c, spec.bus, spec.name))
        gone: list[str] = []
    else:
        doc, targets = current
        undo.append(partial(_restore_rule, c, doc, targets))
        gone = [t["Id"] for t in targets if t["Id"] not in {w["Id"] for w in spec.targets}]
    if gone:
        c.event_bus.remove_targets(spec.name, spec.bus, gone)
    if spec.targets:
        result = c.event_bus.put_targets(spec.name, spec.bus, [dict(t) for t in spec.targets])
        if result.get("FailedEntryCount"):
            failed = "; ".join(f"target {f.get('TargetId')}: {f.get('ErrorMessage') or f.get('ErrorCode')}"
                               for f in result.get("FailedEntries", []))
            raise ValidationException(f"{where}: targets were refused: {failed}")


def apply_rules(c: Cumulo, template: Template, undo: Undo) -> dict[str, str]:
    """Every rule of the template, made or updated in place; returns what the stack record keeps (key -> bus|name)."""
    kept = {}
    for spec in all_rules(template):
        _apply_rule(c, spec, undo)
        kept[spec.key] = _rule_ref(spec)
    return kept


# --- state machines ---------------------------------------------------------------------------------

def _existing_machine(c: Cumulo, arn: str) -> dict[str, Any] | None:
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


def _machine_action(spec: MachineSpec, doc: dict[str, Any] | None) -> tuple[str, list[str]]:
    if doc is None:
        return "create", []
    if doc.get("type") != spec.type:
        return "replace", [f"Type from {doc.get('type')} to {spec.type}"]
    if not _same_definition(doc["definition"], spec.definition):
        return "update", ["Definition"]
    return "unchanged", []


def _plan_machines(c: Cumulo, template: Template, previous: dict[str, Any]) -> list[Change]:
    changes = []
    for spec in template.machines:
        action, details = _machine_action(spec, _existing_machine(c, spec.arn))
        changes.append(Change(spec.logical_id, spec.name, action, details, "state machine"))
    wanted = {spec.arn for spec in template.machines}
    for logical_id, arn in sorted(previous.get("machines", {}).items()):
        if arn not in wanted and _existing_machine(c, arn) is not None:
            changes.append(Change(logical_id, arn.rsplit(":", 1)[1], "delete", kind="state machine"))
    return changes


def _recreate_machine(c: Cumulo, doc: dict[str, Any]) -> None:
    c.state_machines.delete_state_machine(doc["stateMachineArn"])
    c.state_machines.create_state_machine(doc["name"], doc["definition"], doc.get("roleArn"), doc.get("type"),
                                          doc.get("loggingConfiguration"))


def apply_machines(c: Cumulo, template: Template, undo: Undo) -> None:
    """Each state machine: created, its definition updated in place, or (a Type change) deleted and made anew."""
    for spec in template.machines:
        doc = _existing_machine(c, spec.arn)
        action, _ = _machine_action(spec, doc)
        where = f"Resource {spec.logical_id} (line {spec.line}): state machine {spec.name}"
        try:
            if action == "create":
                c.state_machines.create_state_machine(spec.name, spec.definition, None, spec.type)
                undo.append(partial(c.state_machines.delete_state_machine, spec.arn))
            elif action == "update" and doc is not None:
                c.state_machines.update_state_machine(spec.arn, spec.definition)
                undo.append(partial(c.state_machines.update_state_machine, spec.arn, doc["definition"]))
            elif action == "replace" and doc is not None:
                c.state_machines.delete_state_machine(spec.arn)
                undo.append(partial(_recreate_machine, c, doc))
                c.state_machines.create_state_machine(spec.name, spec.definition, None, spec.type)
        except CumuloError as exc:
            exc.message = f"{where}: {exc.message}"
            exc.args = (exc.message,)
            raise


def delete_removed_machines(c: Cumulo, previous: dict[str, Any], template: Template) -> None:
    wanted = {spec.arn for spec in template.machines}
    for arn in previous.get("machines", {}).values():
        if arn not in wanted:
            _quietly(c.state_machines.delete_state_machine, arn)


# --- event-source mappings ------------------------------------------------------------------------

AnyMapping = MappingSpec | StreamMappingSpec
# What a stream mapping is made with and can never change (a change replaces the mapping).
_STARTING = ("StartingPosition", "StartingPositionTimestamp")


def _mapping_params(c: Cumulo, fn: FunctionResource, m: AnyMapping) -> dict[str, Any]:
    params: dict[str, Any] = {"FunctionName": _target(fn), "BatchSize": m.batch_size,
                              "MaximumBatchingWindowInSeconds": m.batching_window,
                              "FunctionResponseTypes": list(m.response_types), "Enabled": m.enabled}
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
              "Enabled": doc["State"] != "Disabled"}
    if "StartingPosition" in doc:        # a stream's mapping
        params.update({k: doc.get(k) for k in ("ParallelizationFactor", "MaximumRetryAttempts",
                                               "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError")})
        target = ((doc.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        params["DestinationConfig"] = {"OnFailure": {"Destination": target} if target else {}}
    else:
        params["ScalingConfig"] = doc.get("ScalingConfig") or {}
    return params


def _existing_mapping(c: Cumulo, fn: FunctionResource, uuid: str | None, m: AnyMapping) -> dict[str, Any] | None:
    """The stack's mapping for this event, if it still exists and still reads the same source; else one
    from this source to this function made outside the record (adopted, as the Lambda API would refuse
    a second)."""
    try:
        doc = c.mappings.get(uuid) if uuid else None
    except ResourceNotFoundException:
        doc = None
    if doc is not None and doc["EventSourceArn"] == m.source_arn:
        return doc
    for other in c.mappings.list(source_arn=m.source_arn):
        if other["FunctionArn"].split(":")[6] == fn.function_name:
            return other
    return None


def _replaced(m: AnyMapping, doc: dict[str, Any]) -> list[str]:
    """The settings a mapping is made with that differ: it has to be made anew."""
    if not isinstance(m, StreamMappingSpec):
        return []
    return [k for k, v in _starting(m).items() if doc.get(k) != v]


def _mapping_details(c: Cumulo, fn: FunctionResource, m: AnyMapping, doc: dict[str, Any]) -> list[str]:
    wanted = {**_mapping_params(c, fn, m), "FunctionName": c.arns.function(fn.function_name, fn.auto_publish_alias)}
    current = _as_params(doc)
    return [k for k in wanted if current.get(k) != wanted[k]]


def _create_mapping(c: Cumulo, source: str, params: dict[str, Any], undo: Undo) -> str:
    created = c.mappings.create(EventSourceArn=source, **params)
    undo.append(lambda: _quietly(c.mappings.delete, created["UUID"]))
    return str(created["UUID"])


def _apply_mapping(c: Cumulo, fn: FunctionResource, m: AnyMapping, uuid: str | None, undo: Undo) -> str:
    doc = _existing_mapping(c, fn, uuid, m)
    params = _mapping_params(c, fn, m)
    starting = {k: v for k, v in _starting(m).items() if v is not None} if isinstance(m, StreamMappingSpec) else {}
    if doc is None:
        return _create_mapping(c, m.source_arn, {**params, **starting}, undo)
    if _replaced(m, doc):
        # Put back on rollback: the old mapping made again (from its starting position, not its checkpoints).
        old = {**_as_params(doc), **{k: doc[k] for k in _STARTING if doc.get(k) is not None}}
        c.mappings.delete(doc["UUID"])
        undo.append(lambda: _quietly(lambda: c.mappings.create(EventSourceArn=doc["EventSourceArn"], **old)))
        return _create_mapping(c, m.source_arn, {**params, **starting}, undo)
    if _mapping_details(c, fn, m, doc):
        previous = _as_params(doc)
        c.mappings.update(doc["UUID"], **params)
        undo.append(lambda: _quietly(lambda: c.mappings.update(doc["UUID"], **previous)))
    return str(doc["UUID"])


# --- schedules ------------------------------------------------------------------------------

def _schedule_fields(c: Cumulo, fn: FunctionResource, s: ScheduleSpec) -> dict[str, Any]:
    target = {"Arn": c.arns.function(fn.function_name, fn.auto_publish_alias)}
    if s.input is not None:
        target["Input"] = s.input
    window = ({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": s.flexible_window_minutes}
              if s.flexible_window_minutes else {"Mode": "OFF"})
    return {"ScheduleExpression": s.expression, "ScheduleExpressionTimezone": s.timezone or "UTC",
            "Target": target, "State": s.state, "FlexibleTimeWindow": window}


def _existing_schedule(c: Cumulo, name: str) -> dict[str, Any] | None:
    try:
        return c.schedules_service.get(name)
    except ResourceNotFoundException:
        return None


def _schedule_details(c: Cumulo, fn: FunctionResource, s: ScheduleSpec, doc: dict[str, Any]) -> list[str]:
    return [k for k, v in _schedule_fields(c, fn, s).items() if doc.get(k) != v]


def _put_schedule(c: Cumulo, doc: dict[str, Any], update: bool) -> None:
    window = doc.get("FlexibleTimeWindow") or {}
    c.schedules_service.create(doc["Name"], doc["ScheduleExpression"], doc["Target"]["Arn"],
                               timezone_name=doc.get("ScheduleExpressionTimezone"),
                               input=doc["Target"].get("Input"), state=doc.get("State", "ENABLED"),
                               flexible_window_minutes=window.get("MaximumWindowInMinutes"), update=update)


def _apply_schedule(c: Cumulo, fn: FunctionResource, s: ScheduleSpec, undo: Undo) -> None:
    doc = _existing_schedule(c, s.name)
    if doc is not None and not _schedule_details(c, fn, s, doc):
        return
    _put_schedule(c, {"Name": s.name, **_schedule_fields(c, fn, s)}, update=doc is not None)
    if doc is None:
        undo.append(lambda: _quietly(c.schedules_service.delete, s.name))
    else:
        undo.append(lambda: _quietly(lambda: _put_schedule(c, doc, update=True)))


# --- asynchronous invocation --------------------------------------------------------------------

def _invoke_config_key(fn: FunctionResource) -> tuple[str, str | None]:
    # SAM puts EventInvokeConfig on the alias when the function has AutoPublishAlias.
    return fn.function_name, fn.auto_publish_alias


def _current_invoke_config(c: Cumulo, fn: FunctionResource) -> dict[str, Any] | None:
    try:
        return c.event_invoke_configs.get(*_invoke_config_key(fn))
    except ResourceNotFoundException:
        return None


def invoke_config_differs(c: Cumulo, fn: FunctionResource) -> bool:
    doc = _current_invoke_config(c, fn)
    spec = fn.event_invoke_config
    if spec is None:
        return False          # a config the template dropped is deleted after the deploy (delete_removed)
    if doc is None:
        return True
    return (doc.get("MaximumRetryAttempts"), doc.get("MaximumEventAgeInSeconds"), doc.get("DestinationConfig")) != (
        spec.maximum_retry_attempts, spec.maximum_event_age_in_seconds, spec.destination_config())


def apply_invoke_config(c: Cumulo, fn: FunctionResource, undo: Undo) -> None:
    spec = fn.event_invoke_config
    if spec is None or not invoke_config_differs(c, fn):
        return
    old = _current_invoke_config(c, fn)
    name, qualifier = _invoke_config_key(fn)
    c.event_invoke_configs.put(name, qualifier, maximum_retry_attempts=spec.maximum_retry_attempts,
                               maximum_event_age_in_seconds=spec.maximum_event_age_in_seconds,
                               destination_config=spec.destination_config())
    if old is None:
        undo.append(lambda: _quietly(c.event_invoke_configs.delete, name, qualifier))
    else:
        undo.append(lambda: _quietly(lambda: c.event_invoke_configs.put(
            name, qualifier, maximum_retry_attempts=old.get("MaximumRetryAttempts"),
            maximum_event_age_in_seconds=old.get("MaximumEventAgeInSeconds"),
            destination_config=old.get("DestinationConfig"))))


# --- the whole stack ----------------------------------------------------------------------------

def plan_sources(c: Cumulo, template: Template, previous: dict[str, Any]) -> list[Change]:
    """Queue, stream, mapping and schedule changes (invoke configs show as function details).

    Raises ``TemplateError`` for a stream change Cumulo cannot make."""
    changes = _plan_queues(c, template, previous) + _plan_streams(c, template, previous) + \
        _plan_buses(c, template, previous) + _plan_machines(c, template, previous) + \
        _plan_rules(c, template, previous)
    mappings, schedules = previous.get("mappings", {}), previous.get("schedules", {})
    kept_mappings, kept_schedules = set(), set()
    for fn in template.functions:
        for m in fn.mappings:
            key = _key(fn, m.event)
            doc = _existing_mapping(c, fn, mappings.get(key), m)
            label = f"{m.source_arn.rsplit(':', 1)[-1].rsplit('/', 1)[-1]} -> {_target(fn)}"
            if doc is None:
                changes.append(Change(key, label, "create", kind="event source mapping"))
            elif _replaced(m, doc):
                kept_mappings.add(doc["UUID"])
                changes.append(Change(key, label, "replace", _replaced(m, doc), "event source mapping"))
            else:
                kept_mappings.add(doc["UUID"])
                details = _mapping_details(c, fn, m, doc)
                changes.append(Change(key, label, "update" if details else "unchanged", details, "event source mapping"))
        for s in fn.schedules:
            key = _key(fn, s.event)
            doc = _existing_schedule(c, s.name)
            kept_schedules.add(s.name)
            if doc is None:
                changes.append(Change(key, s.name, "create", kind="schedule"))
            else:
                details = _schedule_details(c, fn, s, doc)
                changes.append(Change(key, s.name, "update" if details else "unchanged", details, "schedule"))
    for key, uuid in sorted(mappings.items()):
        if uuid not in kept_mappings and _exists(c.mappings.get, uuid):
            changes.append(Change(key, uuid, "delete", kind="event source mapping"))
    for key, name in sorted(schedules.items()):
        if name not in kept_schedules and _existing_schedule(c, name) is not None:
            changes.append(Change(key, name, "delete", kind="schedule"))
    return changes


def apply_triggers(c: Cumulo, template: Template, previous: dict[str, Any], undo: Undo) -> dict[str, dict[str, str]]:
    """Mappings, schedules and invoke configs; returns what the stack record keeps of them."""
    mappings: dict[str, str] = {}
    schedules: dict[str, str] = {}
    for fn in template.functions:
        apply_invoke_config(c, fn, undo)
        for m in fn.mappings:
            key = _key(fn, m.event)
            mappings[key] = _apply_mapping(c, fn, m, previous.get("mappings", {}).get(key), undo)
        for s in fn.schedules:
            _apply_schedule(c, fn, s, undo)
            schedules[_key(fn, s.event)] = s.name
    return {"mappings": mappings, "schedules": schedules}


def delete_removed(c: Cumulo, previous: dict[str, Any], current: dict[str, Any], template: Template) -> None:
    """Drop what the previous deploy made and this one did not keep: mappings and schedules first,
    invoke configs, then (after the engine deleted removed functions) queues."""
    for ref in set(previous.get("rules", {}).values()) - set(current.get("rules", {}).values()):
        bus, _, name = ref.partition("|")
        _quietly(_drop_rule, c, bus, name)
    for uuid in set(previous.get("mappings", {}).values()) - set(current["mappings"].values()):
        _quietly(c.mappings.delete, uuid)
    for name in set(previous.get("schedules", {}).values()) - set(current["schedules"].values()):
        _quietly(c.schedules_service.delete, name)
    for key in set(previous.get("invoke_configs", [])) - set(current["invoke_configs"]):
        name, _, qualifier = key.partition(":")
        _quietly(c.event_invoke_configs.delete, name, qualifier or None)


def delete_removed_queues(c: Cumulo, previous: dict[str, Any], template: Template) -> None:
    wanted = {spec.name for spec in template.queues}
    for name in previous.get("queues", {}).values():
        if name not in wanted:
            _quietly(c.queues.delete_queue, name)


def delete_removed_streams(c: Cumulo, previous: dict[str, Any], template: Template) -> None:
    wanted = {spec.name for spec in template.streams}
    for name in previous.get("streams", {}).values():
        if name not in wanted:
            _quietly(c.streams.delete_stream, name)


def record(template: Template, triggers: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What the stack record keeps of queues, streams, mappings, schedules and invoke configs."""
    return {"queues": {spec.logical_id: spec.name for spec in template.queues},
            "streams": {spec.logical_id: spec.name for spec in template.streams},
            "buses": {spec.logical_id: spec.name for spec in template.buses},
            "machines": {spec.logical_id: spec.arn for spec in template.machines}, **triggers,
            "invoke_configs": [f"{fn.function_name}:{fn.auto_publish_alias or ''}" for fn in template.functions
                               if fn.event_invoke_config is not None]}


def _exists(get: Callable[[str], Any], key: str) -> bool:
    try:
        get(key)
        return True
    except ResourceNotFoundException:
        return False
