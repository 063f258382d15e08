"""CloudFormation's stack operations as IAM sees them (Service Authorization Reference, "AWS
CloudFormation"): an operation naming a stack acts on ``stack/<name>/*`` (its name, or the stack id a
request may give instead); DescribeStacks without a name and ListStacks have no resource (``*``).

CreateStack, UpdateStack and ExecuteChangeSet make what the template says with the platform's own
rights, where AWS makes each resource with the caller's or with the stack's service role's
(``RoleARN``): a template may make roles with any policy, so no principal gets through a stack what
it could not give itself. Without a service role the caller must also be allowed ``iam:CreateRole``
on ``*``; with one (CreateStack, UpdateStack, CreateChangeSet) the caller must be allowed
``iam:PassRole`` on it, and the operation asks the same ``iam:CreateRole`` of the role itself
(``api/cloudformation.py``: the role must be one Cumulo keeps, trusting CloudFormation). An
ExecuteChangeSet's extra check depends on its change set's role, so the operation makes it."""

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


def with_iam(mapper: Mapper, required: bool = True) -> Mapper:
    """The stack action, then ``iam:PassRole`` on the service role the request names, or (when it
    names none and ``required``) ``iam:CreateRole``."""
    def both(call: Call, scope: Scope) -> tuple[Check, ...]:
        role = text(call.doc.get("RoleARN"))
        if role:
            return (*mapper(call, scope), Check("iam:PassRole", role,
                                                {"iam:PassedToService": "cloudformation.amazonaws.com"}))
        return (*mapper(call, scope), Check("iam:CreateRole", "*")) if required else mapper(call, scope)
    return both


OPERATIONS: dict[str, Mapper] = {
    "DescribeStacks": on_stack("cloudformation:DescribeStacks", optional=True),
    "ListStacks": anywhere("cloudformation:ListStacks"),
    "DescribeStackResources": on_stack("cloudformation:DescribeStackResources"),
    "DescribeStackResource": on_stack("cloudformation:DescribeStackResource"),
    "ListStackResources": on_stack("cloudformation:ListStackResources"),
    "GetTemplate": on_stack("cloudformation:GetTemplate"),
    "DescribeStackEvents": on_stack("cloudformation:DescribeStackEvents"),
    "DeleteStack": on_stack("cloudformation:DeleteStack"),
    "GetTemplateSummary": on_stack("cloudformation:GetTemplateSummary", optional=True),
    "CreateStack": with_iam(on_stack("cloudformation:CreateStack")),
    "UpdateStack": with_iam(on_stack("cloudformation:UpdateStack")),
    "CreateChangeSet": with_iam(on_stack("cloudformation:CreateChangeSet"), required=False),
    "DescribeChangeSet": on_stack("cloudformation:DescribeChangeSet", optional=True),
    "ExecuteChangeSet": on_stack("cloudformation:ExecuteChangeSet", optional=True),
    "DeleteChangeSet": on_stack("cloudformation:DeleteChangeSet", optional=True),
    "ListChangeSets": on_stack("cloudformation:ListChangeSets"),
}

register("cloudformation", OPERATIONS)
