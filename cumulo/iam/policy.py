"""Policy documents: read and checked as IAM checks them, compiled for evaluation.

The grammar is IAM's (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html):
a ``Version`` (``2012-10-17`` or ``2008-10-17``; without one, the older language, where
``${…}`` is literal text), an optional ``Id``, and ``Statement``: one statement or a list of
them. A statement has an ``Effect`` (``Allow``/``Deny``), ``Action`` or ``NotAction``,
``Resource`` or ``NotResource`` (identity policies and resource policies; a role's trust policy
has none), ``Principal`` or ``NotPrincipal`` (resource and trust policies only), optionally a
``Sid`` (unique in the policy; only ``[0-9A-Za-z]`` in IAM's own policies) and a ``Condition``.
A string or a list of strings wherever the grammar has a list.

What IAM refuses is refused with its ``MalformedPolicyDocument`` message, checked in IAM's order
(the first fault found is the one reported): the document's shape ("Syntax errors in policy."),
its statements' legacy reading (an Effect in the wrong case, a date that is not one, an ARN
missing its service: "The policy failed legacy parsing"), duplicate Sids, statements without
actions, resources that are not ARNs, actions without a service prefix, statements without
resources, and what each kind of policy must or must not have (a principal, a resource).

Sizes are IAM's quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
inline policies 2,048 characters per user, 5,120 per group and 10,240 per role (all of an
entity's inline policies together), a managed policy 6,144, a role's trust policy 2,048;
white space is not counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cumulo.iam.conditions import Condition, check_dates, check_syntax, compile_conditions
from cumulo.iam.errors import LimitExceeded, MalformedPolicyDocument
from cumulo.iam.patterns import Glob, Lookup, combine

__all__ = [
    "PolicyKind", "Policy", "Statement", "Actions", "Resources", "Principals", "parse_policy",
    "policy_size", "check_managed_size", "check_inline_size", "check_trust_size",
    "INLINE_SIZE", "MANAGED_SIZE", "TRUST_SIZE", "PARTITIONS",
]

PolicyKind = Literal["identity", "resource", "trust"]

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
VERSIONS = ("2012-10-17", "2008-10-17")
TOP = frozenset({"Version", "Id", "Statement"})
ELEMENTS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal",
                      "Condition"})
PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"})
TRUST_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:TagSession",
                 "sts:SetSourceIdentity", "sts:SetContext")
TRUST_ACTIONS_MESSAGE = ("Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  "
                         "and sts:AssumeRoleWithWebIdentity")
SID_MESSAGE = ("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression "
               "[0-9A-Za-z]*")
IAM_PATHS = ("user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/",
             "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/")

INLINE_SIZE = {"user": 2048, "group": 5120, "role": 10240}
MANAGED_SIZE = 6144
TRUST_SIZE = 2048

_VENDOR = re.compile(r"[a-zA-Z0-9.\-]+")
_SID = re.compile(r"[0-9A-Za-z]*")
_ACCOUNT = re.compile(r"\d{12}")
_AWS_PRINCIPAL = re.compile(
    r"arn:(?P<partition>[a-z-]+):(?:iam::(?P<account>\d{12}):(?:root|user/.+|role/.+)"
    r"|sts::(?P<sts_account>\d{12}):(?:assumed-role/[^/]+/.+|federated-user/.+))")
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.\-]*\.(?:amazonaws\.com(?:\.cn)?|amazon\.com)")


def _fail(message: str) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(message)


# -- matchers ----------------------------------------------------------------------------------

class Actions:
    """An ``Action``/``NotAction`` list: exact names in a set, wildcard ones in one expression."""

    __slots__ = ("names", "all", "exact", "pattern", "vendors")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        lowered = [n.lower() for n in names]
        self.all = "*" in lowered
        self.exact = frozenset(n for n in lowered if "*" not in n and "?" not in n)
        self.pattern = combine([Glob(n, lower=True, variables=False) for n in lowered if "*" in n or "?" in n])
        # the services this list names (None: any service); actions' service prefixes have no wildcards
        self.vendors: frozenset[str] | None = None if self.all else frozenset(n.split(":", 1)[0] for n in lowered)

    def matches(self, action: str) -> bool:
        """``action`` must be lower-case."""
        return self.all or action in self.exact or (self.pattern is not None and self.pattern.fullmatch(action) is not None)


class Resources:
    """A ``Resource``/``NotResource`` list of ARN patterns."""

    __slots__ = ("patterns", "all", "static", "variable")

    def __init__(self, patterns: tuple[str, ...], variables: bool) -> None:
        self.patterns = patterns
        globs = [Glob(p, segmented=True, variables=variables) for p in patterns]
        self.all = any(g.everything for g in globs)
        self.static = combine([g for g in globs if not g.everything])
        self.variable = tuple(g for g in globs if g.variable)

    def matches(self, resource: str, lookup: Lookup) -> bool:
        if self.all:
            return True
        if self.static is not None and self.static.fullmatch(resource) is not None:
            return True
        return any(g.matches(resource, lookup) for g in self.variable)


@dataclass(frozen=True, slots=True)
class Principals:
    """A ``Principal``/``NotPrincipal`` element."""

    everyone: bool = False
    accounts: frozenset[str] = frozenset()          # "123456789012" and arn:…:iam::123456789012:root
    arns: frozenset[str] = frozenset()              # users, roles, role sessions, federated users
    services: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()
    canonical: frozenset[str] = frozenset()

    @classmethod
    def read(cls, value: Any) -> Principals:
        if value == "*":
            return cls(everyone=True)
        assert isinstance(value, dict)
        found: dict[str, set[str]] = {"accounts": set(), "arns": set(), "services": set(), "federated": set(),
                                      "canonical": set()}
        everyone = False
        for key, entries in value.items():
            for entry in ([entries] if isinstance(entries, str) else entries):
                if key == "AWS":
                    if entry == "*":
                        everyone = True
                    elif _ACCOUNT.fullmatch(entry):
                        found["accounts"].add(entry)
                    elif entry.endswith(":root"):
                        found["accounts"].add(entry.split(":")[4])
                    else:
                        found["arns"].add(entry)
                elif key == "Service":
                    found["services"].add(entry)
                elif key == "Federated":
                    found["federated"].add(entry)
                else:
                    found["canonical"].add(entry)
        return cls(everyone, **{k: frozenset(v) for k, v in found.items()})


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """One compiled statement of a policy."""

    sid: str | None
    allow: bool
    actions: Actions
    not_action: bool
    resources: Resources | None          # None: a trust policy's statement (no resource element)
    not_resource: bool
    principals: Principals | None        # None: an identity policy's statement
    not_principal: bool
    conditions: tuple[Condition, ...]
    index: int                           # position in the policy

    @property
    def effect(self) -> str:
        return "Allow" if self.allow else "Deny"

    def matches_action(self, action: str) -> bool:
        """``action`` lower-case."""
        return self.actions.matches(action) != self.not_action

    def matches_resource(self, resource: str, lookup: Lookup) -> bool:
        if self.resources is None:
            return True
        return self.resources.matches(resource, lookup) != self.not_resource


@dataclass(frozen=True, eq=False)
class Policy:
    """A checked, compiled policy document. ``name`` names it in decisions (a policy's name or ARN)."""

    document: dict[str, Any]
    kind: PolicyKind
    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None
    name: str | None = None
    text: str | None = field(default=None, repr=False)      # the document as it was given, when text

    def named(self, name: str) -> Policy:
        return replace(self, name=name)

    def to_json(self) -> str:
        return self.text if self.text is not None else json.dumps(self.document, separators=(",", ":"))

    @property
    def variables(self) -> bool:
        return self.version == "2012-10-17"


# -- reading -----------------------------------------------------------------------------------

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _fail(SYNTAX)                 # "Individual elements must not contain multiple instances of the same key"
        out[key] = value
    return out


def _load(document: str | bytes | Mapping[str, Any]) -> tuple[Any, str | None]:
    if isinstance(document, (str, bytes, bytearray)):
        text = document.decode("utf-8", "replace") if isinstance(document, (bytes, bytearray)) else document
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates), text
        except MalformedPolicyDocument:
            raise
        except (ValueError, RecursionError):
            raise _fail(SYNTAX) from None
    if isinstance(document, Mapping):
        return dict(document), None
    raise _fail(SYNTAX)


def _strings(value: Any) -> bool:
    """A string, or a non-empty list of strings."""
    if isinstance(value, str):
        return True
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _check_principal_syntax(value: Any) -> None:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        raise _fail(SYNTAX)
    for key, entries in value.items():
        if key not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise _fail(SYNTAX)
        if not _strings(entries) or entries == []:
            raise _fail(SYNTAX)


def _check_statement_syntax(statement: Any) -> None:
    if not isinstance(statement, dict):
        raise _fail(SYNTAX)
    if any(key not in ELEMENTS for key in statement):
        raise _fail(SYNTAX)
    for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if a in statement and b in statement:
            raise _fail(SYNTAX)
    effect = statement.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise _fail(SYNTAX)
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        if key in statement and not _strings(statement[key]):
            raise _fail(SYNTAX)
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise _fail(SYNTAX)
    for key in ("Principal", "NotPrincipal"):
        if key in statement:
            _check_principal_syntax(statement[key])
    if "Condition" in statement:
        check_syntax(statement["Condition"])


def _resource_error(resource: str) -> str | None:
    """IAM's message for a resource that is not an ARN it accepts, else None."""
    if resource == "*":
        return None
    head, colon, rest = resource.partition(":")
    if not colon:
        return f'Resource {resource} must be in ARN format or "*".'
    partition, colon, rest = rest.partition(":")
    if partition != "*" and partition not in PARTITIONS:
        parts = rest.split(":") if colon else [""]
        segments = [
            parts[0] if parts[0] != "" or len(parts) > 1 else "*",
            parts[1] if len(parts) > 1 else "*",
            parts[2] if len(parts) > 2 else "*",
            ":".join(parts[3:]) if len(parts) > 3 else "*",
        ]
        return f'Partition "{partition}" is not valid for resource "arn:{partition}:{":".join(segments)}".'
    if not colon:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    service, _, rest = rest.partition(":")
    if "*" in service or "?" in service:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    region, _, rest = rest.partition(":")
    _account, _, path = rest.partition(":")
    if service == "iam" and region:
        return f"IAM resource {resource} cannot contain region information."
    if service == "s3" and region and not path.startswith("accesspoint/"):
        return f"Resource {resource} can not contain region information."
    if service == "iam" and path != "*" and not path.startswith(IAM_PATHS):
        return f'IAM resource path must either be "*" or start with {", ".join(IAM_PATHS)}.'
    return None


def _legacy_resource(resource: str) -> bool:
    """IAM's older reading of an ARN: a '::' needs all six segments, and the service is not empty."""
    if resource == "*":
        return True
    if resource.count(":") < 5 and "::" in resource:
        return False
    parts = resource.split(":")
    return len(parts) > 2 and parts[2] != ""


def _check_action(action: str) -> None:
    if action == "*":
        return
    parts = action.split(":")
    if len(parts) == 1:
        raise _fail("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if len(parts) > 2:
        raise _fail("Actions/Condition can contain only one colon.")
    if not _VENDOR.fullmatch(parts[0]):
        raise _fail(f"Vendor {parts[0]} is not valid")


def _check_principal_values(value: Any) -> None:
    if value == "*":
        return
    for key, entries in value.items():
        for entry in _as_list(entries):
            if key == "AWS":
                if entry == "*" or _ACCOUNT.fullmatch(entry):
                    continue
                found = _AWS_PRINCIPAL.fullmatch(entry)
                if found and found.group("partition") in PARTITIONS:
                    continue
                raise _fail(f'Invalid principal in policy: "AWS":"{entry}"')
            if key == "Service" and not _SERVICE_PRINCIPAL.fullmatch(entry):
                raise _fail(f'Invalid principal in policy: "SERVICE":"{entry}"')
            if key in ("Federated", "CanonicalUser") and not entry:
                raise _fail(f'Invalid principal in policy: "{key.upper()}":"{entry}"')


def _trust_action_ok(action: str) -> bool:
    glob = Glob(action, lower=True, variables=False)
    return any(glob.matches(a.lower(), _nothing) for a in TRUST_ACTIONS)


def _nothing(_key: str) -> str | None:
    return None


def _validate(doc: Any, kind: PolicyKind) -> list[dict[str, Any]]:
    """Every check IAM makes, in its order; the statements as a list."""
    # 1. shape
    if not isinstance(doc, dict) or any(key not in TOP for key in doc):
        raise _fail(SYNTAX)
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise _fail(SYNTAX)
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise _fail(SYNTAX)
    raw = doc.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise _fail(SYNTAX)
    for statement in statements:
        _check_statement_syntax(statement)
    # 2. the older reading
    for statement in statements:
        if statement["Effect"] not in ("Allow", "Deny"):
            raise _fail(LEGACY)
        if "Condition" in statement:
            check_dates(statement["Condition"])
    first_resource_error = None
    for statement in statements:
        for key in ("Resource", "NotResource"):
            for resource in _as_list(statement.get(key, [])):
                error = _resource_error(resource)
                if error is not None:
                    first_resource_error = first_resource_error or error
                elif not _legacy_resource(resource):
                    raise _fail(LEGACY)
    # 3. statement ids
    sids = [s["Sid"] for s in statements if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise _fail("Statement IDs (SID) in a single policy must be unique.")
    if kind != "resource" and any(not _SID.fullmatch(sid) for sid in sids):
        raise _fail(SID_MESSAGE)
    # 4. actions, resources
    for statement in statements:
        actions = statement.get("Action", statement.get("NotAction"))
        if actions is None or actions == []:
            raise _fail("Policy statement must contain actions.")
    if first_resource_error is not None and kind != "trust":
        raise _fail(first_resource_error)
    for statement in statements:
        for action in _as_list(statement.get("Action", statement.get("NotAction", []))):
            _check_action(action)
    # 5. what each kind of policy must and must not have
    for statement in statements:
        has_resource = "Resource" in statement or "NotResource" in statement
        has_principal = "Principal" in statement or "NotPrincipal" in statement
        if kind == "identity":
            if not has_resource or statement.get("Resource", statement.get("NotResource")) == []:
                raise _fail("Policy statement must contain resources.")
            if has_principal:
                raise _fail("Policy document should not specify a principal.")
        elif kind == "trust":
            if "NotAction" in statement or not all(_trust_action_ok(a) for a in _as_list(statement["Action"])):
                raise _fail(TRUST_ACTIONS_MESSAGE)
            if has_resource:
                raise _fail("Has prohibited field Resource.")
        if kind != "identity":
            if not has_principal:
                raise _fail("Missing required field Principal.")
            _check_principal_values(statement.get("Principal", statement.get("NotPrincipal")))
    return statements


def _compile(statement: dict[str, Any], index: int, variables: bool) -> Statement:
    actions = statement["Action"] if "Action" in statement else statement["NotAction"]
    resources = statement.get("Resource", statement.get("NotResource"))
    principals = statement.get("Principal", statement.get("NotPrincipal"))
    return Statement(
        sid=statement.get("Sid") or None,
        allow=statement["Effect"] == "Allow",
        actions=Actions(tuple(_as_list(actions))),
        not_action="NotAction" in statement,
        resources=None if resources is None else Resources(tuple(_as_list(resources)), variables),
        not_resource="NotResource" in statement,
        principals=None if principals is None else Principals.read(principals),
        not_principal="NotPrincipal" in statement,
        conditions=compile_conditions(statement.get("Condition", {}), variables),
        index=index,
    )


def parse_policy(document: str | bytes | Mapping[str, Any], kind: PolicyKind = "identity", *,
                 name: str | None = None) -> Policy:
    """Read, check and compile a policy document (JSON text or its parsed form).

    ``kind``: ``identity`` (a user's, group's or role's policy, inline or managed), ``resource``
    (a queue's, function's, bus's … policy) or ``trust`` (a role's AssumeRolePolicyDocument).
    Raises ``MalformedPolicyDocument`` with IAM's message for anything IAM would refuse; nothing else.
    """
    doc, text = _load(document)
    statements = _validate(doc, kind)
    version = doc.get("Version")
    variables = version == "2012-10-17"
    compiled = tuple(_compile(s, i, variables) for i, s in enumerate(statements))
    return Policy(document=doc, kind=kind, statements=compiled, version=version, id=doc.get("Id"), name=name,
                  text=text)


# -- sizes -------------------------------------------------------------------------------------

def policy_size(document: str | Mapping[str, Any] | Policy) -> int:
    """The size IAM counts: the document's characters, white space not counted."""
    if isinstance(document, Policy):
        text = document.to_json()
    elif isinstance(document, str):
        text = document
    else:
        text = json.dumps(document, separators=(",", ":"))
    return sum(1 for ch in text if not ch.isspace())


def check_managed_size(document: str | Mapping[str, Any] | Policy) -> None:
    if policy_size(document) > MANAGED_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_SIZE}")


def check_trust_size(document: str | Mapping[str, Any] | Policy, limit: int = TRUST_SIZE) -> None:
    if policy_size(document) > limit:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {limit}")


def check_inline_size(documents: Iterable[str | Mapping[str, Any] | Policy], entity: Literal["user", "group", "role"],
                      name: str) -> None:
    """All of an entity's inline policies together against its quota."""
    limit = INLINE_SIZE[entity]
    if sum(policy_size(d) for d in documents) > limit:
        raise LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for {entity} {name}")
