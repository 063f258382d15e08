"""CodeDeploy's operations Cumulo serves, as IAM sees them (Service Authorization Reference, "AWS
CodeDeploy"): PutLifecycleEventHookExecutionStatus and GetDeployment act on the deployment's group,
``arn:…:codedeploy:<region>:<account>:deploymentgroup:<application>/<group>``. The request names only
the deployment's id: the service gives its group (``params["deploymentGroup"]``, ``application/group``;
absent for a deployment it does not know, then ``*``). ListDeployments acts on the group it names.
"""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, register

__all__ = ["OPERATIONS"]


def on_group(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        group = call.params.get("deploymentGroup")
        return (Check(action, scope.arn("codedeploy", f"deploymentgroup:{group}") if group else "*"),)
    return mapper


def listing(call: Call, scope: Scope) -> tuple[Check, ...]:
    app, group = call.doc.get("applicationName"), call.doc.get("deploymentGroupName")
    if isinstance(app, str) and isinstance(group, str):
        return (Check("codedeploy:ListDeployments", scope.arn("codedeploy", f"deploymentgroup:{app}/{group}")),)
    return (Check("codedeploy:ListDeployments", "*"),)


OPERATIONS: dict[str, Mapper] = {
    "PutLifecycleEventHookExecutionStatus": on_group("codedeploy:PutLifecycleEventHookExecutionStatus"),
    "GetDeployment": on_group("codedeploy:GetDeployment"),
    "ListDeployments": listing,
}

register("codedeploy", OPERATIONS)
