"""Resource types that mean nothing on one machine, accepted with one warning each.

A dashboard with no console, a log metric filter, a log subscription with no log service to subscribe to, a VPC's subnets and routes: on
AWS each configures a service around the application; deploying without it leaves the application
answering as it does on AWS. So a template may declare them: their properties are resolved (a
``!Ref`` to a resource that is not there is still an error), ``!Ref`` and ``!GetAtt`` answer what AWS
would (a stable physical id, an ARN), and the deploy says once per type what AWS would do and what
Cumulo does instead. Nothing is made or recorded.

Types whose absence would make the application wrong (a table it reads, a topic it publishes to, a
bucket it writes) are not here: ``MISSING`` gives the reason the template is refused with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from datetime import datetime, timezone
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Entry, Kind, Load, property_error
from cumulo.model.function import Arns

__all__ = ["Inert", "INERT_TYPES", "MISSING", "missing_reason"]


@dataclass(frozen=True)
class _Type:
    aws: str                    # what it does on AWS
    instead: str                # what Cumulo does instead
    name_property: str | None = None     # the property that names it, if any
    ref: str = "name"           # what Ref answers: name | arn | id
    arn: str | None = None      # an ARN format: {region} {account} {name}
    attributes: tuple[str, ...] = ()     # Fn::GetAtt attributes besides Arn, each answered with the physical id


_LOGS = "Cumulo keeps function and access logs in its own store"
_VPC = ("Cumulo runs a function with VpcConfig without outbound network (no NAT gateway) and makes no "
        "networks: it is accepted and nothing is made")

INERT_TYPES: dict[str, _Type] = {
    "AWS::CloudWatch::Dashboard": _Type("draws metrics in the CloudWatch console",
                                        "Cumulo's console draws its own charts of the Lambda metrics (GetMetricData serves the rest): nothing is made", "DashboardName"),
    "AWS::Logs::SubscriptionFilter": _Type(
        "sends a log group's matching events to a function, stream or Firehose",
        f"{_LOGS} and sends them nowhere: the filter's destination receives nothing", "FilterName"),
    "AWS::Logs::MetricFilter": _Type("turns matching log events into metrics",
                                     f"{_LOGS}; it makes no metrics", "FilterName"),
    "AWS::Logs::LogStream": _Type("creates a stream in a log group",
                                  f"{_LOGS} and names their streams itself", "LogStreamName"),
    "AWS::Logs::ResourcePolicy": _Type("lets AWS services write to log groups",
                                       f"{_LOGS}; anything may write there", "PolicyName"),
    "AWS::Logs::AccountPolicy": _Type("sets data protection or subscription policies for the account's logs",
                                      f"{_LOGS} and applies no account policy", "PolicyName"),
    "AWS::XRay::Group": _Type("groups X-Ray traces by a filter",
                              "Cumulo's X-Ray API answers traces by their summaries and keeps no groups", "GroupName",
                              ref="arn", arn="arn:aws:xray:{region}:{account}:group/{name}",
                              attributes=("GroupARN",)),
    "AWS::XRay::SamplingRule": _Type("sets how requests are sampled for X-Ray",
                                     "Cumulo samples as X-Ray's default rule does (docs/traces.md)",
                                     ref="arn", arn="arn:aws:xray:{region}:{account}:sampling-rule/{name}",
                                     attributes=("RuleARN", "RuleName")),
    "AWS::Scheduler::ScheduleGroup": _Type("groups schedules (and their tags)",
                                           "Cumulo keeps every schedule in one group, named across groups", "Name",
                                           arn="arn:aws:scheduler:{region}:{account}:schedule-group/{name}"),
    "AWS::CDK::Metadata": _Type("records which CDK constructs made the stack, for AWS's usage statistics",
                                "Cumulo records nothing of it: nothing is made", ref="id"),
    "AWS::ECR::Repository": _Type("keeps container images, for functions packaged as images (PackageType Image)",
                                  "Cumulo runs functions from zip packages and layers only (a function with "
                                  "PackageType Image is refused): no repository is made", "RepositoryName",
                                  arn="arn:aws:ecr:{region}:{account}:repository/{name}",
                                  attributes=("RepositoryUri",)),
    "AWS::ApiGateway::Account": _Type("sets the role API Gateway writes execution logs to CloudWatch with",
                                      "Cumulo's gateway writes access logs to its own store", ref="id"),
    "AWS::IAM::InstanceProfile": _Type("passes a role to EC2 instances", "Cumulo runs no EC2 instances: nothing is "
                                       "made", "InstanceProfileName",
                                       arn="arn:aws:iam::{account}:instance-profile/{name}"),
    "AWS::EC2::VPC": _Type("creates a virtual network", _VPC, ref="id",
                           attributes=("VpcId", "CidrBlock", "DefaultSecurityGroup", "DefaultNetworkAcl")),
    "AWS::EC2::Subnet": _Type("creates a subnet of a VPC", _VPC, ref="id",
                              attributes=("SubnetId", "AvailabilityZone", "VpcId", "CidrBlock")),
    "AWS::EC2::SecurityGroup": _Type("creates a firewall for network interfaces", _VPC, ref="id",
                                     attributes=("GroupId", "VpcId")),
    "AWS::EC2::SecurityGroupIngress": _Type("adds an inbound rule to a security group", _VPC, ref="id"),
    "AWS::EC2::SecurityGroupEgress": _Type("adds an outbound rule to a security group", _VPC, ref="id"),
    "AWS::EC2::InternetGateway": _Type("connects a VPC to the internet", _VPC, ref="id",
                                       attributes=("InternetGatewayId",)),
    "AWS::EC2::VPCGatewayAttachment": _Type("attaches a gateway to a VPC", _VPC, ref="id"),
    "AWS::EC2::RouteTable": _Type("creates a route table", _VPC, ref="id", attributes=("RouteTableId",)),
    "AWS::EC2::Route": _Type("adds a route", _VPC, ref="id"),
    "AWS::EC2::SubnetRouteTableAssociation": _Type("associates a subnet with a route table", _VPC, ref="id"),
    "AWS::EC2::EIP": _Type("allocates a public address", _VPC, ref="id", attributes=("AllocationId", "PublicIp")),
    "AWS::EC2::NatGateway": _Type("gives private subnets outbound internet access", _VPC, ref="id",
                                  attributes=("NatGatewayId",)),
    "AWS::EC2::VPCEndpoint": _Type("reaches an AWS service from a VPC privately", _VPC, ref="id",
                                   attributes=("Id", "DnsEntries", "NetworkInterfaceIds")),
    "AWS::ApiGateway::ClientCertificate": _Type(
        "gives a stage a certificate to present to its HTTP backends, so they can tell requests come from API Gateway",
        "Cumulo's gateway calls HTTP backends without a client certificate (a backend that requires one refuses "
        "them): nothing is made", ref="id", attributes=("ClientCertificateId",)),
    "AWS::ApiGateway::VpcLink": _Type(
        "connects private integrations (ConnectionType VPC_LINK) to network load balancers in a VPC",
        "Cumulo has no VPCs: no link is made, and an integration through it is sent to its Uri as any HTTP "
        "integration is (it reaches a backend only if that address answers from this machine)", ref="id",
        attributes=("VpcLinkId",)),
    "AWS::ApiGatewayV2::VpcLink": _Type(
        "connects HTTP APIs' private integrations (ConnectionType VPC_LINK) to load balancers or Cloud Map "
        "services in a VPC",
        "Cumulo has no VPCs: no link is made (an integration through it to a listener or Cloud Map ARN is "
        "refused, naming its route)", ref="id", attributes=("VpcLinkId",)),
    "AWS::IAM::User": _Type(
        "creates a user that people or programs sign requests as, with its own access keys and policies",
        "Cumulo has no IAM users (requests are signed with the account's keys or roles' sessions): no user is "
        "made, its Policies, ManagedPolicyArns and Groups grant nothing, and AWS::IAM::AccessKey is refused",
        "UserName", arn="arn:aws:iam::{account}:user{path}{name}"),
    "AWS::Kinesis::StreamConsumer": _Type(
        "registers an enhanced fan-out consumer: its own read throughput from every shard, records pushed to it",
        "Cumulo's Kinesis has no registered consumers: none is made, and a Lambda event source mapping given "
        "its ARN reads the stream itself (sharing the stream's read throughput): the function receives the "
        "same records", ref="arn",
        attributes=("ConsumerARN", "ConsumerName", "StreamARN", "ConsumerStatus", "ConsumerCreationTimestamp")),
}

# Id prefixes of EC2 resources, as AWS writes them (a function's VpcConfig checks them).
_EC2_PREFIX = {"AWS::EC2::VPC": "vpc", "AWS::EC2::Subnet": "subnet", "AWS::EC2::SecurityGroup": "sg",
               "AWS::EC2::InternetGateway": "igw", "AWS::EC2::RouteTable": "rtb", "AWS::EC2::EIP": "eipalloc",
               "AWS::EC2::NatGateway": "nat", "AWS::EC2::VPCEndpoint": "vpce",
               "AWS::EC2::SecurityGroupIngress": "sgr", "AWS::EC2::SecurityGroupEgress": "sgr"}

# Types Cumulo refuses because the application would be wrong without them, by type or by service: the reason.
MISSING: dict[str, str] = {
    "S3": "Cumulo serves buckets (AWS::S3::Bucket) and no other S3 resource: what it configures would not exist",
    "DynamoDB": "Cumulo serves DynamoDB tables (AWS::DynamoDB::Table) but not this type of resource",
    "SNS": "Cumulo serves topics and subscriptions (AWS::SNS::Topic, AWS::SNS::Subscription) and no other SNS "
           "resource",
    "SSM": "Cumulo serves Parameter Store parameters (AWS::SSM::Parameter) and no other Systems Manager resource",
    "SecretsManager": "Cumulo serves secrets, their rotation and their policies (AWS::SecretsManager::Secret, "
                      "AWS::SecretsManager::RotationSchedule, AWS::SecretsManager::ResourcePolicy) and no other "
                      "Secrets Manager resource (no target attachments yet)",
    "Cognito": "Cumulo has no Cognito user pools: sign-in and the tokens the application checks would not exist",
    "AWS::IAM::AccessKey": "Cumulo has no IAM users: a key of one would sign requests as nobody Cumulo knows "
                           "(sign with the account's keys, or a role's session from AssumeRole)",
    "CloudFormation": "Cumulo deploys one template as one stack: nested stacks, custom resources and wait "
                      "conditions are not run",
}


def missing_reason(type_: str) -> str | None:
    """Why a type Cumulo does not deploy is refused, when a reason is known."""
    if type_.startswith("Custom::"):
        return MISSING["CloudFormation"]
    if type_ in MISSING:
        return MISSING[type_]
    parts = type_.split("::")
    return MISSING.get(parts[1]) if len(parts) == 3 and parts[0] == "AWS" else None


@dataclass(frozen=True)
class InertResource:
    logical_id: str
    line: int
    type: str
    physical_id: str
    notes: tuple[str, ...] = ()
    answers: tuple[tuple[str, str], ...] = ()      # attributes read from its properties (_answers)


class Inert(Kind):
    name = "accepted resource"
    types = tuple(INERT_TYPES)
    listed = 95

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        attributes: Attributes = {}
        for entry in entries:
            kind = INERT_TYPES[entry.type]
            answers = _answers(entry, load)
            physical = answers.get("Ref") or _physical_id(entry, kind, load)
            named[entry.logical_id] = (physical, tuple(answers.items()))
            attributes.update(_attributes(entry.logical_id, entry.type, kind, physical, load.arns, answers))
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        """Each resource's properties resolved (references checked); the first of each type carries its warning."""
        specs = []
        for entry in entries:
            for key, value in entry.properties.items():
                try:
                    resolve(value, load.scope)
                except IntrinsicError as exc:
                    raise property_error(entry, IntrinsicError(f"property {key}: {exc.message}", exc.line)) from None
            physical, answers = named[entry.logical_id]
            specs.append(InertResource(entry.logical_id, entry.line, entry.type, physical, answers=answers))
        for type_ in dict.fromkeys(spec.type for spec in specs):
            same = [spec for spec in specs if spec.type == type_]
            kind = INERT_TYPES[type_]
            note = (f"{type_} ({', '.join(s.logical_id for s in same)}) accepted and not deployed: on AWS it "
                    f"{kind.aws}; {kind.instead}")
            specs[specs.index(same[0])] = dataclasses.replace(same[0], notes=(note,))
        return specs

    def warnings(self, spec: InertResource) -> list[str]:
        return list(spec.notes)

    def attributes(self, spec: InertResource, arns: Arns) -> Attributes:
        return _attributes(spec.logical_id, spec.type, INERT_TYPES[spec.type], spec.physical_id, arns,
                           dict(spec.answers))


def _physical_id(entry: Entry, kind: _Type, load: Load) -> str:
    if kind.name_property and kind.name_property in entry.properties:
        try:
            value = resolve(entry.properties[kind.name_property], load.scope)
        except IntrinsicError as exc:
            raise property_error(entry, IntrinsicError(f"property {kind.name_property}: {exc.message}",
                                                       exc.line)) from None
        if value is not NO_VALUE:
            return to_str(value)
    seed = f"{load.region}:{load.account}:{load.stack}:{entry.logical_id}"
    if entry.type in _EC2_PREFIX:
        return f"{_EC2_PREFIX[entry.type]}-{hashlib.sha256(seed.encode()).hexdigest()[:17]}"
    if entry.type in _SHORT_IDS:            # API Gateway's ids: ten lowercase letters and digits
        return hashlib.sha256(seed.encode()).hexdigest()[:10]
    if kind.ref == "id":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cumulo:{seed}"))
    suffix = hashlib.sha256(seed.encode()).hexdigest()[:12].upper()
    return f"{load.stack}-{entry.logical_id}-{suffix}"


_SHORT_IDS = ("AWS::ApiGateway::ClientCertificate", "AWS::ApiGateway::VpcLink", "AWS::ApiGatewayV2::VpcLink")
_CONSUMER_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_USER_PATH = re.compile(r"/|/[\x21-\x7e]{0,510}/")


def _resolved(entry: Entry, key: str, load: Load) -> Any:
    if key not in entry.properties:
        return NO_VALUE
    try:
        return resolve(entry.properties[key], load.scope)
    except IntrinsicError as exc:
        raise property_error(entry, IntrinsicError(f"property {key}: {exc.message}", exc.line)) from None


def _answers(entry: Entry, load: Load) -> dict[str, str]:
    """Attributes a type answers from its properties: an IAM user's ARN with its ``Path``; a stream consumer's
    ARN (its stream's, ``/consumer/<name>:<creation time>``), name, stream and creation time."""
    if entry.type == "AWS::IAM::User":
        path = _resolved(entry, "Path", load)
        path = "/" if path is NO_VALUE else to_str(path)
        if not _USER_PATH.fullmatch(path):
            raise property_error(entry, IntrinsicError(f"property Path: '{path}' must begin and end with /"))
        return {"Path": path}
    if entry.type != "AWS::Kinesis::StreamConsumer":
        return {}
    stream, name = _resolved(entry, "StreamARN", load), _resolved(entry, "ConsumerName", load)
    if stream is NO_VALUE or name is NO_VALUE:
        raise property_error(entry, IntrinsicError("properties StreamARN and ConsumerName are required"))
    stream, name = to_str(stream), to_str(name)
    if not re.fullmatch(r"arn:aws[a-z-]*:kinesis:[^:]*:\d{12}:stream/[a-zA-Z0-9_.-]+", stream):
        raise property_error(entry, IntrinsicError(f"property StreamARN: '{stream}' is not a Kinesis stream ARN "
                                                   "(e.g. !GetAtt MyStream.Arn)"))
    if not _CONSUMER_NAME.fullmatch(name):
        raise property_error(entry, IntrinsicError(f"property ConsumerName: '{name}' must be 1 to 128 letters, "
                                                   "digits, '_', '.' or '-'"))
    # The creation time in the ARN, as Kinesis writes it: the same on every deploy of the stack (nothing is recorded).
    seed = f"{load.region}:{load.account}:{load.stack}:{entry.logical_id}:{stream}:{name}"
    created = 1_577_836_800 + int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % 157_766_400
    arn = f"{stream}/consumer/{name}:{created}"
    return {"Ref": arn, "ConsumerARN": arn, "ConsumerName": name, "StreamARN": stream, "ConsumerStatus": "ACTIVE",
            "ConsumerCreationTimestamp": datetime.fromtimestamp(created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _attributes(logical_id: str, type_: str, kind: _Type, physical: str, arns: Arns,
                given: dict[str, str] | None = None) -> Attributes:
    given = given or {}
    arn = kind.arn.format(region=arns.region, account=arns.account, name=physical,
                          path=given.get("Path", "/")) if kind.arn else None
    out: Attributes = {(logical_id, "Ref"): arn if kind.ref == "arn" and arn else physical}
    if arn:
        out[(logical_id, "Arn")] = arn
    answers: dict[str, Callable[[], str]] = {
        "CidrBlock": lambda: "10.0.0.0/16", "AvailabilityZone": lambda: f"{arns.region}a",
        "PublicIp": lambda: "192.0.2.1", "GroupARN": lambda: arn or physical, "RuleARN": lambda: arn or physical,
        "RepositoryUri": lambda: f"{arns.account}.dkr.ecr.{arns.region}.amazonaws.com/{physical}"}
    for attribute in kind.attributes:
        out[(logical_id, attribute)] = given[attribute] if attribute in given else answers.get(attribute,
                                                                                              lambda: physical)()
    if type_ == "AWS::EC2::VPC":
        out[(logical_id, "DefaultSecurityGroup")] = "sg-" + physical.removeprefix("vpc-")
    return out
