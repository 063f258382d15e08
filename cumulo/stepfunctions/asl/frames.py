"""The interpreter's persistent pieces: a frame of control, task tokens, retry delays, commands as JSON."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from cumulo.stepfunctions.asl.interfaces import ExecutionContext, InvokeTask
from cumulo.stepfunctions.asl.jsonata import iso_timestamp
from cumulo.stepfunctions.asl.model import Retrier
from cumulo.stepfunctions.asl.resources import classify

__all__ = ["Frame", "context_object", "retry_delay", "encode_task_token", "decode_task_token", "command_to_json", "command_from_json"]

Json = Any


def retry_delay(retrier: Retrier, attempt: int, draw: float) -> float:
    """Seconds before retry number ``attempt`` (1-based): interval × rate^(attempt-1), capped at
    MaxDelaySeconds, and with JitterStrategy FULL a uniform draw in [0, that)."""
    delay = retrier.interval_seconds * retrier.backoff_rate ** (attempt - 1)
    if retrier.max_delay_seconds is not None:
        delay = min(delay, float(retrier.max_delay_seconds))
    return delay * draw if retrier.jitter_strategy == "FULL" else delay


def encode_task_token(execution_arn: str, task_id: str, nonce: str) -> str:
    """An opaque token naming the execution and task; ``nonce`` (from the execution's entropy) makes
    it unguessable."""
    raw = json.dumps({"e": execution_arn, "t": task_id, "n": nonce})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_task_token(token: str) -> tuple[str, str]:
    """(execution ARN, task id) a task token stands for; raises ValueError for a foreign token."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        return str(data["e"]), str(data["t"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a task token") from exc


@dataclass
class Frame:
    id: str
    graph: list[list[Any]]          # [[state name, branch index], ...] from the top machine
    parent: str | None
    slot: int
    variables: dict[str, Json]
    state: str = ""
    input: Json = None
    entered_event: int = 0
    entered_time: float = 0.0
    last_event: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    retry_count: int = 0
    work: dict[str, Json] | None = None
    done: str = ""                   # "", "succeeded", "failed"
    output: Json = None
    error: str | None = None
    cause: str | None = None
    size: int = 0                    # bytes of the input's JSON text (what the frame holds, for the bounds)
    output_size: int = 0             # bytes of the output's JSON text once done
    assigned: dict[str, int] = field(default_factory=dict)   # bytes of each variable this frame assigned
    # a Parallel/Map state that failed for good: its branches' or iterations' outputs that had
    # succeeded, by index (what a redrive keeps: only the others run again); the next start consumes it
    partial: dict[str, Json] | None = None


def command_to_json(command: InvokeTask) -> dict[str, Json]:
    return {"task_id": command.task_id, "resource": command.resource.arn, "parameters": command.parameters,
            "state_name": command.state_name, "timeout_seconds": command.timeout_seconds,
            "heartbeat_seconds": command.heartbeat_seconds, "task_token": command.task_token}


def command_from_json(data: Mapping[str, Json]) -> InvokeTask:
    resource = classify(data["resource"])
    assert resource is not None
    return InvokeTask(data["task_id"], resource, data["parameters"], data["state_name"], data["timeout_seconds"],
                      data["heartbeat_seconds"], data["task_token"])


def context_object(context: ExecutionContext, execution_input: Json, start_time: float, state_name: str,
                   entered_time: float, retry_count: int) -> dict[str, Json]:
    """The context object (``$$`` / ``$states.context``) one state sees."""
    return {
        "Execution": {"Id": context.execution_arn, "Input": execution_input, "Name": context.name,
                      "RoleArn": context.role_arn, "StartTime": iso_timestamp(start_time),
                      "RedriveCount": context.redrive_count},
        "State": {"EnteredTime": iso_timestamp(entered_time), "Name": state_name, "RetryCount": retry_count},
        "StateMachine": {"Id": context.state_machine_arn, "Name": context.state_machine_name},
    }
