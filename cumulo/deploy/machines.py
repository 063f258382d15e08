"""``AWS::Serverless::StateMachine`` and ``AWS::StepFunctions::StateMachine`` resources: read, named and checked.

What SAM and CloudFormation do, and so what this does:

- ``AWS::Serverless::StateMachine``: ``Definition`` (a map; intrinsics in it are
  resolved) or ``DefinitionUri`` (a local JSON or YAML file, relative to the
  template; an S3 location is refused: Cumulo reads no S3), exactly one;
  ``DefinitionSubstitutions`` (``${Name}`` placeholders in the definition's
  strings replaced, values may be intrinsics such as ``!GetAtt Fn.Arn``);
  ``Name`` (absent: ``<LogicalId>-<suffix>``, at most 80 characters, as SAM's
  generated names; SAM's suffix is random, ours a hash of stack and logical id,
  so a re-deploy finds the same machine); ``Type`` (``STANDARD``, the default,
  or ``EXPRESS``); ``Role`` (an ARN), else the role SAM makes with ``Policies``
  (``RolePath``, ``PermissionsBoundary``: ``cumulo.deploy.kinds.role``); both
  ``Role`` and ``Policies`` are refused, as SAM refuses them. ``Tracing``'s
  ``Enabled`` turns on X-Ray segments of its executions (docs/traces.md).
  ``Logging`` and ``Tags`` are accepted and noted (Cumulo keeps executions in its store).
  ``Events``: ``Schedule`` and ``ScheduleV2`` become an EventBridge rule with a
  ``ScheduleExpression`` on the default bus, ``EventBridgeRule`` and
  ``CloudWatchEvent`` a rule with the event's pattern, each with one target, the
  state machine (Id ``<LogicalId><EventName>StepFunctionsTarget`` unless
  ``Target.Id`` is given), which the bus starts an execution of with the event
  as input. ``Api`` and ``HttpApi`` events are refused.
- ``AWS::StepFunctions::StateMachine``: ``Definition`` (a map),
  ``DefinitionString`` (JSON text, often ``!Sub``) or ``DefinitionS3Location`` (a local file, as written
  before ``aws cloudformation package``; ``{Bucket, Key}`` in Cumulo's S3 through ``CreateStack``), exactly
  one; ``DefinitionSubstitutions``,
  ``StateMachineName`` (absent: as above), ``StateMachineType``, ``RoleArn``,
  ``TracingConfiguration`` (``Enabled``); ``LoggingConfiguration``, ``Tags`` accepted and
  noted.
- ``Ref`` is the ARN; ``Fn::GetAtt`` gives ``Arn`` and ``Name``.

Definitions are checked as Step Functions checks them (``InvalidDefinition``,
with every finding), so a bad one is refused before anything is deployed.
Pure apart from reading a ``DefinitionUri`` file: resolved property maps in,
``MachineSpec``s out. Faults are ``IntrinsicError``s naming the property;
the ``state machine`` kind (``cumulo.deploy.kinds.state_machine``) adds the resource and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cumulo.deploy.buses import (
    RuleSpec,
    _function_rule,
    check_rule_name,
    read_rule,
    rule_arn,
    rule_name_for,
)
from cumulo.deploy.intrinsics import IntrinsicError, parse
from cumulo.deploy.names import SUFFIX_LEN, stable_suffix
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError

__all__ = [
    "MACHINE_TYPE",
    "MACHINE_TYPES",
    "SAM_MACHINE_TYPE",
    "MachineSpec",
    "check_machine_name",
    "machine_arn",
    "machine_attributes",
    "machine_name_for",
    "read_machine",
    "substitute",
]

_NO_ROLE = "Cumulo delivers to the target itself, with no role"     # a role a template gives a rule, schedule or target

SAM_MACHINE_TYPE = "AWS::Serverless::StateMachine"
MACHINE_TYPE = "AWS::StepFunctions::StateMachine"
MACHINE_TYPES = (SAM_MACHINE_TYPE, MACHINE_TYPE)
_NAME_MAX = 80
_NAME_RE = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")
_PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
_TYPES = ("STANDARD", "EXPRESS")
_TARGET_SUFFIX = "StepFunctionsTarget"

_SAM_KEYS = {"Definition", "DefinitionUri", "DefinitionSubstitutions", "Name", "Type", "Events", "Role", "RolePath",
             "Policies", "PermissionsBoundary", "Tracing"}
_SAM_NOTED = {
    "Logging": "executions and their history are kept in Cumulo's store, not sent to CloudWatch Logs",
    "Tags": "Cumulo's state machines keep no tags",
}
_CFN_KEYS = {"Definition", "DefinitionString", "DefinitionS3Location", "DefinitionSubstitutions", "StateMachineName",
             "StateMachineType", "RoleArn", "TracingConfiguration"}
_CFN_NOTED = {
    "LoggingConfiguration": "executions and their history are kept in Cumulo's store, not sent to CloudWatch Logs",
    "Tags": "Cumulo's state machines keep no tags",
}
_SCHEDULE = {"Schedule", "Input", "Enabled", "State", "Name", "Description", "RetryPolicy", "DeadLetterConfig",
             "Target", "RoleArn"}
_SCHEDULE_V2 = {"ScheduleExpression", "ScheduleExpressionTimezone", "Input", "State", "Name", "Description",
                "RetryPolicy", "DeadLetterConfig", "FlexibleTimeWindow", "StartDate", "EndDate", "GroupName",
                "KmsKeyArn", "RoleArn", "PermissionsBoundary", "OmitName"}
_SCHEDULE_NOTED = {"RoleArn": _NO_ROLE, "PermissionsBoundary": _NO_ROLE,
                   "KmsKeyArn": "schedules are not encrypted with a KMS key",
                   "GroupName": "the schedule is an EventBridge rule on the default bus, in no group",
                   "OmitName": "the rule is always named",
                   "FlexibleTimeWindow": "the schedule fires at its time (an EventBridge rule has no flexible window)"}


def machine_name_for(stack: str, logical_id: str) -> str:
    """SAM's generated ``<LogicalId>-<suffix>``, at most 80, the suffix stable for a stack and logical id."""
    return f"{logical_id[: _NAME_MAX - SUFFIX_LEN - 1]}-{stable_suffix(stack, logical_id)}"


def machine_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:stateMachine:{name}"


def machine_attributes(logical_id: str, name: str, arn: str) -> dict[tuple[str, str], str]:
    """What ``Ref`` and ``Fn::GetAtt`` give for a state machine."""
    return {(logical_id, "Ref"): arn, (logical_id, "Arn"): arn, (logical_id, "Name"): name}


def check_machine_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise IntrinsicError(f"property {what}: state machine names are 1 to 80 characters, without whitespace, "
                             f"brackets, wildcards or any of \"#%\\^|~`$&,;:/, got {name!r}")
    return name


@dataclass(frozen=True)
class MachineSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    definition: str                     # JSON text, checked
    type: str = "STANDARD"
    rules: list[RuleSpec] = field(default_factory=list)    # its Schedule/EventBridgeRule/... events
    notes: list[str] = field(default_factory=list, compare=False)
    role_arn: str = ""                  # Role / RoleArn, or the role SAM makes ("": the platform's default)
    role: Any = None                    # the role SAM makes (a RoleSpec the role kind deploys), if any
    tracing: bool = False               # Tracing / TracingConfiguration's Enabled (X-Ray, docs/traces.md)


def substitute(definition: Any, substitutions: dict[str, Any]) -> Any:
    """``${Name}`` placeholders replaced in every string (and key) of a definition, as CloudFormation does;
    placeholders with no substitution are left as written."""
    def text(value: str) -> str:
        return _PLACEHOLDER_RE.sub(lambda m: _scalar(substitutions[m.group(1)]) if m.group(1) in substitutions
                                   else m.group(0), value)
    if isinstance(definition, str):
        return text(definition)
    if isinstance(definition, dict):
        return {text(k): substitute(v, substitutions) for k, v in definition.items()}
    if isinstance(definition, list):
        return [substitute(v, substitutions) for v in definition]
    return definition


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_machine(kind: str, logical_id: str, line: int, name: str, arn: str, props: dict[str, Any], base: Path,
                 stack: str, region: str, account: str, event_lines: dict[str, int] | None = None) -> MachineSpec:
    """One state machine's (resolved, plain) properties; ``name`` is already decided."""
    sam = kind == SAM_MACHINE_TYPE
    allowed, noted = (_SAM_KEYS, _SAM_NOTED) if sam else (_CFN_KEYS, _CFN_NOTED)
    notes = []
    for key, value in props.items():
        if key in noted:
            notes.append(f"{key} ignored: {noted[key]}")
        elif (key == "DefinitionS3Location" and (sam or not isinstance(value, str))) or (
                sam and key == "DefinitionUri" and not isinstance(value, str)):
            inline = "Definition, or DefinitionUri with a local file" if sam else "Definition or DefinitionString"
            raise IntrinsicError(f"property {key}: Cumulo reads no S3 locations; give the definition inline "
                                 f"({inline})")
        elif key not in allowed:
            raise IntrinsicError(f"unknown or unsupported property '{key}' for {kind}")
    text, where = _definition(sam, props, base)
    substitutions = props.get("DefinitionSubstitutions")
    if substitutions is not None and (not isinstance(substitutions, dict) or not all(
            isinstance(v, (str, int, float, bool)) for v in substitutions.values())):
        raise IntrinsicError("property DefinitionSubstitutions: must be a map of names to strings, numbers or "
                             "booleans")
    text = _checked(substitute(text, substitutions or {}), where)
    type_key = "Type" if sam else "StateMachineType"
    kind_value = props.get(type_key, "STANDARD")
    if kind_value not in _TYPES:
        raise IntrinsicError(f"property {type_key}: must be STANDARD or EXPRESS, got {kind_value!r}")
    rules = _events(props.get("Events"), stack, logical_id, arn, region, account, event_lines or {}, line) \
        if sam else []
    if sam and "Role" in props and "Policies" in props:
        raise IntrinsicError("property Role: Specify either 'Role' or 'Policies' property and not both.")
    role = props.get("Role" if sam else "RoleArn", "")
    if not isinstance(role, str):
        raise IntrinsicError(f"property {'Role' if sam else 'RoleArn'}: must be a role's ARN, got {role!r}")
    given = props.get("Tracing" if sam else "TracingConfiguration")
    if given is not None and not isinstance(given, dict):
        raise IntrinsicError(f"property {'Tracing' if sam else 'TracingConfiguration'}: must be a map with Enabled")
    enabled = (given or {}).get("Enabled", False)
    return MachineSpec(logical_id, line, name, arn, text, str(kind_value), rules, notes, role,
                       tracing=enabled is True or str(enabled).lower() == "true")


def _definition(sam: bool, props: dict[str, Any], base: Path) -> tuple[Any, str]:
    keys = ("Definition", "DefinitionUri") if sam else ("Definition", "DefinitionString", "DefinitionS3Location")
    given = [k for k in keys if props.get(k) is not None]
    if len(given) != 1:
        raise IntrinsicError(f"exactly one of {' or '.join(keys)} is required"
                             + (", got both" if len(given) > 1 else ""))
    key = given[0]
    value = props[key]
    if key == "Definition":
        if not isinstance(value, dict):
            raise IntrinsicError(f"property Definition: must be a map (the state machine's definition), got "
                                 f"{type(value).__name__}")
        return value, key
    if key == "DefinitionString":
        if not isinstance(value, str):
            raise IntrinsicError(f"property DefinitionString: must be JSON text, got {type(value).__name__}")
        return value, key
    if value.startswith("s3://"):
        raise IntrinsicError(f"property {key}: Cumulo reads no S3 locations; give a local file path "
                             "(relative to the template) or an inline Definition")
    path = (base / value).resolve()
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IntrinsicError(f"property {key}: cannot read {value} ({path}): {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise IntrinsicError(f"property {key}: {value} is not UTF-8 text") from None
    except IntrinsicError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise IntrinsicError(f"property {key}: {value}{where}: {exc.message}") from None
    doc = plain(doc)
    if not isinstance(doc, dict):
        raise IntrinsicError(f"property {key}: {value} must hold a map (the state machine's definition)")
    return doc, key


def _checked(definition: Any, where: str) -> str:
    from cumulo.stepfunctions.asl import parse_definition
    text = definition if isinstance(definition, str) else json.dumps(definition)
    try:
        parse_definition(text)
    except CumuloError as exc:
        raise IntrinsicError(f"property {where}: {exc.message}") from None
    except ValueError as exc:        # a definition that is not JSON at all
        raise IntrinsicError(f"property {where}: Invalid State Machine Definition: {exc}") from None
    return text


def _events(events: Any, stack: str, logical_id: str, arn: str, region: str, account: str,
            event_lines: dict[str, int], line: int) -> list[RuleSpec]:
    if events is None:
        return []
    if not isinstance(events, dict):
        raise IntrinsicError("property Events: must be a map of events")
    rules = []
    for event, doc in events.items():
        at = event_lines.get(event, line)
        try:
            if not isinstance(doc, dict) or "Type" not in doc:
                raise IntrinsicError("must be a map with a Type")
            kind, props = doc["Type"], doc.get("Properties") or {}
            if not isinstance(props, dict):
                raise IntrinsicError("Properties must be a map")
            if kind in ("Api", "HttpApi"):
                raise IntrinsicError(f"Type {kind} is not supported for state machines: Cumulo's API gateway "
                                     "routes to functions only; route to a function that calls StartExecution")
            if kind in ("EventBridgeRule", "CloudWatchEvent"):
                rule = _function_rule(stack, logical_id, arn, event, kind, props, region, account, _TARGET_SUFFIX)
            elif kind in ("Schedule", "ScheduleV2"):
                rule = _schedule_rule(stack, logical_id, arn, event, kind, props, region, account)
            else:
                raise IntrinsicError(f"Type {kind!r} is not supported for state machines; supported: Schedule, "
                                     "ScheduleV2, EventBridgeRule, CloudWatchEvent")
        except (IntrinsicError, CumuloError) as exc:
            raise IntrinsicError(f"event {event} (line {at}): {exc.message}", at) from None
        rules.append(replace(rule, line=at))
    return rules


def _schedule_rule(stack: str, logical_id: str, arn: str, event: str, kind: str, props: dict[str, Any],
                   region: str, account: str) -> RuleSpec:
    allowed = _SCHEDULE if kind == "Schedule" else _SCHEDULE_V2
    notes = []
    for key in props:
        if key not in allowed:
            raise IntrinsicError(f"unknown or unsupported property '{key}' for a {kind} event")
        if key in _SCHEDULE_NOTED:
            notes.append(f"event {event}: {key} ignored: {_SCHEDULE_NOTED[key]}")
    expression = props.get("Schedule" if kind == "Schedule" else "ScheduleExpression")
    if not isinstance(expression, str):
        raise IntrinsicError(f"property {'Schedule' if kind == 'Schedule' else 'ScheduleExpression'} is required: "
                             "rate(...) or cron(...)")
    if kind == "ScheduleV2":
        zone = props.get("ScheduleExpressionTimezone")
        if zone not in (None, "UTC", "Etc/UTC"):
            raise IntrinsicError(f"property ScheduleExpressionTimezone: a state machine's schedule is an "
                                 f"EventBridge rule, which runs in UTC; got {zone!r}")
        for key in ("StartDate", "EndDate"):
            if props.get(key) is not None:
                raise IntrinsicError(f"property {key}: a state machine's schedule is an EventBridge rule, which "
                                     "has no start or end date")
        if expression.startswith("at("):
            raise IntrinsicError("property ScheduleExpression: one-time at(...) schedules are not supported for "
                                 "state machines (an EventBridge rule takes rate(...) or cron(...))")
    state = props.get("State")
    if state is None and "Enabled" in props:
        enabled = props["Enabled"]
        if not isinstance(enabled, bool) and str(enabled).lower() not in ("true", "false"):
            raise IntrinsicError(f"property Enabled: must be true or false, got {enabled!r}")
        state = "ENABLED" if enabled is True or str(enabled).lower() == "true" else "DISABLED"
    given = props.get("Name")
    name = check_rule_name(given, "Name") if given is not None else rule_name_for(stack, f"{logical_id}{event}")
    target_id = props.get("Target", {}).get("Id") if isinstance(props.get("Target"), dict) else None
    target: dict[str, Any] = {"Id": target_id or f"{logical_id}{event}{_TARGET_SUFFIX}", "Arn": arn}
    for key in ("Input", "RetryPolicy"):
        if props.get(key) is not None:
            target[key] = props[key]
    if props.get("DeadLetterConfig") is not None:
        dlq = props["DeadLetterConfig"]
        if not isinstance(dlq, dict) or not isinstance(dlq.get("Arn"), str):
            raise IntrinsicError("property DeadLetterConfig: Cumulo does not create a dead-letter queue for an "
                                 "event; declare an AWS::SQS::Queue and give its Arn (Arn: !GetAtt MyQueue.Arn)")
        target["DeadLetterConfig"] = {"Arn": dlq["Arn"]}
    rule_props: dict[str, Any] = {"ScheduleExpression": expression, "Targets": [target]}
    if state is not None:
        rule_props["State"] = state
    if props.get("Description") is not None:
        rule_props["Description"] = props["Description"]
    rule = read_rule(f"{logical_id}.{event}", 0, name, "default", rule_arn(region, account, "default", name),
                     rule_props)
    return replace(rule, notes=notes + rule.notes)
