"""SAM's ``Policies`` property: managed policies, inline documents and policy templates, as SAM expands them.

A function's or state machine's ``Policies`` is one entry or a list of entries; each entry is

* a string: an AWS managed policy's name (``AmazonSQSFullAccess``, made its ARN with AWS's path)
  or a policy ARN;
* a policy document (a mapping with ``Statement``): an inline policy of the role, named
  ``<LogicalId>RolePolicy<index>``;
* a policy template (a mapping of one SAM template name to its parameters,
  ``{"SQSSendMessagePolicy": {"QueueName": "orders"}}``): expanded into the statements SAM
  generates, its ``${AWS::Partition}``, ``${AWS::Region}`` and ``${AWS::AccountId}`` taken from the
  arguments, then an inline policy like a document.

Intrinsic functions in the entries (``!Ref``, ``!GetAtt`` in a template's parameters, ``Fn::If``)
are the template reader's to resolve before calling; what is left must be plain values. Errors are
SAM's: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-policy-templates.html
(templates' data: ``_sam_templates_data.py``). The role SAM makes for a function without ``Role``
is ``function_role``: AWSLambdaBasicExecutionRole, X-Ray's and VPC's policies when the function
traces or has a VpcConfig, then its ``Policies``, then the managed policy of each of its
SQS/Kinesis/DynamoDB event sources.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cumulo.errors import CumuloError
from cumulo.iam._sam_templates_data import SAM_POLICY_TEMPLATES
from cumulo.iam.managed import aws_managed_arn, managed_policy

__all__ = [
    "SamPolicyError", "RolePolicy", "SamRole", "policy_template_names", "expand_policy_template",
    "expand_sam_policies", "sam_policy_documents", "function_role", "state_machine_role",
    "LAMBDA_TRUST_POLICY", "STATES_TRUST_POLICY",
]

LAMBDA_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}],
}
STATES_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["states.amazonaws.com"]}}],
}
EVENT_SOURCE_POLICIES = {
    "SQS": "AWSLambdaSQSQueueExecutionRole",
    "Kinesis": "AWSLambdaKinesisExecutionRole",
    "DynamoDB": "AWSLambdaDynamoDBExecutionRole",
}

_SUB = re.compile(r"\$\{([^}]*)\}")

# An ARN of a policy not among AWS's known here -> its document (None: there is no such policy).
ManagedLookup = Callable[[str], "Mapping[str, Any] | None"]


class SamPolicyError(CumuloError):
    """A ``Policies`` value SAM would refuse: "Resource with id [X] is invalid. …"."""

    status = 400

    def __init__(self, logical_id: str, detail: str) -> None:
        super().__init__(f"Resource with id [{logical_id}] is invalid. {detail}")
        self.logical_id = logical_id
        self.detail = detail


@dataclass(frozen=True)
class RolePolicy:
    """One policy of a role: a managed one (by ARN) or an inline one (by name)."""

    kind: Literal["managed", "inline"]
    name: str                                  # the inline policy's name, or the managed policy's ARN
    document: dict[str, Any] | None            # None: a managed policy whose document is not known here

    @property
    def arn(self) -> str | None:
        return self.name if self.kind == "managed" else None


@dataclass(frozen=True)
class SamRole:
    """The role SAM makes for a resource without ``Role``: ``<LogicalId>Role``."""

    logical_id: str
    trust_policy: dict[str, Any]
    policies: tuple[RolePolicy, ...] = field(default_factory=tuple)

    @property
    def managed_policy_arns(self) -> list[str]:
        return [p.name for p in self.policies if p.kind == "managed"]

    @property
    def inline_policies(self) -> list[tuple[str, dict[str, Any]]]:
        return [(p.name, p.document) for p in self.policies if p.kind == "inline" and p.document is not None]


def policy_template_names() -> tuple[str, ...]:
    return tuple(SAM_POLICY_TEMPLATES)


def _sub(text: str, variables: Mapping[str, str]) -> str:
    def one(found: re.Match[str]) -> str:
        name = found.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        return variables.get(name, found.group(0))
    return _SUB.sub(one, text)


def _resolve(node: Any, values: Mapping[str, str], pseudo: Mapping[str, str]) -> Any:
    """A template's definition with its ``Fn::Sub`` and ``Ref`` resolved to strings."""
    if isinstance(node, list):
        return [_resolve(item, values, pseudo) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and "Ref" in node and isinstance(node["Ref"], str):
        name = node["Ref"]
        return values[name] if name in values else pseudo[name]
    if len(node) == 1 and "Fn::Sub" in node:
        spec = node["Fn::Sub"]
        if isinstance(spec, str):
            return _sub(spec, {**pseudo, **values})
        text, mapping = spec
        local = {k: _resolve(v, values, pseudo) for k, v in mapping.items()}
        return _sub(text, {**pseudo, **values, **local})
    return {k: _resolve(v, values, pseudo) for k, v in node.items()}


def _pseudo(partition: str, region: str, account_id: str) -> dict[str, str]:
    return {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account_id}


def expand_policy_template(name: str, parameters: Any, *, region: str, account_id: str, partition: str = "aws",
                           logical_id: str = "Function") -> dict[str, Any]:
    """SAM's policy template ``name`` with ``parameters``: ``{"Statement": [...]}`` as SAM generates it."""
    template = SAM_POLICY_TEMPLATES.get(name)
    if template is None:
        raise SamPolicyError(logical_id, f"Template with name '{name}' is not found")
    if not isinstance(parameters, Mapping):
        raise SamPolicyError(logical_id, f"Must specify valid parameter values for policy template '{name}'")
    wanted = template["Parameters"]
    missing = sorted(set(wanted) - set(parameters))
    if missing:
        raise SamPolicyError(
            logical_id, f"Following required parameters of template '{name}' don't have values: {missing}")
    values: dict[str, str] = {}
    for key in wanted:
        value = parameters[key]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise SamPolicyError(logical_id, f"Must specify valid parameter values for policy template '{name}'")
        values[key] = str(value)
    definition = _resolve(copy.deepcopy(template["Definition"]), values, _pseudo(partition, region, account_id))
    assert isinstance(definition, dict)
    return definition


def _entries(policies: Any) -> list[Any]:
    if policies is None:
        return []
    if isinstance(policies, list):
        return policies
    return [policies]


def expand_sam_policies(policies: Any, *, region: str, account_id: str, partition: str = "aws",
                        logical_id: str = "Function", managed: ManagedLookup | None = None) -> list[RolePolicy]:
    """A SAM ``Policies`` value as the role's policies, in SAM's order (a managed ARN once).

    ``managed`` finds the documents of customer managed policies (ARNs in the account); AWS's
    own come from this package's catalogue. A managed policy found nowhere has no document.
    """
    out: list[RolePolicy] = []
    seen: set[str] = set()
    for index, entry in enumerate(_entries(policies)):
        if isinstance(entry, str):
            policy = _managed(entry, partition, managed)
            if policy.name not in seen:
                seen.add(policy.name)
                out.append(policy)
            continue
        inline_name = f"{logical_id}RolePolicy{index}"
        if isinstance(entry, Mapping) and "Statement" in entry:
            out.append(RolePolicy("inline", inline_name, copy.deepcopy(dict(entry))))
        elif isinstance(entry, Mapping) and len(entry) == 1 and next(iter(entry)) in SAM_POLICY_TEMPLATES:
            name, parameters = next(iter(entry.items()))
            out.append(RolePolicy("inline", inline_name, expand_policy_template(
                name, parameters, region=region, account_id=account_id, partition=partition, logical_id=logical_id)))
        else:
            raise SamPolicyError(logical_id, f"Policy at index {index} in the 'Policies' property is not valid")
    return out


def sam_policy_documents(policies: Any, *, region: str, account_id: str, partition: str = "aws",
                         logical_id: str = "Function", managed: ManagedLookup | None = None) -> list[dict[str, Any]]:
    """The policy documents a SAM ``Policies`` value gives a role, in order.

    Raises ``SamPolicyError`` for an entry SAM refuses and for a managed policy whose document
    is not known (IAM: "Policy … does not exist or is not attachable.").
    """
    documents = []
    for policy in expand_sam_policies(policies, region=region, account_id=account_id, partition=partition,
                                      logical_id=logical_id, managed=managed):
        if policy.document is None:
            raise SamPolicyError(logical_id, f"Policy {policy.name} does not exist or is not attachable.")
        documents.append(policy.document)
    return documents


def _managed(name_or_arn: str, partition: str, managed: ManagedLookup | None) -> RolePolicy:
    """A managed policy by name (AWS's, made its ARN) or ARN, with its document when known."""
    arn = aws_managed_arn(name_or_arn, partition) or name_or_arn
    known = managed_policy(arn)
    document = known.document if known is not None else managed(arn) if managed is not None else None
    return RolePolicy("managed", arn, dict(document) if document is not None else None)


def _role(logical_id: str, trust: dict[str, Any], first: Iterable[str], policies: Any, last: Iterable[str], *,
          region: str, account_id: str, partition: str, managed: ManagedLookup | None) -> SamRole:
    head = [_managed(n, partition, managed) for n in first]
    body = expand_sam_policies(policies, region=region, account_id=account_id, partition=partition,
                               logical_id=logical_id, managed=managed)
    tail = [_managed(n, partition, managed) for n in last]
    out: list[RolePolicy] = []
    seen: set[str] = set()
    for policy in head + body + tail:
        if policy.kind == "managed":
            if policy.name in seen:                # SAM lists a managed policy once
                continue
            seen.add(policy.name)
        out.append(policy)
    return SamRole(f"{logical_id}Role", copy.deepcopy(trust), tuple(out))


def function_role(logical_id: str, policies: Any = None, *, region: str, account_id: str, partition: str = "aws",
                  tracing: bool = False, vpc: bool = False, event_sources: Iterable[str] = (),
                  managed: ManagedLookup | None = None) -> SamRole:
    """The role SAM makes for an ``AWS::Serverless::Function`` without ``Role``.

    ``event_sources``: the types of its events (``SQS``, ``Kinesis``, ``DynamoDB`` add their
    managed policy; others add none).
    """
    first = ["AWSLambdaBasicExecutionRole"]
    if tracing:
        first.append("AWSXrayWriteOnlyAccess")
    if vpc:
        first.append("AWSLambdaVPCAccessExecutionRole")
    last = [EVENT_SOURCE_POLICIES[e] for e in event_sources if e in EVENT_SOURCE_POLICIES]
    return _role(logical_id, LAMBDA_TRUST_POLICY, first, policies, last, region=region, account_id=account_id,
                 partition=partition, managed=managed)


def state_machine_role(logical_id: str, policies: Any = None, *, region: str, account_id: str, partition: str = "aws",
                       tracing: bool = False, managed: ManagedLookup | None = None) -> SamRole:
    """The role SAM makes for an ``AWS::Serverless::StateMachine`` without ``Role``."""
    entries = _entries(policies) + (["AWSXrayWriteOnlyAccess"] if tracing else [])
    return _role(logical_id, STATES_TRUST_POLICY, [], entries, [], region=region, account_id=account_id,
                 partition=partition, managed=managed)
