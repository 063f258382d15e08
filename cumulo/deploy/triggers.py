"""What invokes a function besides HTTP: its ``SQS``, ``Schedule`` and ``ScheduleV2`` events,
and where its failed asynchronous events go (``DeadLetterQueue``, ``EventInvokeConfig``).

As SAM transforms them:

- ``SQS`` -> an event-source mapping (``Queue``, ``BatchSize``,
  ``MaximumBatchingWindowInSeconds``, ``FunctionResponseTypes``,
  ``ScalingConfig``, ``Enabled``).
- ``Kinesis`` -> an event-source mapping (``Stream``, ``StartingPosition``,
  ``StartingPositionTimestamp``, ``BatchSize``, ``MaximumBatchingWindowInSeconds``,
  ``Enabled``, ``ParallelizationFactor``, ``MaximumRetryAttempts``,
  ``MaximumRecordAgeInSeconds``, ``BisectBatchOnFunctionError``,
  ``DestinationConfig.OnFailure`` (an SQS queue), ``FunctionResponseTypes``).
- ``DynamoDB`` -> the same, from a table's stream (``Stream``: its ``StreamArn``; ``StartingPosition``
  ``TRIM_HORIZON`` or ``LATEST``).
- ``Schedule`` (an EventBridge rule: ``Schedule``, ``Input``, ``Enabled`` or
  ``State``, ``Name``) and ``ScheduleV2`` (EventBridge Scheduler:
  ``ScheduleExpression``, ``ScheduleExpressionTimezone``, ``Input``, ``State``,
  ``FlexibleTimeWindow``, ``Name``) -> a schedule, named ``<function>-<EventName>``
  unless ``Name`` is given.
- With ``AutoPublishAlias``, event sources and ``EventInvokeConfig`` target the
  alias, as SAM makes them.

Pure: resolved event maps in, specs out; values are checked as the Lambda and
Scheduler APIs check them. Faults are ``IntrinsicError``s naming the property.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.errors import CumuloError
from cumulo.model.function import validate_dead_letter_arn
from cumulo.model import cron
from cumulo.model.table_stream import is_table_stream
from cumulo.ports import Kind, Target

__all__ = ["MappingSpec", "StreamMappingSpec", "ScheduleSpec", "EventInvokeSpec", "read_triggers", "read_dead_letter_queue",
           "read_event_invoke_config", "schedule_name_for",
           "read_scheduler_schedule"]

_NO_ROLE = "Cumulo delivers to the target itself, with no role"     # a role a template gives a rule, schedule or target

_SCHEDULE_NAME_RE = re.compile(r"[0-9a-zA-Z_.-]{1,64}")
_SQS = {"Queue", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig",
        "Enabled", "FilterCriteria", "KmsKeyArn", "MetricsConfig"}
_KINESIS = {"Stream", "StartingPosition", "StartingPositionTimestamp", "BatchSize", "MaximumBatchingWindowInSeconds",
            "Enabled", "ParallelizationFactor", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
            "BisectBatchOnFunctionError", "DestinationConfig", "FunctionResponseTypes", "FilterCriteria",
            "TumblingWindowInSeconds", "KmsKeyArn", "MetricsConfig"}
_STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
_SCHEDULE = {"Schedule", "Input", "Enabled", "State", "Name", "Description", "DeadLetterConfig", "RetryPolicy",
             "RuleName"}
_SCHEDULE_V2 = {"ScheduleExpression", "ScheduleExpressionTimezone", "Input", "State", "FlexibleTimeWindow", "Name",
                "Description", "StartDate", "EndDate", "GroupName", "KmsKeyArn", "RoleArn", "PermissionsBoundary",
                "OmitName", "DeadLetterConfig", "RetryPolicy"}
_NOTED = {"Description": "schedule descriptions are kept by EventBridge only",
          "DeadLetterConfig": "a schedule's own dead-letter queue is not used; failed events follow the function's "
                              "DeadLetterQueue/EventInvokeConfig",
          "RetryPolicy": "a schedule's retries follow the function's EventInvokeConfig",
          "RuleName": "the rule is named by Name", "StartDate": "schedules start at once",
          "EndDate": "schedules do not end", "GroupName": "every schedule is in the default group",
          "KmsKeyArn": "nothing is encrypted with a KMS key", "RoleArn": _NO_ROLE,
          "PermissionsBoundary": _NO_ROLE, "OmitName": "schedules are always named",
          "MetricsConfig": "mapping metrics are not kept"}
_DESTINATION_TYPES = ("SQS", "SNS", "Lambda", "EventBridge", "S3")


@dataclass(frozen=True)
class MappingSpec:
    event: str
    queue_arn: str
    batch_size: int = 10
    batching_window: int = 0
    response_types: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    enabled: bool = True
    filter_criteria: str = ""          # FilterCriteria's JSON ("": none)

    @property
    def source_arn(self) -> str:
        return self.queue_arn


@dataclass(frozen=True)
class StreamMappingSpec:
    """A ``Kinesis`` event; ``starting_position`` (and its timestamp) can only be set when the mapping is made."""

    event: str
    stream_arn: str
    starting_position: str
    starting_position_timestamp: float | None = None
    batch_size: int = 100
    batching_window: int = 0
    enabled: bool = True
    parallelization_factor: int = 1
    maximum_retry_attempts: int = -1
    maximum_record_age: int = -1
    bisect_on_error: bool = False
    on_failure: str = ""
    response_types: tuple[str, ...] = ()
    filter_criteria: str = ""          # FilterCriteria's JSON ("": none)

    @property
    def source_arn(self) -> str:
        return self.stream_arn


@dataclass(frozen=True)
class ScheduleSpec:
    event: str
    name: str
    expression: str
    timezone: str | None = None
    input: str | None = None
    state: str = "ENABLED"
    flexible_window_minutes: int | None = None


@dataclass(frozen=True)
class EventInvokeSpec:
    maximum_retry_attempts: int | None = None
    maximum_event_age_in_seconds: int | None = None
    on_success: str = ""
    on_failure: str = ""

    def destination_config(self) -> dict[str, Any]:
        return {"OnSuccess": {"Destination": self.on_success} if self.on_success else {},
                "OnFailure": {"Destination": self.on_failure} if self.on_failure else {}}


@dataclass(frozen=True)
class Triggers:
    mappings: list[MappingSpec | StreamMappingSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def schedule_name_for(function_name: str, event: str) -> str:
    """``<function>-<EventName>``; shortened with a hash of the whole when over 64 characters."""
    name = f"{function_name}-{event}"
    if len(name) <= 64:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:55]}-{digest}"


def read_triggers(function_name: str, events: dict[str, dict[str, Any]]) -> Triggers:
    """The mappings and schedules a function's (resolved) events make; other event types are skipped."""
    out = Triggers()
    for event, doc in events.items():
        kind, props = doc["Type"], doc.get("Properties") or {}
        try:
            if kind == "SQS":
                spec: MappingSpec | StreamMappingSpec = _mapping(event, _known(props, _SQS, out.notes, event))
                out.mappings.append(dataclasses.replace(spec, filter_criteria=_filter_criteria(props)))
            elif kind in ("Kinesis", "DynamoDB"):
                spec = _stream_mapping(event, _known(props, _KINESIS, out.notes, event), table=kind == "DynamoDB")
                out.mappings.append(dataclasses.replace(spec, filter_criteria=_filter_criteria(props)))
            elif kind in ("Schedule", "ScheduleV2"):
                allowed = _SCHEDULE if kind == "Schedule" else _SCHEDULE_V2
                out.schedules.append(_schedule(kind, function_name, event, _known(props, allowed, out.notes, event)))
        except (IntrinsicError, CumuloError) as exc:
            raise IntrinsicError(f"event {event}: {exc.message}") from None
    names = [s.name for s in out.schedules]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise IntrinsicError(f"schedule name '{duplicate}' is used by more than one event")
    return out


def _known(props: dict[str, Any], allowed: set[str], notes: list[str], event: str) -> dict[str, Any]:
    for key in props:
        if key not in allowed:
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
        if key in _NOTED:
            notes.append(f"event {event}: {key} ignored: {_NOTED[key]}")
    return props


def _filter_criteria(props: dict[str, Any]) -> str:
    """An event's FilterCriteria checked as CreateEventSourceMapping checks it, as JSON text ("": none)."""
    criteria = props.get("FilterCriteria")
    if not criteria:
        return ""
    filters = criteria.get("Filters") if isinstance(criteria, dict) else None
    if not isinstance(filters, list) or len(filters) > 5 or \
            not all(isinstance(f, dict) and isinstance(f.get("Pattern"), str) for f in filters):
        raise IntrinsicError("property FilterCriteria: must be a map with Filters, a list of at most 5 maps with "
                             "Pattern (an event pattern's JSON text)")
    from cumulo.events.pattern import compile_pattern
    for f in filters:
        try:
            compile_pattern(f["Pattern"])
        except CumuloError as err:
            raise IntrinsicError(f"property FilterCriteria: invalid filter pattern: {err.message}") from None
    return json.dumps({"Filters": [{"Pattern": f["Pattern"]} for f in filters]}, sort_keys=True)


def _integer(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise IntrinsicError(f"property {what}: must be an integer from {lo} to {hi}, got {value!r}")
    return value


def _boolean(value: Any, what: str) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise IntrinsicError(f"property {what}: must be true or false, got {value!r}")
    return value


def _mapping(event: str, props: dict[str, Any]) -> MappingSpec:
    queue = props.get("Queue")
    if not isinstance(queue, str) or not queue.startswith("arn:") or ":sqs:" not in queue:
        raise IntrinsicError(f"property Queue: must be a queue ARN (e.g. !GetAtt MyQueue.Arn), got {queue!r}")
    size = _integer(props.get("BatchSize", 10), "BatchSize", 1, 10_000)
    window = _integer(props.get("MaximumBatchingWindowInSeconds", 0), "MaximumBatchingWindowInSeconds", 0, 300)
    if size > 10 and window < 1:
        raise IntrinsicError("property BatchSize: over 10 needs a MaximumBatchingWindowInSeconds of at least 1")
    types = props.get("FunctionResponseTypes", [])
    if not isinstance(types, list) or set(types) - {"ReportBatchItemFailures"}:
        raise IntrinsicError("property FunctionResponseTypes: must be a list of ReportBatchItemFailures")
    scaling = props.get("ScalingConfig", {})
    if not isinstance(scaling, dict) or set(scaling) - {"MaximumConcurrency"}:
        raise IntrinsicError("property ScalingConfig: must be a map with MaximumConcurrency")
    concurrency = scaling.get("MaximumConcurrency")
    return MappingSpec(event, queue, size, window, tuple(types),
                       None if concurrency is None else _integer(concurrency, "ScalingConfig.MaximumConcurrency", 2,
                                                                 1000),
                       _boolean(props.get("Enabled", True), "Enabled"))


def _stream_mapping(event: str, props: dict[str, Any], table: bool = False) -> StreamMappingSpec:
    stream = props.get("Stream")
    if table:
        if not isinstance(stream, str) or not is_table_stream(stream):
            raise IntrinsicError(f"property Stream: must be a table's stream ARN (e.g. !GetAtt MyTable.StreamArn), "
                                 f"got {stream!r}")
        if props.get("StartingPosition") == "AT_TIMESTAMP":
            raise IntrinsicError("property StartingPosition: must be TRIM_HORIZON or LATEST for a DynamoDB stream")
    elif not isinstance(stream, str) or not stream.startswith("arn:") or ":kinesis:" not in stream \
            or ":stream/" not in stream:
        raise IntrinsicError(f"property Stream: must be a Kinesis stream ARN (e.g. !GetAtt MyStream.Arn), "
                             f"got {stream!r}")
    # A stream consumer's ARN (enhanced fan-out): Cumulo registers no consumers; the mapping reads the stream itself.
    stream = stream.split("/consumer/", 1)[0]
    position = props.get("StartingPosition")
    if position is None:
        raise IntrinsicError("property StartingPosition is required (TRIM_HORIZON, LATEST or AT_TIMESTAMP)")
    if position not in _STARTING_POSITIONS:
        raise IntrinsicError(f"property StartingPosition: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, "
                             f"got {position!r}")
    stamp = props.get("StartingPositionTimestamp")
    if stamp is not None:
        if isinstance(stamp, str):
            try:
                stamp = float(stamp)
            except ValueError:
                pass
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or stamp < 0:
            raise IntrinsicError(f"property StartingPositionTimestamp: must be a time in Unix seconds, got {stamp!r}")
        if position != "AT_TIMESTAMP":
            raise IntrinsicError("property StartingPositionTimestamp: only goes with StartingPosition AT_TIMESTAMP")
        stamp = float(stamp)
    elif position == "AT_TIMESTAMP":
        raise IntrinsicError("property StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP")
    if props.get("TumblingWindowInSeconds"):
        raise IntrinsicError("property TumblingWindowInSeconds: tumbling windows are not supported by Cumulo yet")
    types = props.get("FunctionResponseTypes", [])
    if not isinstance(types, list) or set(types) - {"ReportBatchItemFailures"}:
        raise IntrinsicError("property FunctionResponseTypes: must be a list of ReportBatchItemFailures")
    return StreamMappingSpec(
        event, stream, str(position), stamp,
        _integer(props.get("BatchSize", 100), "BatchSize", 1, 10_000),
        _integer(props.get("MaximumBatchingWindowInSeconds", 0), "MaximumBatchingWindowInSeconds", 0, 300),
        _boolean(props.get("Enabled", True), "Enabled"),
        _integer(props.get("ParallelizationFactor", 1), "ParallelizationFactor", 1, 10),
        _minus_one_or(props.get("MaximumRetryAttempts", -1), "MaximumRetryAttempts", 0, 10_000),
        _minus_one_or(props.get("MaximumRecordAgeInSeconds", -1), "MaximumRecordAgeInSeconds", 60, 604_800),
        _boolean(props.get("BisectBatchOnFunctionError", False), "BisectBatchOnFunctionError"),
        _on_failure(props.get("DestinationConfig")), tuple(types))


def _minus_one_or(value: Any, what: str, lo: int, hi: int) -> int:
    """-1 (no limit) or an integer from ``lo`` to ``hi``."""
    if value in (-1, "-1"):
        return -1
    try:
        return _integer(value, what, lo, hi)
    except IntrinsicError:
        raise IntrinsicError(f"property {what}: must be -1 or an integer from {lo} to {hi}, got {value!r}") from None


def _on_failure(value: Any) -> str:
    """A stream mapping's ``DestinationConfig: {OnFailure: {Type: SQS, Destination}}`` -> the queue ARN."""
    if value is None:
        return ""
    if not isinstance(value, dict) or set(value) - {"OnFailure"}:
        raise IntrinsicError("property DestinationConfig: must be a map with OnFailure")
    failure = value.get("OnFailure")
    if failure is None:
        return ""
    if not isinstance(failure, dict) or set(failure) - {"Type", "Destination"}:
        raise IntrinsicError("property DestinationConfig.OnFailure: must be a map with Type and Destination")
    kind, arn = failure.get("Type", "SQS"), failure.get("Destination")
    if kind != "SQS":
        raise IntrinsicError(f"property DestinationConfig.OnFailure.Type: Cumulo sends stream failure records to "
                             f"SQS queues only, got {kind!r}")
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":sqs:" not in arn:
        raise IntrinsicError(f"property DestinationConfig.OnFailure.Destination: must be a queue ARN "
                             f"(e.g. !GetAtt Failures.Arn), got {arn!r}")
    return arn


# What a declared schedule may target besides a function: EventBridge Scheduler's templated targets Cumulo has.
SCHEDULE_TARGET_KINDS = frozenset({Kind.QUEUE, Kind.STATE_MACHINE, Kind.TOPIC, Kind.BUS})


def read_scheduler_schedule(logical_id: str, name: str, props: dict[str, Any]) -> tuple[ScheduleSpec, str, list[str]]:
    """An ``AWS::Scheduler::Schedule``'s properties: its schedule, its target's ARN, and notes (what was ignored)."""
    allowed = {"Name", "GroupName", "ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target",
               "State", "Description", "StartDate", "EndDate", "KmsKeyArn", "ActionAfterCompletion"}
    unknown = sorted(set(props) - allowed)
    if unknown:
        raise IntrinsicError(f"unknown or unsupported property '{unknown[0]}'")
    if "FlexibleTimeWindow" not in props:
        raise IntrinsicError("property FlexibleTimeWindow is required ({Mode: OFF} or {Mode: FLEXIBLE, "
                             "MaximumWindowInMinutes: N})")
    target = props.get("Target")
    if not isinstance(target, dict) or not isinstance(target.get("Arn"), str):
        raise IntrinsicError("property Target: must be a map with Arn")
    arn = str(target["Arn"])
    if not (re.fullmatch(r"arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+(:[\w$-]+)?", arn)
            or Target.parse(arn).kind in SCHEDULE_TARGET_KINDS):
        raise IntrinsicError(f"property Target.Arn: Cumulo's schedules invoke functions and send to queues, state "
                             f"machines, topics and event buses (templated targets), and {arn!r} is none of them "
                             "(universal targets, arn:aws:scheduler:::aws-sdk:..., are not supported)")
    notes = [f"{key} ignored: {_NOTED[key]}" for key in ("Description", "StartDate", "EndDate", "KmsKeyArn")
             if key in props and key in _NOTED]
    if props.get("GroupName", "default") != "default":
        notes.append("GroupName ignored: every schedule is in the default group")
    notes += [f"Target.{key} ignored: " + (_NO_ROLE if key == "RoleArn" else _NOTED.get(key, "not used"))
              for key in target if key not in ("Arn", "Input")]
    spec = _schedule("ScheduleV2", "", logical_id, {**{k: v for k, v in props.items() if k in (
        "ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "State")}, "Name": name,
        **({"Input": target["Input"]} if "Input" in target else {})},
        text_input=Target.parse(arn).kind in (Kind.QUEUE, Kind.TOPIC))
    return spec, arn, notes


def _schedule(kind: str, function_name: str, event: str, props: dict[str, Any], text_input: bool = False) -> ScheduleSpec:
    """``text_input``: the target takes any text (a queue's message body, a topic's message), not only JSON."""
    key = "Schedule" if kind == "Schedule" else "ScheduleExpression"
    expression = props.get(key)
    if not isinstance(expression, str):
        raise IntrinsicError(f"property {key} is required (rate(...), cron(...) or at(...))")
    cron.parse(expression)
    timezone = props.get("ScheduleExpressionTimezone")
    if timezone is not None:
        cron.zone(str(timezone))
    name = props.get("Name")
    if name is not None and (not isinstance(name, str) or not _SCHEDULE_NAME_RE.fullmatch(name)):
        raise IntrinsicError(f"property Name: schedule names are 1 to 64 letters, digits, '.', '-' or '_', "
                             f"got {name!r}")
    return ScheduleSpec(event, name or schedule_name_for(function_name, event), expression,
                        None if timezone is None else str(timezone), _input(props.get("Input"), text_input), _state(props),
                        _window(props.get("FlexibleTimeWindow")))


def _input(value: Any, text: bool = False) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntrinsicError("property Input: must be a JSON text (a string)")
    if text:
        return value
    try:
        json.loads(value)
    except ValueError:
        raise IntrinsicError("property Input: must be valid JSON") from None
    return value


def _state(props: dict[str, Any]) -> str:
    if "State" in props:
        state = props["State"]
        if state not in ("ENABLED", "DISABLED"):
            raise IntrinsicError(f"property State: must be ENABLED or DISABLED, got {state!r}")
        return str(state)
    return "ENABLED" if _boolean(props.get("Enabled", True), "Enabled") else "DISABLED"


def _window(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("Mode") not in ("OFF", "FLEXIBLE"):
        raise IntrinsicError("property FlexibleTimeWindow: must be a map with Mode OFF or FLEXIBLE")
    if value["Mode"] == "OFF":
        return None
    return _integer(value.get("MaximumWindowInMinutes"), "FlexibleTimeWindow.MaximumWindowInMinutes", 1, 1440)


# --- where failed asynchronous events go ------------------------------------------------------

def read_dead_letter_queue(value: Any) -> str:
    """``DeadLetterQueue: {Type: SQS|SNS, TargetArn}`` -> the target ARN."""
    if not isinstance(value, dict) or set(value) != {"Type", "TargetArn"}:
        raise IntrinsicError("must be a map with Type (SQS or SNS) and TargetArn")
    if value["Type"] not in ("SQS", "SNS"):
        raise IntrinsicError(f"Type must be SQS or SNS, got {value['Type']!r}")
    arn = value["TargetArn"]
    if not isinstance(arn, str) or f":{value['Type'].lower()}:" not in arn:
        raise IntrinsicError(f"TargetArn must be the ARN of an {value['Type']} resource, got {arn!r}")
    return validate_dead_letter_arn(arn)


def read_event_invoke_config(value: Any) -> EventInvokeSpec:
    if not isinstance(value, dict) or set(value) - {"MaximumEventAgeInSeconds", "MaximumRetryAttempts",
                                                    "DestinationConfig"}:
        raise IntrinsicError("must be a map of MaximumEventAgeInSeconds, MaximumRetryAttempts and DestinationConfig")
    age, retries = value.get("MaximumEventAgeInSeconds"), value.get("MaximumRetryAttempts")
    destinations = value.get("DestinationConfig", {})
    if not isinstance(destinations, dict) or set(destinations) - {"OnSuccess", "OnFailure"}:
        raise IntrinsicError("DestinationConfig must be a map of OnSuccess and OnFailure")
    return EventInvokeSpec(None if retries is None else _integer(retries, "MaximumRetryAttempts", 0, 2),
                           None if age is None else _integer(age, "MaximumEventAgeInSeconds", 60, 21_600),
                           _destination(destinations.get("OnSuccess"), "OnSuccess"),
                           _destination(destinations.get("OnFailure"), "OnFailure"))


def _destination(value: Any, what: str) -> str:
    if value is None:
        return ""
    where = f"DestinationConfig.{what}"
    if not isinstance(value, dict) or set(value) - {"Type", "Destination"}:
        raise IntrinsicError(f"{where} must be a map with Type and Destination")
    kind, arn = value.get("Type"), value.get("Destination")
    if kind not in _DESTINATION_TYPES:
        raise IntrinsicError(f"{where}.Type must be one of {', '.join(_DESTINATION_TYPES)}, got {kind!r}")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise IntrinsicError(f"{where}.Destination is required and must be an ARN (Cumulo does not create a "
                             f"destination {kind} for you), got {arn!r}")
    if kind == "S3" and what == "OnSuccess":
        raise IntrinsicError(f"{where}: S3 buckets are only supported as OnFailure destinations")
    return arn
