"""The Step Functions JSON protocol (``AWSStepFunctions.<Operation>``) for boto3's ``stepfunctions`` client."""

from __future__ import annotations

from cumulo.api.awsjson import Service, page, register

__all__ = ["SERVICE"]


OPERATIONS = {
    "CreateStateMachine": lambda c, r, d: c.state_machines.create_state_machine(
        d.get("name"), d.get("definition"), d.get("roleArn"), d.get("type"), d.get("loggingConfiguration"),
        d.get("tags")),
    "DescribeStateMachine": lambda c, r, d: c.state_machines.describe_state_machine(d.get("stateMachineArn")),
    "UpdateStateMachine": lambda c, r, d: c.state_machines.update_state_machine(
        d.get("stateMachineArn"), d.get("definition"), d.get("roleArn")),
    "ListStateMachines": lambda c, r, d: page(c.state_machines.list_state_machines(), "stateMachines", d,
                                              "nextToken", "maxResults"),
    "DeleteStateMachine": lambda c, r, d: c.state_machines.delete_state_machine(d.get("stateMachineArn")),
    "StartExecution": lambda c, r, d: c.state_machines.start_execution(
        d.get("stateMachineArn"), d.get("name"), d.get("input")),
    "StartSyncExecution": lambda c, r, d: c.state_machines.start_sync_execution(
        d.get("stateMachineArn"), d.get("name"), d.get("input")),
    "DescribeExecution": lambda c, r, d: c.state_machines.describe_execution(d.get("executionArn")),
    "StopExecution": lambda c, r, d: c.state_machines.stop_execution(
        d.get("executionArn"), d.get("error"), d.get("cause")),
    "ListExecutions": lambda c, r, d: page(c.state_machines.list_executions(
        d.get("stateMachineArn"), d.get("statusFilter")), "executions", d, "nextToken", "maxResults"),
    "GetExecutionHistory": lambda c, r, d: c.state_machines.get_execution_history(
        d.get("executionArn"), d.get("maxResults"), bool(d.get("reverseOrder")), d.get("nextToken"),
        d.get("includeExecutionData", True)),
    "SendTaskSuccess": lambda c, r, d: c.state_machines.send_task_success(d.get("taskToken"), d.get("output")),
    "SendTaskFailure": lambda c, r, d: c.state_machines.send_task_failure(
        d.get("taskToken"), d.get("error"), d.get("cause")),
    "SendTaskHeartbeat": lambda c, r, d: c.state_machines.send_task_heartbeat(d.get("taskToken")),
    "ValidateStateMachineDefinition": lambda c, r, d: c.state_machines.validate(d.get("definition")),
}

SERVICE = Service("AWSStepFunctions", "com.amazonaws.swf.service.v2.model", "application/x-amz-json-1.0", OPERATIONS)
register(SERVICE)
