"""The details of GetExecutionHistory events, by integration (AWS's event types and members).

A plain Lambda ARN reports ``LambdaFunction*`` events, an activity ``Activity*`` events, every
``arn:aws:states:::`` integration ``Task*`` events with its ``resourceType``/``resource``.
"""

from __future__ import annotations

from typing import Any

from cumulo.stepfunctions.asl.paths import dumps
from cumulo.stepfunctions.asl.resources import Integration, Resource

__all__ = ["task_event", "text_details", "without_none"]

Json = Any

_FAMILY = {Integration.LAMBDA_FUNCTION: "LambdaFunction", Integration.ACTIVITY: "Activity"}


def without_none(details: dict[str, Json]) -> dict[str, Json]:
    return {k: v for k, v in details.items() if v is not None}


def text_details(member: str, value: Json, text: str | None = None) -> dict[str, Json]:
    """``{"input": "<json>", "inputDetails": {"truncated": false}}`` and the like; ``text`` is
    ``dumps(value)`` when the caller has it already."""
    return {member: dumps(value) if text is None else text, f"{member}Details": {"truncated": False}}


def task_event(resource: Resource, phase: str, *, region: str, parameters: Json = None, output: Json = None,
               error: str | None = None, cause: str | None = None, timeout: int | None = None,
               heartbeat: int | None = None) -> tuple[str, dict[str, Json] | None]:
    """(event type, details) of one phase: Scheduled, Started, Succeeded, Failed, TimedOut."""
    family = _FAMILY.get(resource.integration, "Task")
    kind = family + phase
    if family == "Task":
        base: dict[str, Json] = {"resourceType": resource.resource_type, "resource": resource.resource_name}
        if phase == "Scheduled":
            return kind, without_none({**base, "region": region, "parameters": dumps(parameters),
                                       "timeoutInSeconds": timeout, "heartbeatInSeconds": heartbeat})
        if phase == "Started":
            return kind, base
        if phase == "Succeeded":
            return kind, {**base, **text_details("output", output)}
        return kind, without_none({**base, "error": error, "cause": cause})
    if phase == "Scheduled":
        details = {"resource": resource.arn, **text_details("input", parameters), "timeoutInSeconds": timeout}
        if family == "Activity":
            details["heartbeatInSeconds"] = heartbeat
        return kind, without_none(details)
    if phase == "Started":
        return kind, ({"workerName": "cumulo"} if family == "Activity" else None)
    if phase == "Succeeded":
        return kind, text_details("output", output)
    return kind, without_none({"error": error, "cause": cause})
