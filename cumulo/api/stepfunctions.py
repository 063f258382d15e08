"""The Step Functions JSON protocol (``AWSStepFunctions.<Operation>``) for boto3's ``stepfunctions`` client."""

from __future__ import annotations

import re
from typing import Any

from cumulo.api.awsjson import InvalidToken, Service, page, register
from cumulo.stepfunctions.service import SfnError

__all__ = ["SERVICE"]

_EVENT_ID = re.compile(r"[0-9]{1,18}")


def _history_token(d: dict[str, Any]) -> str | None:
    """GetExecutionHistory's nextToken: the id of the last event of the page before, as given."""
    token = d.get("nextToken")
    if token and _EVENT_ID.fullmatch(token) is None:
        raise InvalidToken(f"Invalid nextToken: {token[:64]!r} is not a token this service gave.")
    return token or None


def _role(d: dict[str, Any]) -> Any:
    """CreateStateMachine's roleArn, required (only Cumulo's own tools make machines without one)."""
    if d.get("roleArn") is None:
        raise SfnError("ValidationException", "1 validation error detected: Value null at 'roleArn' failed to "
                                              "satisfy constraint: Member must not be null")
    return d["roleArn"]


OPERATIONS = {
    "CreateStateMachine": lambda c, r, d: c.state_machines.create_state_machine(
        d.get("name"), d.get("definition"), _role(d), d.get("type"), d.get("loggingConfiguration"),
        d.get("tags"), d.get("tracingConfiguration")),
    "DescribeStateMachine": lambda c, r, d: c.state_machines.describe_state_machine(d.get("stateMachineArn")),
    "UpdateStateMachine": lambda c, r, d: c.state_machines.update_state_machine(
        d.get("stateMachineArn"), d.get("definition"), d.get("roleArn"), d.get("tracingConfiguration")),
    "ListStateMachines": lambda c, r, d: page(c.state_machines.list_state_machines(), "stateMachines", d,
                                              "nextToken", "maxResults", 1000, bad_token=InvalidToken),
    "DeleteStateMachine": lambda c, r, d: c.state_machines.delete_state_machine(d.get("stateMachineArn")),
    "StartExecution": lambda c, r, d: c.state_machines.start_execution(
        d.get("stateMachineArn"), d.get("name"), d.get("input"), trace_header=r.header("x-amzn-trace-id")),
    "StartSyncExecution": lambda c, r, d: c.state_machines.start_sync_execution(
        d.get("stateMachineArn"), d.get("name"), d.get("input")),
    "DescribeExecution": lambda c, r, d: c.state_machines.describe_execution(d.get("executionArn")),
    "StopExecution": lambda c, r, d: c.state_machines.stop_execution(
        d.get("executionArn"), d.get("error"), d.get("cause")),
    "RedriveExecution": lambda c, r, d: c.state_machines.redrive_execution(
        d.get("executionArn"), d.get("clientToken")),
    "ListExecutions": lambda c, r, d: c.state_machines.list_executions_page(
        d.get("stateMachineArn"), d.get("statusFilter"), d.get("redriveFilter"), d.get("maxResults"), d.get("nextToken")),
    "GetExecutionHistory": lambda c, r, d: c.state_machines.get_execution_history(
        d.get("executionArn"), d.get("maxResults"), bool(d.get("reverseOrder")), _history_token(d),
        d.get("includeExecutionData", True)),
    "SendTaskSuccess": lambda c, r, d: c.state_machines.send_task_success(d.get("taskToken"), d.get("output")),
    "SendTaskFailure": lambda c, r, d: c.state_machines.send_task_failure(
        d.get("taskToken"), d.get("error"), d.get("cause")),
    "SendTaskHeartbeat": lambda c, r, d: c.state_machines.send_task_heartbeat(d.get("taskToken")),
    "ValidateStateMachineDefinition": lambda c, r, d: c.state_machines.validate(d.get("definition")),
}

SERVICE = Service("AWSStepFunctions", "com.amazonaws.swf.service.v2.model", "application/x-amz-json-1.0", OPERATIONS,
                  model="stepfunctions")
register(SERVICE)
