"""CloudFormation's stack operations as IAM sees them (Service Authorization Reference, "AWS
CloudFormation"): an operation naming a stack acts on ``stack/<name>/*`` (its name, or the stack id a
request may give instead); DescribeStacks without a name and ListStacks have no resource (``*``)."""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS"]


def stack_arn(call: Call, scope: Scope) -> str:
    name = text(call.doc.get("StackName"))
    if name.startswith("arn:"):
        return name
    return scope.arn("cloudformation", f"stack/{name or '*'}/*")


def on_stack(action: str, optional: bool = False) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        if optional and not text(call.doc.get("StackName")):
            return (Check(action, "*"),)
        return (Check(action, stack_arn(call, scope)),)
    return mapper


OPERATIONS: dict[str, Mapper] = {
    "DescribeStacks": on_stack("cloudformation:DescribeStacks", optional=True),
    "ListStacks": anywhere("cloudformation:ListStacks"),
    "DescribeStackResources": on_stack("cloudformation:DescribeStackResources"),
    "DescribeStackResource": on_stack("cloudformation:DescribeStackResource"),
    "ListStackResources": on_stack("cloudformation:ListStackResources"),
    "GetTemplate": on_stack("cloudformation:GetTemplate"),
    "DescribeStackEvents": on_stack("cloudformation:DescribeStackEvents"),
    "DeleteStack": on_stack("cloudformation:DeleteStack"),
}

register("cloudformation", OPERATIONS)
