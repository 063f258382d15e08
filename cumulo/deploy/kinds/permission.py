"""``AWS::Lambda::Permission``: one statement of a function's resource-based policy, as AddPermission
writes it (``functions/permissions.py``). ``FunctionName`` is a name or ARN (``!Ref``/``!GetAtt … Arn`` of
a function, or of its alias: the statement is the alias's); ``Action``, ``Principal``, ``SourceArn``,
``SourceAccount``, ``EventSourceToken``, ``PrincipalOrgID`` and ``FunctionUrlAuthType`` are AddPermission's
members. The statement id is ``<stack>-<LogicalId>-<suffix>``, which ``Ref`` answers. A changed
permission is replaced (removed, then added); one the template drops is removed after the deploy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model import function as fn
from cumulo.model.function import Arns

__all__ = ["Permission", "PERMISSION_TYPE"]

PERMISSION_TYPE = "AWS::Lambda::Permission"
_MEMBERS = ("Action", "Principal", "SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID",
            "FunctionUrlAuthType")


@dataclass(frozen=True)
class PermissionSpec:
    logical_id: str
    line: int
    sid: str
    function: str                  # the function's name
    qualifier: str | None          # its alias or version, when FunctionName names one
    members: tuple[tuple[str, str], ...]

    def request(self) -> dict[str, Any]:
        return {"StatementId": self.sid, **dict(self.members)}


class Permission(Kind):
    name = "permission"
    types = (PERMISSION_TYPE,)
    after = ("function",)
    listed = 75
    record_key = "permissions"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {e.logical_id: _sid(load.stack, e.logical_id) for e in entries}
        return named, {(lid, "Ref"): sid for lid, sid in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(_read(entry, named[entry.logical_id], props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def attributes(self, spec: PermissionSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.sid}

    def plan(self, spec: PermissionSpec, deploy: Deploy) -> Change:
        current = _current(deploy, spec)
        if current is None:
            return Change(spec.logical_id, spec.sid, "create", kind=self.name)
        return Change(spec.logical_id, spec.sid, "unchanged" if current == _statement(deploy, spec) else "replace",
                      kind=self.name)

    def removed(self, specs: list[PermissionSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.sid for spec in specs}
        return [Change(lid, rec[2], "delete", kind=self.name)
                for lid, rec in sorted((deploy.before(self) or {}).items()) if rec[2] not in wanted]

    def apply(self, spec: PermissionSpec, change: Change | None, deploy: Deploy) -> None:
        policies = deploy.c.function_policies
        current = _current(deploy, spec)
        if current is not None and current == _statement(deploy, spec):
            return
        if current is not None:
            policies.remove_permission(spec.function, spec.qualifier, spec.sid)
        policies.add_permission(spec.function, spec.qualifier, spec.request())
        deploy.undo.append(lambda: quietly(policies.remove_permission, spec.function, spec.qualifier, spec.sid))

    def record(self, applied: list[tuple[PermissionSpec, Any]]) -> dict[str, list[Any]]:
        return {spec.logical_id: [spec.function, spec.qualifier, spec.sid] for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, list[Any]], deploy: Deploy) -> None:
        wanted = {tuple(rec) for rec in current.values()}
        for rec in (previous or {}).values():
            if tuple(rec) not in wanted:
                quietly(deploy.c.function_policies.remove_permission, rec[0], rec[1], rec[2])

    def summary(self, spec: PermissionSpec) -> list[str]:
        members = dict(spec.members)
        target = spec.function + (f":{spec.qualifier}" if spec.qualifier else "")
        return [f"permission {spec.sid} ({spec.logical_id}): {members.get('Principal')} may "
                f"{members.get('Action')} {target}"]


def _sid(stack: str, logical_id: str) -> str:
    suffix = hashlib.sha256(f"{stack}:{logical_id}".encode()).hexdigest()[:12].upper()
    return f"{stack}-{logical_id}-{suffix}"[-100:]


def _read(entry: Entry, sid: str, props: dict[str, Any]) -> PermissionSpec:
    unknown = sorted(set(props) - {"FunctionName", *_MEMBERS})
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}'")
    for required in ("FunctionName", "Action", "Principal"):
        if props.get(required) in (None, ""):
            raise IntrinsicError(f"property {required}: required")
    try:
        name, qualifier = fn.parse_function_ref(to_str(props["FunctionName"]))
    except CumuloError as exc:
        raise IntrinsicError(f"property FunctionName: {exc.message}") from None
    members = tuple((key, to_str(props[key])) for key in _MEMBERS if props.get(key) not in (None, ""))
    return PermissionSpec(entry.logical_id, entry.line, sid, name, qualifier, members)


def _current(deploy: Deploy, spec: PermissionSpec) -> dict[str, Any] | None:
    import json

    try:
        policy = json.loads(deploy.c.function_policies.get_policy(spec.function, spec.qualifier)["Policy"])
    except CumuloError:
        return None
    return next((s for s in policy["Statement"] if s.get("Sid") == spec.sid), None)


def _statement(deploy: Deploy, spec: PermissionSpec) -> dict[str, Any]:
    from cumulo.model.permission import permission_statement

    return permission_statement(deploy.c.arns.function(spec.function, spec.qualifier), spec.request())
