"""``AWS::Events::EventBus`` and ``AWS::Events::Rule`` resources, and functions' ``EventBridgeRule`` and
``CloudWatchEvent`` events: read, named and checked.

What CloudFormation and SAM do, and so what this does:

- ``AWS::Events::EventBus``: ``Name`` (required), ``Description``; ``Tags`` (and
  ``Policy``, ``KmsKeyIdentifier``, ``DeadLetterConfig``, ``EventSourceName``)
  are accepted and noted. ``Ref`` is the bus name; ``Fn::GetAtt`` gives ``Arn``
  and ``Name``.
- ``AWS::Events::Rule``: ``Name`` absent, the rule is named
  ``<stack>-<LogicalId>-<suffix>``, at most 64 characters (CloudFormation's
  suffix is random; ours is a hash of stack and logical id, so a re-deploy finds
  the same rule). ``EventBusName`` (a name or an ARN; the default bus when
  absent), ``EventPattern`` (a map, or a JSON text), ``ScheduleExpression``
  (default bus only), ``State`` (``ENABLED``/``DISABLED``), ``Description``,
  ``Targets`` (``Id``, ``Arn``, ``Input``, ``InputPath``, ``InputTransformer``,
  ``RetryPolicy``, ``DeadLetterConfig``, ``SqsParameters``; ``RoleArn`` and the
  other services' parameters are accepted and noted). ``Ref`` is the rule name
  on the default bus and ``<bus>|<name>`` on a custom bus, as CloudFormation
  gives it; ``Fn::GetAtt`` gives ``Arn``.
- ``EventBridgeRule`` events (``Pattern``, ``EventBusName``, ``Input``,
  ``InputPath``, ``InputTransformer``, ``RetryPolicy``, ``DeadLetterConfig``
  with ``Arn``, ``Target.Id``, ``RuleName``, ``State``) and ``CloudWatchEvent``
  events (``Pattern``, ``EventBusName``, ``Input``, ``InputPath``, ``State``):
  a rule SAM would name ``<FunctionLogicalId><EventName>`` — physically
  ``<stack>-<FunctionLogicalId><EventName>-<suffix>`` unless ``RuleName`` is
  given — with one target, the function (its alias with ``AutoPublishAlias``),
  whose Id is ``<FunctionLogicalId><EventName>LambdaTarget`` unless
  ``Target.Id`` is given.

Patterns, inputs and retry policies are checked as EventBridge checks them, so
a bad one is refused before anything is deployed. Pure: property maps in,
specs out. Faults are ``IntrinsicError``s naming the property;
the ``event bus`` and ``rule`` kinds (``cumulo.deploy.kinds``) add the resource and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.names import stable_name
from cumulo.deploy.queues import _tags
from cumulo.deploy.triggers import _integer
from cumulo.errors import CumuloError
from cumulo.events.pattern import compile_pattern
from cumulo.events.transform import compile_target_input
from cumulo.model import cron
from cumulo.ports import Target

__all__ = ["BUS_TYPE", "RULE_TYPE", "BusSpec", "RuleSpec", "rule_name_for", "bus_arn", "rule_arn", "bus_name_of",
           "read_bus", "read_rule", "read_function_rules", "bus_attributes", "rule_attributes", "rule_ref",
           "check_bus_name", "check_rule_name"]

_NO_ROLE = "Cumulo delivers to the target itself, with no role"     # a role a template gives a rule, schedule or target

BUS_TYPE = "AWS::Events::EventBus"
RULE_TYPE = "AWS::Events::Rule"
_BUS_NAME_RE = re.compile(r"[/.\-_A-Za-z0-9]{1,256}")
_RULE_NAME_RE = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
_TARGET_ID_RE = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
_NAME_MAX = 64
MAX_TARGETS = 5
_BUS_IGNORED = {
    "Policy": "Cumulo has no resource policies: every principal may put events",
    "KmsKeyIdentifier": "events are stored unencrypted in Cumulo's store",
    "DeadLetterConfig": "a bus's own dead-letter queue is not used; targets' DeadLetterConfig is",
    "EventSourceName": "partner event sources do not exist in Cumulo",
}
_RULE_KEYS = {"Name", "EventBusName", "EventPattern", "ScheduleExpression", "State", "Description", "Targets",
              "RoleArn"}
_TARGET_KEYS = {"Id", "Arn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig",
                "SqsParameters", "HttpParameters"}
_TARGET_IGNORED = {"RoleArn", "EcsParameters", "KinesisParameters", "RunCommandParameters",
                   "BatchParameters", "RedshiftDataParameters", "SageMakerPipelineParameters", "AppSyncParameters"}
_EVENTBRIDGE_RULE = {"Pattern", "EventBusName", "Input", "InputPath", "InputTransformer", "RetryPolicy",
                     "DeadLetterConfig", "Target", "RuleName", "State"}
_CLOUDWATCH_EVENT = {"Pattern", "EventBusName", "Input", "InputPath", "State"}


def rule_name_for(stack: str, logical_id: str) -> str:
    """CloudFormation's ``<stack>-<LogicalId>-<suffix>``, at most 64, the suffix stable for a stack and logical id."""
    # Characters a rule name may not have become '-' (a shortened name is cut from the raw names).
    return stable_name(stack, logical_id, _NAME_MAX, re.sub(r"[^.\-_A-Za-z0-9]", "-", f"{stack}-{logical_id}"))


def bus_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def rule_arn(region: str, account: str, bus: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:rule/{'' if bus == 'default' else bus + '/'}{name}"


def rule_ref(bus: str, name: str) -> str:
    """CloudFormation's ``Ref`` of a rule: its name on the default bus, ``<bus>|<name>`` on another."""
    return name if bus == "default" else f"{bus}|{name}"


def bus_name_of(value: Any, what: str = "EventBusName") -> str:
    """A bus given by name or ARN -> its name (``default`` when absent)."""
    if value is None or value == "":
        return "default"
    if not isinstance(value, str):
        raise IntrinsicError(f"property {what}: must be an event bus name or ARN, got {value!r}")
    name = value.split(":event-bus/", 1)[1] if value.startswith("arn:") and ":event-bus/" in value else value
    return check_bus_name(name, what)


def check_bus_name(name: str, what: str = "Name") -> str:
    if not _BUS_NAME_RE.fullmatch(name) or name.startswith("aws."):
        raise IntrinsicError(f"property {what}: event bus names are 1 to 256 letters, digits, '.', '-', '_' or '/', "
                             f"and do not start with 'aws.', got {name!r}")
    return name


def check_rule_name(name: str, what: str = "Name") -> str:
    if not _RULE_NAME_RE.fullmatch(name):
        raise IntrinsicError(f"property {what}: rule names are 1 to 64 letters, digits, '.', '-' or '_', "
                             f"got {name!r}")
    return name


@dataclass(frozen=True)
class BusSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    description: str = ""
    notes: list[str] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class RuleSpec:
    """One rule: an ``AWS::Events::Rule`` (``key`` its logical id) or a function's event (``key`` ``Fn.Event``)."""

    key: str
    line: int
    name: str
    bus: str                             # the bus's name
    arn: str
    pattern: str | None = None           # JSON text, checked
    schedule: str | None = None
    state: str = "ENABLED"
    description: str = ""
    targets: tuple[dict[str, Any], ...] = ()
    notes: list[str] = field(default_factory=list, compare=False)

    @property
    def logical_id(self) -> str:
        return self.key


def bus_attributes(logical_id: str, name: str, arn: str) -> dict[tuple[str, str], str]:
    """What ``Ref`` and ``Fn::GetAtt`` give for a bus."""
    return {(logical_id, "Ref"): name, (logical_id, "Name"): name, (logical_id, "Arn"): arn}


def rule_attributes(logical_id: str, bus: str, name: str, arn: str) -> dict[tuple[str, str], str]:
    """What ``Ref`` and ``Fn::GetAtt`` give for a rule."""
    return {(logical_id, "Ref"): rule_ref(bus, name), (logical_id, "Arn"): arn}


def read_bus(logical_id: str, line: int, name: str, arn: str, props: dict[str, Any]) -> BusSpec:
    """One bus's (resolved, plain) properties; ``name`` is its ``Name``, already checked."""
    notes = []
    for key in props:
        if key in ("Name", "Description"):
            continue
        if key in _BUS_IGNORED:
            notes.append(f"{key} ignored: {_BUS_IGNORED[key]}")
        elif key != "Tags":
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
    if _tags(props.get("Tags", [])):
        notes.append("Tags ignored: Cumulo's event buses keep no tags")
    description = props.get("Description", "")
    if not isinstance(description, str) or len(description) > 512:
        raise IntrinsicError("property Description: must be a string of at most 512 characters")
    return BusSpec(logical_id, line, name, arn, description, notes)


def read_rule(logical_id: str, line: int, name: str, bus: str, arn: str, props: dict[str, Any]) -> RuleSpec:
    """One rule's (resolved, plain) properties; ``name`` and ``bus`` are already decided."""
    notes: list[str] = []
    for key in props:
        if key not in _RULE_KEYS:
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
    if "RoleArn" in props:
        notes.append("RoleArn ignored: Cumulo delivers to the target itself, with no role")
    pattern = _pattern(props.get("EventPattern"), "EventPattern")
    schedule = props.get("ScheduleExpression")
    if schedule is not None:
        if not isinstance(schedule, str):
            raise IntrinsicError("property ScheduleExpression: must be rate(...) or cron(...)")
        try:
            cron.parse(schedule)
        except CumuloError as exc:
            raise IntrinsicError(f"property ScheduleExpression: {exc.message}") from None
        if bus != "default":
            raise IntrinsicError("property ScheduleExpression: a schedule is supported only on the default event bus")
    if pattern is None and schedule is None:
        raise IntrinsicError("one of EventPattern or ScheduleExpression is required")
    description = props.get("Description", "")
    if not isinstance(description, str) or len(description) > 512:
        raise IntrinsicError("property Description: must be a string of at most 512 characters")
    targets = props.get("Targets", [])
    if not isinstance(targets, list):
        raise IntrinsicError("property Targets: must be a list of targets")
    if len(targets) > MAX_TARGETS:
        raise IntrinsicError(f"property Targets: a rule has at most {MAX_TARGETS} targets, got {len(targets)}")
    checked = tuple(_target(t, i, notes) for i, t in enumerate(targets))
    ids = [t["Id"] for t in checked]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise IntrinsicError(f"property Targets: Id '{duplicate}' is used by more than one target")
    return RuleSpec(logical_id, line, name, bus, arn, pattern, schedule, _state(props.get("State")), description,
                    checked, notes)


def read_function_rules(stack: str, logical_id: str, target_arn: str, events: dict[str, dict[str, Any]],
                        region: str, account: str) -> list[RuleSpec]:
    """The rules a function's (resolved) ``EventBridgeRule``/``CloudWatchEvent`` events make (notes on each)."""
    rules: list[RuleSpec] = []
    for event, doc in events.items():
        kind, props = doc["Type"], doc.get("Properties") or {}
        if kind not in ("EventBridgeRule", "CloudWatchEvent"):
            continue
        try:
            rules.append(_function_rule(stack, logical_id, target_arn, event, kind, props, region, account))
        except (IntrinsicError, CumuloError) as exc:
            raise IntrinsicError(f"event {event}: {exc.message}") from None
    return rules


def _function_rule(stack: str, logical_id: str, target_arn: str, event: str, kind: str, props: Any,
                   region: str, account: str, target_suffix: str = "LambdaTarget") -> RuleSpec:
    if not isinstance(props, dict):
        raise IntrinsicError("Properties must be a map")
    allowed = _EVENTBRIDGE_RULE if kind == "EventBridgeRule" else _CLOUDWATCH_EVENT
    for key in props:
        if key not in allowed:
            raise IntrinsicError(f"unknown or unsupported property '{key}' for a {kind} event")
    pattern = _pattern(props.get("Pattern"), "Pattern")
    if pattern is None:
        raise IntrinsicError("property Pattern is required")
    bus = bus_name_of(props.get("EventBusName"))
    given = props.get("RuleName")
    name = check_rule_name(given, "RuleName") if isinstance(given, str) else None
    if given is not None and name is None:
        raise IntrinsicError(f"property RuleName: must be a string, got {given!r}")
    name = name or rule_name_for(stack, f"{logical_id}{event}")
    target: dict[str, Any] = {"Id": _target_id(props.get("Target"), f"{logical_id}{event}{target_suffix}"),
                              "Arn": target_arn}
    for key in ("Input", "InputPath", "InputTransformer", "RetryPolicy"):
        if props.get(key) is not None:
            target[key] = props[key]
    if props.get("DeadLetterConfig") is not None:
        target["DeadLetterConfig"] = _sam_dead_letter(props["DeadLetterConfig"])
    checked = _target(target, 0, [])
    return RuleSpec(f"{logical_id}.{event}", 0, name, bus, rule_arn(region, account, bus, name), pattern, None,
                    _state(props.get("State")), "", (checked,))


def _target_id(value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, dict) or set(value) - {"Id"} or "Id" not in value:
        raise IntrinsicError("property Target: must be a map with Id")
    return str(value["Id"])


def _sam_dead_letter(value: Any) -> dict[str, Any]:
    """SAM's ``DeadLetterConfig: {Type: SQS, Arn}`` -> EventBridge's ``{Arn}``."""
    if not isinstance(value, dict) or set(value) - {"Type", "Arn", "QueueLogicalId"}:
        raise IntrinsicError("property DeadLetterConfig: must be a map with Type (SQS) and Arn")
    if value.get("Type", "SQS") != "SQS":
        raise IntrinsicError(f"property DeadLetterConfig.Type: must be SQS, got {value.get('Type')!r}")
    if "QueueLogicalId" in value or "Arn" not in value:
        raise IntrinsicError("property DeadLetterConfig: Cumulo does not create a dead-letter queue for an event "
                             "(QueueLogicalId, or Type alone); declare an AWS::SQS::Queue and give its Arn "
                             "(Arn: !GetAtt MyQueue.Arn)")
    arn = value["Arn"]
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":sqs:" not in arn:
        raise IntrinsicError(f"property DeadLetterConfig.Arn: must be a queue ARN, got {arn!r}")
    return {"Arn": arn}


def _pattern(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        text = json.dumps(value, separators=(",", ":"))
    else:
        raise IntrinsicError(f"property {what}: must be a map (an event pattern), got {type(value).__name__}")
    try:
        compile_pattern(text)
    except CumuloError as exc:
        raise IntrinsicError(f"property {what}: {exc.message}") from None
    return text


def _state(value: Any) -> str:
    if value is None:
        return "ENABLED"
    if value not in ("ENABLED", "DISABLED"):
        raise IntrinsicError(f"property State: must be ENABLED or DISABLED, got {value!r}")
    return str(value)


def _target(value: Any, index: int, notes: list[str]) -> dict[str, Any]:
    where = f"Targets[{index}]"
    if not isinstance(value, dict):
        raise IntrinsicError(f"property {where}: must be a map with Id and Arn")
    for key in value:
        if key in _TARGET_IGNORED:
            notes.append(f"{where}.{key} ignored: " + (_NO_ROLE if key == "RoleArn" else
                                                        "Cumulo delivers to functions, queues, buses, state machines, API destinations and "
                                                        "topics only"))
        elif key not in _TARGET_KEYS:
            raise IntrinsicError(f"property {where}: unknown or unsupported property '{key}'")
    target_id, arn = value.get("Id"), value.get("Arn")
    if not isinstance(target_id, str) or not _TARGET_ID_RE.fullmatch(target_id):
        raise IntrinsicError(f"property {where}.Id: must be 1 to 64 letters, digits, '.', '-' or '_', "
                             f"got {target_id!r}")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise IntrinsicError(f"property {where}.Arn: must be an ARN (e.g. !GetAtt MyQueue.Arn), got {arn!r}")
    if Target.parse(arn).kind is None:      # as PutTargets refuses it (events/bus.py), so the plan does too
        raise IntrinsicError(f"property {where}.Arn: Target {arn} is not supported: Cumulo delivers to functions, "
                             "queues, event buses, API destinations, state machines and topics")
    out = {k: v for k, v in value.items() if k in _TARGET_KEYS and v is not None}
    transformer = out.get("InputTransformer")
    if transformer is not None:
        if not isinstance(transformer, dict) or set(transformer) - {"InputPathsMap", "InputTemplate"} \
                or "InputTemplate" not in transformer:
            raise IntrinsicError(f"property {where}.InputTransformer: must be a map with InputTemplate and "
                                 "optionally InputPathsMap")
    retry = out.get("RetryPolicy")
    if retry is not None:
        if not isinstance(retry, dict) or set(retry) - {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}:
            raise IntrinsicError(f"property {where}.RetryPolicy: must be a map of MaximumRetryAttempts and "
                                 "MaximumEventAgeInSeconds")
        out["RetryPolicy"] = {k: _integer(v, f"{where}.RetryPolicy.{k}", *((0, 185) if k == "MaximumRetryAttempts"
                                                                          else (60, 86_400)))
                              for k, v in retry.items()}
    dlq = out.get("DeadLetterConfig")
    if dlq is not None and (not isinstance(dlq, dict) or set(dlq) != {"Arn"} or not isinstance(dlq["Arn"], str)
                            or ":sqs:" not in dlq["Arn"]):
        raise IntrinsicError(f"property {where}.DeadLetterConfig: must be a map with Arn, an SQS queue ARN")
    sqs = out.get("SqsParameters")
    if sqs is not None and (not isinstance(sqs, dict) or set(sqs) != {"MessageGroupId"}):
        raise IntrinsicError(f"property {where}.SqsParameters: must be a map with MessageGroupId")
    try:
        compile_target_input(out)
    except CumuloError as exc:
        raise IntrinsicError(f"property {where}: {exc.message}") from None
    return out
