"""``AWS::IAM::Role``, and the roles SAM makes for functions and state machines that have no ``Role``.

Declared roles: named by ``RoleName`` or, as CloudFormation does, ``<stack>-<LogicalId>-<suffix>`` (64
characters at most; our suffix is a hash of stack and logical id, so a re-deploy finds the same role);
``Path``, ``AssumeRolePolicyDocument`` (required), ``Description``, ``MaxSessionDuration``, ``Policies``
(inline: ``PolicyName`` and ``PolicyDocument``) and ``ManagedPolicyArns``, checked as IAM checks them
(``MalformedPolicyDocument``, its size quotas); ``PermissionsBoundary`` and ``Tags`` are accepted and
noted. ``Ref`` is the name; ``Fn::GetAtt`` gives ``Arn`` (and ``RoleId`` once deployed, in Outputs).

SAM's implicit roles (``function_role``, ``machine_role``): a function without ``Role`` gets
``<LogicalId>Role`` (named like a declared role of that logical id) with Lambda's trust policy (or its
``AssumeRolePolicyDocument``), at ``RolePath``, with ``AWSLambdaBasicExecutionRole``, X-Ray's policy
with ``Tracing: Active``, the VPC access policy with ``VpcConfig``, its ``Policies`` (managed policy names
or ARNs, inline statements, SAM's policy templates: ``cumulo.iam.sam``), ``DeadLetterQueuePolicy`` for its
``DeadLetterQueue``, a policy per ``EventInvokeConfig`` destination, and the managed policy of each
SQS/Kinesis/DynamoDB event; a state machine without ``Role`` gets ``<LogicalId>Role`` with the states
trust and its ``Policies``. The function and state machine kinds make them and ``expand`` to them.

An AWS managed policy Cumulo does not know (``cumulo.iam.managed``) is noted and not attached: it
would grant nothing here. Deploying goes through the identity service (``cumulo/identity``): a role is
created with its policies, updated in place (trust, description, session duration, the policies this
stack gave it; policies attached by others are left alone), replaced when its ``Path`` changes, and
deleted with everything on it when the template drops it. A role named in the template that exists
and is not this stack's is refused; one with this stack's generated name (left by a deploy that was
cut off) is taken over.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo import iam
from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, Node, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.names import stable_name
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.identity.errors import NoSuchEntity
from cumulo.identity.names import check_int, check_name, check_path
from cumulo.iam.sam import LAMBDA_TRUST_POLICY, STATES_TRUST_POLICY
from cumulo.identity.roles import document_text
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.identity.roles import Roles

__all__ = ["ROLE_TYPE", "Role", "RoleSpec", "role_name_for", "role_arn", "implicit_role", "function_role",
           "machine_role", "policy_text", "check_policy", "managed_arns", "PLANNED_ROLES", "PLANNED_POLICIES"]

ROLE_TYPE = "AWS::IAM::Role"
_KEYS = {"AssumeRolePolicyDocument", "Description", "ManagedPolicyArns", "MaxSessionDuration", "Path",
         "Policies", "RoleName", "PermissionsBoundary", "Tags"}
_BOUNDARY = ("PermissionsBoundary accepted and not applied: Cumulo does not evaluate permissions boundaries, so "
             "the role may do what its policies allow")
PLANNED_ROLES = "roles"                      # Deploy.planned: names (lower case) of the roles a plan makes or keeps
PLANNED_POLICIES = "managed policies"        # Deploy.planned: ARNs of the managed policies a plan makes or keeps
_DESTINATIONS = {"sqs": ("SQSPolicy", "sqs:SendMessage"), "sns": ("SNSPolicy", "sns:publish"),
                 "events": ("EventBridgePolicy", "events:PutEvents"), "lambda": ("LambdaPolicy", "lambda:InvokeFunction")}


@dataclass(frozen=True)
class RoleSpec:
    logical_id: str
    line: int = field(compare=False)
    name: str
    path: str
    arn: str
    trust: str                                          # the trust policy, JSON text
    inline: tuple[tuple[str, str], ...] = ()            # (policy name, document as JSON text)
    managed: tuple[str, ...] = ()                       # ARNs of the managed policies to attach
    description: str | None = None
    max_session: int = 3600
    generated: bool = True                              # named by us, not by RoleName
    owner: str | None = None                            # the function or state machine SAM makes it for
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        return (f"Resource {self.owner} (line {self.line}): its role {self.logical_id}" if self.owner
                else f"Resource {self.logical_id} (line {self.line})")


# --- names --------------------------------------------------------------------------------------

def role_name_for(stack: str, logical_id: str) -> str:
    """CloudFormation's generated role name, ``<stack>-<LogicalId>-<suffix>`` in 64 characters."""
    return stable_name(stack, logical_id, 64)


def role_arn(arns: Arns, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{arns.account}:role{path}{name}"


def _checked(check: Any, value: Any, *args: Any) -> Any:
    try:
        return check(value, *args)
    except CumuloError as exc:
        raise IntrinsicError(exc.message) from None


def _plain_property(properties: Node, key: str, load: Load) -> Any:
    """A property that names the resource, from parameters, mappings and conditions only (NO_VALUE: absent)."""
    if key not in properties:
        return NO_VALUE
    try:
        return resolve(properties[key], load.plain)
    except IntrinsicError as exc:
        raise IntrinsicError(f"property {key}: {exc.message}", exc.line) from None


def _path(properties: Node, key: str, load: Load) -> str:
    value = _plain_property(properties, key, load)
    if value is NO_VALUE:
        return "/"
    try:
        return str(_checked(check_path, to_str(value)))
    except IntrinsicError as exc:
        raise IntrinsicError(f"property {key}: {exc.message}") from None


def implicit_role(load: Load, owner: Entry) -> tuple[str, str]:
    """The (name, ARN) of the role SAM makes for ``owner`` (a function or state machine without Role)."""
    name = role_name_for(load.stack, f"{owner.logical_id}Role")
    return name, role_arn(load.arns, name, _path(owner.properties, "RolePath", load))


# --- documents ----------------------------------------------------------------------------------

def policy_text(value: Any, what: str) -> str:
    """A policy document given as a map or as JSON text, as compact JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise IntrinsicError(f"property {what}: not a JSON policy document") from None
    if not isinstance(value, dict):
        raise IntrinsicError(f"property {what}: must be a policy document (a map), got {type(value).__name__}")
    return document_text(value)


def check_policy(text: str, kind: iam.PolicyKind, what: str, name: str, managed: bool = False) -> str:
    """``text``, checked as IAM checks a document of this kind (MalformedPolicyDocument; a trust policy's and a
    managed policy's size quota: inline policies are counted together, by ``_inline_size``)."""
    try:
        policy = iam.parse_policy(text, kind, name=name)
        if kind == "trust":
            iam.check_trust_size(policy)
        elif managed:
            iam.check_managed_size(policy)
    except CumuloError as exc:
        raise IntrinsicError(f"property {what}: {type(exc).__name__}: {exc.message}") from None
    return text


def managed_arns(names: Iterable[str], what: str) -> tuple[tuple[str, ...], list[str]]:
    """Managed policies by ARN (or an AWS managed policy's name): the ARNs to attach, and notes for those
    that are AWS's and not known here (they would grant nothing: not attached)."""
    arns: list[str] = []
    notes: list[str] = []
    for item in names:
        arn = iam.aws_managed_arn(item) or item
        if not arn.startswith("arn:"):
            notes.append(f"{what}: {item} is not an AWS managed policy Cumulo knows, nor an ARN: not attached")
            continue
        if iam.is_aws_managed_arn(arn) and iam.managed_policy(arn) is None:
            notes.append(f"{what}: {arn} is an AWS managed policy Cumulo does not know: not attached (what it "
                         "grants on AWS is not granted here; give the statements inline)")
            continue
        if arn not in arns:
            arns.append(arn)
    return tuple(arns), notes


def _inline_size(spec_name: str, inline: Iterable[tuple[str, str]], what: str) -> None:
    try:
        iam.check_inline_size([doc for _, doc in inline], "role", spec_name)
    except CumuloError as exc:
        raise IntrinsicError(f"property {what}: LimitExceeded: {exc.message}") from None


# --- declared roles -------------------------------------------------------------------------------

def _read_role(entry: Entry, name: str, arn: str, path: str, generated: bool, props: dict[str, Any]) -> RoleSpec:
    unknown = sorted(set(props) - _KEYS)
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}' for {ROLE_TYPE}")
    if "AssumeRolePolicyDocument" not in props:
        raise IntrinsicError("property AssumeRolePolicyDocument: required")
    trust = check_policy(policy_text(props["AssumeRolePolicyDocument"], "AssumeRolePolicyDocument"), "trust",
                         "AssumeRolePolicyDocument", name)
    description = props.get("Description")
    if description is not None:
        description = to_str(description)
        if len(description) > 1000:
            raise IntrinsicError("property Description: at most 1000 characters")
    try:
        duration = check_int(props.get("MaxSessionDuration"), "maxSessionDuration", 3600, 43200) or 3600
    except CumuloError as exc:
        raise IntrinsicError(f"property MaxSessionDuration: {exc.message}") from None
    inline: list[tuple[str, str]] = []
    policies = props.get("Policies", [])
    if not isinstance(policies, list):
        raise IntrinsicError("property Policies: must be a list of {PolicyName, PolicyDocument}")
    for index, policy in enumerate(policies):
        what = f"Policies[{index}]"
        if not isinstance(policy, dict) or set(policy) != {"PolicyName", "PolicyDocument"}:
            raise IntrinsicError(f"property {what}: must be a map of PolicyName and PolicyDocument")
        policy_name = _checked(check_name, to_str(policy["PolicyName"]), "policyName", 128)
        if any(n == policy_name for n, _ in inline):
            raise IntrinsicError(f"property {what}: a policy named {policy_name} is given twice")
        inline.append((policy_name, check_policy(policy_text(policy["PolicyDocument"], f"{what}.PolicyDocument"),
                                                 "identity", f"{what}.PolicyDocument", policy_name)))
    _inline_size(name, inline, "Policies")
    given = props.get("ManagedPolicyArns", [])
    if not isinstance(given, list):
        raise IntrinsicError("property ManagedPolicyArns: must be a list of policy ARNs")
    managed, notes = managed_arns([to_str(a) for a in given], "ManagedPolicyArns")
    if len(managed) > 20:
        raise IntrinsicError("property ManagedPolicyArns: Cannot exceed quota for PoliciesPerRole: 20")
    if "PermissionsBoundary" in props:
        notes.append(_BOUNDARY)
    return RoleSpec(entry.logical_id, entry.line, name, path, arn, trust, tuple(inline), managed, description,
                    duration, generated, None, tuple(notes))


# --- SAM's roles ----------------------------------------------------------------------------------

def _trust(properties: Node, load: Load, default: dict[str, Any]) -> str:
    if "AssumeRolePolicyDocument" not in properties:
        return document_text(default)
    value = plain(resolve(properties["AssumeRolePolicyDocument"], load.scope))
    return check_policy(policy_text(value, "AssumeRolePolicyDocument"), "trust", "AssumeRolePolicyDocument",
                        "AssumeRolePolicyDocument")


def _sam_role(load: Load, owner: Entry, sam_role: iam.SamRole, trust: str, extra: list[tuple[str, dict[str, Any]]],
              notes: list[str]) -> RoleSpec:
    logical_id = f"{owner.logical_id}Role"
    name, arn = implicit_role(load, owner)
    path = _path(owner.properties, "RolePath", load)
    managed, more = managed_arns(sam_role.managed_policy_arns, "Policies")
    inline = [(n, document_text(d)) for n, d in [*extra, *sam_role.inline_policies]]
    for policy_name, text in inline:
        check_policy(text, "identity", "Policies", policy_name)
    _inline_size(name, inline, "Policies")
    if "PermissionsBoundary" in owner.properties:
        notes = [*notes, _BOUNDARY]
    return RoleSpec(logical_id, owner.line, name, path, arn, trust, tuple(inline), managed, None, 3600, True,
                    owner.logical_id, tuple(notes + more))


def _policies(owner: Entry, load: Load) -> Any:
    if "Policies" not in owner.properties:
        return None
    value = resolve(owner.properties["Policies"], load.scope)
    return None if value is NO_VALUE else plain(value)


def function_role(load: Load, owner: Entry, *, events: Iterable[str] = (), vpc: bool = False,
                  dead_letter_arn: str = "", destinations: Iterable[tuple[str, str]] = ()) -> RoleSpec:
    """The role SAM makes for a function without ``Role`` (``owner``: its entry, Globals merged)."""
    tracing = "Tracing" in owner.properties and to_str(resolve(owner.properties["Tracing"], load.scope)) == "Active"
    try:
        sam_role = iam.function_role(owner.logical_id, _policies(owner, load), region=load.region,
                                     account_id=load.account, tracing=tracing, vpc=vpc, event_sources=list(events))
    except iam.SamPolicyError as exc:
        raise IntrinsicError(f"property Policies: {exc.detail}") from None
    extra: list[tuple[str, dict[str, Any]]] = []
    if dead_letter_arn:
        action = "sqs:SendMessage" if ":sqs:" in dead_letter_arn else "sns:Publish"
        extra.append(("DeadLetterQueuePolicy", {"Version": "2012-10-17", "Statement": [
            {"Action": action, "Resource": dead_letter_arn, "Effect": "Allow"}]}))
    for when, arn in destinations:
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service in _DESTINATIONS:
            suffix, action = _DESTINATIONS[service]
            extra.append((f"{owner.logical_id}EventInvokeConfig{when}{suffix}",
                          {"Statement": [{"Action": action, "Effect": "Allow", "Resource": arn}]}))
    return _sam_role(load, owner, sam_role, _trust(owner.properties, load, LAMBDA_TRUST_POLICY), extra, [])


def machine_role(load: Load, owner: Entry) -> RoleSpec:
    """The role SAM makes for an ``AWS::Serverless::StateMachine`` without ``Role``."""
    tracing = False
    if "Tracing" in owner.properties:
        value = plain(resolve(owner.properties["Tracing"], load.scope))
        tracing = isinstance(value, dict) and value.get("Enabled") in (True, "true", "True")
    try:
        sam_role = iam.state_machine_role(owner.logical_id, _policies(owner, load), region=load.region,
                                          account_id=load.account, tracing=tracing)
    except iam.SamPolicyError as exc:
        raise IntrinsicError(f"property Policies: {exc.detail}") from None
    return _sam_role(load, owner, sam_role, document_text(STATES_TRUST_POLICY), [], [])


# --- the kind -------------------------------------------------------------------------------------

class Role(Kind):
    name = "role"
    types = (ROLE_TYPE,)
    after = ("managed policy",)
    listed = 11
    record_key = "roles"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, tuple[str, str, str, bool]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            try:
                given = _plain_property(entry.properties, "RoleName", load)
                name = role_name_for(load.stack, entry.logical_id) if given is NO_VALUE else \
                    _checked(check_name, to_str(given), "roleName", 64)
                path = _path(entry.properties, "Path", load)
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            if name.lower() in owners:
                raise error(entry.where, f"role name '{name}' is already used by resource {owners[name.lower()]}",
                            entry.logical_id, entry.line)
            owners[name.lower()] = entry.logical_id
            named[entry.logical_id] = (name, path, role_arn(load.arns, name, path), given is NO_VALUE)
        return named, {k: v for lid, (name, _, arn, _) in named.items()
                       for k, v in {(lid, "Ref"): name, (lid, "Arn"): arn}.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, path, arn, generated = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(_read_role(entry, name, arn, path, generated, props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def check(self, specs: list[RoleSpec], load: Load) -> None:
        """Two roles of one name (a declared one and one SAM makes, or a declared one with SAM's logical id)."""
        seen: dict[str, RoleSpec] = {}
        for spec in specs:
            for key in (spec.name.lower(), f"logical:{spec.logical_id}"):
                other = seen.get(key)
                if other is not None:
                    raise error(spec.where, f"role {spec.logical_id} ({spec.name}) is also {other.where}: SAM "
                                "makes the role of a function or state machine without Role under that name; "
                                "rename one", spec.owner or spec.logical_id, spec.line)
                seen[key] = spec

    def attributes(self, spec: RoleSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.name, (spec.logical_id, "Arn"): spec.arn}

    def deployed(self, spec: RoleSpec, deploy: Deploy) -> Attributes:
        known = self.attributes(spec, deploy.c.arns)
        try:
            known[(spec.logical_id, "RoleId")] = deploy.c.identity.roles.get_role(spec.name)["RoleId"]
        except CumuloError:
            pass
        return known

    # -- deploying

    def plan(self, spec: RoleSpec, deploy: Deploy) -> Change:
        deploy.planned.setdefault(PLANNED_ROLES, set()).add(spec.name.lower())
        c = deploy.c
        for arn in spec.managed:
            if not c.identity.policies.exists(arn) and arn not in deploy.planned.get(PLANNED_POLICIES, set()):
                raise error(spec.where, f"property {'Policies' if spec.owner else 'ManagedPolicyArns'}: Policy {arn} "
                            "does not exist or is not attachable.", spec.owner or spec.logical_id, spec.line)
        state = _state(c.identity.roles, spec.name)
        if state is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        owned = _owned(deploy.before(self), spec.name)
        if owned is None:
            if not spec.generated:
                raise error(spec.where, f"property RoleName: Role with name {spec.name} already exists (it is not "
                            "this stack's: delete it or name this role otherwise)", spec.logical_id, spec.line)
            owned = _everything(state)
        if state.path != spec.path:
            return Change(spec.logical_id, spec.name, "replace", [f"Path from {state.path} to {spec.path}"], self.name)
        details = _differences(spec, state, owned)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[RoleSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name.lower() for spec in specs}
        return [Change(logical_id.replace(".", ""), rec["name"], "delete", kind=self.name)
                for logical_id, rec in sorted((deploy.before(self) or {}).items())
                if rec["name"].lower() not in wanted and _state(deploy.c.identity.roles, rec["name"]) is not None]

    def apply(self, spec: RoleSpec, change: Change | None, deploy: Deploy) -> None:
        roles = deploy.c.identity.roles
        state = _state(roles, spec.name)
        owned = _owned(deploy.before(self), spec.name)
        if state is not None and owned is None:
            owned = _everything(state)
        try:
            if state is not None and state.path != spec.path:
                _delete(roles, spec.name)
                deploy.undo.append(partial(_recreate, roles, state))
                state = None
            if state is None:
                roles.create_role(spec.name, spec.trust, spec.path, spec.description, spec.max_session)
                deploy.undo.append(partial(_delete, roles, spec.name))
                _converge(roles, spec, None, _Owned((), ()))
                return
            if _differences(spec, state, owned or _Owned((), ())):
                deploy.undo.append(partial(_restore, roles, state))
                _converge(roles, spec, state, owned or _Owned((), ()))
        except CumuloError as exc:
            exc.message = f"{spec.where}: role {spec.name}: {exc.message}"
            exc.args = (exc.message,)
            raise

    def record(self, applied: list[tuple[RoleSpec, Any]]) -> dict[str, dict[str, Any]]:
        """By logical id; SAM's role of X under ``X.Role``, so that it is kept with X (DeletionPolicy: Retain)."""
        return {f"{spec.owner}.Role" if spec.owner else spec.logical_id: {"name": spec.name, "inline": [n for n, _ in spec.inline],
                                  "managed": list(spec.managed)} for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, dict[str, Any]], deploy: Deploy) -> None:
        wanted = {rec["name"].lower() for rec in current.values()}
        for rec in (previous or {}).values():
            if rec["name"].lower() not in wanted:
                quietly(_delete, deploy.c.identity.roles, rec["name"])

    def summary(self, spec: RoleSpec) -> list[str]:
        return []


# --- what is deployed -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _State:
    """A stored role as the deploy compares and restores it."""

    name: str
    path: str
    trust: str
    description: str | None
    max_session: int
    inline: dict[str, str]
    managed: tuple[str, ...]


@dataclass(frozen=True)
class _Owned:
    """What this stack gave a role: its inline policies' names and the managed policies it attached."""

    inline: tuple[str, ...]
    managed: tuple[str, ...]


def _state(roles: Roles, name: str) -> _State | None:
    try:
        role = roles.get_role(name)
        inline = {n: roles.get_role_policy(name, n)[2] for n in roles.list_role_policies(name)}
        managed = tuple(arn for _, arn in roles.list_attached_role_policies(name))
    except NoSuchEntity:
        return None
    return _State(role["RoleName"], role["Path"], role["AssumeRolePolicyDocument"], role.get("Description"),
                  role["MaxSessionDuration"], inline, managed)


def _owned(record: Any, name: str) -> _Owned | None:
    for rec in (record or {}).values():
        if isinstance(rec, dict) and str(rec.get("name", "")).lower() == name.lower():
            return _Owned(tuple(rec.get("inline", ())), tuple(rec.get("managed", ())))
    return None


def _everything(state: _State) -> _Owned:
    return _Owned(tuple(state.inline), state.managed)


def _same(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def _differences(spec: RoleSpec, state: _State, owned: _Owned) -> list[str]:
    details = []
    if not _same(state.trust, spec.trust):
        details.append("AssumeRolePolicyDocument")
    if spec.description is not None and state.description != spec.description:
        details.append("Description")
    if state.max_session != spec.max_session:
        details.append("MaxSessionDuration")
    wanted = dict(spec.inline)
    if any(n not in state.inline or not _same(state.inline[n], doc) for n, doc in wanted.items()) or \
            any(n in state.inline and n not in wanted for n in owned.inline):
        details.append("Policies")
    if any(a not in state.managed for a in spec.managed) or \
            any(a in state.managed and a not in spec.managed for a in owned.managed):
        details.append("ManagedPolicyArns")
    return details


def _converge(roles: Roles, spec: RoleSpec, state: _State | None, owned: _Owned) -> None:
    """The role brought to ``spec``: what this stack gave it and no longer wants is taken away; what others
    gave it is left."""
    if state is not None:
        if not _same(state.trust, spec.trust):
            roles.update_assume_role_policy(spec.name, spec.trust)
        if (spec.description is not None and state.description != spec.description) or \
                state.max_session != spec.max_session:
            roles.update_role(spec.name, spec.description, spec.max_session)
    current = state.inline if state else {}
    wanted = dict(spec.inline)
    for policy_name in owned.inline:
        if policy_name in current and policy_name not in wanted:
            roles.delete_role_policy(spec.name, policy_name)
    for policy_name, doc in spec.inline:
        if policy_name not in current or not _same(current[policy_name], doc):
            roles.put_role_policy(spec.name, policy_name, doc)
    attached = state.managed if state else ()
    for arn in owned.managed:
        if arn in attached and arn not in spec.managed:
            roles.detach_role_policy(spec.name, arn)
    for arn in spec.managed:
        if arn not in attached:
            roles.attach_role_policy(spec.name, arn)


def _delete(roles: Roles, name: str) -> None:
    """The role and everything on it (its inline policies, its attachments)."""
    try:
        for policy_name in roles.list_role_policies(name):
            roles.delete_role_policy(name, policy_name)
        for _, arn in roles.list_attached_role_policies(name):
            roles.detach_role_policy(name, arn)
        roles.delete_role(name)
    except NoSuchEntity:
        pass


def _restore(roles: Roles, state: _State) -> None:
    """Undo of an update: the role exactly as it was."""
    spec = RoleSpec("", 0, state.name, state.path, "", state.trust, tuple(state.inline.items()), state.managed,
                    state.description, state.max_session)
    now = _state(roles, state.name)
    if now is None:
        _recreate(roles, state)
        return
    _converge(roles, spec, now, _everything(now))


def _recreate(roles: Roles, state: _State) -> None:
    """Undo of a replacement or deletion: the role made again as it was (with a new id)."""
    _delete(roles, state.name)
    roles.create_role(state.name, state.trust, state.path, state.description, state.max_session)
    for policy_name, doc in state.inline.items():
        roles.put_role_policy(state.name, policy_name, doc)
    for arn in state.managed:
        quietly(roles.attach_role_policy, state.name, arn)

