"""``AWS::Serverless::Connector``: SAM's connectors, expanded to the policies SAM generates for them.

``Source`` and ``Destination`` (one, or a list) name resources of the template by ``Id`` (an embedded
connector, a resource's ``Connectors`` attribute, is read by ``cumulo.deploy.template`` as one whose Source
is that resource, ``<LogicalId><Name>``); ``Permissions``
is ``Read``, ``Write`` or both. For the pairs where SAM writes an identity policy — a function or state
machine calling a queue, topic, bus, bucket, table, state machine or function; a queue or a table's stream
read by a function — the connector is a customer managed policy ``<LogicalId>Policy`` (named as
CloudFormation names one it generates) holding the statements SAM's connector profiles give each
permission, attached to the role that calls (the source's; the function's for what it reads): an implicit ``managed policy`` whose
``Roles`` the ``role policy`` kind attaches. SAM's statements are facts of its documentation
(https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/reference-sam-connector.html).

Pairs SAM serves with the destination's resource policy (a rule, topic, bucket or API invoking a
function, a rule or topic sending to a queue) are accepted with a note: Cumulo's own deliveries need no
such permission. Other pairs are refused as SAM refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, resolve
from cumulo.deploy.kinds.base import Attributes, Entry, Kind, Load, property_error
from cumulo.deploy.kinds.managed_policy import ManagedPolicySpec
from cumulo.deploy.kinds.role import check_policy
from cumulo.deploy.names import stable_name
from cumulo.deploy.properties import plain
from cumulo.identity.roles import document_text
from cumulo.model.function import Arns

__all__ = ["CONNECTOR_TYPE", "Connector", "ConnectorSpec"]

CONNECTOR_TYPE = "AWS::Serverless::Connector"
FUNCTION, QUEUE, TOPIC, MACHINE, BUS, BUCKET, RULE, HTTP_API, TABLE = (
    "AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine",
    "AWS::Events::EventBus", "AWS::S3::Bucket", "AWS::Events::Rule", "AWS::ApiGatewayV2::Api", "AWS::DynamoDB::Table")
# The kinds whose resources a connector may name, and the CloudFormation type SAM sees them as.
_KINDS = {"function": FUNCTION, "queue": QUEUE, "topic": TOPIC, "state machine": MACHINE, "event bus": BUS,
          "bucket": BUCKET, "rule": RULE, "api": HTTP_API, "table": TABLE}

_EXECUTIONS = "arn:aws:states:{region}:{account}:execution:{name}:*"
_S3_READ = ["s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectLegalHold", "s3:GetObjectRetention", "s3:GetObjectTorrent",
            "s3:GetObjectVersion", "s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication",
            "s3:GetObjectVersionTorrent", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:ListBucketVersions",
            "s3:ListMultipartUploadParts"]
_S3_WRITE = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject",
             "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:RestoreObject"]
_INVOKE = {"Write": [(["lambda:InvokeAsync", "lambda:InvokeFunction"], "{arn}")]}
_S3 = {"Read": [(_S3_READ, "{arn}"), (_S3_READ, "{arn}/*")], "Write": [(_S3_WRITE, "{arn}"), (_S3_WRITE, "{arn}/*")]}
_PUT_EVENTS = {"Write": [(["events:PutEvents"], "{arn}")]}
_PUBLISH = {"Write": [(["sns:Publish"], "{arn}")]}
_TABLE_READ = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem",
               "dynamodb:ConditionCheckItem", "dynamodb:PartiQLSelect"]
_TABLE_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                "dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate"]
_TABLE = {"Read": [(_TABLE_READ, "{arn}"), (_TABLE_READ, "{arn}/index/*")],
          "Write": [(_TABLE_WRITE, "{arn}"), (_TABLE_WRITE, "{arn}/index/*")]}

# (source type, destination type) -> access category -> [(actions, resource)]: the role calling is the
# source's, but for a queue a function reads (SAM: SourcePolicy false): the destination's.
_ROLE_POLICIES: dict[tuple[str, str], dict[str, list[tuple[list[str], str]]]] = {
    (FUNCTION, FUNCTION): _INVOKE,
    (FUNCTION, QUEUE): {"Read": [(["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], "{arn}")],
                        "Write": [(["sqs:DeleteMessage", "sqs:SendMessage", "sqs:ChangeMessageVisibility",
                                    "sqs:PurgeQueue"], "{arn}")]},
    (FUNCTION, TOPIC): _PUBLISH,
    (FUNCTION, MACHINE): {"Read": [(["states:DescribeStateMachine", "states:ListExecutions"], "{arn}"),
                                   (["states:DescribeExecution", "states:DescribeStateMachineForExecution",
                                     "states:GetExecutionHistory"], _EXECUTIONS)],
                          "Write": [(["states:StartExecution", "states:StartSyncExecution"], "{arn}"),
                                    (["states:StopExecution"], _EXECUTIONS)]},
    (FUNCTION, BUS): _PUT_EVENTS,
    (FUNCTION, BUCKET): _S3,
    (FUNCTION, TABLE): _TABLE,
    (TABLE, FUNCTION): {"Read": [(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                   "dynamodb:ListStreams"], "{source}/stream/*")]},
    (QUEUE, FUNCTION): {"Read": [(["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], "{source}")],
                        "Write": [(["sqs:DeleteMessage"], "{source}")]},
    (MACHINE, FUNCTION): _INVOKE,
    (MACHINE, TOPIC): _PUBLISH,
    (MACHINE, QUEUE): {"Write": [(["sqs:SendMessage"], "{arn}")]},
    (MACHINE, BUCKET): _S3,
    (MACHINE, TABLE): _TABLE,
    (MACHINE, BUS): _PUT_EVENTS,
    (MACHINE, MACHINE): {"Read": [(["states:DescribeExecution"], _EXECUTIONS)],
                         "Write": [(["states:StartExecution"], "{arn}"), (["states:StopExecution"], _EXECUTIONS)]},
}
_BOTH = {(QUEUE, FUNCTION)}                 # SAM takes Read and Write together only
_DESTINATION_ROLE = {(QUEUE, FUNCTION), (TABLE, FUNCTION)}      # the function reading is the one allowed
# Pairs SAM serves with the destination's resource policy: deliveries Cumulo makes itself.
_RESOURCE_POLICIES = {(RULE, FUNCTION), (RULE, QUEUE), (RULE, TOPIC), (TOPIC, QUEUE), (TOPIC, FUNCTION),
                      (BUCKET, FUNCTION), (HTTP_API, FUNCTION)}


@dataclass(frozen=True)
class ConnectorSpec:
    logical_id: str
    line: int
    policy: ManagedPolicySpec | None                 # None: nothing SAM would put on a role
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class _End:
    logical_id: str
    type: str
    arn: str
    name: str
    role: str | None                 # the name of its role, for a function or state machine


class Connector(Kind):
    name = "connector"
    types = (CONNECTOR_TYPE,)

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(_read(entry, props, load))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def expand(self, spec: ConnectorSpec) -> Iterable[tuple[str, Any]]:
        return [("managed policy", spec.policy)] if spec.policy is not None else []

    def attributes(self, spec: ConnectorSpec, arns: Arns) -> Attributes:
        return {}


def _read(entry: Entry, props: dict[str, Any], load: Load) -> ConnectorSpec:
    unknown = sorted(set(props) - {"Source", "Destination", "Permissions"})
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}' for {CONNECTOR_TYPE}")
    for required in ("Source", "Destination", "Permissions"):
        if required not in props:
            raise IntrinsicError(f"property {required}: required")
    permissions = props["Permissions"]
    if not isinstance(permissions, list) or not permissions or \
            any(p not in ("Read", "Write") for p in permissions):
        raise IntrinsicError("property Permissions: Unsupported 'Permissions' provided; valid values are: Read, Write.")
    source = _end(props["Source"], "Source", load)
    destinations = props["Destination"] if isinstance(props["Destination"], list) else [props["Destination"]]
    statements: list[dict[str, Any]] = []
    notes: list[str] = []
    holder: str | None = None
    for index, given in enumerate(destinations):
        what = "Destination" if len(destinations) == 1 else f"Destination[{index}]"
        destination = _end(given, what, load)
        pair = (source.type, destination.type)
        where = f"connector from {source.logical_id} to {destination.logical_id}"
        if pair in _RESOURCE_POLICIES:
            notes.append(f"{where}: SAM grants this with {destination.logical_id}'s resource policy; Cumulo makes "
                         "this delivery itself and needs none")
            continue
        profile = _ROLE_POLICIES.get(pair)
        if profile is None:
            raise IntrinsicError(f"Unable to create {where}; it's not supported or the template is invalid.")
        unsupported = sorted(set(permissions) - set(profile))
        if unsupported or (pair in _BOTH and set(permissions) != {"Read", "Write"}):
            valid = "Read, Write (together)" if pair in _BOTH else ", ".join(sorted(profile))
            raise IntrinsicError(f"property Permissions: Unsupported 'Permissions' provided for {where}; valid "
                                 f"values are: {valid}.")
        caller = destination if pair in _DESTINATION_ROLE else source
        if caller.role is None:
            raise IntrinsicError(f"{where}: {caller.logical_id} has no role to give the permissions to")
        if holder is not None and holder != caller.role:
            raise IntrinsicError(f"{where}: one connector's destinations must give permissions to one role")
        holder = caller.role
        for category in ("Read", "Write"):
            if category in permissions:
                for actions, resource in profile[category]:
                    statements.append({"Effect": "Allow", "Action": list(actions), "Resource": [resource.format(
                        arn=destination.arn, source=source.arn, name=destination.name, region=load.region,
                        account=load.account)]})
    if holder is None:
        return ConnectorSpec(entry.logical_id, entry.line, None, tuple(notes))
    logical_id = f"{entry.logical_id}Policy"
    name = stable_name(load.stack, logical_id, 128)
    document = check_policy(document_text({"Version": "2012-10-17", "Statement": statements}), "identity",
                            "Permissions", name, managed=True)
    policy = ManagedPolicySpec(logical_id, entry.line, name, "/", f"arn:aws:iam::{load.account}:policy/{name}",
                               document, None, (holder,))
    return ConnectorSpec(entry.logical_id, entry.line, policy, tuple(notes))


def _end(value: Any, what: str, load: Load) -> _End:
    """A connector's Source or Destination: a resource of the template, by Id."""
    if not isinstance(value, dict) or not isinstance(value.get("Id"), str):
        raise IntrinsicError(f"property {what}: give the Id of a resource of this template ({what}: {{Id: MyQueue}});"
                             " Cumulo connects the template's own resources only")
    logical_id = value["Id"]
    for kind, type_ in _KINDS.items():
        for spec in load.read.get(kind, ()):
            if getattr(spec, "logical_id", None) != logical_id:
                continue
            arn = _attribute(load, logical_id, "Arn")
            if not arn.startswith("arn:"):          # a topic: Ref is its ARN
                arn = _attribute(load, logical_id, "Ref")
            name = _attribute(load, logical_id, "Name") if type_ == MACHINE else ""
            return _End(logical_id, type_, arn, name, _role_name(kind, spec))
    raise IntrinsicError(f"property {what}: Id {logical_id} is not a resource of this template a connector can "
                         f"connect ({', '.join(sorted(set(_KINDS.values())))})")


def _attribute(load: Load, logical_id: str, attribute: str) -> str:
    try:
        return str(load.scope.lookup(logical_id, attribute))
    except IntrinsicError:
        return ""


def _role_name(kind: str, spec: Any) -> str | None:
    if kind == "function":
        return spec.role_spec.name if spec.role_spec is not None else (spec.role.rsplit("/", 1)[-1] or None)
    if kind == "state machine":
        return spec.role.name if spec.role is not None else (spec.role_arn.rsplit("/", 1)[-1] or None)
    return None
