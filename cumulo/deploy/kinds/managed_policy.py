"""``AWS::IAM::ManagedPolicy``: a customer managed policy of the account.

Named by ``ManagedPolicyName`` or, as CloudFormation does, ``<stack>-<LogicalId>-<suffix>`` (128 at most),
at ``Path``; ``PolicyDocument`` (required) checked as IAM checks it; ``Description``. ``Ref`` is its ARN;
``Fn::GetAtt`` gives ``PolicyArn`` (and ``PolicyId``, ``DefaultVersionId`` once deployed, in Outputs).
``Roles`` (names) are attached by the ``role policy`` kind once the roles exist (this expands to that
attachment); ``Users`` and ``Groups`` are noted (Cumulo has neither).

Deployed before roles (a role's ``ManagedPolicyArns`` may name it) through the identity service: created;
a changed document is a new default version (the oldest other version deleted when there are five, as
CloudFormation does); a changed name, path or description makes a new policy; dropped from the template,
it is detached from every role and deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.kinds.role import PLANNED_POLICIES, check_policy, policy_text
from cumulo.deploy.kinds.role_policy import RolePolicySpec
from cumulo.deploy.names import stable_name
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.identity.names import check_name, check_path
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.identity.service import Identity

__all__ = ["MANAGED_POLICY_TYPE", "ManagedPolicy", "ManagedPolicySpec"]

MANAGED_POLICY_TYPE = "AWS::IAM::ManagedPolicy"
_KEYS = {"ManagedPolicyName", "Path", "Description", "PolicyDocument", "Roles", "Users", "Groups"}


@dataclass(frozen=True)
class ManagedPolicySpec:
    logical_id: str
    line: int
    name: str
    path: str
    arn: str
    document: str                            # JSON text
    description: str | None = None
    roles: tuple[str, ...] = ()
    generated: bool = True
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        return f"Resource {self.logical_id} (line {self.line})"


def _arn(arns: Arns, name: str, path: str) -> str:
    return f"arn:aws:iam::{arns.account}:policy{path}{name}"


class ManagedPolicy(Kind):
    name = "managed policy"
    types = (MANAGED_POLICY_TYPE,)
    listed = 12
    record_key = "managed policies"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, tuple[str, str, str, bool]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            try:
                given = resolve(entry.properties.get("ManagedPolicyName", NO_VALUE), load.plain)
                name = stable_name(load.stack, entry.logical_id, 128) if given is NO_VALUE else \
                    _checked(check_name, to_str(given), "policyName", 128)
                path_value = resolve(entry.properties.get("Path", NO_VALUE), load.plain)
                path = "/" if path_value is NO_VALUE else _checked(check_path, to_str(path_value))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            if name.lower() in owners:
                raise error(entry.where, f"managed policy name '{name}' is already used by resource "
                            f"{owners[name.lower()]}", entry.logical_id, entry.line)
            owners[name.lower()] = entry.logical_id
            named[entry.logical_id] = (name, path, _arn(load.arns, name, path), given is NO_VALUE)
        return named, {k: v for lid, (_, _, arn, _) in named.items()
                       for k, v in {(lid, "Ref"): arn, (lid, "PolicyArn"): arn}.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, path, arn, generated = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(_read(entry, name, path, arn, generated, props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def expand(self, spec: ManagedPolicySpec) -> Iterable[tuple[str, Any]]:
        if not spec.roles:
            return []
        return [("role policy", RolePolicySpec(f"{spec.logical_id}.Roles", spec.line, spec.roles, None, None,
                                               spec.arn, shown=False))]

    def attributes(self, spec: ManagedPolicySpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.arn, (spec.logical_id, "PolicyArn"): spec.arn}

    def deployed(self, spec: ManagedPolicySpec, deploy: Deploy) -> Attributes:
        known = self.attributes(spec, deploy.c.arns)
        try:
            policy = deploy.c.identity.policies.get_policy(spec.arn)
        except CumuloError:
            return known
        known[(spec.logical_id, "PolicyId")] = policy["PolicyId"]
        known[(spec.logical_id, "DefaultVersionId")] = policy["DefaultVersionId"]
        return known

    # -- deploying

    def plan(self, spec: ManagedPolicySpec, deploy: Deploy) -> Change:
        deploy.planned.setdefault(PLANNED_POLICIES, set()).add(spec.arn)
        identity = deploy.c.identity
        current = _current(identity, spec)
        if current is None:
            clash = _by_name(identity, spec.name)
            if clash is not None and not _ours(deploy.before(self), clash["Arn"]):
                raise error(spec.where, f"A policy called {spec.name} already exists (it is not this stack's). "
                            "Duplicate names are not allowed.", spec.logical_id, spec.line)
            return Change(spec.logical_id, spec.name, "create" if clash is None else "replace", kind=self.name)
        if not _ours(deploy.before(self), spec.arn) and not spec.generated:
            raise error(spec.where, f"A policy called {spec.name} already exists (it is not this stack's). "
                        "Duplicate names are not allowed.", spec.logical_id, spec.line)
        if spec.description is not None and current.get("Description") != spec.description:
            return Change(spec.logical_id, spec.name, "replace", ["Description"], self.name)
        details = [] if _same(_document(identity, current), spec.document) else ["PolicyDocument"]
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[ManagedPolicySpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.arn for spec in specs}
        return [Change(logical_id, arn.rsplit("/", 1)[1], "delete", kind=self.name)
                for logical_id, arn in sorted((deploy.before(self) or {}).items())
                if arn not in wanted and deploy.c.identity.policies.exists(arn)]

    def apply(self, spec: ManagedPolicySpec, change: Change | None, deploy: Deploy) -> None:
        identity = deploy.c.identity
        policies = identity.policies
        current = _current(identity, spec)
        try:
            if current is not None and spec.description is not None and \
                    current.get("Description") != spec.description:
                _delete(identity, spec.arn)
                current = None
            if current is None:
                clash = _by_name(identity, spec.name)
                if clash is not None:            # the same name at another path: IAM's names ignore the path
                    _delete(identity, clash["Arn"])
                policies.create_policy(spec.name, spec.document, spec.path, spec.description)
                deploy.undo.append(partial(_delete, identity, spec.arn))
                return
            if _same(_document(identity, current), spec.document):
                return
            versions = policies.list_policy_versions(spec.arn)
            if len(versions) >= 5:
                oldest = [v for v in versions if not v["IsDefaultVersion"]][-1]
                policies.delete_policy_version(spec.arn, oldest["VersionId"])
            made = policies.create_policy_version(spec.arn, spec.document, set_as_default=True)
            deploy.undo.append(partial(_back, identity, spec.arn, current["DefaultVersionId"], made["VersionId"]))
        except CumuloError as exc:
            exc.message = f"{spec.where}: managed policy {spec.name}: {exc.message}"
            exc.args = (exc.message,)
            raise

    def record(self, applied: list[tuple[ManagedPolicySpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.arn for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for arn in (previous or {}).values():
            if arn not in wanted:
                quietly(_delete, deploy.c.identity, arn)


def _checked(check: Any, value: Any, *args: Any) -> Any:
    try:
        return check(value, *args)
    except CumuloError as exc:
        raise IntrinsicError(exc.message) from None


def _read(entry: Entry, name: str, path: str, arn: str, generated: bool, props: dict[str, Any]) -> ManagedPolicySpec:
    unknown = sorted(set(props) - _KEYS)
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}' for {MANAGED_POLICY_TYPE}")
    if "PolicyDocument" not in props:
        raise IntrinsicError("property PolicyDocument: required")
    document = check_policy(policy_text(props["PolicyDocument"], "PolicyDocument"), "identity", "PolicyDocument",
                            name, managed=True)
    description = props.get("Description")
    if description is not None:
        description = to_str(description)
        if len(description) > 1000:
            raise IntrinsicError("property Description: at most 1000 characters")
    roles = props.get("Roles", [])
    if not isinstance(roles, list):
        raise IntrinsicError("property Roles: must be a list of role names")
    names = tuple(_checked(check_name, to_str(r), "roleName", 64) for r in roles)
    notes = [f"{key} ignored: Cumulo has no IAM {key.lower()}; attach the policy to roles"
             for key in ("Users", "Groups") if props.get(key)]
    return ManagedPolicySpec(entry.logical_id, entry.line, name, path, arn, document, description, names, generated,
                             tuple(notes))


def _current(identity: Identity, spec: ManagedPolicySpec) -> dict[str, Any] | None:
    try:
        return identity.policies.get_policy(spec.arn)
    except CumuloError:
        return None


def _by_name(identity: Identity, name: str) -> dict[str, Any] | None:
    return next((p for p in identity.policies.list_policies("Local") if p["PolicyName"].lower() == name.lower()),
                None)


def _ours(record: Any, arn: str) -> bool:
    return arn in (record or {}).values()


def _document(identity: Identity, policy: dict[str, Any]) -> str:
    return str(identity.policies.get_policy_version(policy["Arn"], policy["DefaultVersionId"])["Document"])


def _same(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def _delete(identity: Identity, arn: str) -> None:
    """Detached from every role, its other versions deleted, then deleted."""
    policies = identity.policies
    try:
        for role in identity.roles.attached_to(arn):
            quietly(identity.roles.detach_role_policy, role, arn)
        for version in policies.list_policy_versions(arn):
            if not version["IsDefaultVersion"]:
                policies.delete_policy_version(arn, version["VersionId"])
        policies.delete_policy(arn)
    except CumuloError:
        if policies.exists(arn):
            raise


def _back(identity: Identity, arn: str, default: str, made: str) -> None:
    """Undo of an update: the previous default version again, the new one deleted."""
    identity.policies.set_default_policy_version(arn, default)
    quietly(identity.policies.delete_policy_version, arn, made)
