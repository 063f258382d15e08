"""Step Functions' operations as IAM sees them (Service Authorization Reference, "AWS Step
Functions"): state machines are ``stateMachine:<name>``, executions ``execution:<machine>:<name>``
(``express:…`` for Express ones); ``CreateStateMachine`` and an update with a ``roleArn`` also need
``iam:PassRole``; listing machines, validating a definition and the task-token callbacks have no
resource (``*``)."""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS"]


def _pass_role(role: str) -> tuple[Check, ...]:
    return (Check("iam:PassRole", role, {"iam:PassedToService": "states.amazonaws.com"}),) if role else ()


def _arn(call: Call, member: str) -> str:
    arn = text(call.doc.get(member))
    return arn if arn.startswith("arn:") else "*"


def on(action: str, member: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, _arn(call, member)),)
    return mapper


def create(call: Call, scope: Scope) -> tuple[Check, ...]:
    arn = scope.arn("states", f"stateMachine:{text(call.doc.get('name')) or '*'}")
    return (Check("states:CreateStateMachine", arn), *_pass_role(text(call.doc.get("roleArn"))))


def update(call: Call, scope: Scope) -> tuple[Check, ...]:
    return (Check("states:UpdateStateMachine", _arn(call, "stateMachineArn")),
            *_pass_role(text(call.doc.get("roleArn"))))


OPERATIONS: dict[str, Mapper] = {
    "CreateStateMachine": create,
    "DescribeStateMachine": on("states:DescribeStateMachine", "stateMachineArn"),
    "UpdateStateMachine": update,
    "ListStateMachines": anywhere("states:ListStateMachines"),
    "DeleteStateMachine": on("states:DeleteStateMachine", "stateMachineArn"),
    "StartExecution": on("states:StartExecution", "stateMachineArn"),
    "StartSyncExecution": on("states:StartSyncExecution", "stateMachineArn"),
    "DescribeExecution": on("states:DescribeExecution", "executionArn"),
    "StopExecution": on("states:StopExecution", "executionArn"),
    "RedriveExecution": on("states:RedriveExecution", "executionArn"),
    "ListExecutions": on("states:ListExecutions", "stateMachineArn"),
    "GetExecutionHistory": on("states:GetExecutionHistory", "executionArn"),
    "SendTaskSuccess": anywhere("states:SendTaskSuccess"),
    "SendTaskFailure": anywhere("states:SendTaskFailure"),
    "SendTaskHeartbeat": anywhere("states:SendTaskHeartbeat"),
    "ValidateStateMachineDefinition": anywhere("states:ValidateStateMachineDefinition"),
}

register("stepfunctions", OPERATIONS)
