"""CloudFormation's write API over ``deploy``: stacks created and updated from a template given in
the request, and change sets (what ``aws cloudformation deploy`` and ``sam deploy`` use).

A template comes as ``TemplateBody`` (at most 51,200 bytes, as AWS) or ``TemplateURL`` (an object of
Cumulo's own S3, at most 1 MB) and is written to ``<home>/cloudformation/<stack>/<id>/template``
before it is read. It carries its own code (``InlineCode``) or names it in Cumulo's S3, as a
packaged template does (``aws cloudformation package``, ``sam package``: ``CodeUri:
s3://bucket/key`` or ``{Bucket, Key}``, a layer's ``ContentUri``, a state machine's
``DefinitionUri``; plain CloudFormation's ``Code``/``Content`` ``{S3Bucket, S3Key}`` and
``DefinitionS3Location``; ``AWS::Include`` snippets' ``Location``): those objects are copied into that folder and the template pointed at them. The capabilities a template needs are asked for as AWS asks:
``CAPABILITY_IAM`` (or ``CAPABILITY_NAMED_IAM``) where it makes IAM roles or policies, its own or
those SAM makes for functions and state machines, and ``CAPABILITY_AUTO_EXPAND`` for a template with
a ``Transform`` given to CreateStack or UpdateStack directly (a change set expands it itself).

Differences from AWS, chosen: a stack's create or update runs within the request, so the answer
comes when it is done (``CREATE_COMPLETE`` at the first DescribeStacks; the CLI's waiters see it at
once); one that fails is rolled back and the request answers ``ValidationError`` with the reason,
instead of leaving a stack in ``ROLLBACK_COMPLETE``. A change set of type ``CREATE`` makes the stack
in ``REVIEW_IN_PROGRESS``, as AWS does (``sam deploy`` reads its events before executing); it is
planned (``deploy(dry_run=True)``) when created and applied when executed, and refused at execution
if the stack changed in between.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cumulo.deploy.engine import DeployResult, deploy
from cumulo.deploy.include import include_location
from cumulo.deploy.intrinsics import IntrinsicError, parse
from cumulo.deploy.stacks import REVIEW, STACK_KEY, describe_stack_resources, review_record, stack_name_of
from cumulo.deploy.template import stack_id
from cumulo.errors import CumuloError, ValidationException

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["template_text", "template_summary", "create_stack", "update_stack", "create_change_set", "describe_change_set", "execute_change_set",
           "delete_change_set", "list_change_sets", "InsufficientCapabilitiesException", "TEMPLATE_BODY_MAX"]

TEMPLATE_BODY_MAX = 51_200
TEMPLATE_URL_MAX = 1 << 20
_KIND = "cloudformation-change-set"
_ACTIONS = {"create": "Add", "update": "Modify", "replace": "Modify", "delete": "Remove"}
_IAM_KINDS = {"role", "policy", "managed policy", "iam role", "iam policy"}


class InsufficientCapabilitiesException(CumuloError):
    status = 400


class AlreadyExistsException(CumuloError):
    status = 400


class ChangeSetNotFound(CumuloError):
    status = 404


class InvalidChangeSetStatus(CumuloError):
    status = 400


def _status(c: Cumulo, stack: str) -> str | None:
    """The stack's status; None where there is none (never made, or deleted)."""
    record = (c.store.get_stack(stack) or {}).get(STACK_KEY)
    status = record.get("StackStatus") if isinstance(record, dict) else None
    return None if status in (None, "DELETE_COMPLETE") else str(status)


def _exists(c: Cumulo, stack: str) -> bool:
    return _status(c, stack) is not None


def _check_name(value: Any, field: str = "stackName") -> str:
    if not isinstance(value, str) or not value:
        raise ValidationException(f"1 validation error detected: Value null at '{field}' failed to satisfy "
                                  "constraint: Member must not be null")
    if len(value) > 128 or not value[0].isalpha() or not all(ch.isalnum() or ch == "-" for ch in value):
        raise ValidationException(f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
                                  "constraint: Member must satisfy regular expression pattern: "
                                  "[a-zA-Z][-a-zA-Z0-9]*")
    return value


def template_text(c: Cumulo, body: Any, url: Any) -> str:
    """The template a request gives: its ``TemplateBody``, or the object its ``TemplateURL`` names in
    Cumulo's own object storage (``https://s3.amazonaws.com/<bucket>/<key>``, the virtual-hosted form,
    or this server's ``http://127.0.0.1:<port>/<bucket>/<key>``), at most 1 MB as on AWS."""
    if isinstance(url, str) and url:
        if body:
            raise ValidationException("Specify exactly one of TemplateBody and TemplateURL.")
        bucket, key = _object_of_url(url)
        data = _read_object(c, bucket, key, TEMPLATE_URL_MAX)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationException("Template format error: the template at TemplateURL is not UTF-8") from None
    if not isinstance(body, str) or not body.strip():
        raise ValidationException("Either Template URL or Template Body must be specified.")
    if len(body.encode()) > TEMPLATE_BODY_MAX:
        raise ValidationException(f"1 validation error detected: Value at 'templateBody' failed to satisfy constraint: "
                                  f"Member must have length less than or equal to {TEMPLATE_BODY_MAX}")
    return body


def _object_of_url(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    host, path = parts.hostname or "", urllib.parse.unquote(parts.path).lstrip("/")
    m = re.fullmatch(r"(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com", host)
    if m:
        bucket, key = m.group("bucket"), path
    elif re.fullmatch(r"s3([.-][a-z0-9-]+)?\.amazonaws\.com", host) or host in ("127.0.0.1", "localhost", "::1"):
        bucket, _, key = path.partition("/")
    else:
        raise ValidationException(f"TemplateURL must name an object of this server's S3: {url}")
    if not bucket or not key:
        raise ValidationException(f"TemplateURL must name a bucket and a key: {url}")
    return bucket, key


def _read_object(c: Cumulo, bucket: str, key: str, limit: int) -> bytes:
    try:
        row, body = c.objects.open(bucket, key)
    except CumuloError as err:
        raise ValidationException(f"S3 error: s3://{bucket}/{key}: {err.message}") from None
    with body:
        data = body.read(limit + 1)
    if len(data) > limit:
        raise ValidationException(f"s3://{bucket}/{key} is larger than {limit} bytes")
    return data


# Where a packaged template (``aws cloudformation package``, ``sam package``) names code in S3.
_S3_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri",
                  "AWS::Serverless::StateMachine": "DefinitionUri", "AWS::Lambda::Function": "Code",
                  "AWS::Lambda::LayerVersion": "Content", "AWS::StepFunctions::StateMachine": "DefinitionS3Location"}


_PSEUDO = re.compile(r"\$\{(AWS::[A-Za-z]+)\}")


def _text(value: Any, pseudo: dict[str, str]) -> str | None:
    """A string; a ``Fn::Sub`` of one naming only pseudo parameters (what the CDK writes for its
    staging bucket in an environment-agnostic stack: ``cdk-…-assets-${AWS::AccountId}-${AWS::Region}``);
    or a ``Ref`` to a bucket the stack already has (the Serverless Framework's deployment bucket, made
    by the stack's first version, holds the code of the next: ``pseudo`` has those buckets too)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("Ref"), str):
        return pseudo.get(value["Ref"])
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("Fn::Sub"), str):
        names = _PSEUDO.findall(value["Fn::Sub"])
        if all(name in pseudo for name in names) and "${" not in _PSEUDO.sub("", value["Fn::Sub"]):
            return _PSEUDO.sub(lambda m: pseudo[m.group(1)], value["Fn::Sub"])
    return None


def _s3_location(value: Any, pseudo: dict[str, str] | None = None) -> tuple[str, str] | None:
    """``s3://bucket/key``, SAM's ``{Bucket, Key}`` or CloudFormation's ``{S3Bucket, S3Key}`` (their
    parts plain strings or ``Fn::Sub`` of pseudo parameters only)."""
    if isinstance(value, str) and value.startswith("s3://"):
        bucket, _, key = value[5:].partition("/")
        return (bucket, key) if bucket and key else None
    if isinstance(value, dict):
        for bucket, key in (("Bucket", "Key"), ("S3Bucket", "S3Key")):
            found = _text(value.get(bucket), pseudo or {}), _text(value.get(key), pseudo or {})
            if found[0] is not None and found[1] is not None:
                return found[0], found[1]
    return None


def _includes(value: Any) -> list[tuple[dict[str, Any], str]]:
    """Every ``AWS::Include`` transform's arguments whose ``Location`` is in S3 (``Parameters``, ``Location``)."""
    found: list[tuple[dict[str, Any], str]] = []
    if isinstance(value, list):
        for item in value:
            found += _includes(item)
    elif isinstance(value, dict):
        location = include_location(value.get("Fn::Transform"))
        if isinstance(location, str) and location.startswith("s3://"):
            found.append((value["Fn::Transform"]["Parameters"], "Location"))
        for item in value.values():
            found += _includes(item)
    return found


def _localize(c: Cumulo, folder: Path, text: str, stack: str = "") -> str:
    """The template with the code (and ``AWS::Include`` snippets) it names in S3 copied beside it and named
    by those copies' paths (written as JSON then); the text unchanged when it names none."""
    try:
        doc = parse(text)
    except IntrinsicError:
        return text   # refused with its line when it is read
    if not isinstance(doc, dict):
        return text
    places: list[tuple[dict[str, Any], str]] = []
    function_globals = (doc.get("Globals") or {}).get("Function") if isinstance(doc.get("Globals"), dict) else None
    if isinstance(function_globals, dict) and "CodeUri" in function_globals:
        places.append((function_globals, "CodeUri"))
    for resource in (doc.get("Resources") or {}).values() if isinstance(doc.get("Resources"), dict) else ():
        prop = _S3_PROPERTIES.get(str(resource.get("Type"))) if isinstance(resource, dict) else None
        if prop and isinstance(resource.get("Properties"), dict) and prop in resource["Properties"]:
            places.append((resource["Properties"], prop))
    places += _includes(doc)
    pseudo = {"AWS::AccountId": c.arns.account, "AWS::Region": c.arns.region, "AWS::Partition": "aws",
              "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack}
    if stack and _exists(c, stack):
        pseudo.update({r["LogicalResourceId"]: r["PhysicalResourceId"] for r in describe_stack_resources(c, stack)
                       if r.get("ResourceType") == "AWS::S3::Bucket" and r.get("PhysicalResourceId")})
    copied = 0
    for holder, prop in places:
        where = _s3_location(holder[prop], pseudo)
        if where is None:
            continue
        name = f"s3-{copied}-{Path(where[1]).name or 'object'}"
        (folder / name).write_bytes(_read_object(c, where[0], where[1], 50 << 20))
        holder[prop] = name
        copied += 1
    return json.dumps(doc) if copied else text


def _template_file(c: Cumulo, stack: str, text: str) -> Path:
    folder = Path(c.settings.home) / "cloudformation" / stack / uuid.uuid4().hex
    folder.mkdir(parents=True, mode=0o700)
    path = folder / "template"
    local = _localize(c, folder, text, stack)
    path.write_text(local, encoding="utf-8")
    if local != text:
        (folder / "original").write_text(text, encoding="utf-8")
    return path


def _plan(c: Cumulo, stack: str, path: Path, parameters: dict[str, str]) -> DeployResult:
    try:
        return deploy(c, path, parameters, stack_name=stack, dry_run=True, build=False)
    except CumuloError as err:
        raise ValidationException(f"Template format error: {err.message}") from None


def _check_capabilities(result: DeployResult, body: str, capabilities: list[str], direct: bool) -> None:
    needed = []
    iam = any(t.startswith("AWS::IAM::") for t in result.types.values()) or any(
        ch.kind in _IAM_KINDS and ch.action != "unchanged" for ch in result.changes)
    if iam and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(capabilities):
        needed.append("CAPABILITY_IAM")
    if direct and "Transform" in body and "CAPABILITY_AUTO_EXPAND" not in capabilities:
        needed.append("CAPABILITY_AUTO_EXPAND")
    if needed:
        raise InsufficientCapabilitiesException(f"Requires capabilities : [{', '.join(needed)}]")


def _apply(c: Cumulo, stack: str, path: Path, parameters: dict[str, str],
           tags: list[dict[str, str]] | None = None) -> DeployResult:
    """Deploy the template at ``path``; the stack keeps the template as it was given and its tags
    (``None``: the ones it had, as AWS keeps them when an update names none)."""
    before = ((c.store.get_stack(stack) or {}).get(STACK_KEY) or {}).get("Tags", [])
    try:
        result = deploy(c, path, parameters, stack_name=stack, build=False)
    except CumuloError as err:
        raise ValidationException(err.message) from None
    original = path.parent / "original"
    record = c.store.get_stack(stack)
    if record is not None and isinstance(record.get(STACK_KEY), dict):
        extra: dict[str, Any] = {"Tags": before if tags is None else tags}
        if original.exists():     # GetTemplate answers what was given (``sam delete`` reads its S3 code URIs there)
            extra["TemplateBody"] = original.read_text(encoding="utf-8")
        record[STACK_KEY] = {**record[STACK_KEY], **extra}
        c.store.put_stack(stack, record)
    return result


def _stack_id(c: Cumulo, stack: str) -> str:
    record = (c.store.get_stack(stack) or {}).get(STACK_KEY) or {}
    return str(record.get("StackId") or stack_id(stack, c.arns.region, c.arns.account))


def template_summary(c: Cumulo, body: Any) -> dict[str, Any]:
    """GetTemplateSummary of a TemplateBody: its parameters, resource types, transforms (what ``aws
    cloudformation deploy`` reads before it makes a change set)."""
    if not isinstance(body, str) or not body.strip():
        raise ValidationException("Either Template URL or Template Body must be specified.")
    try:
        doc = parse(body)
    except IntrinsicError as exc:
        raise ValidationException(f"Template format error: {exc.message}") from None
    if not isinstance(doc, dict):
        raise ValidationException("Template format error: a template is a map of sections")
    parameters: dict[str, Any] = doc["Parameters"] if isinstance(doc.get("Parameters"), dict) else {}
    resources: dict[str, Any] = doc["Resources"] if isinstance(doc.get("Resources"), dict) else {}
    transform = doc.get("Transform")
    out: dict[str, Any] = {
        "Parameters": [{"ParameterKey": name, "ParameterType": str(spec.get("Type", "String")),
                        "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
                        **({"DefaultValue": str(spec["Default"])} if "Default" in spec else {}),
                        **({"Description": str(spec["Description"])} if "Description" in spec else {})}
                       for name, spec in parameters.items() if isinstance(spec, dict)],
        "ResourceTypes": sorted({str(r.get("Type")) for r in resources.values() if isinstance(r, dict)}),
        "Version": str(doc.get("AWSTemplateFormatVersion", "2010-09-09")),
        "DeclaredTransforms": [transform] if isinstance(transform, str) else
        [t for t in transform if isinstance(t, str)] if isinstance(transform, list) else []}
    if doc.get("Description"):
        out["Description"] = str(doc["Description"])
    return out


# -- stacks ----------------------------------------------------------------------------------------
def create_stack(c: Cumulo, stack: Any, body: Any, parameters: dict[str, str], capabilities: list[str],
                 tags: list[dict[str, str]] | None = None) -> str:
    """CreateStack: the stack made from ``body``; its id."""
    stack = _check_name(stack)
    if _exists(c, stack):
        raise AlreadyExistsException(f"Stack [{stack}] already exists")
    path = _template_file(c, stack, body)
    try:
        _check_capabilities(_plan(c, stack, path, parameters), body, capabilities, direct=True)
        _apply(c, stack, path, parameters, tags or [])
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return _stack_id(c, stack)


def update_stack(c: Cumulo, stack: Any, body: Any, parameters: dict[str, str], capabilities: list[str],
                 tags: list[dict[str, str]] | None = None) -> str:
    """UpdateStack: the stack changed to ``body``; ``ValidationError`` when nothing would change."""
    stack = _check_name(stack)
    if not _exists(c, stack):
        raise ValidationException(f"Stack [{stack}] does not exist")
    if _status(c, stack) == REVIEW:
        raise ValidationException(f"Stack:{_stack_id(c, stack)} is in {REVIEW} state and can not be updated.")
    path = _template_file(c, stack, body)
    try:
        planned = _plan(c, stack, path, parameters)
        _check_capabilities(planned, body, capabilities, direct=True)
        if not planned.changed and (tags is None or tags == _tags_of(c, stack)):
            raise ValidationException("No updates are to be performed.")
        _apply(c, stack, path, parameters, tags)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return _stack_id(c, stack)


# -- change sets -----------------------------------------------------------------------------------
def create_change_set(c: Cumulo, stack: Any, name: Any, kind: Any, body: Any, parameters: dict[str, str],
                      capabilities: list[str], description: str = "",
                      tags: list[dict[str, str]] | None = None, role_arn: str = "") -> dict[str, str]:
    """CreateChangeSet: the template planned against the stack; (Id, StackId). ``role_arn`` is the
    service role it is to be executed with (``change_set_role``)."""
    stack = _check_name(stack)
    name = _check_name(name, "changeSetName")
    kind = kind or "UPDATE"
    if kind not in ("CREATE", "UPDATE"):
        raise ValidationException(f"ChangeSetType {kind} is not supported; CREATE and UPDATE are")
    status = _status(c, stack)
    if kind == "CREATE" and status not in (None, REVIEW):
        raise ValidationException(f"Stack [{stack}] already exists and cannot be created again with the changeSet "
                                  f"[{name}].")
    if kind == "UPDATE" and status is None:
        raise ValidationException(f"Stack [{stack}] does not exist")
    if kind == "UPDATE" and status == REVIEW:
        raise ValidationException(f"Stack:{_stack_id(c, stack)} is in {REVIEW} state and can not be updated.")
    if any(d["ChangeSetName"] == name and d["StackName"] == stack for d in c.store.list_documents(_KIND)):
        raise AlreadyExistsException(f"ChangeSet [{name}] already exists")
    path = _template_file(c, stack, body)
    planned = _plan(c, stack, path, parameters)
    _check_capabilities(planned, body, capabilities, direct=False)
    change_set_id = (f"arn:aws:cloudformation:{c.arns.region}:{c.arns.account}:changeSet/{name}/"
                     f"{uuid.uuid4()}")
    changes = [{"Type": "Resource", "ResourceChange": {
        "Action": _ACTIONS[ch.action], "LogicalResourceId": ch.logical_id,
        "ResourceType": planned.types.get(ch.logical_id, ""),
        **({"PhysicalResourceId": ch.function} if ch.action != "create" and ch.function else {}),
        **({"Replacement": "True" if ch.action == "replace" else "False"} if ch.action in ("update", "replace")
           else {})}} for ch in planned.changes if ch.action in _ACTIONS]
    empty = not changes
    doc = {"ChangeSetId": change_set_id, "ChangeSetName": name, "StackName": stack,
           "StackId": _stack_id(c, stack), "ChangeSetType": kind, "Description": description,
           "CreationTime": datetime.now(timezone.utc).isoformat(), "Parameters": parameters,
           "Capabilities": capabilities, "Changes": changes, "TemplatePath": str(path), "Tags": tags,
           "RoleARN": role_arn,
           "Status": "FAILED" if empty else "CREATE_COMPLETE",
           "ExecutionStatus": "UNAVAILABLE" if empty else "AVAILABLE",
           "StatusReason": ("The submitted information didn't contain changes. Submit different information to "
                            "create a change set.") if empty else "",
           "StackRecord": _fingerprint(c, stack)}
    if kind == "CREATE" and status is None:      # the stack shows, to be reviewed, until the change set runs
        previous = (c.store.get_stack(stack) or {}).get(STACK_KEY)
        c.store.put_stack(stack, {STACK_KEY: {**review_record(stack, doc["StackId"], previous), "Tags": tags or []}})
        doc["StackRecord"] = _fingerprint(c, stack)
    c.store.put_document(_KIND, _doc_id(change_set_id), doc)
    return {"Id": change_set_id, "StackId": doc["StackId"]}


def _tags_of(c: Cumulo, stack: str) -> list[dict[str, str]]:
    return list(((c.store.get_stack(stack) or {}).get(STACK_KEY) or {}).get("Tags", []))


def _doc_id(change_set_id: str) -> str:
    return change_set_id.rsplit("/", 1)[-1]


def _fingerprint(c: Cumulo, stack: str) -> str:
    record = (c.store.get_stack(stack) or {}).get(STACK_KEY) or {}
    return str(record.get("LastUpdatedTime") or record.get("CreationTime") or "")


def _find(c: Cumulo, name: Any, stack: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise ValidationException("1 validation error detected: Value null at 'changeSetName' failed to satisfy "
                                  "constraint: Member must not be null")
    if isinstance(name, str) and name.startswith("arn:") and ":changeSet/" in name:
        doc = c.store.get_document(_KIND, _doc_id(name))
        if doc is not None and doc["ChangeSetId"] == name:
            return doc
    elif isinstance(name, str) and name:
        if not stack:
            raise ValidationException("StackName must be specified if ChangeSetName is not specified as an ARN.")
        for doc in c.store.list_documents(_KIND):
            if doc["ChangeSetName"] == name and doc["StackName"] == stack_name_of(str(stack)):
                return doc
    raise ChangeSetNotFound(f"ChangeSet [{name}] does not exist")


def describe_change_set(c: Cumulo, name: Any, stack: Any = None) -> dict[str, Any]:
    doc = _find(c, name, stack)
    out = {k: doc[k] for k in ("ChangeSetId", "ChangeSetName", "StackId", "StackName", "CreationTime",
                               "ExecutionStatus", "Status", "Changes", "Capabilities")}
    out["Parameters"] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(doc["Parameters"].items())]
    for key in ("StatusReason", "Description"):
        if doc.get(key):
            out[key] = doc[key]
    return out


def change_set_role(c: Cumulo, name: Any, stack: Any = None) -> str:
    """The service role a change set was created with ('' for none)."""
    return str(_find(c, name, stack).get("RoleARN") or "")


def execute_change_set(c: Cumulo, name: Any, stack: Any = None) -> None:
    doc = _find(c, name, stack)
    if doc["ExecutionStatus"] != "AVAILABLE":
        raise InvalidChangeSetStatus(f"ChangeSet [{doc['ChangeSetId']}] cannot be executed in its current execution status "
                             f"of [{doc['ExecutionStatus']}]")
    if _fingerprint(c, doc["StackName"]) != doc["StackRecord"]:
        raise InvalidChangeSetStatus(f"ChangeSet [{doc['ChangeSetName']}] cannot be executed: the stack "
                             f"[{doc['StackName']}] changed since it was created")
    path = Path(doc["TemplatePath"])
    doc.update(ExecutionStatus="EXECUTE_IN_PROGRESS")
    c.store.put_document(_KIND, _doc_id(doc["ChangeSetId"]), doc)
    try:
        _apply(c, doc["StackName"], path, doc["Parameters"], doc.get("Tags"))
    except CumuloError:
        doc.update(ExecutionStatus="EXECUTE_FAILED")
        c.store.put_document(_KIND, _doc_id(doc["ChangeSetId"]), doc)
        raise
    # AWS deletes a stack's change sets once one of them is executed
    for other in c.store.list_documents(_KIND):
        if other["StackName"] == doc["StackName"]:
            _forget(c, other)


def delete_change_set(c: Cumulo, name: Any, stack: Any = None) -> None:
    """DeleteChangeSet. A change set named (not by ARN) on an existing stack that has no such change set
    is already gone, and that answers as deleted, as on AWS: the Serverless Framework deletes its
    change set's name before each deploy, whether or not a failed deploy left one."""
    try:
        doc = _find(c, name, stack)
    except ChangeSetNotFound:
        if isinstance(name, str) and not name.startswith("arn:") and stack:
            if not _exists(c, stack_name_of(str(stack))):
                raise ValidationException(f"Stack [{stack}] does not exist") from None
            return
        raise
    if doc["ExecutionStatus"] == "EXECUTE_IN_PROGRESS":
        raise InvalidChangeSetStatus(f"ChangeSet [{doc['ChangeSetId']}] cannot be deleted while it executes")
    _forget(c, doc)


def list_change_sets(c: Cumulo, stack: Any) -> list[dict[str, Any]]:
    name = stack_name_of(_check_name(stack) if not str(stack).startswith("arn:") else str(stack))
    return [{k: doc[k] for k in ("ChangeSetId", "ChangeSetName", "StackId", "StackName", "CreationTime",
                                 "ExecutionStatus", "Status")}
            for doc in c.store.list_documents(_KIND) if doc["StackName"] == name]


def _forget(c: Cumulo, doc: dict[str, Any]) -> None:
    c.store.delete_document(_KIND, _doc_id(doc["ChangeSetId"]))
    shutil.rmtree(Path(doc["TemplatePath"]).parent, ignore_errors=True)
