"""The mapping's types and its table (``MAPPINGS``); the services' modules fill it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Scope", "Call", "Check", "Mapper", "MAPPINGS", "register", "checks", "is_arn", "text", "UnmappedOperation",
           "simple", "anywhere"]


@dataclass(frozen=True, slots=True)
class Scope:
    """The account and region the server serves: ARNs of its resources are built in them."""

    account: str
    region: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region is None else region}:"
                f"{self.account if account is None else account}:{resource}")


@dataclass(frozen=True, slots=True)
class Call:
    """What the mapping reads of one request: its operation and its parameters as they arrived."""

    service: str                                              # botocore's name: lambda, sqs, events, …
    operation: str                                            # the API operation: SendMessageBatch
    doc: Mapping[str, Any] = field(default_factory=dict)      # the JSON body (JSON protocols; REST bodies)
    params: Mapping[str, str] = field(default_factory=dict)   # the path's parameters (REST)
    query: Mapping[str, list[str]] = field(default_factory=dict)

    def arg(self, name: str) -> str:
        """The query parameter ``name`` (its first value), '' when absent."""
        values = self.query.get(name)
        return values[0] if values else ""


@dataclass(frozen=True, slots=True)
class Check:
    """One question for IAM: may the caller perform ``action`` on ``resource``?"""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)   # the service's condition keys


Mapper = Callable[[Call, Scope], tuple[Check, ...]]
MAPPINGS: dict[tuple[str, str], Mapper] = {}


class UnmappedOperation(LookupError):
    """An operation served without a mapping: a defect (the table test fails first)."""


def register(service: str, table: Mapping[str, Mapper]) -> None:
    for operation, mapper in table.items():
        MAPPINGS[(service, operation)] = mapper


def checks(call: Call, scope: Scope) -> tuple[Check, ...]:
    """Everything ``call`` must be allowed, in the order AWS asks (the operation's own action first)."""
    mapper = MAPPINGS.get((call.service, call.operation))
    if mapper is None:
        raise UnmappedOperation(f"{call.service}:{call.operation} has no authorization mapping")
    return tuple(_owned(check, scope) for check in mapper(call, scope))


def _owned(check: Check, scope: Scope) -> Check:
    """``aws:ResourceAccount``, the account owning the resource: every resource the server keeps is
    its account's (a bucket's ARN names no account, yet policies such as CDK's bootstrap roles'
    allow S3 actions only where it is theirs). Not for actions on no resource (``*``)."""
    if check.resource == "*" or "aws:ResourceAccount" in check.context:
        return check
    return Check(check.action, check.resource, {**check.context, "aws:ResourceAccount": scope.account})


def text(value: Any) -> str:
    """A request's member as text for an ARN ('' when absent or not a string: the operation refuses it)."""
    return value if isinstance(value, str) else ""


_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+", re.DOTALL)


def is_arn(value: str) -> bool:
    """Whether ``value`` has an ARN's shape (or is ``*``, the resource of actions without one)."""
    return value == "*" or _ARN.fullmatch(value) is not None


def simple(action: str, resource: Callable[[Call, Scope], str]) -> Mapper:
    """An operation authorized as one action on one resource."""
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, resource(call, scope)),)
    return mapper


def anywhere(action: str) -> Mapper:
    """An operation on no resource in particular (``*`` in the reference)."""
    found = (Check(action, "*"),)
    return lambda call, scope: found

