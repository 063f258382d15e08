"""Deciding a request as IAM does within one account.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:

* every request is denied unless something allows it (an *implicit* deny);
* an ``Allow`` in an identity-based policy or in the resource's policy allows it (same account:
  either one is enough, "the resulting permissions are the total permissions of the two types");
  a role's trust policy is the exception, it must allow the principal itself;
* an explicit ``Deny`` in any of them overrides every allow.

A resource policy's statement applies to the principals its ``Principal`` names: everyone
(``"*"``), the caller's own ARN (a user, or a role session's ``assumed-role`` ARN), the role the
session is of, or a service (``events.amazonaws.com``) — those grant directly. Naming the
caller's *account* delegates to the account: such an ``Allow`` needs the caller's own
identity-based policies to allow too (its ``Deny`` applies to every principal of the account).

A statement applies to a request when its action matches (case-insensitively, ``*``/``?``), its
resource matches (case-sensitively, segment by segment), its principal matches (resource
policies) and all of its conditions hold against the request context. Actions are indexed per
service and the statements that can apply to an action are remembered, so a role with many
policies costs little more per request than one with a few.

The decision says why, and gives AWS's message for a denial, e.g. ``User: arn:aws:sts::123456789012:assumed-role/MyRole/my-fn
is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:123456789012:q
because no identity-based policy allows the sqs:SendMessage action``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from cumulo.iam.conditions import holds_all
from cumulo.iam.policy import Policy, Statement

__all__ = ["Principal", "Request", "Decision", "PolicySet", "evaluate", "evaluate_timeless"]

PrincipalType = Literal["AssumedRole", "User", "Account", "FederatedUser", "Service", "Anonymous"]
PolicyType = Literal["identity-based", "resource-based", "role trust"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request. Build one with ``assumed_role``, ``user``, ``root`` or ``service``."""

    arn: str                          # as errors name it: a session's assumed-role ARN, a user's ARN, a service's name
    account: str | None
    type: PrincipalType
    principal_arn: str | None = None  # aws:PrincipalArn: the role of a session, else the ARN itself
    username: str | None = None       # aws:username (IAM users only)
    userid: str | None = None         # aws:userid
    service: str | None = None        # aws:PrincipalServiceName
    tags: Mapping[str, str] = field(default_factory=dict)   # aws:PrincipalTag/<key>

    @classmethod
    def assumed_role(cls, account: str, role: str, session: str, *, path: str = "/", partition: str = "aws",
                     role_id: str | None = None, tags: Mapping[str, str] | None = None) -> Principal:
        """A session of a role, as a function's execution role runs: its session name is the function's name."""
        return cls(arn=f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}", account=account,
                   type="AssumedRole", principal_arn=f"arn:{partition}:iam::{account}:role{path}{role}",
                   userid=f"{role_id or role}:{session}", tags=dict(tags or {}))

    @classmethod
    def user(cls, account: str, name: str, *, path: str = "/", partition: str = "aws", user_id: str | None = None,
             tags: Mapping[str, str] | None = None) -> Principal:
        arn = f"arn:{partition}:iam::{account}:user{path}{name}"
        return cls(arn=arn, account=account, type="User", principal_arn=arn, username=name,
                   userid=user_id or name, tags=dict(tags or {}))

    @classmethod
    def root(cls, account: str, *, partition: str = "aws") -> Principal:
        arn = f"arn:{partition}:iam::{account}:root"
        return cls(arn=arn, account=account, type="Account", principal_arn=arn, userid=account)

    @classmethod
    def anonymous(cls) -> Principal:
        """An unsigned request: only a resource policy's statements naming everyone (``"*"``) apply."""
        return cls(arn="anonymous", account=None, type="Anonymous", userid="anonymous")

    @classmethod
    def service_principal(cls, service: str) -> Principal:
        """An AWS service acting for a resource (a rule invoking a function, SNS sending to a queue)."""
        return cls(arn=service, account=None, type="Service", service=service)


@dataclass(frozen=True, slots=True)
class Request:
    """One request: who, what action, on which resource, and the rest of its context.

    ``context`` adds keys (service-specific ones such as ``sqs:…``, tags, anything the request
    carries) or overrides the ones built from the fields; names are case-insensitive and a list
    is a multivalued key. ``now`` is the request's time (aws:CurrentTime, aws:EpochTime): a
    datetime or epoch seconds; the machine's clock when not given and a policy asks.
    """

    principal: Principal
    action: str
    resource: str = "*"
    context: Mapping[str, Any] = field(default_factory=dict)
    source_arn: str | None = None
    source_account: str | None = None
    source_ip: str | None = None
    secure_transport: bool | None = None
    now: datetime | float | None = None


def _values(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(value)
    return (value,)


class _Context:
    """The request context: lower-case key -> values; the time is read only when asked."""

    __slots__ = ("keys", "now")

    def __init__(self, request: Request) -> None:
        p = request.principal
        keys: dict[str, tuple[Any, ...]] = {}
        if p.principal_arn is not None:
            keys["aws:principalarn"] = (p.principal_arn,)
        if p.account is not None:
            keys["aws:principalaccount"] = (p.account,)
        keys["aws:principaltype"] = (p.type,)
        if p.username is not None:
            keys["aws:username"] = (p.username,)
        if p.userid is not None:
            keys["aws:userid"] = (p.userid,)
        if p.service is not None:
            keys["aws:principalservicename"] = (p.service,)
        for tag, value in p.tags.items():
            keys[f"aws:principaltag/{tag.lower()}"] = (value,)
        if request.source_arn is not None:
            keys["aws:sourcearn"] = (request.source_arn,)
        if request.source_account is not None:
            keys["aws:sourceaccount"] = (request.source_account,)
        if request.source_ip is not None:
            keys["aws:sourceip"] = (request.source_ip,)
        if request.secure_transport is not None:
            keys["aws:securetransport"] = (request.secure_transport,)
        for key, value in request.context.items():
            keys[key.lower()] = _values(value)
        self.keys = keys
        self.now = request.now

    def get(self, key: str) -> tuple[Any, ...] | None:
        found = self.keys.get(key)
        if found is None and key in ("aws:currenttime", "aws:epochtime"):
            now = self.now if self.now is not None else time.time()
            moment = now if isinstance(now, datetime) else datetime.fromtimestamp(now, timezone.utc)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            self.keys["aws:currenttime"] = (moment.strftime("%Y-%m-%dT%H:%M:%SZ"),)
            self.keys["aws:epochtime"] = (int(moment.timestamp()),)
            found = self.keys[key]
        return found

    def variable(self, key: str) -> str | None:
        """A policy variable's value: the key's one value, as text."""
        found = self.get(key)
        if found is None or len(found) != 1:
            return None
        value = found[0]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        return None


def _applies(statement: Statement, request: Request, context: _Context) -> bool:
    if not statement.matches_resource(request.resource, context.variable):
        return False
    return not statement.conditions or holds_all(statement.conditions, context.get, context.variable)


def _principal_match(statement: Statement, principal: Principal) -> Literal["direct", "account"] | None:
    """How a resource policy's statement names the caller: directly, through its account, or not at all."""
    names = statement.principals
    if names is None:
        return "direct"
    if names.everyone:
        found: Literal["direct", "account"] | None = "direct"
    elif principal.service is not None:
        found = "direct" if principal.service in names.services else None
    elif principal.arn in names.arns or (principal.principal_arn is not None and principal.principal_arn in names.arns):
        found = "direct"
    elif principal.account is not None and principal.account in names.accounts:
        found = "direct" if principal.type == "Account" else "account"
    else:
        found = None
    if statement.not_principal:
        return None if found is not None else "direct"
    return found


class PolicySet:
    """Identity-based policies (a role's or a user's), indexed by the actions their statements name.

    Parse the policies once (``parse_policy``) and keep the set while they do not change: the
    statements that can apply to an action are found once per action and remembered.
    """

    __slots__ = ("policies", "_by_vendor", "_any", "_cache", "_owners", "_order")

    CACHE = 1024

    def __init__(self, policies: Iterable[Policy] = ()) -> None:
        self.policies: tuple[Policy, ...] = tuple(policies)
        self._by_vendor: dict[str, list[Statement]] = {}
        self._any: list[Statement] = []
        self._owners: dict[int, Policy] = {}
        self._order: dict[int, int] = {}
        for policy in self.policies:
            for statement in policy.statements:
                self._owners[id(statement)] = policy
                self._order[id(statement)] = len(self._order)
                vendors = statement.actions.vendors
                if statement.not_action or vendors is None:
                    self._any.append(statement)
                else:
                    for vendor in vendors:
                        self._by_vendor.setdefault(vendor, []).append(statement)
        self._cache: dict[str, tuple[tuple[Statement, ...], tuple[Statement, ...]]] = {}

    def __len__(self) -> int:
        return len(self.policies)

    def owner(self, statement: Statement) -> Policy:
        return self._owners[id(statement)]

    def for_action(self, action: str) -> tuple[tuple[Statement, ...], tuple[Statement, ...]]:
        """(Deny statements, Allow statements) whose action element matches ``action`` (lower-case)."""
        found = self._cache.get(action)
        if found is None:
            vendor = action.split(":", 1)[0]
            candidates = self._by_vendor.get(vendor, []) + self._any
            candidates.sort(key=lambda s: self._order[id(s)])
            matching = [s for s in candidates if s.matches_action(action)]
            found = (tuple(s for s in matching if not s.allow), tuple(s for s in matching if s.allow))
            if len(self._cache) >= self.CACHE:
                self._cache.clear()
            self._cache[action] = found
        return found


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed or not, why, and AWS's message when not."""

    allowed: bool
    reason: Literal["allowed", "explicit deny", "implicit deny"]
    policy_type: PolicyType          # the kind of policy that allowed or explicitly denied (or that allows nothing)
    principal: str
    action: str
    resource: str
    policy: str | None = None        # the name of the policy whose statement decided, when it has one
    sid: str | None = None
    statement: int | None = None     # that statement's position in its policy

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def message(self) -> str:
        """AWS's access denied message ('' when allowed)."""
        if self.allowed:
            return ""
        on = f" on resource: {self.resource}" if self.resource not in ("", "*") else ""
        head = f"User: {self.principal} is not authorized to perform: {self.action}{on}"
        if self.reason == "explicit deny":
            where = "the role trust policy" if self.policy_type == "role trust" else \
                "an identity-based policy" if self.policy_type == "identity-based" else "a resource-based policy"
            return f"{head} with an explicit deny in {where}"
        return f"{head} because no {self.policy_type} policy allows the {self.action} action"


def _decision(request: Request, allowed: bool, reason: Literal["allowed", "explicit deny", "implicit deny"],
              policy_type: PolicyType, statement: Statement | None = None, policy: Policy | None = None) -> Decision:
    return Decision(allowed, reason, policy_type, request.principal.arn, request.action, request.resource,
                    policy.name if policy is not None else None, statement.sid if statement is not None else None,
                    statement.index if statement is not None else None)


def evaluate(request: Request, identity: PolicySet | Iterable[Policy] = (), resource: Policy | None = None,
             key_policy: bool = False) -> Decision:
    """Decide ``request`` against the caller's identity-based policies and the resource's policy.

    ``resource`` is the resource's policy (kind ``resource``) or, for ``sts:AssumeRole``, the
    role's trust policy (kind ``trust``), or None. Pass a ``PolicySet`` to reuse its index.
    ``key_policy``: ``resource`` is a KMS key's policy, which must allow (KMS Developer Guide,
    "Determining access"): a statement naming the caller allows alone; one naming the account (its
    root) lets the identity-based policies decide; without either, nothing else allows.
    """
    return _evaluate(request, identity, resource, key_policy, _Context(request))


def evaluate_timeless(request: Request, identity: PolicySet | Iterable[Policy] = (), resource: Policy | None = None,
                      key_policy: bool = False) -> tuple[Decision, bool]:
    """``evaluate``, and whether its decision holds whatever the time: no condition read
    ``aws:CurrentTime`` or ``aws:EpochTime`` (so the same request decides the same while the
    policies are the same; a cache of decisions may keep it)."""
    context = _Context(request)
    decision = _evaluate(request, identity, resource, key_policy, context)
    return decision, "aws:currenttime" not in context.keys


def _evaluate(request: Request, identity: PolicySet | Iterable[Policy], resource: Policy | None, key_policy: bool,
              context: _Context) -> Decision:
    policies = identity if isinstance(identity, PolicySet) else PolicySet(identity)
    action = request.action.lower()
    denies, allows = policies.for_action(action)
    for statement in denies:
        if _applies(statement, request, context):
            return _decision(request, False, "explicit deny", "identity-based", statement, policies.owner(statement))
    resource_type: PolicyType = "role trust" if resource is not None and resource.kind == "trust" else "resource-based"
    resource_allow: tuple[Statement, Literal["direct", "account"]] | None = None
    if resource is not None:
        for statement in resource.statements:
            if not statement.matches_action(action):
                continue
            how = _principal_match(statement, request.principal)
            if how is None or not _applies(statement, request, context):
                continue
            if not statement.allow:
                return _decision(request, False, "explicit deny", resource_type, statement, resource)
            if resource_allow is None or (how == "direct" and resource_allow[1] == "account"):
                resource_allow = (statement, how)
    identity_allow = next((s for s in allows if _applies(s, request, context)), None)
    if key_policy:
        if resource_allow is None:
            return _decision(request, False, "implicit deny", resource_type)
        if resource_allow[1] == "direct":
            return _decision(request, True, "allowed", resource_type, resource_allow[0], resource)
        if identity_allow is not None:
            return _decision(request, True, "allowed", "identity-based", identity_allow, policies.owner(identity_allow))
        return _decision(request, False, "implicit deny", "identity-based")
    if request.principal.type == "Account" and resource_type != "role trust":
        # the account's root user: everything its account's resources do not explicitly deny
        return _decision(request, True, "allowed", "identity-based", identity_allow,
                         policies.owner(identity_allow) if identity_allow is not None else None)
    if resource_type == "role trust":
        if resource_allow is not None and (resource_allow[1] == "direct" or identity_allow is not None):
            return _decision(request, True, "allowed", resource_type, resource_allow[0], resource)
        if resource_allow is None:
            return _decision(request, False, "implicit deny", resource_type)
        return _decision(request, False, "implicit deny", "identity-based")
    if identity_allow is not None:
        return _decision(request, True, "allowed", "identity-based", identity_allow, policies.owner(identity_allow))
    if resource_allow is not None and resource_allow[1] == "direct":
        return _decision(request, True, "allowed", resource_type, resource_allow[0], resource)
    if request.principal.type == "Service":
        return _decision(request, False, "implicit deny", resource_type)
    return _decision(request, False, "implicit deny", "identity-based")
