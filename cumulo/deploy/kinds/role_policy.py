"""``AWS::IAM::Policy`` and ``AWS::IAM::RolePolicy``: an inline policy put on roles; and the attachments an
``AWS::IAM::ManagedPolicy``'s ``Roles`` make (implicit resources of this kind).

``AWS::IAM::Policy``: ``PolicyName``, ``PolicyDocument`` (checked as IAM checks it) and ``Roles`` (names:
the template's roles, SAM's ``<Function>Role``s, or roles that exist); ``Users`` and ``Groups`` are noted
(Cumulo has neither), at least one of the three must be given. ``Ref`` is a physical id
(``<stack>-<LogicalId>-<suffix>``). ``AWS::IAM::RolePolicy``: ``PolicyName``, ``PolicyDocument``,
``RoleName``; ``Ref`` likewise.

Deployed after roles: the policy put on each role (or, for a managed policy, attached to it) where it is
not already so, and taken off roles it no longer names (after the deploy) and off all of them when the
template drops it. A role it names must be the template's or exist (a plan says so first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.kinds.role import PLANNED_ROLES, check_policy, policy_text
from cumulo.deploy.names import stable_name
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.identity.errors import NoSuchEntity
from cumulo.identity.names import check_name
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.identity.roles import Roles

__all__ = ["POLICY_TYPE", "ROLE_POLICY_TYPE", "RolePolicy", "RolePolicySpec"]

POLICY_TYPE = "AWS::IAM::Policy"
ROLE_POLICY_TYPE = "AWS::IAM::RolePolicy"
_KEYS = {POLICY_TYPE: {"PolicyName", "PolicyDocument", "Roles", "Users", "Groups"},
         ROLE_POLICY_TYPE: {"PolicyName", "PolicyDocument", "RoleName"}}


@dataclass(frozen=True)
class RolePolicySpec:
    logical_id: str                  # a managed policy's attachments: "<LogicalId>.Roles"
    line: int
    roles: tuple[str, ...]           # role names
    policy_name: str | None          # an inline policy's name
    document: str | None             # an inline policy's document, JSON text
    policy_arn: str | None = None    # a managed policy's ARN (its attachments)
    physical_id: str = ""
    shown: bool = True               # False: planned as part of its managed policy
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        return f"Resource {self.logical_id.split('.')[0]} (line {self.line})"

    def on(self, roles: Roles, role: str) -> bool:
        """Whether the role has it (the same document, or the policy attached)."""
        try:
            if self.policy_arn is not None:
                return any(arn == self.policy_arn for _, arn in roles.list_attached_role_policies(role))
            assert self.policy_name is not None and self.document is not None
            return _same(roles.get_role_policy(role, self.policy_name)[2], self.document)
        except NoSuchEntity:
            return False


class RolePolicy(Kind):
    name = "role policy"
    types = (POLICY_TYPE, ROLE_POLICY_TYPE)
    after = ("role",)
    listed = 13
    record_key = "role policies"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {e.logical_id: stable_name(load.stack, e.logical_id, 128) for e in entries}
        return named, {(lid, "Ref"): physical for lid, physical in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(_read(entry, named[entry.logical_id], props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def attributes(self, spec: RolePolicySpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.physical_id} if spec.shown else {}

    # -- deploying

    def plan(self, spec: RolePolicySpec, deploy: Deploy) -> Change | None:
        roles = deploy.c.identity.roles
        planned = deploy.planned.get(PLANNED_ROLES, set())
        for role in spec.roles:
            if role.lower() not in planned and not _exists(roles, role):
                raise error(spec.where, f"property {'Roles' if spec.policy_arn or len(spec.roles) != 1 else 'RoleName'}"
                            f": The role with name {role} cannot be found (it is neither this template's nor an "
                            "existing role).", spec.logical_id.split(".")[0], spec.line)
        before = _before(deploy.before(self), spec.logical_id)
        missing = [role for role in spec.roles if not spec.on(roles, role)]
        dropped = [role for role in before if role.lower() not in {r.lower() for r in spec.roles}]
        if not spec.shown:
            return None
        if not before and len(missing) == len(spec.roles):
            return Change(spec.logical_id, spec.policy_name or "", "create", kind=self.name)
        details = [f"on {', '.join(missing)}"] if missing else []
        details += [f"off {', '.join(dropped)}"] if dropped else []
        return Change(spec.logical_id, spec.policy_name or "", "update" if details else "unchanged", details,
                      self.name)

    def removed(self, specs: list[RolePolicySpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.logical_id for spec in specs}
        return [Change(lid, rec.get("name") or "", "delete", kind=self.name)
                for lid, rec in sorted((deploy.before(self) or {}).items()) if lid not in wanted and "." not in lid]

    def apply(self, spec: RolePolicySpec, change: Change | None, deploy: Deploy) -> None:
        roles = deploy.c.identity.roles
        for role in spec.roles:
            if spec.on(roles, role):
                continue
            try:
                if spec.policy_arn is not None:
                    roles.attach_role_policy(role, spec.policy_arn)
                    deploy.undo.append(partial(quietly, roles.detach_role_policy, role, spec.policy_arn))
                else:
                    assert spec.policy_name is not None
                    previous = _inline(roles, role, spec.policy_name)
                    roles.put_role_policy(role, spec.policy_name, spec.document)
                    deploy.undo.append(partial(_put_back, roles, role, spec.policy_name, previous))
            except CumuloError as exc:
                exc.message = f"{spec.where}: role {role}: {exc.message}"
                exc.args = (exc.message,)
                raise

    def record(self, applied: list[tuple[RolePolicySpec, Any]]) -> dict[str, dict[str, Any]]:
        return {spec.logical_id: {"roles": list(spec.roles), "name": spec.policy_name, "arn": spec.policy_arn}
                for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, dict[str, Any]], deploy: Deploy) -> None:
        """Off every role the previous deploy put it on and this one does not."""
        roles = deploy.c.identity.roles
        kept = {_key(rec, role) for rec in current.values() for role in rec["roles"]}
        for rec in (previous or {}).values():
            for role in rec.get("roles", ()):
                if _key(rec, role) in kept:
                    continue
                if rec.get("arn"):
                    quietly(roles.detach_role_policy, role, rec["arn"])
                else:
                    quietly(roles.delete_role_policy, role, rec["name"])


def _read(entry: Entry, physical_id: str, props: dict[str, Any]) -> RolePolicySpec:
    unknown = sorted(set(props) - _KEYS[entry.type])
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}' for {entry.type}")
    for required in ("PolicyName", "PolicyDocument"):
        if required not in props:
            raise IntrinsicError(f"property {required}: required")
    try:
        name = check_name(to_str(props["PolicyName"]), "policyName", 128)
    except CumuloError as exc:
        raise IntrinsicError(f"property PolicyName: {exc.message}") from None
    document = check_policy(policy_text(props["PolicyDocument"], "PolicyDocument"), "identity", "PolicyDocument", name)
    if entry.type == ROLE_POLICY_TYPE:
        if "RoleName" not in props:
            raise IntrinsicError("property RoleName: required")
        given = [props["RoleName"]]
        notes: list[str] = []
    else:
        given = props.get("Roles", [])
        if not isinstance(given, list):
            raise IntrinsicError("property Roles: must be a list of role names")
        notes = [f"{key} ignored: Cumulo has no IAM {key.lower()}; put the policy on roles"
                 for key in ("Users", "Groups") if props.get(key)]
        if not given and not notes:
            raise IntrinsicError("At least one of [Groups,Roles,Users] must be non-empty.")
    roles = []
    for role in given:
        text = to_str(role)
        if text.startswith("arn:"):
            raise IntrinsicError(f"property Roles: give role names (!Ref MyRole), not ARNs: {text}")
        try:
            roles.append(check_name(text, "roleName", 64))
        except CumuloError as exc:
            raise IntrinsicError(f"property Roles: {exc.message}") from None
    return RolePolicySpec(entry.logical_id, entry.line, tuple(roles), name, document, None, physical_id, True,
                          tuple(notes))


def _same(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def _exists(roles: Roles, name: str) -> bool:
    try:
        roles.get_role(name)
        return True
    except CumuloError:
        return False


def _before(record: Any, logical_id: str) -> list[str]:
    rec = (record or {}).get(logical_id)
    return list(rec.get("roles", ())) if isinstance(rec, dict) else []


def _key(rec: dict[str, Any], role: str) -> tuple[str, str, str]:
    return (role.lower(), "managed" if rec.get("arn") else "inline", rec.get("arn") or rec.get("name") or "")


def _inline(roles: Roles, role: str, name: str) -> str | None:
    try:
        return roles.get_role_policy(role, name)[2]
    except NoSuchEntity:
        return None


def _put_back(roles: Roles, role: str, name: str | None, previous: str | None) -> None:
    assert name is not None
    if previous is None:
        quietly(roles.delete_role_policy, role, name)
    else:
        quietly(roles.put_role_policy, role, name, previous)
