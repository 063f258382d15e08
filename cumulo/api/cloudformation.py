"""CloudFormation's stack API on the control plane's endpoint (query protocol, ``api/query.py``), as boto3's
``cloudformation`` client and ``aws cloudformation`` speak it: DescribeStacks, ListStacks,
DescribeStackResources, DescribeStackResource, ListStackResources, GetTemplate, DescribeStackEvents and
DeleteStack over the stacks ``cumulo deploy`` made (``deploy/stacks.py``); CreateStack, UpdateStack and
change sets (Create/Describe/Execute/Delete/ListChangeSets) from a TemplateBody or TemplateURL (``deploy/change_sets.py``:
what ``aws cloudformation deploy`` uses). Any other CloudFormation operation is answered with the
protocol's ``InvalidAction`` error. Outputs that are execute-api URLs are
given as the gateway serving the store gives them."""

from __future__ import annotations

from typing import Any

from cumulo.api import authz, query
from cumulo.api.authorize import AccessDeniedException, Authorizer
from cumulo.api.http import Request
from cumulo.deploy import change_sets, stacks
from cumulo.errors import ValidationException

__all__ = ["SERVICE"]


def _name(p: dict[str, str], required: bool = True) -> str | None:
    name = p.get("StackName")
    if required and not name:
        raise ValidationException("1 validation error detected: Value null at 'stackName' failed to satisfy "
                                  "constraint: Member must not be null")
    return name or None


def describe_stacks(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Stacks": stacks.describe_stacks(c, _name(p, required=False))}


def list_stacks(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    statuses = [s for s in query.members(p, "StackStatusFilter") if isinstance(s, str)]
    return {"StackSummaries": stacks.list_stacks(c, statuses)}


def describe_stack_resources(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    if not p.get("StackName"):
        raise ValidationException("Either StackName or PhysicalResourceId must be specified.")
    return {"StackResources": stacks.describe_stack_resources(c, str(p["StackName"]), p.get("LogicalResourceId"))}


def describe_stack_resource(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    logical_id = p.get("LogicalResourceId")
    if not logical_id:
        raise ValidationException("1 validation error detected: Value null at 'logicalResourceId' failed to satisfy "
                                  "constraint: Member must not be null")
    return {"StackResourceDetail": stacks.describe_stack_resource(c, str(_name(p)), logical_id)}


def list_stack_resources(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"StackResourceSummaries": stacks.list_stack_resources(c, str(_name(p)))}


def get_template(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return stacks.get_template(c, str(_name(p)))


def describe_stack_events(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"StackEvents": stacks.describe_stack_events(c, str(_name(p)))}


def _parameters(p: dict[str, str]) -> dict[str, str]:
    out = {}
    for member in query.members(p, "Parameters"):
        if not isinstance(member, dict) or not member.get("ParameterKey"):
            raise ValidationException("Parameters: each needs a ParameterKey")
        if member.get("UsePreviousValue", "").lower() == "true":
            raise ValidationException(f"UsePreviousValue is not supported here; give {member['ParameterKey']}'s "
                                      "value again")
        out[member["ParameterKey"]] = member.get("ParameterValue", "")
    return out


def _tags(p: dict[str, str]) -> list[dict[str, str]] | None:
    """The stack's tags as given (None: not given), checked as CloudFormation checks them."""
    if not any(k == "Tags" or k.startswith("Tags.") for k in p):
        return None
    tags = []
    for member in query.members(p, "Tags"):
        key = member.get("Key", "") if isinstance(member, dict) else ""
        value = member.get("Value", "") if isinstance(member, dict) else ""
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise ValidationException("1 validation error detected: a tag's Key must be 1 to 128 characters and its "
                                      "Value at most 256")
        if key.lower().startswith("aws:"):
            raise ValidationException("Tag keys starting with 'aws:' are reserved for AWS use")
        tags.append({"Key": key, "Value": value})
    if len(tags) > 50:
        raise ValidationException("1 validation error detected: Value at 'tags' failed to satisfy constraint: "
                                  "Member must have length less than or equal to 50")
    return tags


def _capabilities(p: dict[str, str]) -> list[str]:
    return [m for m in query.members(p, "Capabilities") if isinstance(m, str)]


def _body(c: Any, p: dict[str, str]) -> str:
    if p.get("UsePreviousTemplate", "").lower() == "true":
        return str(stacks.get_template(c, str(_name(p)))["TemplateBody"])
    return change_sets.template_text(c, p.get("TemplateBody"), p.get("TemplateURL"))


def get_template_summary(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    if p.get("StackName") and not p.get("TemplateBody"):
        return change_sets.template_summary(c, stacks.get_template(c, str(p["StackName"]))["TemplateBody"])
    return change_sets.template_summary(c, _body(c, p))


def _may_make_roles(c: Any, r: Request, role: str) -> None:
    """What a stack operation that makes resources asks beyond its mapping (``authz/cloudformation``):
    the service role ``role``, when given, must be one Cumulo keeps that trusts CloudFormation (else
    AWS's ValidationError) and its policies must allow ``iam:CreateRole``; without one, a role
    session calling must be allowed ``iam:CreateRole`` itself."""
    if role:
        if not c.service_calls.assumable(role, "cloudformation.amazonaws.com"):
            raise ValidationException(f"Role {role} is invalid or cannot be assumed")
        refused = c.service_calls.refusal(role, "iam", "CreateRole", {"RoleName": "stack-role",
                                                                       "AssumeRolePolicyDocument": "{}"})
        if refused:
            raise AccessDeniedException(refused)
        return
    authorizer = Authorizer(c.settings.iam, authz.Scope(c.arns.account, c.arns.region), c, c)
    if r.principal is not None and authorizer.needed(r.principal):
        refused = authorizer.refusal(r.principal, "iam:CreateRole", "*", {}, r.client)
        if refused:
            raise AccessDeniedException(refused)


def create_stack(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    if p.get("RoleARN"):
        _may_make_roles(c, r, p["RoleARN"])
    return {"StackId": change_sets.create_stack(c, p.get("StackName"), _body(c, p), _parameters(p), _capabilities(p),
                                                _tags(p))}


def update_stack(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    if p.get("RoleARN"):
        _may_make_roles(c, r, p["RoleARN"])
    return {"StackId": change_sets.update_stack(c, p.get("StackName"), _body(c, p), _parameters(p), _capabilities(p),
                                                _tags(p))}


def create_change_set(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return change_sets.create_change_set(c, p.get("StackName"), p.get("ChangeSetName"), p.get("ChangeSetType"),
                                         _body(c, p), _parameters(p), _capabilities(p), p.get("Description", ""),
                                         _tags(p), p.get("RoleARN", ""))


def describe_change_set(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return change_sets.describe_change_set(c, p.get("ChangeSetName"), p.get("StackName"))


def execute_change_set(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    _may_make_roles(c, r, change_sets.change_set_role(c, p.get("ChangeSetName"), p.get("StackName")))
    change_sets.execute_change_set(c, p.get("ChangeSetName"), p.get("StackName"))
    return {}


def delete_change_set(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    change_sets.delete_change_set(c, p.get("ChangeSetName"), p.get("StackName"))
    return {}


def list_change_sets(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Summaries": change_sets.list_change_sets(c, p.get("StackName"))}


def delete_stack(c: Any, r: Request, p: dict[str, str]) -> None:
    from cumulo.deploy.engine import delete_stack as delete
    delete(c, stacks.stack_name_of(str(_name(p))))


SERVICE = query.Service("cloudformation", "2010-05-15", "http://cloudformation.amazonaws.com/doc/2010-05-15/", {
    "DescribeStacks": describe_stacks,
    "ListStacks": list_stacks,
    "DescribeStackResources": describe_stack_resources,
    "DescribeStackResource": describe_stack_resource,
    "ListStackResources": list_stack_resources,
    "GetTemplate": get_template,
    "DescribeStackEvents": describe_stack_events,
    "DeleteStack": delete_stack,
    "GetTemplateSummary": get_template_summary,
    "CreateStack": create_stack,
    "UpdateStack": update_stack,
    "CreateChangeSet": create_change_set,
    "DescribeChangeSet": describe_change_set,
    "ExecuteChangeSet": execute_change_set,
    "DeleteChangeSet": delete_change_set,
    "ListChangeSets": list_change_sets,
})
query.register(SERVICE)
