"""Parameter Store's operations as IAM sees them (Service Authorization Reference, "AWS Systems
Manager"): an operation on a parameter acts on ``arn:…:ssm:<region>:<account>:parameter/<name>``
(the name without its leading ``/`` and without a ``:version``/``:label`` selector);
GetParameters and DeleteParameters on each parameter they name; GetParametersByPath on the path's
ARN; DescribeParameters on ``*``; the tag operations on the parameter ``ResourceId`` names.
"""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS", "parameter_arn"]


def parameter_arn(ref: str, scope: Scope) -> str:
    if ref.startswith("arn:"):
        return ref.rsplit(":", 1)[0] if ref.count(":") > 5 else ref
    if not ref:
        return "*"
    name = ref.rsplit(":", 1)[0] if ":" in ref else ref
    return scope.arn("ssm", f"parameter/{name.lstrip('/')}")


def on_parameter(action: str, member: str = "Name") -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, parameter_arn(text(call.doc.get(member)), scope)),)
    return mapper


def on_each(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        names = call.doc.get("Names")
        if not isinstance(names, list) or not names:
            return (Check(action, "*"),)
        return tuple(dict.fromkeys(Check(action, parameter_arn(text(n), scope)) for n in names))
    return mapper


def by_path(call: Call, scope: Scope) -> tuple[Check, ...]:
    path = text(call.doc.get("Path")).rstrip("/")
    return (Check("ssm:GetParametersByPath", scope.arn("ssm", f"parameter/{path.lstrip('/')}") if path else
                  scope.arn("ssm", "parameter/")),)


OPERATIONS: dict[str, Mapper] = {
    "PutParameter": on_parameter("ssm:PutParameter"),
    "GetParameter": on_parameter("ssm:GetParameter"),
    "GetParameters": on_each("ssm:GetParameters"),
    "GetParametersByPath": by_path,
    "DeleteParameter": on_parameter("ssm:DeleteParameter"),
    "DeleteParameters": on_each("ssm:DeleteParameters"),
    "DescribeParameters": anywhere("ssm:DescribeParameters"),
    "GetParameterHistory": on_parameter("ssm:GetParameterHistory"),
    "LabelParameterVersion": on_parameter("ssm:LabelParameterVersion"),
    "UnlabelParameterVersion": on_parameter("ssm:UnlabelParameterVersion"),
    "AddTagsToResource": on_parameter("ssm:AddTagsToResource", "ResourceId"),
    "RemoveTagsFromResource": on_parameter("ssm:RemoveTagsFromResource", "ResourceId"),
    "ListTagsForResource": on_parameter("ssm:ListTagsForResource", "ResourceId"),
}

register("ssm", OPERATIONS)
