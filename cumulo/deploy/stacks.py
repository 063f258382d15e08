"""Stacks as CloudFormation describes them: what a deploy records about its stack, and the read side of
CloudFormation's API over it (DescribeStacks, ListStacks, DescribeStackResources, ListStackResources,
DescribeStackResource, GetTemplate, DescribeStackEvents) and DeleteStack.

Each deploy keeps, beside what its kinds record for the next deploy (``engine``), the stack's own record
(``STACK_KEY``): its id (``AWS::StackId``), status (``CREATE_COMPLETE``, then ``UPDATE_COMPLETE``), times,
parameters (``NoEcho`` ones as ``****``), outputs as AWS gives them with the ids of the APIs the stack
serves (so that reading them gives the URLs of the gateway serving the store at that moment), the
resources the template declared with their physical ids (and the APIs, roles and connector policies SAM
makes, as a SAM stack lists them), the template's text, and the last events. A
deleted stack keeps only this record, as ``DELETE_COMPLETE`` (ListStacks shows it; DescribeStacks by name
does not, as on AWS). Answers are dicts in CloudFormation's shapes (``api/cloudformation.py`` writes them
as XML); errors are AWS's (``ValidationError: Stack with id … does not exist``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from cumulo.deploy.kinds.api import local_api_urls
from cumulo.deploy.kinds.base import Change
from cumulo.errors import ValidationException

if TYPE_CHECKING:
    from cumulo.app import Cumulo
    from cumulo.deploy.template import Template

__all__ = ["STACK_KEY", "REVIEW", "stack_record", "review_record", "deleted_record", "describe_stacks", "list_stacks",
           "describe_stack_resources", "list_stack_resources", "describe_stack_resource", "get_template",
           "describe_stack_events", "stack_name_of", "STATUS_FILTERS"]

STACK_KEY = "stack"
_EVENTS_KEPT = 100
# Types of the implicit resources SAM makes that a stack lists (its APIs).
_IMPLICIT_TYPES = {"ServerlessHttpApi": "AWS::ApiGatewayV2::Api", "ServerlessRestApi": "AWS::ApiGateway::RestApi"}
# and the roles SAM makes for functions and state machines (<LogicalId>Role), the policies of its connectors.
_IMPLICIT_KINDS = {"role": "AWS::IAM::Role", "managed policy": "AWS::IAM::ManagedPolicy"}
# What SAM's transform makes of its types, as a stack's resources list them on AWS.
_TRANSFORMED = {"AWS::Serverless::Function": "AWS::Lambda::Function", "AWS::Serverless::HttpApi": "AWS::ApiGatewayV2::Api",
                "AWS::Serverless::Api": "AWS::ApiGateway::RestApi",
                "AWS::Serverless::StateMachine": "AWS::StepFunctions::StateMachine",
                "AWS::Serverless::LayerVersion": "AWS::Lambda::LayerVersion"}
STATUS_FILTERS = frozenset({
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE", "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS", "IMPORT_IN_PROGRESS", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED", "IMPORT_ROLLBACK_COMPLETE"})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- what a deploy records -------------------------------------------------------------------------

def stack_record(template: Template, previous: dict[str, Any] | None, changes: list[Change],
                 attributes: dict[tuple[str, str], Any], outputs: dict[str, str], api_ids: list[str],
                 stack_id: str) -> dict[str, Any]:
    """The stack's record after a deploy that worked: ``previous`` is the record before (None: a new stack)."""
    now = _now()
    before = previous if previous and previous.get("StackStatus") not in ("DELETE_COMPLETE", REVIEW) else None
    reviewed = previous if previous and previous.get("StackStatus") == REVIEW else None   # a CREATE change set's
    status = "UPDATE_COMPLETE" if before else "CREATE_COMPLETE"
    stack_id = before["StackId"] if before else stack_id
    changed = {c.logical_id.split(".")[0]: c.action for c in changes}
    old_resources = {r["LogicalResourceId"]: r for r in (before or {}).get("Resources", [])}
    resources = []
    declared = dict(template.types)
    implicit = {c.logical_id: _IMPLICIT_KINDS[c.kind] for c in changes
                if c.kind in _IMPLICIT_KINDS and c.action != "delete" and c.logical_id not in declared}
    for logical_id in [*declared, *(k for k in _IMPLICIT_TYPES if (k, "Ref") in attributes), *implicit]:
        old = old_resources.get(logical_id)
        action = changed.get(logical_id, "unchanged" if old else "create")
        resources.append({
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": str(attributes.get((logical_id, "Ref"), logical_id)),
            "ResourceType": _TRANSFORMED.get(declared.get(logical_id, ""), declared.get(logical_id))
            or _IMPLICIT_TYPES.get(logical_id) or implicit[logical_id],
            "Timestamp": old["Timestamp"] if old and action == "unchanged" else now,
            "ResourceStatus": old["ResourceStatus"] if old and action == "unchanged" else (
                "UPDATE_COMPLETE" if old else "CREATE_COMPLETE"),
        })
    events = _events(template.stack_name, stack_id, status, resources, changes, now, before, reviewed)
    descriptions = {k: v.get("Description") for k, v in template.outputs.items() if isinstance(v, dict)}
    return {
        "StackId": stack_id,
        "StackName": template.stack_name,
        "Description": template.description,
        "CreationTime": before["CreationTime"] if before else now,
        "LastUpdatedTime": now if before else None,
        "StackStatus": status,
        "Parameters": [{"ParameterKey": k, "ParameterValue": "****" if k in template.no_echo else
                        (",".join(v) if isinstance(v, list) else str(v))} for k, v in template.parameters.items()],
        "Outputs": [{"OutputKey": k, "OutputValue": v, **({"Description": str(descriptions[k])}
                                                          if isinstance(descriptions.get(k), str) else {})}
                    for k, v in outputs.items()],
        "ApiIds": list(api_ids),
        "Resources": resources,
        "TemplateBody": template.text,
        "Events": events,
    }


def _events(stack: str, stack_id: str, status: str, resources: list[dict[str, Any]], changes: list[Change],
            now: str, before: dict[str, Any] | None, reviewed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The deploy's events, newest first, before the previous ones (the last ``_EVENTS_KEPT``)."""
    in_progress = status.replace("_COMPLETE", "_IN_PROGRESS")

    def event(logical_id: str, physical: str, type_: str, state: str) -> dict[str, Any]:
        return {"StackId": stack_id, "EventId": str(uuid.uuid4()), "StackName": stack, "LogicalResourceId": logical_id,
                "PhysicalResourceId": physical, "ResourceType": type_, "Timestamp": now, "ResourceStatus": state}

    touched = {c.logical_id.split(".")[0]: c.action for c in changes if c.action not in ("unchanged",)}
    fresh = [event(stack, stack_id, "AWS::CloudFormation::Stack", in_progress)]
    for r in resources:
        if touched.get(r["LogicalResourceId"]) or not before:
            fresh.append(event(r["LogicalResourceId"], r["PhysicalResourceId"], r["ResourceType"],
                               r["ResourceStatus"]))
    for c in changes:
        if c.action == "delete" and "." not in c.logical_id:
            fresh.append(event(c.logical_id, c.function, "", "DELETE_COMPLETE"))
    fresh.append(event(stack, stack_id, "AWS::CloudFormation::Stack", status))
    return (list(reversed(fresh)) + list((before or reviewed or {}).get("Events", [])))[:_EVENTS_KEPT]


REVIEW = "REVIEW_IN_PROGRESS"


def review_record(name: str, stack_id: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    """A stack that a CREATE change set has made and nothing has deployed yet: REVIEW_IN_PROGRESS,
    as CloudFormation shows it (DescribeStacks and DescribeStackEvents answer for it; executing the
    change set creates it, deleting the change set leaves it so)."""
    now = _now()
    event = {"StackId": stack_id, "EventId": str(uuid.uuid4()), "StackName": name, "LogicalResourceId": name,
             "PhysicalResourceId": stack_id, "ResourceType": "AWS::CloudFormation::Stack", "Timestamp": now,
             "ResourceStatus": REVIEW, "ResourceStatusReason": "User Initiated"}
    return {"StackId": stack_id, "StackName": name, "CreationTime": now, "StackStatus": REVIEW,
            "StackStatusReason": "User Initiated", "Parameters": [], "Outputs": [], "ApiIds": [], "Resources": [],
            "TemplateBody": "", "Events": ([event] + list((previous or {}).get("Events", [])))[:_EVENTS_KEPT]}


def deleted_record(stack: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a stack once deleted."""
    now = _now()
    gone = [{"StackId": stack["StackId"], "EventId": str(uuid.uuid4()), "StackName": stack["StackName"],
             "LogicalResourceId": stack["StackName"], "PhysicalResourceId": stack["StackId"],
             "ResourceType": "AWS::CloudFormation::Stack", "Timestamp": now, "ResourceStatus": status}
            for status in ("DELETE_COMPLETE", "DELETE_IN_PROGRESS")]
    return {**{k: v for k, v in stack.items() if k not in ("Resources", "Outputs", "ApiIds")},
            "StackStatus": "DELETE_COMPLETE", "DeletionTime": now, "Resources": [], "Outputs": [],
            "Events": (gone + list(stack.get("Events", [])))[:_EVENTS_KEPT]}


# --- reading ---------------------------------------------------------------------------------------

def _not_found(name: str) -> ValidationException:
    return ValidationException(f"Stack with id {name} does not exist")


def stack_name_of(name_or_id: str) -> str:
    """A stack's name from its name or its id (``arn:aws:cloudformation:…:stack/<name>/<uuid>``)."""
    if name_or_id.startswith("arn:") and ":stack/" in name_or_id:
        return name_or_id.split(":stack/", 1)[1].split("/", 1)[0]
    return name_or_id


def _record(c: Cumulo, name_or_id: str, deleted_too: bool = False) -> dict[str, Any]:
    doc = c.store.get_stack(stack_name_of(name_or_id)) if name_or_id else None
    stack = (doc or {}).get(STACK_KEY)
    if stack is None:
        raise _not_found(name_or_id)
    by_id = name_or_id.startswith("arn:")
    if by_id and stack["StackId"] != name_or_id:
        raise _not_found(name_or_id)
    if stack["StackStatus"] == "DELETE_COMPLETE" and not (deleted_too or by_id):
        raise _not_found(name_or_id)
    return dict(stack)


def _stacks(c: Cumulo) -> list[dict[str, Any]]:
    return [doc[STACK_KEY] for _, doc in c.store.list_stacks() if isinstance(doc.get(STACK_KEY), dict)]


def _drift() -> dict[str, str]:
    return {"StackDriftStatus": "NOT_CHECKED"}


def describe_stacks(c: Cumulo, name: str | None = None) -> list[dict[str, Any]]:
    stacks = [_record(c, name)] if name else [s for s in _stacks(c) if s["StackStatus"] != "DELETE_COMPLETE"]
    out = []
    for stack in stacks:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if c.gateway_url:       # the URLs of the gateway serving the store now
            outputs = local_api_urls(outputs, set(stack.get("ApiIds", [])), c.gateway_url)
        shown = {k: v for k, v in stack.items() if k in (
            "StackId", "StackName", "Description", "CreationTime", "LastUpdatedTime", "DeletionTime", "StackStatus")
                 and v not in (None, "")}
        out.append({**shown, "Parameters": stack.get("Parameters", []), "DisableRollback": False,
                    "NotificationARNs": [], "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                    "Outputs": [{**o, "OutputValue": outputs[o["OutputKey"]]} for o in stack.get("Outputs", [])],
                    "Tags": list(stack.get("Tags", [])), "EnableTerminationProtection": False,
                    "DriftInformation": _drift()})
    return out


def list_stacks(c: Cumulo, statuses: list[str] | None = None) -> list[dict[str, Any]]:
    for status in statuses or []:
        if status not in STATUS_FILTERS:
            raise ValidationException(f"1 validation error detected: Value '[{status}]' at 'stackStatusFilter' failed "
                                      "to satisfy constraint: Member must satisfy constraint: [Member must satisfy "
                                      f"enum value set: [{', '.join(sorted(STATUS_FILTERS))}]]")
    out = []
    for stack in _stacks(c):
        if statuses and stack["StackStatus"] not in statuses:
            continue
        summary = {k: stack[k] for k in ("StackId", "StackName", "CreationTime", "LastUpdatedTime", "DeletionTime",
                                         "StackStatus") if stack.get(k)}
        if stack.get("Description"):
            summary["TemplateDescription"] = stack["Description"]
        out.append({**summary, "DriftInformation": _drift()})
    return out


def describe_stack_resources(c: Cumulo, name: str, logical_id: str | None = None) -> list[dict[str, Any]]:
    stack = _record(c, name)
    return [{"StackName": stack["StackName"], "StackId": stack["StackId"], **r,
             "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}
            for r in stack.get("Resources", []) if logical_id in (None, r["LogicalResourceId"])]


def describe_stack_resource(c: Cumulo, name: str, logical_id: str) -> dict[str, Any]:
    found = describe_stack_resources(c, name, logical_id)
    if not found:
        raise ValidationException(f"Resource {logical_id} does not exist for stack {name}")
    detail = dict(found[0])
    detail["LastUpdatedTimestamp"] = detail.pop("Timestamp")
    detail["Metadata"] = "{}"
    return detail


def list_stack_resources(c: Cumulo, name: str) -> list[dict[str, Any]]:
    stack = _record(c, name, deleted_too=True)
    return [{"LogicalResourceId": r["LogicalResourceId"], "PhysicalResourceId": r["PhysicalResourceId"],
             "ResourceType": r["ResourceType"], "LastUpdatedTimestamp": r["Timestamp"],
             "ResourceStatus": r["ResourceStatus"], "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}
            for r in stack.get("Resources", [])]


def get_template(c: Cumulo, name: str) -> dict[str, Any]:
    stack = _record(c, name, deleted_too=True)
    return {"TemplateBody": stack.get("TemplateBody", ""), "StagesAvailable": ["Original", "Processed"]}


def describe_stack_events(c: Cumulo, name: str) -> list[dict[str, Any]]:
    return [dict(e) for e in _record(c, name, deleted_too=True).get("Events", [])]
