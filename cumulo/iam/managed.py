"""AWS managed policies commonly attached to Lambda applications' roles, as AWS publishes them.

Looked up by name (``AWSLambdaBasicExecutionRole``) or by ARN, with its path as AWS has it
(``arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole``, in any partition). Each
is the policy's default version (its id and date kept), from ``_managed_data.py``; see the AWS
Managed Policy Reference Guide, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cumulo.iam._managed_data import MANAGED_POLICIES
from cumulo.iam.policy import Policy, parse_policy

__all__ = ["ManagedPolicy", "managed_policy", "managed_policy_names", "is_aws_managed_arn", "aws_managed_arn"]

_ARN = re.compile(r"arn:(?P<partition>[a-z-]+):iam::aws:policy(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)")


@dataclass(frozen=True)
class ManagedPolicy:
    """One AWS managed policy: its name, path, default version and document."""

    name: str
    path: str
    version_id: str
    updated: str                     # when that version was made (ISO 8601)
    document: dict[str, Any]

    def arn(self, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::aws:policy{self.path}{self.name}"

    @property
    def policy(self) -> Policy:
        """The parsed, compiled document (named by its ARN)."""
        return _parsed(self.name)


_BY_NAME: dict[str, ManagedPolicy] = {
    name: ManagedPolicy(name, path, version, date, document)
    for name, path, version, date, document in MANAGED_POLICIES
}


@lru_cache(maxsize=None)
def _parsed(name: str) -> Policy:
    found = _BY_NAME[name]
    return parse_policy(found.document, "identity", name=found.arn())


def managed_policy_names() -> tuple[str, ...]:
    return tuple(_BY_NAME)


def aws_managed_arn(name: str, partition: str = "aws") -> str | None:
    """The ARN of the AWS managed policy called ``name`` (None if this catalogue has no such policy)."""
    found = _BY_NAME.get(name)
    return found.arn(partition) if found is not None else None


def is_aws_managed_arn(arn: str) -> bool:
    """An ARN of AWS's own managed policies (account ``aws``), whether or not this catalogue has it."""
    return _ARN.fullmatch(arn) is not None


def managed_policy(name_or_arn: str) -> ManagedPolicy | None:
    """The AWS managed policy with this name or ARN (its path must be AWS's); None if unknown.

    The document returned is a copy: changing it changes nothing here.
    """
    found = _ARN.fullmatch(name_or_arn)
    if found is not None:
        policy = _BY_NAME.get(found.group("name"))
        if policy is None or policy.path != found.group("path"):
            return None
    else:
        policy = _BY_NAME.get(name_or_arn)
        if policy is None:
            return None
    return ManagedPolicy(policy.name, policy.path, policy.version_id, policy.updated, copy.deepcopy(policy.document))
