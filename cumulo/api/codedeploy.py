"""The part of CodeDeploy's API that gradual
deployments of aliases need (cumulo/functions/deployments.py): hook functions report with
``PutLifecycleEventHookExecutionStatus``; ``GetDeployment`` and ``ListDeployments`` tell how deployments stand. In both protocols botocore's model names: JSON 1.1
(``CodeDeploy_20141006.<Operation>``) and Smithy RPC v2 CBOR, which today's boto3 speaks."""

from __future__ import annotations

from typing import Any

from cumulo.api import awsjson, rpcv2
from cumulo.api.awsjson import Service
from cumulo.api.cbor import Timestamp
from cumulo.api.http import Request

__all__ = ["SERVICE"]


def put_lifecycle_event_hook_execution_status(c: Any, r: Request, d: dict[str, Any]) -> Any:
    execution_id = c.deployments.put_hook_status(d.get("deploymentId"), d.get("lifecycleEventHookExecutionId"),
                                                 d.get("status"))
    return {"lifecycleEventHookExecutionId": execution_id}


def list_deployments(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"deployments": c.deployments.list_ids(d.get("applicationName"), d.get("deploymentGroupName"),
                                                  d.get("includeOnlyStatuses"))}


def get_deployment(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"deploymentInfo": c.deployments.get(d.get("deploymentId"))}


def _group(c: Any, d: dict[str, Any]) -> dict[str, str]:
    """The deployment's ``application/group``, for the authorization mapping (api/authz/codedeploy.py)."""
    group = c.deployments.group_of(d.get("deploymentId"))
    return {"deploymentGroup": group} if group else {}


SERVICE = Service("CodeDeploy_20141006", "com.amazonaws.codedeploy", "application/x-amz-json-1.1", {
    "PutLifecycleEventHookExecutionStatus": put_lifecycle_event_hook_execution_status,
    "GetDeployment": get_deployment,
    "ListDeployments": list_deployments,
}, model="codedeploy", resources=_group)


def _cbor(doc: Any) -> Any:
    """The deployment's times as CBOR timestamps."""
    info = doc.get("deploymentInfo") if isinstance(doc, dict) else None
    if isinstance(info, dict):
        stamped = {k: Timestamp(float(v)) if k in ("createTime", "completeTime") else v for k, v in info.items()}
        return {**doc, "deploymentInfo": stamped}
    return doc


awsjson.register(SERVICE)
rpcv2.register(SERVICE, _cbor)
