"""AWS IAM's API subset on the control plane's endpoint (query protocol, ``api/query.py``): roles,
their inline and attached policies, managed policies and their versions. The rules live in
``identity/roles.py`` and ``identity/policies.py``; here the wire.

Policy documents travel URL-encoded in IAM's answers (botocore and the AWS CLI decode them back
into JSON); lists page with ``Marker``/``MaxItems`` (1–1,000, 100 by default).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from cumulo.api import query
from cumulo.api.http import Request
from cumulo.identity.errors import IamValidationError

__all__ = ["SERVICE"]

_MARKER = re.compile(r"[0-9]{1,9}")


def _encoded(text: str) -> str:
    return quote(text, safe="-_.~")


def _role(view: dict[str, Any]) -> dict[str, Any]:
    out = dict(view)
    out["AssumeRolePolicyDocument"] = _encoded(view["AssumeRolePolicyDocument"])
    return out


def _bool(value: str | None, member: str) -> bool:
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise IamValidationError(f"1 validation error detected: Value '{value[:64]}' at '{member}' failed to satisfy "
                             "constraint: Member must be a boolean")


def _page(items: list[Any], key: str, p: dict[str, str]) -> dict[str, Any]:
    marker, max_items = p.get("Marker"), p.get("MaxItems")
    if marker is not None and not _MARKER.fullmatch(marker):
        raise IamValidationError(f"Invalid Marker: {marker[:64]!r} is not a marker this service gave.")
    if max_items is not None and (not max_items.isdigit() or not 1 <= int(max_items) <= 1000):
        raise IamValidationError(f"1 validation error detected: Value '{max_items[:32]}' at 'maxItems' failed to "
                                 "satisfy constraint: Member must have value between 1 and 1000")
    start, size = int(marker or 0), int(max_items or 100)
    out: dict[str, Any] = {key: items[start:start + size], "IsTruncated": start + size < len(items)}
    if start + size < len(items):
        out["Marker"] = str(start + size)
    return out


def _tags(p: dict[str, str]) -> list[dict[str, str]]:
    return [t for t in query.members(p, "Tags") if isinstance(t, dict)]


# -- roles ---------------------------------------------------------------------------------------
def create_role(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Role": _role(c.identity.roles.create_role(
        p.get("RoleName"), p.get("AssumeRolePolicyDocument"), p.get("Path"), p.get("Description"),
        p.get("MaxSessionDuration"), _tags(p)))}


def get_role(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Role": _role(c.identity.roles.get_role(p.get("RoleName")))}


def list_roles(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return _page([_role(v) for v in c.identity.roles.list_roles(p.get("PathPrefix"))], "Roles", p)


def delete_role(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.roles.delete_role(p.get("RoleName"))


def update_role(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    c.identity.roles.update_role(p.get("RoleName"), p.get("Description"), p.get("MaxSessionDuration"))
    return {}


def update_assume_role_policy(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.roles.update_assume_role_policy(p.get("RoleName"), p.get("PolicyDocument"))


# -- inline policies -----------------------------------------------------------------------------
def put_role_policy(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.roles.put_role_policy(p.get("RoleName"), p.get("PolicyName"), p.get("PolicyDocument"))


def get_role_policy(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    role, name, text = c.identity.roles.get_role_policy(p.get("RoleName"), p.get("PolicyName"))
    return {"RoleName": role, "PolicyName": name, "PolicyDocument": _encoded(text)}


def list_role_policies(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return _page(c.identity.roles.list_role_policies(p.get("RoleName")), "PolicyNames", p)


def delete_role_policy(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.roles.delete_role_policy(p.get("RoleName"), p.get("PolicyName"))


# -- attached policies ---------------------------------------------------------------------------
def attach_role_policy(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.roles.attach_role_policy(p.get("RoleName"), p.get("PolicyArn"))


def detach_role_policy(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.roles.detach_role_policy(p.get("RoleName"), p.get("PolicyArn"))


def list_attached_role_policies(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    attached = c.identity.roles.list_attached_role_policies(p.get("RoleName"), p.get("PathPrefix"))
    return _page([{"PolicyName": name, "PolicyArn": arn} for name, arn in attached], "AttachedPolicies", p)


# -- managed policies ----------------------------------------------------------------------------
def create_policy(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Policy": c.identity.policies.create_policy(p.get("PolicyName"), p.get("PolicyDocument"), p.get("Path"),
                                                        p.get("Description"), _tags(p))}


def get_policy(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Policy": c.identity.policies.get_policy(p.get("PolicyArn"))}


def list_policies(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    found = c.identity.policies.list_policies(p.get("Scope"), _bool(p.get("OnlyAttached"), "onlyAttached"),
                                              p.get("PathPrefix"))
    return _page(found, "Policies", p)


def delete_policy(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.policies.delete_policy(p.get("PolicyArn"))


def create_policy_version(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"PolicyVersion": c.identity.policies.create_policy_version(
        p.get("PolicyArn"), p.get("PolicyDocument"), _bool(p.get("SetAsDefault"), "setAsDefault"))}


def get_policy_version(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    version = c.identity.policies.get_policy_version(p.get("PolicyArn"), p.get("VersionId"))
    return {"PolicyVersion": {**version, "Document": _encoded(version["Document"])}}


def list_policy_versions(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return _page(c.identity.policies.list_policy_versions(p.get("PolicyArn")), "Versions", p)


def delete_policy_version(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.policies.delete_policy_version(p.get("PolicyArn"), p.get("VersionId"))


def set_default_policy_version(c: Any, r: Request, p: dict[str, str]) -> None:
    c.identity.policies.set_default_policy_version(p.get("PolicyArn"), p.get("VersionId"))


SERVICE = query.Service("iam", "2010-05-08", "https://iam.amazonaws.com/doc/2010-05-08/", {
    "CreateRole": create_role, "GetRole": get_role, "ListRoles": list_roles, "DeleteRole": delete_role,
    "UpdateRole": update_role, "UpdateAssumeRolePolicy": update_assume_role_policy,
    "PutRolePolicy": put_role_policy, "GetRolePolicy": get_role_policy, "ListRolePolicies": list_role_policies,
    "DeleteRolePolicy": delete_role_policy,
    "AttachRolePolicy": attach_role_policy, "DetachRolePolicy": detach_role_policy,
    "ListAttachedRolePolicies": list_attached_role_policies,
    "CreatePolicy": create_policy, "GetPolicy": get_policy, "ListPolicies": list_policies,
    "DeletePolicy": delete_policy, "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version, "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version, "SetDefaultPolicyVersion": set_default_policy_version,
})
query.register(SERVICE)
